"""`convmig verify`: migrated trees pass; each kind of damage is reported."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from migrator.heat import schema
from migrator.heat.connection import make_engine

from helpers import cli, cli_json


@pytest.fixture
def migrated(make_sample):
    db_url, sample = make_sample(6, 17)
    result = cli("--db", db_url, "migrate", "--all", "--prune-orphans")
    assert result.exit_code == 1  # FAILED / in-progress trees stay
    return db_url, sample


def _sql(url, statement, **params):
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)
    engine.dispose()


def _first_resource(url, stack_id):
    engine = make_engine(url)
    with engine.connect() as conn:
        rid = conn.execute(sa.select(sa.func.min(schema.resource.c.id)).where(schema.resource.c.stack_id == stack_id)).scalar()
    engine.dispose()
    return rid


def test_migrated_trees_verify_clean(migrated):
    url, sample = migrated
    result, verdicts = cli_json("--db", url, "verify", "--all")
    assert result.exit_code == 0, result.stderr
    assert len(verdicts) >= 10 and all(v["ok"] for v in verdicts)
    ids = {v["root_id"] for v in verdicts}
    assert sample.special["stale_row"] in ids and sample.special["updated"] in ids


@pytest.mark.parametrize("damage, expected", [
    ("UPDATE resource SET requires = NULL WHERE id = :rid", "is not a JSON list of ids"),
    ("UPDATE resource SET requires = '[]' WHERE id = :rid2", "requires lacks"),
    ("UPDATE resource SET engine_id = 'e1' WHERE id = :rid", "engine_id e1 left set"),
    ("UPDATE resource SET current_template_id = NULL WHERE id = :rid", "current_template_id None"),
    ("UPDATE stack SET prev_raw_template_id = raw_template_id WHERE id = :root", "prev_raw_template_id"),
    ("UPDATE stack SET current_traversal = '' WHERE id = :root", "is not a traversal id"),
    ("INSERT INTO stack_lock (stack_id, engine_id) VALUES (:root, 'e1')", "stack_lock held by e1"),
    ("UPDATE resource SET status = 'FAILED' WHERE id = :rid", "before the migration"),
    ("UPDATE stack SET convergence = :false WHERE id = :root", "the log says migrated, but the stack is legacy"),
])
def test_damage_is_reported(migrated, damage, expected):
    url, sample = migrated
    root = sample.special["updated"]
    rid = _first_resource(url, root)
    engine = make_engine(url)
    with engine.connect() as conn:  # a resource that requires another one
        rows = conn.execute(sa.select(schema.resource.c.id, schema.resource.c.requires)
                            .where(schema.resource.c.stack_id == root)).all()
    engine.dispose()
    rid2 = next(r.id for r in rows if json.loads(r.requires))
    _sql(url, damage, rid=rid, rid2=rid2, root=root, false=False)
    result, verdicts = cli_json("--db", url, "verify", "--all")
    assert result.exit_code == 1
    assert expected in result.stderr, result.stderr
    assert any(not v["ok"] and v["root_id"] == root for v in verdicts)


def test_log_and_database_must_agree_after_rollback(migrated):
    url, sample = migrated
    root = sample.special["updated"]
    assert cli("--db", url, "rollback", root, "--yes").exit_code == 0
    assert cli("--db", url, "verify", "--all").exit_code == 0
    _sql(url, "UPDATE stack SET convergence = :t WHERE id = :root", t=True, root=root)
    result = cli("--db", url, "verify", "--all")
    assert result.exit_code == 1
    assert "the log says rolled back, but the stack is on convergence" in result.stderr


def test_verify_named_tree_not_migrated_by_convmig_checks_its_edges(migrated):
    # a tree made on convergence (not by convmig) is checked for missing dependency
    # edges only; the sample writes them all, so it passes (tests/test_repair.py damages one)
    url, sample = migrated
    result = cli("--db", url, "verify", sample.special["convergence_root"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "convmig: 1 of 1 tree(s) verified\n"


def test_a_tree_with_two_findings_counts_once(migrated):
    url, sample = migrated
    root = sample.special["updated"]
    _sql(url, "UPDATE stack SET convergence = :false WHERE id = :root", false=False, root=root)
    result, verdicts = cli_json("--db", url, "verify", "--all")
    assert result.exit_code == 1
    ids = [v["root_id"] for v in verdicts]
    assert len(ids) == len(set(ids))
    (bad,) = [v for v in verdicts if not v["ok"]]
    assert "the log says migrated, but the stack is legacy" in bad["violations"]
    assert any("convergence is not set" in x for x in bad["violations"])
    assert result.stderr.endswith(f"convmig: {len(ids) - 1} of {len(ids)} tree(s) verified\n")
