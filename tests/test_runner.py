"""The runner's recovery, lock-owner and per-tree paths, in this process.

The crash tests kill a real process; these make a run "die" in-process (a
failpoint that raises, and no cleanup, as after SIGKILL) so every line of
recovery runs where coverage and mutation testing can see it. Expected values
are written from the protocol (docs/RELIABILITY.md): what the log says, what
the report says, which locks remain.
"""

from __future__ import annotations

import os
import subprocess
import types
import uuid

import pytest
import sqlalchemy as sa

import migrator.execution.runner as runner
from events import EventLog
from migrator.heat import schema
from migrator.heat.connection import make_engine

from helpers import cli, cli_json, tree_rows

pytestmark = pytest.mark.sample(3, 17, specials=False)


class Died(BaseException):
    """The process stops here: no except clause of the product catches it."""


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def die_at(monkeypatch, point: str) -> None:
    """The next run dies at ``point`` with no cleanup: its locks stay, its run
    never finishes, and its pid is that of a process that has exited."""
    real = runner.failpoint

    def failpoint(name):
        if name == point:
            raise Died(name)
        real(name)

    def close(self, interrupted=False):  # SIGKILL: nothing released, nothing recorded
        self.log.close()
        self.engine.dispose()

    monkeypatch.setattr(runner, "failpoint", failpoint)
    monkeypatch.setattr(runner.Runner, "close", close)
    monkeypatch.setattr(runner.StackLocks, "release", lambda self, stack_ids=None: None)
    monkeypatch.setattr(runner, "os", types.SimpleNamespace(environ=os.environ, getuid=os.getuid,
                                                            getpid=lambda pid=_dead_pid(): pid))


def died(url, monkeypatch, point, *selection) -> str:
    """Run migrate until it dies at ``point``; the dead run's id."""
    with monkeypatch.context() as m:
        die_at(m, point)
        with pytest.raises(Died):
            cli("--db", url, "migrate", *selection, "--batch-size", "1")
    log = EventLog.open(url)
    try:
        return str(log.last_run(command="migrate").id)
    finally:
        log.close()


def locks(url) -> dict:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.select(schema.stack_lock.c.stack_id, schema.stack_lock.c.engine_id)).all())
    finally:
        engine.dispose()


def entries(url, stack_id) -> list[dict]:
    log = EventLog.open(url)
    try:
        return log.stack(stack_id).entries
    finally:
        log.close()


def run_of(url, run_id):
    log = EventLog.open(url)
    try:
        return log.get_run(uuid.UUID(str(run_id)))
    finally:
        log.close()


def converged(url, stack_id) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(sa.select(schema.stack.c.convergence).where(schema.stack.c.id == stack_id)).scalar())
    finally:
        engine.dispose()


@pytest.mark.parametrize("point, verdict, wording", [
    ("after-record", "not_applied", "were never applied"),
    ("before-commit", "not_applied", "were never applied"),
    ("after-apply", "applied", "were applied before the process died"),
])
def test_a_dead_runs_plan_is_judged_recorded_and_its_run_closed(sample_db, monkeypatch, point, verdict, wording):
    url, sample = sample_db
    first, other = sorted(sample.roots)[0], sorted(sample.roots)[-1]
    dead = died(url, monkeypatch, point, first)
    members = [s["id"] for s in tree_rows(url, first)["stacks"]]
    assert locks(url) == {s: dead for s in members}  # left behind, as after SIGKILL
    planned = entries(url, first)[-1]
    result, report = cli_json("--db", url, "migrate", other)
    assert result.exit_code == 0, result.stderr
    now = report["run_id"]
    assert report["recovered"] == [{"root_id": first, "name": sample_name(url, first), "outcome": "recovered",
                                    "kind": verdict, "reason": f"{len(planned['changes'])} change(s) of run {dead} {wording}",
                                    "retryable": False}]
    recovered = entries(url, first)[1]
    assert (recovered["kind"], recovered["outcome"], str(recovered["run_id"])) == ("recovered", verdict, now)
    assert recovered["detail"] == report["recovered"][0]["reason"]
    closed = run_of(url, dead)
    assert (closed.outcome, closed.counts) == ("interrupted", {"recovered_by": now})
    assert locks(url) == {}
    assert converged(url, first)  # not applied: taken up again by the named run; applied: it was
    assert [e["kind"] for e in entries(url, first)] == (
        ["planned", "recovered", "planned", "applied"] if verdict == "not_applied" else ["planned", "recovered"])
    assert run_of(url, now).outcome == "done"


def sample_name(url, stack_id) -> str:
    return tree_rows(url, stack_id)["stacks"][0]["name"]


def test_a_drifted_plan_is_judged_drifted_and_left_for_the_operator(sample_db, monkeypatch):
    url, sample = sample_db
    first, other = sorted(sample.roots)[0], sorted(sample.roots)[-1]
    dead = died(url, monkeypatch, "after-record", first)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(schema.stack.update().where(schema.stack.c.id == first).values(status="FAILED"))
    engine.dispose()
    result, report = cli_json("--db", url, "migrate", other)
    [verdict] = report["recovered"]
    assert (verdict["kind"], verdict["root_id"]) == ("drifted", first)
    assert verdict["reason"].startswith("the tree matches neither the recorded before- nor after-image: ")
    assert not converged(url, first) and [e["kind"] for e in entries(url, first)] == ["planned", "recovered"]
    assert run_of(url, dead).outcome == "interrupted"


def test_a_live_runs_plan_is_not_judged(sample_db, monkeypatch):
    """The plan's run still holds the locks and its process is alive (this one):
    not ours to judge; the tree is left as it is and reported locked."""
    url, sample = sample_db
    first = sorted(sample.roots)[0]
    with monkeypatch.context() as m:
        die_at(m, "after-record")
        m.setattr(runner, "os", os)  # the "dead" run's pid is this live process
        with pytest.raises(Died):
            cli("--db", url, "migrate", first, "--batch-size", "1")
    result, report = cli_json("--db", url, "migrate", first)
    assert result.exit_code == 3, result.stderr  # retry later
    assert report["recovered"] == []
    [problem] = report["problems"]
    assert (problem["kind"], problem["retryable"]) == ("locked", True)
    assert "is locked by convmig run" in problem["reason"] and f"(pid {os.getpid()} on " in problem["reason"]
    assert problem["reason"].endswith("(alive)")
    assert [e["kind"] for e in entries(url, first)] == ["planned"]


@pytest.mark.parametrize("owner, outcome", [
    ("finished-run", 0),     # a convmig run that finished: its lock is stale, taken over
    ("other-host-run", 3),   # a convmig run on another host: cannot tell, assumed alive
    ("not-a-uuid", 1),       # not convmig, no live engine: the operator must look
    ("heat-engine-uuid", 1),  # a UUID no convmig run has (Heat's engine ids are UUIDs): not convmig
])
def test_lock_owners_are_told_apart(sample_db, owner, outcome):
    url, sample = sample_db
    root = sorted(sample.roots)[0]
    log = EventLog.open(url)
    try:
        run = log.start_run(command="migrate", arguments={}, selection={}, operator="op",
                            host="elsewhere" if owner == "other-host-run" else os.uname().nodename,
                            pid=_dead_pid(), version="0")
        if owner == "finished-run":
            run.finish("done", {})
        log.save(run)
    finally:
        log.close()
    engine_id = {"not-a-uuid": "engine-gone", "heat-engine-uuid": "5f1e0000-0000-4000-8000-00000000e0e0"}.get(owner, str(run.id))
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(schema.stack_lock.insert().values(stack_id=root, engine_id=engine_id))
    engine.dispose()
    result, report = cli_json("--db", url, "migrate", root)
    assert result.exit_code == outcome, result.stderr
    if outcome == 0:
        assert report["counts"] == {"migrated": 1} and locks(url) == {}
        return
    [problem] = report["problems"]
    assert problem["kind"] == "locked" and problem["retryable"] is (outcome == 3)
    if owner == "other-host-run":
        assert f"is locked by convmig run {run.id} (pid {run.pid} on elsewhere) (alive)" in problem["reason"]
    else:
        assert f"is locked by engine {engine_id} (not alive: if no engine works on it, run heat-manage " \
               "reset_stack_status)" in problem["reason"]
    assert locks(url) == {root: engine_id}


# --------------------------------------------------------------------------- one tree at a time


def _batch_refused(monkeypatch):
    monkeypatch.setattr(runner, "apply_many", lambda conn, plans: (_ for _ in ()).throw(
        ValueError("plans disagree on the order of their steps; apply them one by one")))


def test_trees_are_applied_one_by_one_when_the_batch_cannot_be(sample_db, monkeypatch):
    url, sample = sample_db
    _batch_refused(monkeypatch)
    result, report = cli_json("--db", url, "migrate", *sample.roots)
    assert result.exit_code == 0, result.stderr
    assert report["counts"] == {"migrated": 3} and report["problems"] == []
    for root in sample.roots:
        assert converged(url, root)
        assert [(e["kind"], str(e["run_id"])) for e in entries(url, root)] == [
            ("planned", report["run_id"]), ("applied", report["run_id"])]


def test_a_tree_whose_write_fails_is_recorded_failed(sample_db, monkeypatch):
    import migrator.execution.apply as apply

    url, sample = sample_db
    _batch_refused(monkeypatch)
    first = sorted(sample.roots)[0]
    real_write = apply.write

    def write(conn, changes):
        if any(c.table == "stack" and c.pk["id"] == first for c in changes):
            raise sa.exc.OperationalError("UPDATE stack", {}, Exception("server closed the connection (planted)"))
        real_write(conn, changes)

    monkeypatch.setattr(apply, "write", write)
    result, report = cli_json("--db", url, "migrate", *sample.roots)
    assert result.exit_code == 1
    assert report["counts"] == {"migrated": 2, "failed": 1}
    name = sample_name(url, first)
    reason = f"tree {name} ({first}): cannot use database {url}: server closed the connection (planted)"
    assert report["problems"] == [{"root_id": first, "name": name, "outcome": "failed", "kind": "database",
                                   "reason": reason, "retryable": False}]
    failed = entries(url, first)[-1]
    assert (failed["kind"], str(failed["run_id"]), failed["reason"]) == ("failed", report["run_id"], reason)
    assert not converged(url, first)


def test_a_drifted_tree_is_recorded_failed_by_this_run(sample_db, monkeypatch):
    url, sample = sample_db
    first = sorted(sample.roots)[0]
    real = runner.Runner._record_plans

    def heat_acts(self, *args):
        histories = real(self, *args)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(schema.stack.update().where(schema.stack.c.id == first).values(status="FAILED"))
        engine.dispose()
        return histories

    monkeypatch.setattr(runner.Runner, "_record_plans", heat_acts)
    result, report = cli_json("--db", url, "migrate", *sample.roots)
    assert result.exit_code == 1
    name = sample_name(url, first)
    reason = (f"tree {name} ({first}) changed since it was planned, nothing written: "
              f"stack[id={first}].status: expected 'COMPLETE', found 'FAILED'")
    assert report["problems"] == [{"root_id": first, "name": name, "outcome": "failed", "kind": "drift",
                                   "reason": reason, "retryable": False}]
    assert report["counts"] == {"migrated": 2, "failed": 1}
    failed = entries(url, first)[-1]
    assert (failed["kind"], str(failed["run_id"]), failed["reason"]) == ("failed", report["run_id"], reason)


def test_a_tree_converged_after_the_precheck_is_already_done(sample_db, monkeypatch):
    """The stack rows said legacy, then (before the lock) the tree went to
    convergence: the plan made under the lock is a no-op, reported as already done."""
    import migrator.cli.commands.migrate as migrate_command

    url, sample = sample_db
    root = sorted(sample.roots)[0]
    assert cli("--db", url, "migrate", root).exit_code == 0
    monkeypatch.setattr(migrate_command, "precheck", lambda rows, **options: None)  # it looked legacy a moment ago
    result, report = cli_json("--db", url, "migrate", root)
    assert result.exit_code == 0, result.stderr
    assert report["counts"] == {"already done": 1} and report["problems"] == []
    assert [e["kind"] for e in entries(url, root)] == ["planned", "applied"]


def test_a_plan_left_open_by_a_run_that_did_finish_is_settled_without_reopening_it(sample_db, monkeypatch):
    """An error escaped the run after its plan was recorded: the run closed itself
    (interrupted) and released its locks, the plan stays open. The next run settles
    the plan and leaves the finished run as it was."""
    url, sample = sample_db
    first = sorted(sample.roots)[0]
    with monkeypatch.context() as m:
        real = runner.failpoint

        def failpoint(name):
            if name == "after-record":
                raise Died(name)
            real(name)

        m.setattr(runner, "failpoint", failpoint)
        with pytest.raises(Died):
            cli("--db", url, "migrate", first)
    log = EventLog.open(url)
    try:
        interrupted = log.last_run(command="migrate")
    finally:
        log.close()
    assert interrupted.outcome == "interrupted" and locks(url) == {}
    result, report = cli_json("--db", url, "migrate", first)
    assert result.exit_code == 0, result.stderr
    assert [(r["root_id"], r["kind"]) for r in report["recovered"]] == [(first, "not_applied")]
    again = run_of(url, interrupted.id)
    assert (again.outcome, again.counts) == ("interrupted", interrupted.counts)
    assert report["counts"] == {"migrated": 1}


def test_a_tree_the_planner_refuses_is_reported_with_its_reason(make_sample):
    url, sample = make_sample(8, 11)
    root = sample.special["stale_row"]
    stale = [r for r in tree_rows(url, root)["resources"] if r["name"] == "legacy_lb"]
    result, report = cli_json("--db", url, "migrate", root)
    assert result.exit_code == 1
    name = sample_name(url, root)
    assert report["problems"] == [{
        "root_id": root, "name": name, "outcome": "skipped", "kind": "stale_rows", "retryable": False,
        "reason": f"stack {name} ({root}) has resource rows not in its template: legacy_lb (id {stale[0]['id']}); "
                  "re-run with --prune-orphans (or: convmig migrate --retry --prune-orphans) to delete them"}]
