"""The aggregates and the hash chain, without a database."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest

from events import GENESIS, Run, StackHistory, stack_aggregate_id
from events.chain import StoredItem, canonical, event_hash, link, value_digest, verify_chain
from events.secrets import is_secret_column, mask_urls, redact
from helpers import changes_for


def _run() -> Run:
    return Run.start(
        command="migrate",
        arguments={"db": "mysql+pymysql://heat:pa55@db/heat", "db_password": "x", "stack_ids": ["a"]},
        selection={},
        operator="alice",
        host="h",
        pid=1,
        version="0.1.0",
    )


def test_canonical_form_is_pinned():
    """Changing the canonical form would invalidate every recorded chain."""
    fields = {
        "originator_id": UUID(int=1),
        "originator_version": 2,
        "timestamp": datetime(2024, 3, 1, 12, tzinfo=timezone.utc),
        "b": b"\x00",
        "n": None,
        "l": (1, "x"),
    }
    assert canonical(fields) == (
        b'{"b":{"$bytes":"AA=="},"l":[1,"x"],"n":null,"originator_id":{"$uuid":"00000000-0000-0000-0000-000000000001"},'
        b'"originator_version":2,"timestamp":{"$datetime":"2024-03-01T12:00:00+00:00"}}'
    )
    assert link(GENESIS, "StackHistory.Planned", fields) == "6e39bb90fa75b52505bf487d387904221265cf86068e74d116afacc5e999447b"


def test_bytes_and_text_hash_apart():
    assert canonical({"v": b"x"}) != canonical({"v": "x"})
    assert value_digest("x") == value_digest(b"x")  # digests of raw content, for display


def test_stack_id_is_derived_from_the_heat_id():
    history = StackHistory.open("0b1c", "web")
    assert history.id == uuid5(NAMESPACE_URL, "convmig:stack:0b1c") == stack_aggregate_id("0b1c")


def test_every_event_links_to_the_previous_one():
    run = _run()
    history = StackHistory.open("s1", "web")
    history.planned(run.id, direction="migrate", changes=changes_for("s1"), summary={})
    history.applied(run.id)
    events = history.collect_events()
    assert events[0].prev_hash == GENESIS
    for before, after in zip(events, events[1:]):
        assert after.prev_hash == event_hash(before)
    assert history.head == event_hash(events[-1])
    items = [StoredItem(i + 1, e.originator_version, e) for i, e in enumerate(events)]
    assert verify_chain(history.id, items).findings == []


def test_verify_chain_names_deleted_edited_and_reordered():
    run = _run()
    history = StackHistory.open("s1", "web")
    history.planned(run.id, direction="migrate", changes=[], summary={})
    history.failed(run.id, reason="x")
    history.planned(run.id, direction="migrate", changes=[], summary={})
    events = history.collect_events()
    items = [StoredItem(10 * (i + 1), e.originator_version, e) for i, e in enumerate(events)]
    deleted = verify_chain(history.id, items[:1] + items[2:]).findings
    assert [(f.kind, f.version) for f in deleted] == [("deleted", 2)]
    reordered = verify_chain(history.id, [items[0], StoredItem(35, 2, events[1]), StoredItem(30, 3, events[2]), items[3]]).findings
    assert ("reordered", 3) in [(f.kind, f.version) for f in reordered]
    unreadable = verify_chain(history.id, [items[0], StoredItem(20, 2, None, "bad zlib"), *items[2:]]).findings
    assert [(f.kind, f.version) for f in unreadable] == [("unreadable", 2)]


def test_plan_lifecycle_and_state():
    run = _run()
    history = StackHistory.open("s1", "web")
    assert history.state == "new" and history.pending is None
    history.refused(run.id, reason="stack is UPDATE_IN_PROGRESS")
    assert history.state == "refused" and history.pending is None
    history.planned(run.id, direction="migrate", changes=changes_for("s1"), summary={"n": 1})
    assert history.state == "planned"
    assert set(history.pending) == {"run_id", "direction", "changes", "summary", "version"}
    assert history.pending["version"] == 3
    with pytest.raises(ValueError, match="open plan"):
        history.planned(run.id, direction="migrate", changes=[], summary={})
    history.failed(run.id, reason="drift")
    assert history.state == "failed" and history.last_applied() is None
    history.planned(run.id, direction="migrate", changes=changes_for("s1"), summary={})
    history.recovered(run.id, outcome="applied", detail="after-images found")
    assert history.state == "migrated" and history.converged
    assert history.last_applied()["version"] == 5
    history.planned(run.id, direction="rollback", changes=[], summary={})
    assert history.state == "rollback_planned"
    history.applied(run.id)
    assert history.state == "rolled_back" and not history.converged
    assert history.last_applied("rollback")["version"] == 7
    assert history.last_applied("migrate")["version"] == 5


def test_outcomes_need_an_open_plan_and_valid_values():
    run = _run()
    history = StackHistory.open("s1", "web")
    for record in (lambda: history.applied(run.id), lambda: history.failed(run.id, reason="x")):
        with pytest.raises(ValueError, match="no open plan"):
            record()
    with pytest.raises(ValueError, match="direction"):
        history.planned(run.id, direction="sideways", changes=[], summary={})
    with pytest.raises(ValueError, match="changes\\[0\\]"):
        history.planned(run.id, direction="migrate", changes=[{"table": "stack", "pk": {}, "op": "update", "before": None}], summary={})
    with pytest.raises(TypeError, match="set"):
        history.planned(run.id, direction="migrate", changes=[{"table": "t", "pk": {}, "op": "insert", "after": {"x": {1}}}], summary={})
    assert history.version == 1  # nothing was recorded by the refused commands


def test_run_records_what_was_asked_without_secrets():
    run = _run()
    assert run.arguments == {"db": "mysql+pymysql://heat:***@db/heat", "db_password": "<redacted>", "stack_ids": ["a"]}
    run.cover(["a", "b"])
    run.cover(["b", "c"])
    run.finish("partial", {"migrated": 2, "skipped": 1})
    assert run.covered == ["a", "b", "c"] and run.outcome == "partial" and run.counts == {"migrated": 2, "skipped": 1}
    assert run.convmig_version == "0.1.0" and run.started_on == run.created_on
    with pytest.raises(ValueError, match="already finished"):
        run.finish("done", {})
    with pytest.raises(ValueError, match="outcome"):
        _run().finish("fine", {})


def test_secret_rules():
    assert is_secret_column("raw_template", "environment")
    assert is_secret_column("user_creds", "password")
    assert is_secret_column("resource_data", "value", {"redact": True})
    assert not is_secret_column("resource_data", "value", {"redact": False})
    assert not is_secret_column("resource", "requires")
    assert mask_urls("failed: postgresql://heat:pw@db/heat down") == "failed: postgresql://heat:***@db/heat down"
    assert redact({"nested": {"api_token": "t", "ok": 1}}) == {"nested": {"api_token": "<redacted>", "ok": 1}}

