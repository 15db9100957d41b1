"""Catalogue, class "the log": verify before use and no false findings (issue 15).

Each case is checked on SQLite, PostgreSQL and MariaDB (the ``db_url`` fixture).
Expected findings are written by hand from the damage each case does.
"""

from __future__ import annotations

import sqlalchemy as sa
import pytest

from events import EventLog, EventStoreError, HistoryUnverified, Unverified
from events import report

import sys, pathlib
sys.path.insert(0, str(pathlib.Path(__file__).parent / "eventlog"))
from helpers import changes_for, record_migration as migrate, start_run as start  # noqa: E402


def _refuse_once(log: EventLog, monkeypatch, exc: Exception) -> None:
    """The next store write fails as a database would (connection cut, disk full ...)."""
    real = log.app.events.put

    def put(events, **kwargs):
        monkeypatch.setattr(log.app.events, "put", real)
        raise exc

    monkeypatch.setattr(log.app.events, "put", put)


FAULTS = {
    "connection cut": sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly")),
    "disk full": sa.exc.OperationalError("INSERT", {}, Exception("database or disk is full")),
    "oversized event": EventStoreError("event Covered is 99999999 bytes stored, more than max_allowed_packet allows"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_failed_write_then_success_leaves_no_false_finding(db_url, monkeypatch, fault):
    """A write the store refused, then a successful one: the log still verifies clean
    (before the fix: 'deleted v2 missing before v3' for ever)."""
    with EventLog.open(db_url, env={}) as log:
        run = start(log)
        log.save(run)
        run.cover(["stk-1"])
        _refuse_once(log, monkeypatch, FAULTS[fault])
        with pytest.raises(EventStoreError):
            log.save(run)
        run.finish("failed", {})
        log.save(run)
        result = report.verify(log)
        assert result.findings == []
        again = log.get_run(run.id)
        assert (again.version, again.covered, again.outcome) == (3, ["stk-1"], "failed")


def test_failed_first_write_then_success(db_url, monkeypatch):
    """Even the creating event, refused once, is stored by the next save (no v1 gap)."""
    with EventLog.open(db_url, env={}) as log:
        run = start(log)
        _refuse_once(log, monkeypatch, FAULTS["connection cut"])
        with pytest.raises(EventStoreError):
            log.save(run)
        run.finish("interrupted", {})
        log.save(run)
        assert report.verify(log).findings == []


def _damaged(log: EventLog, how: str) -> str:
    """Two migrated stacks; one of them damaged with plain SQL as ``how`` says."""
    run = start(log)
    migrate(log, run, "stk-good", "good")
    migrate(log, run, "stk-bad", "bad")
    victim = log.stacks(["stk-bad"])["stk-bad"].id
    t = log.table
    with log.app.engine.begin() as conn:
        if how == "deleted middle":
            conn.execute(t.delete().where(t.c.originator_id == victim, t.c.originator_version == 2))
        elif how == "unreadable":
            conn.execute(t.update().where(t.c.originator_id == victim, t.c.originator_version == 2).values(state=b"garbage"))
        elif how == "edited newest":  # re-encode another event's state as the newest: only the index head can tell
            other = conn.execute(sa.select(t.c.state).where(t.c.originator_id == victim, t.c.originator_version == 1)).scalar()
            newest = conn.execute(sa.select(sa.func.max(t.c.originator_version)).where(t.c.originator_id == victim)).scalar()
            conn.execute(t.update().where(t.c.originator_id == victim, t.c.originator_version == newest).values(state=other))
        elif how == "truncated":
            newest = conn.execute(sa.select(sa.func.max(t.c.originator_version)).where(t.c.originator_id == victim)).scalar()
            conn.execute(t.delete().where(t.c.originator_id == victim, t.c.originator_version == newest))
    return "stk-bad"


@pytest.mark.parametrize("how", ["deleted middle", "unreadable", "edited newest", "truncated"])
def test_damaged_history_is_refused_alone(db_url, how):
    with EventLog.open(db_url, env={}) as log:
        bad = _damaged(log, how)
        found = log.stacks(["stk-good", bad])
        assert isinstance(found[bad], Unverified)
        assert found["stk-good"].state == "migrated"
        assert "stack stk-bad" in found[bad].message and "convmig log --verify" in found[bad].message
        with pytest.raises(HistoryUnverified):
            log.stack(bad)
        histories = log.histories({"stk-good": "good", bad: "bad"})
        assert isinstance(histories[bad], Unverified) and histories["stk-good"].version > 1
