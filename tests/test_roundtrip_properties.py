"""Migrate → rollback round trip on generated trees, through the CLI, on a real
database: every Heat table comes back identical (hypothesis)."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.heat import schema
from migrator.heat.connection import make_engine

from helpers import cli, dump, templates


@pytest.fixture
def heat_db(db_url):
    engine = make_engine(db_url, must_exist=False)
    schema.create_schema(engine)
    engine.dispose()
    return db_url


def _insert_tree(url, template, row_names, prev: bool, stale: bool, ids):
    """One legacy stack of the generated template, its rows, maybe a previous template."""
    sid = str(uuid.uuid4())
    tid, prev_id = next(ids), (next(ids) if prev else None)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(schema.raw_template.insert(), [
            {"id": t, "template": json.dumps(template), "environment": "{}", "files_id": None}
            for t in ([tid, prev_id] if prev else [tid])])
        conn.execute(schema.stack.insert().values(
            id=sid, name=f"gen-{sid[:6]}", raw_template_id=tid, prev_raw_template_id=prev_id,
            action="UPDATE" if prev else "CREATE", status="COMPLETE", disable_rollback=True,
            convergence=False, backup=False, current_deps="null", tenant="t"))
        names = row_names + (["gone"] if stale else [])
        if names:
            conn.execute(schema.resource.insert(), [
                {"id": next(ids), "uuid": str(uuid.uuid4()), "name": n, "stack_id": sid, "action": "CREATE",
                 "status": "COMPLETE", "requires": "[]", "needed_by": "[]", "root_stack_id": sid}
                for n in names])
    engine.dispose()
    return sid


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trees=st.lists(st.tuples(templates(), st.booleans(), st.booleans()), min_size=1, max_size=3))
def test_generated_trees_round_trip(heat_db, trees):
    ids = iter(range(_next_id(heat_db), 10**9))
    for (template, _edges, rows), prev, stale in trees:
        _insert_tree(heat_db, template, rows, prev, stale, ids)
    before = dump(heat_db)
    migrated = cli("--db", heat_db, "migrate", "--all", "--prune-orphans", "--format", "json")
    assert migrated.exit_code == 0, migrated.stderr
    run = json.loads(migrated.stdout)["run_id"]
    back = cli("--db", heat_db, "rollback", "--run", run, "--yes")
    assert back.exit_code == 0, back.stderr
    assert dump(heat_db) == before


def _next_id(url) -> int:
    """Ids above anything earlier examples left in this test's database."""
    data = dump(url)
    used = [r["id"] for t in ("raw_template", "resource") for r in data[t]]
    return max(used, default=0) + 1
