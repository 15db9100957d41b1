"""``convmig log --verify`` catches stored events edited, deleted or reordered with plain SQL."""

from __future__ import annotations

import json
import zlib

import pytest
import sqlalchemy as sa

from events import EventLog, stack_aggregate_id
from helpers import log_cli as invoke, record_migration as migrate, start_run as start


@pytest.fixture
def recorded(db_url):
    """Two stacks migrated (Opened, Planned, Applied each) by one run; returns the URL and heads."""
    with EventLog.open(db_url, env={}) as log:
        run = start(log)
        migrate(log, run, "s1", "web")
        migrate(log, run, "s2", "db")
        run.finish("done", {"migrated": 2})
        log.save(run)
        heads = {s: log.stack(s).head for s in ("s1", "s2")}
    return db_url, heads, run.id


def _rows(url: str, aggregate_id) -> list:
    """(position, version, state) of one aggregate's stored rows, in version order."""
    with EventLog.open(url, env={}) as log:
        t = log.table
        query = sa.select(t.c.id, t.c.originator_version, t.c.state).where(t.c.originator_id == aggregate_id).order_by(t.c.originator_version)
        return log.query(lambda conn: [tuple(r) for r in conn.execute(query)])


def _sql(url: str, statement: str, **params) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


def _verify(url: str) -> tuple[int, dict, str]:
    result = invoke(url, "--verify", "--format", "json")
    return result.exit_code, json.loads(result.stdout), result.stderr


def _findings(report: dict) -> set[tuple[str, str, str, str]]:
    return {(f["id"], f["finding"], f["version"], f["position"]) for f in report["findings"]}


def _edited_state(state: bytes, **changes) -> bytes:
    body = json.loads(zlib.decompress(state))
    body.update(changes)
    return zlib.compress(json.dumps(body, separators=(",", ":")).encode())


def test_untouched_log_verifies_clean_and_prints_heads(recorded):
    url, heads, run_id = recorded
    code, report, stderr = _verify(url)
    assert code == 0 and report["findings"] == []
    listed = {h["id"]: h for h in report["heads"]}
    assert {listed[s]["head"] for s in heads} == set(heads.values())
    assert listed["s1"]["version"] == "3" and listed[str(run_id)]["kind"] == "run"
    assert "verified clean (3 chains, 10 events)" in stderr
    table = invoke(url, "--verify")
    assert table.exit_code == 0 and heads["s1"] in table.stdout and "s1" in table.stdout


def test_edited_event_is_caught(recorded):
    url, _, _ = recorded
    (p1, _, _), (p2, _, state), _ = _rows(url, stack_aggregate_id("s1"))
    _sql(url, "UPDATE convmig_events SET state = :s WHERE id = :id", s=_edited_state(state, summary={"resources": 0}), id=p2)
    code, report, stderr = _verify(url)
    assert code == 1 and "1 findings (edited)" in stderr
    assert _findings(report) == {("s1", "edited", "2", str(p2))}


def test_edited_newest_event_is_caught_by_the_index(recorded):
    url, _, _ = recorded
    *_, (p3, _, state) = _rows(url, stack_aggregate_id("s2"))
    _sql(url, "UPDATE convmig_events SET state = :s WHERE id = :id", s=_edited_state(state, summary={"rows": 99}), id=p3)
    code, report, _ = _verify(url)
    assert code == 1 and _findings(report) == {("s2", "edited", "3", "")}


def test_deleted_event_is_caught(recorded):
    url, _, _ = recorded
    _, (p2, _, _), (p3, _, _) = _rows(url, stack_aggregate_id("s1"))
    _sql(url, "DELETE FROM convmig_events WHERE id = :id", id=p2)
    code, report, _ = _verify(url)
    assert code == 1 and _findings(report) == {("s1", "deleted", "2", str(p3))}


def test_deleted_newest_event_is_caught_as_truncation(recorded):
    url, _, _ = recorded
    *_, (p3, _, _) = _rows(url, stack_aggregate_id("s2"))
    _sql(url, "DELETE FROM convmig_events WHERE id = :id", id=p3)
    code, report, _ = _verify(url)
    assert code == 1 and _findings(report) == {("s2", "truncated", "3", "")}


def test_reordered_events_are_caught(recorded):
    url, _, _ = recorded
    _, (p2, _, _), (p3, _, _) = _rows(url, stack_aggregate_id("s1"))
    _sql(url, "UPDATE convmig_events SET originator_version = 99 WHERE id = :id", id=p2)
    _sql(url, "UPDATE convmig_events SET originator_version = 2 WHERE id = :id", id=p3)
    _sql(url, "UPDATE convmig_events SET originator_version = 3 WHERE id = :id", id=p2)
    code, report, _ = _verify(url)
    kinds = {(i, kind, version) for i, kind, version, _ in _findings(report)}
    assert code == 1 and ("s1", "reordered", "3") in kinds
    assert {k for _, k, _ in kinds} <= {"reordered", "edited"}


def test_swapped_positions_are_caught(recorded):
    url, _, _ = recorded
    (p1, _, _), (p2, _, _), _ = _rows(url, stack_aggregate_id("s2"))
    _sql(url, "UPDATE convmig_events SET id = :tmp WHERE id = :id", tmp=10_000, id=p1)
    _sql(url, "UPDATE convmig_events SET id = :new WHERE id = :id", new=p1, id=p2)
    _sql(url, "UPDATE convmig_events SET id = :new WHERE id = :id", new=p2, id=10_000)
    code, report, _ = _verify(url)
    assert code == 1 and _findings(report) == {("s2", "reordered", "2", str(p1))}


def test_unreadable_event_is_caught(recorded):
    url, _, _ = recorded
    _, (p2, _, _), _ = _rows(url, stack_aggregate_id("s1"))
    _sql(url, "UPDATE convmig_events SET state = :s WHERE id = :id", s=b"not zlib", id=p2)
    code, report, _ = _verify(url)
    assert code == 1 and {(i, k, v) for i, k, v, _ in _findings(report)} == {("s1", "unreadable", "2")}


def test_deleted_run_is_caught(recorded):
    url, _, run_id = recorded
    for position, _, _ in _rows(url, run_id):
        _sql(url, "DELETE FROM convmig_events WHERE id = :id", id=position)
    code, report, _ = _verify(url)
    kinds = {(f["id"], f["finding"]) for f in report["findings"]}
    assert code == 1 and (str(run_id), "deleted") in kinds  # the index remembers the run
    assert ("s1", "deleted") in kinds and ("s2", "deleted") in kinds  # their events refer to it
