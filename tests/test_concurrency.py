"""Two migrate processes at once, a tree changed between plan and apply, and --retry."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from migrator.heat import schema
from migrator.heat.connection import make_engine
from migrator.sample.build import build_sample

from helpers import cli, cli_json, convmig, dump, make_db_url, start, wait_for

pytestmark = pytest.mark.sample(30, 41, specials=False)


def test_two_concurrent_migrate_all(sample_db):
    url, sample = sample_db
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVMIG_")}
    procs = [subprocess.Popen([sys.executable, "-m", "migrator", "--db", url, "migrate", "--all", "--format", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert out.startswith("{"), err
    reports = [json.loads(out) for out, _err in outs]
    migrated = sum(r["counts"].get("migrated", 0) for r in reports)
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode in (0, 3), err
    # every tree migrated exactly once: the other process saw it locked or already done
    assert migrated == len(sample.roots)
    again, report = cli_json("--db", url, "migrate", "--all")
    assert report["counts"] == {} and again.exit_code == 0
    assert not dump(url)["stack_lock"]
    assert cli("--db", url, "log", "--verify").exit_code == 0


def test_change_between_plan_and_apply_refuses_tree(sample_db, monkeypatch):
    """Heat acts on a stack after convmig planned it: the tree fails whole, nothing partial."""
    url, sample = sample_db
    root = sample.roots[0]
    import migrator.execution.runner as execute

    real = execute.Runner._record_plans

    def meddle(self, *args):
        histories = real(self, *args)
        engine = make_engine(url)
        with engine.begin() as conn:  # as a Heat engine would, after the plan was recorded
            conn.execute(schema.resource.update().where(schema.resource.c.stack_id == root).values(status="FAILED"))
        engine.dispose()
        return histories

    monkeypatch.setattr(execute.Runner, "_record_plans", meddle)
    engine = make_engine(url)
    with engine.connect() as conn:
        st = dict(conn.execute(sa.select(schema.stack).where(schema.stack.c.id == root)).mappings().one())
    result, report = cli_json("--db", url, "migrate", root)
    assert result.exit_code == 1
    assert report["problems"][0]["kind"] == "drift"
    assert "changed since it was planned, nothing written" in result.stderr
    with engine.connect() as conn:
        after = dict(conn.execute(sa.select(schema.stack).where(schema.stack.c.id == root)).mappings().one())
        cur = conn.execute(sa.select(schema.resource.c.current_template_id).where(schema.resource.c.stack_id == root)).scalars().all()
    engine.dispose()
    assert after == st and set(cur) == {None}


def test_retry_finishes_what_a_run_left(sample_db):
    url, sample = sample_db
    killed = convmig(url, "migrate", "--all", "--batch-size", "1", failpoint="after-apply:5")
    assert killed.returncode == -9
    result = convmig(url, "migrate", "--retry", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"].get("migrated", 0) + 5 == len(sample.roots)
    engine = make_engine(url)
    with engine.connect() as conn:
        legacy = conn.execute(sa.select(sa.func.count()).where(schema.stack.c.convergence == sa.false())).scalar()
    engine.dispose()
    assert legacy == 0
    assert cli("--db", url, "migrate", "--retry", "not-a-run").exit_code == 2


def test_retry_with_nothing_to_retry(db_url):
    engine = make_engine(db_url, must_exist=False)
    build_sample(engine, roots=1, seed=1, specials=False)
    engine.dispose()
    result = cli("--db", db_url, "migrate", "--retry")
    assert result.exit_code == 1
    assert "no migrate run to retry" in result.stderr


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgresql),
                                     pytest.param("mariadb", marks=pytest.mark.mariadb),
                                     "sqlite"])
def test_four_processes_an_engine_lock_and_a_heat_like_writer(backend, tmp_path):
    """Four migrate --all at once beside a live engine holding some stack locks and
    a writer changing other stacks: every tree migrated once or refused with a
    reason, no convmig lock left, the log verifies clean."""
    import threading
    from datetime import datetime, timezone

    url, drop = make_db_url(backend, tmp_path)
    try:
        engine = make_engine(url, must_exist=False)
        sample = build_sample(engine, roots=40, seed=43, specials=False)
        locked, touched = sample.roots[:3], sample.roots[3:6]
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        with engine.begin() as conn:
            conn.execute(schema.service.insert().values(
                id="svc-1", engine_id="engine-live", host="ctl", hostname="ctl", binary="heat-engine",
                topic="engine", report_interval=3600, created_at=now, updated_at=now))
            conn.execute(schema.stack_lock.insert(), [{"stack_id": s, "engine_id": "engine-live"} for s in locked])
        stop = threading.Event()

        def heat_like_writer():
            i = 0
            while not stop.is_set():
                with engine.begin() as conn:  # as Heat acting on a resource: a new stamp (compared)
                    conn.execute(schema.resource.update().where(schema.resource.c.stack_id.in_(touched))
                                 .values(status_reason=f"touched {i}", updated_at=datetime(2030, 1, 1, 0, 0, i % 60)))
                i += 1
                stop.wait(0.02)

        writer = threading.Thread(target=heat_like_writer)
        writer.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVMIG_")}
        procs = [subprocess.Popen([sys.executable, "-m", "migrator", "--db", url, "migrate", "--all", "--online",
                                   "--batch-size", "5", "--format", "json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(4)]
        outs = [p.communicate(timeout=600) for p in procs]
        stop.set()
        writer.join()
        for p, (out, err) in zip(procs, outs):
            assert p.returncode in (0, 1, 3), err
            assert out.startswith("{"), err
        reports = [json.loads(out) for out, _ in outs]
        for r in reports:
            for problem in r["problems"]:
                assert problem["reason"]  # every refusal says why
                assert problem["kind"] in ("locked", "busy", "drift"), problem
        # settle what was skipped for a reason a later run clears, then count
        cli("--db", url, "migrate", "--all", "--online")
        log, events = cli_json("--db", url, "log", "--event", "applied", "--limit", "100000")
        applied = [e["stack_id"] for e in events]
        assert len(applied) == len(set(applied)), "a tree was migrated twice"
        assert set(applied) == set(sample.roots) - set(locked)
        with engine.connect() as conn:
            leftover = dict(conn.execute(sa.select(schema.stack_lock.c.stack_id, schema.stack_lock.c.engine_id)).all())
        engine.dispose()
        assert leftover == {s: "engine-live" for s in locked}
        assert cli("--db", url, "log", "--verify").exit_code == 0
    finally:
        drop()


def test_recovery_leaves_a_plan_its_live_run_finishes(make_sample, tmp_path):
    """A second process sees the first one's open plan, and the first finishes it
    before the second gets the lock: the second must let it be (no StackBusy
    traceback, no "recovered" entry) and the first run's outcome stands."""
    url, sample = make_sample(4, 47, specials=False)
    first_at, second_at = tmp_path / "first", tmp_path / "second"
    first = start(url, "migrate", "--all", "--batch-size", "1", failpoint="after-record:1:pause", marker=first_at)
    wait_for(first_at, first)  # first has recorded a plan and holds its tree's locks
    second = start(url, "migrate", "--all", "--format", "json", failpoint="recover-seen:1:pause", marker=second_at)
    wait_for(second_at, second)  # second has read that open plan
    first_at.unlink()
    _out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    second_at.unlink()
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert "Traceback" not in err
    report = json.loads(out)
    assert report["recovered"] == []
    assert "migrated" not in report["counts"]  # the first run did them all
    _result, status = cli_json("--db", url, "status")
    assert {r["engine"] for r in status["counts"]} == {"convergence"}
    verified = convmig(url, "log", "--verify")
    assert verified.returncode == 0, verified.stderr
