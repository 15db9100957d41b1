"""``migrate --include-failed`` on a database (issue 19): FAILED trees and legacy
backup stacks migrated, recorded, shown by ``log --changes`` and rolled back
byte for byte; ``status`` counts what the option would add."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from migrator.heat import schema
from migrator.heat.connection import make_engine

from helpers import cli, cli_json, dump


@pytest.fixture
def sample_db(make_sample):
    return make_sample(8, 21)


def _set(url: str, table, key, **values) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.id == key).values(**values))
    engine.dispose()


def _stack(url: str, sid: str) -> dict:
    engine = make_engine(url)
    with engine.connect() as conn:
        row = dict(conn.execute(sa.select(schema.stack).where(schema.stack.c.id == sid)).mappings().one())
    engine.dispose()
    return row


def _update_failed(url: str, sample) -> tuple[str, dict]:
    """The sample's updated tree, as a failed legacy update leaves it: UPDATE_FAILED,
    prev_raw_template_id the failed target template (returned)."""
    root = sample.special["updated"]
    row = _stack(url, root)
    _set(url, schema.stack, root, action="UPDATE", status="FAILED", status_reason="Resource UPDATE failed: boom")
    engine = make_engine(url)
    with engine.connect() as conn:
        target = dict(conn.execute(sa.select(schema.raw_template).where(
            schema.raw_template.c.id == row["prev_raw_template_id"])).mappings().one())
    engine.dispose()
    return root, target


def test_failed_trees_are_refused_by_default_and_migrated_with_include_failed(sample_db):
    url, sample = sample_db
    failed = sample.special["failed_root"]
    before = dump(url)
    result, report = cli_json("--db", url, "migrate", failed)
    assert result.exit_code == 1 and report["counts"] == {"skipped: failed_state": 1}
    assert "--include-failed" in result.stderr
    assert dump(url) == before
    result, report = cli_json("--db", url, "migrate", "--include-failed", failed)
    assert result.exit_code == 0, result.stderr
    assert report["counts"] == {"migrated": 1}
    row = _stack(url, failed)
    assert row["convergence"] and (row["action"], row["status"]) == ("CREATE", "FAILED")
    result = cli("--db", url, "rollback", failed, "--yes")
    assert result.exit_code == 0, result.stderr
    assert dump(url) == before


def test_retry_keeps_and_can_add_include_failed(sample_db):
    url, sample = sample_db
    failed, ok = sample.special["failed_root"], sample.special["updated"]
    result, _ = cli_json("--db", url, "migrate", failed, ok)
    assert result.exit_code == 1
    result, report = cli_json("--db", url, "migrate", "--retry", "--include-failed")
    assert result.exit_code == 0, result.stderr
    assert report["counts"] == {"migrated": 1, "already done": 1}
    assert _stack(url, failed)["convergence"]
    # a run made with --include-failed keeps it when retried
    cli("--db", url, "rollback", failed, "--yes")
    cli("--db", url, "migrate", "--include-failed", "--all", "--limit", "1")
    result, report = cli_json("--db", url, "migrate", "--retry")
    assert _stack(url, failed)["convergence"], report


def test_backup_stack_rows_adopted_and_rolled_back_byte_for_byte(sample_db):
    url, sample = sample_db
    root = sample.special["backup_parent"]
    engine = make_engine(url)
    with engine.connect() as conn:
        backup = dict(conn.execute(sa.select(schema.stack).where(schema.stack.c.owner_id == root,
                                                                 schema.stack.c.backup == sa.true())).mappings().one())
        (old,) = conn.execute(sa.select(schema.resource).where(schema.resource.c.stack_id == backup["id"])).mappings().all()
        old = dict(old)
        current = dict(conn.execute(sa.select(schema.resource).where(
            schema.resource.c.stack_id == root, schema.resource.c.name == old["name"])).mappings().one())
    engine.dispose()
    before = dump(url)
    result, report = cli_json("--db", url, "migrate", root)
    assert result.exit_code == 0, result.stderr
    after = {t: {r["id"]: r for r in rows} for t, rows in dump(url).items() if t in ("stack", "resource", "raw_template")}
    moved, repl = after["resource"][old["id"]], after["resource"][current["id"]]
    assert (moved["stack_id"], moved["replaced_by"], moved["current_template_id"]) == (root, current["id"], backup["raw_template_id"])
    assert repl["replaces"] == old["id"] and moved["requires"] == repl["requires"]
    gone = after["stack"][backup["id"]]
    assert gone["deleted_at"] is not None and (gone["action"], gone["status"]) == ("DELETE", "COMPLETE")
    assert backup["raw_template_id"] in after["raw_template"]  # the adopted row's cleanup reads it
    verified, _ = cli_json("--db", url, "verify", root)
    assert verified.exit_code == 0, verified.stdout
    result = cli("--db", url, "rollback", root, "--yes")
    assert result.exit_code == 0, result.stderr
    assert dump(url) == before


def test_log_changes_prints_the_failed_target_template(sample_db):
    url, sample = sample_db
    root, target = _update_failed(url, sample)
    result = cli("--db", url, "migrate", "--include-failed", root)
    assert result.exit_code == 0, result.stderr
    result = cli("--db", url, "log", "--stack", root, "--changes", "--format", "json")
    rows = json.loads(result.stdout)
    (text,) = [r["before"] for r in rows if r["table"] == "raw_template" and r["op"] == "delete"
               and r["key"] == f"id={target['id']}" and r["column"] == "template"]
    assert text == target["template"]
    result = cli("--db", url, "log", "--stack", root, "--failed-template")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(target["template"])


def test_status_counts_what_include_failed_would_add(sample_db):
    url, sample = sample_db
    result, report = cli_json("--db", url, "status")
    extra = report["include_failed"]
    failed = sample.special["failed_root"]
    assert failed in extra["would_add"]
    assert sample.special["in_progress_root"] in {b["root_id"] for b in extra["still_refused"]}
    assert sample.special["nested_in_progress"] in {b["root_id"] for b in extra["still_refused"]}
    assert failed not in {b["root_id"] for b in extra["still_refused"]}
    table = cli("--db", url, "status").stdout
    assert f"--include-failed would add {len(extra['would_add'])} of them" in table
