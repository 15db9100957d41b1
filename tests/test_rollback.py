"""`convmig rollback`: exact round trips, drift refusal, refusals of stacks never migrated."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from migrator.heat import schema
from migrator.heat.connection import make_engine

from helpers import cli, cli_json, dump


pytestmark = pytest.mark.sample(8, 21)


def test_migrate_all_then_rollback_run_restores_every_table(sample_db):
    url, _ = sample_db
    before = dump(url)
    result, report = cli_json("--db", url, "migrate", "--all", "--prune-orphans")
    assert report["counts"]["migrated"] >= 10
    assert dump(url) != before
    result, back = cli_json("--db", url, "rollback", "--run", report["run_id"], "--yes")
    assert result.exit_code == 0, result.stderr
    assert back["counts"] == {"rolled back": report["counts"]["migrated"]}
    assert dump(url) == before


def test_three_back_and_forth_cycles(sample_db):
    url, sample = sample_db
    root = sample.special["updated"]
    before = dump(url)
    for _ in range(3):
        assert cli("--db", url, "migrate", root).exit_code == 0
        result = cli("--db", url, "rollback", root, "--yes")
        assert result.exit_code == 0, result.stderr
        assert dump(url) == before
    again = cli("--db", url, "rollback", root, "--yes")  # a repeat is done, not an error
    assert (again.exit_code, again.stderr) == (0, "")
    assert "already done" in again.stdout and again.stdout.rstrip().endswith(": done")
    assert dump(url) == before


def test_rollback_refuses_drift_and_touches_nothing(sample_db):
    url, sample = sample_db
    root = sample.special["updated"]
    assert cli("--db", url, "migrate", root).exit_code == 0
    engine = make_engine(url)
    with engine.begin() as conn:  # the convergence engine starts a traversal and changes a row
        conn.execute(schema.stack.update().where(schema.stack.c.id == root).values(current_traversal="t" * 36))
        rid = conn.execute(sa.select(sa.func.min(schema.resource.c.id)).where(schema.resource.c.stack_id == root)).scalar()
        conn.execute(schema.resource.update().where(schema.resource.c.id == rid).values(status="FAILED"))
        conn.execute(schema.resource.insert().values(name="new", stack_id=root, action="INIT", status="COMPLETE",
                                                     requires="[]", needed_by="[]"))
    engine.dispose()
    snapshot = dump(url)
    result, report = cli_json("--db", url, "rollback", root, "--yes")
    assert result.exit_code == 1
    assert dump(url) == snapshot
    assert f"stack[id={root}].current_traversal" in result.stderr
    assert f"resource[id={rid}].status: expected 'COMPLETE', found 'FAILED'" in result.stderr
    dry, plans = cli_json("--db", url, "rollback", "--dry-run", root)
    details = plans["trees"][0]["refusals"][0]["details"]
    assert any("a new row" in d for d in details)


def test_rollback_of_stack_never_migrated(sample_db):
    url, sample = sample_db
    result = cli("--db", url, "rollback", sample.special["convergence_root"], "--yes")
    assert result.exit_code == 1
    assert "was not migrated by convmig" in result.stderr
    assert cli("--db", url, "rollback", "no-such-stack", "--yes").exit_code == 1


def test_rollback_dry_run_prints_inverse_plan(sample_db):
    url, sample = sample_db
    root = sample.special["updated"]
    cli("--db", url, "migrate", root)
    snapshot = dump(url)
    result, plans = cli_json("--db", url, "rollback", "--dry-run", root)
    assert result.exit_code == 0
    ops = {(c["table"], c["op"]) for c in plans["trees"][0]["changes"]}
    assert ("raw_template", "insert") in ops and ("stack", "update") in ops
    assert dump(url) == snapshot
