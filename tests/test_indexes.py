"""Supporting indexes: a run builds them and drops them; a killed run's are
dropped by the next run or rollback; Heat's schema, indexes included, is
exactly as before once convmig is done, on every database.

The schema is read from each database's own catalogue (sqlite_master,
PostgreSQL's pg_catalog, MariaDB's SHOW CREATE TABLE), not through convmig."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from migrator.heat.connection import make_engine
from migrator.sample.build import build_sample

#: The columns the issue names: PostgreSQL and SQLite index none of them.
NAMED = {"convmig_tmp_stack_raw_template_id", "convmig_tmp_stack_prev_raw_template_id",
         "convmig_tmp_resource_current_template_id"}


def convmig(url, *args, failpoint=None, marker=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVMIG_")}
    if failpoint:
        env["CONVMIG_FAILPOINT"] = failpoint
    if marker:
        env["CONVMIG_FAILPOINT_FILE"] = str(marker)
    return subprocess.run([sys.executable, "-m", "migrator", "--db", url, *args],
                          capture_output=True, text=True, env=env, timeout=300)


def schema(url: str) -> dict:
    """Every table, column, constraint and index of Heat's tables (the event
    log's own ``convmig_*`` tables left out), from the catalogue."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            name = engine.dialect.name
            if name == "sqlite":
                rows = conn.execute(sa.text(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master "
                    "WHERE tbl_name NOT LIKE 'convmig%' ORDER BY type, name")).all()
                return {"sqlite_master": [tuple(r) for r in rows]}
            if name == "postgresql":
                idx = conn.execute(sa.text(
                    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND tablename NOT LIKE 'convmig%' ORDER BY 1, 2")).all()
                invalid = conn.execute(sa.text(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                    "AND NOT i.indisvalid")).all()
                cols = conn.execute(sa.text(
                    "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name NOT LIKE 'convmig%' ORDER BY 1, 2")).all()
                cons = conn.execute(sa.text(
                    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                    "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = current_schema() "
                    "AND conrelid::regclass::text NOT LIKE 'convmig%' ORDER BY 1, 2")).all()
                return {"indexes": [tuple(r) for r in idx], "invalid": [tuple(r) for r in invalid],
                        "columns": [tuple(r) for r in cols], "constraints": [tuple(r) for r in cons]}
            tables = [r[0] for r in conn.execute(sa.text("SHOW TABLES")).all() if not r[0].startswith("convmig")]
            return {t: conn.execute(sa.text(f"SHOW CREATE TABLE `{t}`")).one()[1] for t in sorted(tables)}
    finally:
        engine.dispose()


def ours(url: str) -> set[str]:
    """convmig's supporting indexes present now, from the catalogue."""
    text = json.dumps(schema(url))
    return {n for n in [*NAMED, "convmig_tmp_resource_stack_id"] if n in text}


@pytest.fixture
def heat_db(db_url):
    engine = make_engine(db_url, must_exist=False)
    try:
        build_sample(engine, roots=8, seed=16, specials=False)
    finally:
        engine.dispose()
    return db_url


def expects_indexes(url: str) -> bool:
    """PostgreSQL and SQLite index no foreign key by themselves; MariaDB does."""
    return sa.engine.make_url(url).get_backend_name() in ("sqlite", "postgresql")


def notes(url: str, run_id: str | None = None) -> list[str]:
    out = convmig(url, "log", "--format", "json", "--limit", "100000")
    assert out.returncode == 0, out.stderr
    return [e["summary"] for e in json.loads(out.stdout) if e["event"] == "run-noted"
            and (run_id is None or str(e["run"]).startswith(run_id[:8]))]


def test_run_builds_indexes_then_leaves_heat_schema_exactly_as_before(heat_db, tmp_path):
    before = schema(heat_db)
    marker = tmp_path / "paused"
    proc = subprocess.Popen([sys.executable, "-m", "migrator", "--db", heat_db, "migrate", "--all", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**{k: v for k, v in os.environ.items() if not k.startswith("CONVMIG_")},
                                 "CONVMIG_FAILPOINT": "after-indexes:1:pause", "CONVMIG_FAILPOINT_FILE": str(marker)})
    try:
        for _ in range(600):
            if marker.exists() or proc.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"])
        assert marker.exists(), proc.communicate()
        during = ours(heat_db)
    finally:
        marker.unlink(missing_ok=True)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    if expects_indexes(heat_db):
        assert NAMED <= during
        assert any("created=" in n for n in notes(heat_db))
    assert schema(heat_db) == before
    assert any("dropped=all" in n for n in notes(heat_db)) == expects_indexes(heat_db)

    rolled = convmig(heat_db, "rollback", "--run", json.loads(out)["run_id"], "--yes")
    assert rolled.returncode == 0, rolled.stderr
    assert schema(heat_db) == before


@pytest.mark.parametrize("next_command", ["migrate", "rollback"])
def test_killed_run_indexes_are_dropped_by_the_next_run(heat_db, next_command):
    before = schema(heat_db)
    if next_command == "rollback":
        done = convmig(heat_db, "migrate", "--all", "--format", "json")
        assert done.returncode == 0, done.stderr
        run_id = json.loads(done.stdout)["run_id"]
        killed = convmig(heat_db, "rollback", "--run", run_id, "--yes", failpoint="after-indexes")
    else:
        killed = convmig(heat_db, "migrate", "--all", failpoint="after-indexes")
    assert killed.returncode == -9, killed.stderr
    if expects_indexes(heat_db):
        assert NAMED <= ours(heat_db), "the killed run left its indexes"
        assert schema(heat_db) != before
    args = ["rollback", "--run", run_id, "--yes"] if next_command == "rollback" else ["migrate", "--all"]
    nxt = convmig(heat_db, *args)
    assert nxt.returncode == 0, nxt.stderr
    assert schema(heat_db) == before
    if expects_indexes(heat_db):
        assert any("adopted=" in n for n in notes(heat_db))


@pytest.mark.postgresql
def test_an_interrupted_concurrent_build_is_rebuilt_then_dropped(tmp_path):
    """PostgreSQL leaves an INVALID index when CREATE INDEX CONCURRENTLY is cut
    short; a failing unique build leaves the same."""
    from helpers import make_db_url

    url, drop = make_db_url("postgresql", tmp_path)
    try:
        engine = make_engine(url, must_exist=False)
        build_sample(engine, roots=8, seed=16, specials=False)
        engine.dispose()
        before = schema(url)
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.exec_driver_sql("CREATE UNIQUE INDEX CONCURRENTLY convmig_tmp_resource_stack_id ON resource (stack_id)")
        admin.dispose()
        assert schema(url)["invalid"] == [("convmig_tmp_resource_stack_id",)]
        done = convmig(url, "migrate", "--all")
        assert done.returncode == 0, done.stderr
        assert schema(url) == before
        assert any("rebuilt=" in n for n in notes(url))
    finally:
        drop()
