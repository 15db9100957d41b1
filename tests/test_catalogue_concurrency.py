"""Catalogue, class "concurrency" (issue 15, item 6): four runs at once end every tree in
the right state; a tree a sibling run migrated or rolled back is that run's work (named
by its run id), never "drift"; no driver noise reaches stderr. On SQLite, PostgreSQL
and MariaDB.

Expected states come from the database as it was before the runs (a rollback restores
every table exactly) and from Heat's rule that a convergence stack has
``convergence`` set; never from convmig's own report.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from migrator.heat import schema
from migrator.heat.connection import make_engine

from helpers import cli, cli_json, dump, tree_members

#: What a driver or Python prints when something escapes convmig's own messages.
NOISE = re.compile(r"pipeline|psycopg|pymysql|Traceback|Warning|error ignored|sqlalchemy", re.IGNORECASE)


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("CONVMIG_")}


def four(url: str, *args: str) -> list[tuple[int, str, str]]:
    """The same convmig command in four processes at once: (exit code, stdout, stderr) each."""
    procs = [subprocess.Popen([sys.executable, "-m", "migrator", "--db", url, *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
             for _ in range(4)]
    outs = [p.communicate(timeout=600) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outs)]


def assert_clean_stderr(results) -> None:
    """Every stderr line is convmig's own; none is driver noise or a drift report."""
    for code, _out, err in results:
        assert code in (0, 3), err  # done, or trees a sibling held (retryable)
        for line in err.splitlines():
            assert line.startswith("convmig: "), line
            assert not NOISE.search(line), line
            assert "drift" not in line and "changed since" not in line, line


def engines_of(url: str) -> dict[str, bool]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.select(schema.stack.c.id, schema.stack.c.convergence)).all())
    finally:
        engine.dispose()


def assert_verifies(url: str) -> None:
    result = cli("--db", url, "log", "--verify")
    assert result.exit_code == 0 and "verified clean" in result.stderr, result.stderr


@pytest.fixture
def sample(make_sample):
    return make_sample(24, 51, specials=False)


def test_four_concurrent_migrate_all(sample):
    url, built = sample
    locks_before = dump(url)["stack_lock"]  # the sample's own (a Heat engine's) locks
    results = four(url, "migrate", "--all", "--batch-size", "3", "--format", "json")
    assert_clean_stderr(results)
    for _code, out, _err in results:
        for problem in json.loads(out)["problems"]:
            assert problem["kind"] in ("locked", "busy") and problem["retryable"], problem  # a sibling held it
    settle = cli("--db", url, "migrate", "--all")
    assert settle.exit_code == 0, settle.stderr
    assert set(engines_of(url).values()) == {True}
    _r, applied = cli_json("--db", url, "log", "--event", "applied", "--limit", "100000")
    ids = [e["stack_id"] for e in applied]
    assert sorted(ids) == sorted(built.roots)  # each tree migrated exactly once
    assert dump(url)["stack_lock"] == locks_before  # no lock of ours left
    assert_verifies(url)


def test_four_concurrent_rollback_run(sample):
    url, built = sample
    before = dump(url)
    migrated, report = cli_json("--db", url, "migrate", "--all")
    assert migrated.exit_code == 0 and report["counts"] == {"migrated": len(built.roots)}
    results = four(url, "rollback", "--run", report["run_id"], "--yes", "--batch-size", "3")
    assert_clean_stderr(results)
    settle = cli("--db", url, "rollback", "--run", report["run_id"], "--yes")
    assert settle.exit_code == 0, settle.stderr
    assert dump(url) == before  # every table exactly as before the migration
    _r, applied = cli_json("--db", url, "log", "--event", "rolled-back", "--limit", "100000")
    assert sorted(e["stack_id"] for e in applied) == sorted(built.roots)  # each rolled back once
    assert_verifies(url)


def _sibling(url: str, *args: str) -> str:
    """Run convmig in another process, as a sibling would; its run id."""
    done = subprocess.run([sys.executable, "-m", "migrator", "--db", url, *args, "--format", "json"],
                          capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["run_id"]


def test_a_tree_a_sibling_rolled_back_while_we_locked_is_its_work(sample, monkeypatch):
    """The sibling rolls the trees back after this run read their histories and before
    it locked them (the window four rollbacks hit): not drift, but "already rolled back
    by run <sibling>", exit 0, nothing written by this run."""
    from rollback.plan import RollbackPlanner

    url, built = sample
    before = dump(url)
    _m, report = cli_json("--db", url, "migrate", "--all")
    roots = built.roots[:3]
    real = RollbackPlanner.stacks_of
    sibling = []

    def read_then_sibling(self, conn, root_ids):
        found = real(self, conn, root_ids)  # the histories are read here, before the locks
        conn.rollback()  # SQLite: let the sibling write
        sibling.append(_sibling(url, "rollback", *root_ids, "--yes"))
        return found

    monkeypatch.setattr(RollbackPlanner, "stacks_of", read_then_sibling)
    result, back = cli_json("--db", url, "rollback", *roots, "--yes")
    assert result.exit_code == 0, result.stderr
    assert back["counts"] == {"already done": 3} and back["problems"] == []
    assert {(d["root_id"], d["by_run"]) for d in back["done_by_other_runs"]} == {(r, sibling[0]) for r in roots}
    assert all(f"already rolled back by run {sibling[0][:8]}" in d["reason"] for d in back["done_by_other_runs"])
    assert "drift" not in result.stderr
    monkeypatch.setattr(RollbackPlanner, "stacks_of", real)
    assert cli("--db", url, "rollback", "--run", report["run_id"], "--yes").exit_code == 0
    assert dump(url) == before
    assert_verifies(url)


def test_a_tree_a_sibling_migrated_while_we_locked_is_its_work(sample, monkeypatch):
    """The sibling migrates a tree after this run's precheck found it legacy and before
    the lock: a note names the sibling's run on stderr, one line, exit 0."""
    import migrator.execution.runner as runner

    url, built = sample
    root = built.roots[0]
    real = runner.Runner._prechecked
    sibling = []

    def precheck_then_sibling(trees, precheck):
        results = real(trees, precheck)
        if not sibling:
            sibling.append(_sibling(url, "migrate", root))
        return results

    monkeypatch.setattr(runner.Runner, "_prechecked", staticmethod(precheck_then_sibling))
    result = cli("--db", url, "migrate", root)
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and f"is already migrated by run {sibling[0][:8]}: nothing to do" in lines[0], lines
    assert "already done" in result.stdout
    assert engines_of(url)[root] is True
    assert_verifies(url)


def test_a_sequential_repeat_names_no_other_run(sample):
    """A rollback repeated after the first finished is quiet, as before: the note is
    for runs that overlapped this one."""
    url, built = sample
    cli("--db", url, "migrate", built.roots[0])
    assert cli("--db", url, "rollback", built.roots[0], "--yes").exit_code == 0
    again, report = cli_json("--db", url, "rollback", built.roots[0], "--yes")
    assert (again.exit_code, again.stderr, report["done_by_other_runs"]) == (0, "", [])


LOSES_THE_RACE = """
import logging, sys
from migrator.heat.locks import StackLocks
real = StackLocks._write_locks

def write_locks(self, conn, stack_ids, steal):
    logging.getLogger("psycopg").warning("error ignored terminating %r: %s",
                                         "<psycopg.Pipeline [INERROR, pipeline=ON] (host=db user=heat)>",
                                         "pipeline aborted")
    return real(self, conn, stack_ids, steal)

StackLocks._existing = lambda self, ids: {}  # the other holder's row came just after the look
StackLocks._write_locks = write_locks
from migrator.cli import main
main(sys.argv[1:], prog_name="convmig")
"""


def test_driver_warnings_never_reach_stderr(sample):
    """psycopg logs "error ignored terminating <psycopg.Pipeline ...>: pipeline aborted"
    when a pipelined executemany (a tree's stack-lock rows) loses a race to another
    process; whether it does depends on timing, so the warning is logged here exactly
    as psycopg logs it, from inside the lock write, on a real collision with another
    holder's row. convmig says "locked" in its own line and nothing else reaches stderr."""
    from datetime import datetime, timezone

    url, built = sample
    engine = make_engine(url)
    with engine.connect() as conn:  # a tree of several stacks: its locks go in one executemany
        held = next(root for root, ids in tree_members(conn, built.roots).items() if len(ids) > 1)
    with engine.begin() as conn:
        conn.execute(schema.stack_lock.insert().values(stack_id=held, engine_id="ab" * 16,
                                                       created_at=datetime.now(timezone.utc).replace(tzinfo=None)))
    engine.dispose()
    before = dump(url)
    # a process of its own: Python's last-resort handler (what prints a library's
    # warning when nothing is configured) is what reached stderr; pytest's capture
    # would hide it in-process
    result = subprocess.run([sys.executable, "-c", LOSES_THE_RACE, "--db", url, "migrate", held],
                            capture_output=True, text=True, env=_env(), timeout=300)
    result.exit_code = result.returncode
    lines = result.stderr.splitlines()
    assert result.exit_code == 3, result.stderr  # retryable: another process holds it
    assert len(lines) == 1 and lines[0].startswith("convmig: skipped: ") and "locked by another process" in lines[0]
    assert not NOISE.search(result.stderr), result.stderr
    after = dump(url)
    assert after == before  # nothing written to Heat, the collision row kept
