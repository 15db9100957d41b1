"""The event log's less travelled paths, found by mutation testing (docs/TESTING.md):
error texts an operator reads, what a lost race names, run look-up by prefix,
the index rebuilt from the events, and what recovery and refusal record."""

from __future__ import annotations

import types
import uuid

import pytest
import sqlalchemy as sa

import events.domain as domain
from events import EventLog, StackBusy
from events.chain import StoredItem, verify_chain
from events.domain import StackHistory, normalise
from events.eventlog import _is_race, reason

from helpers import changes_for, start_run


class _DriverError(Exception):
    """A DB-API error as PyMySQL raises them: (code, message)."""


def _wrapped(orig: BaseException) -> sa.exc.OperationalError:
    return sa.exc.OperationalError("INSERT INTO stored_events ...", {}, orig)


@pytest.mark.parametrize("exc, text", [
    (_wrapped(_DriverError(1213, "Deadlock found when trying to get lock; try restarting transaction")),
     "Deadlock found when trying to get lock; try restarting transaction"),
    (_wrapped(_DriverError("could not serialize access\nDETAIL: ...")), "could not serialize access"),
    (_wrapped(_DriverError()), "_DriverError"),
])
def test_reason_is_the_innermost_drivers_first_line(exc, text):
    assert reason(exc) == text


def test_reason_follows_the_cause_chain():
    try:
        try:
            raise _DriverError(1205, "Lock wait timeout exceeded; try restarting transaction")
        except _DriverError as inner:
            raise RuntimeError("save failed") from inner
    except RuntimeError as outer:
        assert reason(outer) == "Lock wait timeout exceeded; try restarting transaction"
    assert reason(ValueError("plain\nsecond line")) == "plain"


@pytest.mark.parametrize("message, race", [
    ("Deadlock found when trying to get lock", True),
    ("Lock wait timeout exceeded; try restarting transaction", True),
    ("Table 'heat.convmig_events' doesn't exist", False),
])
def test_a_race_is_a_deadlock_or_a_lock_wait_timeout(message, race):
    assert _is_race(_wrapped(_DriverError(1213, message))) is race
    assert _is_race(sa.exc.IntegrityError("INSERT", {}, _DriverError(1062, "Duplicate entry")))


def test_stack_busy_names_the_stacks():
    assert str(StackBusy(["a", "b"])) == (
        "stack busy: another convmig process recorded events for a, b first; nothing was saved")
    assert "for (unknown) first" in str(StackBusy([]))


def test_a_lost_race_names_only_the_stacks_the_other_process_extended(sqlite_url):
    with EventLog.open(sqlite_url, env={}) as log:
        run = start_run(log)
        log.save(run)
        for sid in ("x", "y"):
            history = log.stack_or_new(sid, sid)
            history.planned(run.id, direction="migrate", changes=changes_for(sid), summary={})
            log.save(history)
        mine = {sid: log.stack(sid) for sid in ("x", "y")}
    with EventLog.open(sqlite_url, env={}) as other:
        theirs = other.stack("x")
        theirs.applied(run.id)
        other.save(theirs)
    with EventLog.open(sqlite_url, env={}) as log:
        for history in mine.values():
            history.failed(run.id, reason="mine")
        with pytest.raises(StackBusy) as busy:
            log.save(*mine.values())
    assert busy.value.stack_ids == ["x"]


def _runs_with_ids(log, monkeypatch, ids):
    fixed = iter(uuid.UUID(i) for i in ids)
    monkeypatch.setattr(domain, "uuid4", lambda: next(fixed))
    runs = []
    for _ in ids:
        run = start_run(log)
        log.save(run)
        runs.append(run)
    monkeypatch.undo()
    return runs


def test_find_run_by_id_or_prefix(sqlite_url, monkeypatch):
    with EventLog.open(sqlite_url, env={}) as log:
        a, b, c = _runs_with_ids(log, monkeypatch, ["abcd1111-0000-4000-8000-000000000001",
                                                     "abcd2222-0000-4000-8000-000000000002",
                                                     "e0f00000-0000-4000-8000-000000000003"])
        assert log.find_run(str(b.id)).id == b.id
        assert log.find_run("ABCD1").id == a.id  # case and surrounding space do not matter
        assert log.find_run(" e0f0 ").id == c.id
        with pytest.raises(LookupError, match=r"^--run abcd matches several runs; give more characters$"):
            log.find_run("abcd")
        with pytest.raises(LookupError, match=r"^--run abc: not a run id; give the id or at least its first 4 characters \(convmig log lists runs\)$"):
            log.find_run("abc")
        with pytest.raises(LookupError, match=r"^--run wxyz1: not a run id; give the id or at least its first 4 characters \(convmig log lists runs\)$"):
            log.find_run("wxyz1")
        assert log.last_run().id == c.id


def test_max_position_is_the_newest_events_position(sqlite_url):
    with EventLog.open(sqlite_url, env={}) as log:
        assert log.max_position() is None
        run = start_run(log)
        log.save(run)
        run.finish("done", {})
        log.save(run)
        assert log.max_position() == 2


def test_rebuilt_index_answers_as_the_original(sqlite_url, monkeypatch):
    with EventLog.open(sqlite_url, env={}) as log:
        first, second = _runs_with_ids(log, monkeypatch, ["aaaa0000-0000-4000-8000-000000000001",
                                                          "bbbb0000-0000-4000-8000-000000000002"])
        history = log.stack_or_new("s", "s")
        history.planned(second.id, direction="migrate", changes=changes_for("s"), summary={})
        log.save(history)
        assert log.rebuild_index() > 0
        assert log.last_run().id == second.id
        assert log.find_run("aaaa").id == first.id
        assert log.stacks_with_pending() == ["s"]


def test_recovered_and_refused_record_who_and_why():
    run_id = uuid.uuid4()
    history = StackHistory.open("s", "web")
    history.planned(run_id, direction="rollback", changes=changes_for("s"), summary={})
    later = uuid.uuid4()
    history.recovered(later, outcome="drifted", detail="stack[id=s].status: 'A' -> 'B' at mysql://u:pw@h/heat")
    recovered = history.entries[-1]
    assert (recovered["run_id"], recovered["direction"], recovered["outcome"]) == (later, "rollback", "drifted")
    assert recovered["detail"] == "stack[id=s].status: 'A' -> 'B' at mysql://u:***@h/heat"
    with pytest.raises(ValueError, match=r"^stack s has no open plan to record as recovered$"):
        history.recovered(later, outcome="applied", detail="again")
    with pytest.raises(ValueError, match=r"^outcome must be one of .*, not 'maybe'$"):
        StackHistory.open("t", "t").recovered(later, outcome="maybe", detail="")
    history.refused(later, reason="stack web is FAILED at postgresql://u:pw@h/heat", direction="rollback")
    refused = history.entries[-1]
    assert (refused["kind"], refused["run_id"], refused["direction"]) == ("refused", later, "rollback")
    assert refused["reason"] == "stack web is FAILED at postgresql://u:***@h/heat"
    with pytest.raises(ValueError, match=r"^direction must be one of .*, not 'sideways'$"):
        history.refused(later, reason="x", direction="sideways")


def test_an_unrecordable_value_is_named_by_its_path():
    with pytest.raises(TypeError, match=r"^cannot record a value of type set at \$\.changes\[0\]\.before\.tags$"):
        normalise({"changes": [{"before": {"tags": {1}}}]})
    with pytest.raises(TypeError, match=r"^cannot record the non-finite number nan at \$\.ratio$"):
        normalise({"ratio": float("nan")})
    with pytest.raises(TypeError, match=r"^cannot record a value of type set at \$$"):
        normalise({1})


def _chain(n_failed: int = 2):
    """A history of 1 + 2 * n_failed events, as stored items at positions 10, 20, ..."""
    run_id = uuid.uuid4()
    history = StackHistory.open("s1", "web")
    for _ in range(n_failed):
        history.planned(run_id, direction="migrate", changes=[], summary={})
        history.failed(run_id, reason="x")
    events_ = history.collect_events()
    return history.id, events_, [StoredItem(10 * (i + 1), e.originator_version, e) for i, e in enumerate(events_)]


def _found(aggregate_id, items):
    result = verify_chain(aggregate_id, items)
    return [(f.aggregate_id == aggregate_id, f.version, f.position, f.kind, f.detail) for f in result.findings]


def test_verify_chain_says_exactly_what_and_where():
    """Each kind of damage, with the version, position and words an auditor reads."""
    aid, evs, items = _chain()
    assert _found(aid, items) == [] and verify_chain(aid, items).version == 5
    assert _found(aid, items[:1] + items[2:]) == [(True, 2, 30, "deleted", "v2 missing before v3")]
    assert _found(aid, items[:1] + items[3:]) == [(True, 2, 40, "deleted", "v2..v3 missing before v4")]
    assert _found(aid, items[1:]) == [(True, 1, 20, "deleted", "v1 missing before v2")]
    swapped = [items[0], StoredItem(35, 2, evs[1]), StoredItem(30, 3, evs[2]), *items[3:]]
    assert _found(aid, swapped) == [(True, 3, 30, "reordered", "v3 is at position 30, before v2 at position 35")]
    same_position = [items[0], StoredItem(20, 2, evs[1]), StoredItem(20, 3, evs[2]), *items[3:]]
    assert _found(aid, same_position) == []
    assert _found(aid, [items[0], StoredItem(20, 2, None, "bad zlib"), *items[2:]]) == [
        (True, 2, 20, "unreadable", "bad zlib")]
    assert _found(aid, [items[0], StoredItem(20, 2, None), *items[2:]]) == [(True, 2, 20, "unreadable", "cannot decode")]


def test_verify_chain_names_broken_links():
    aid, evs, items = _chain()
    no_link = types.SimpleNamespace(**{**vars(evs[2]), "prev_hash": None})
    assert _found(aid, [*items[:2], StoredItem(30, 3, no_link), *items[3:]])[0] == (
        True, 3, 30, "edited", "v3 carries no prev_hash")
    first = types.SimpleNamespace(**{**vars(evs[0]), "prev_hash": "1" * 64})
    assert _found(aid, [StoredItem(10, 1, first), *items[1:]])[0] == (True, 1, 10, "edited", "v1 does not start the chain")
    relinked = types.SimpleNamespace(**{**vars(evs[3]), "prev_hash": "f" * 64})
    assert _found(aid, [*items[:3], StoredItem(40, 4, relinked), items[4]])[0] == (
        True, 3, 30, "edited", "v3 no longer hashes to the prev_hash v4 recorded (v3 was edited, or v4's link was)")


def test_reason_of_a_blank_error_is_its_type():
    assert reason(RuntimeError("   ")) == "RuntimeError"


def test_stack_or_new_returns_the_recorded_history(sqlite_url):
    with EventLog.open(sqlite_url, env={}) as log:
        run = start_run(log)
        log.save(run)
        history = log.stack_or_new("s", "web")
        history.planned(run.id, direction="migrate", changes=changes_for("s"), summary={})
        log.save(history)
        again = log.stack_or_new("s", "other name")
        assert [e["kind"] for e in again.entries] == ["planned"] and again.stack_name == "web"
