"""Crash tests: convmig killed with SIGKILL before, between and after its log
writes and its database transaction; a re-run ends exactly where an undisturbed
run ends (traversal ids aside) and the log tells what happened."""

from __future__ import annotations

import json

from migrator.heat.connection import make_engine
from migrator.sample.build import build_sample

from helpers import comparable, convmig, dump, make_db_url

POINTS = ["before-record", "after-record", "before-commit", "after-apply", "after-apply:3", "after-outcome"]
#: What the re-run finds open, by where the process died (written by hand from the
#: protocol: plans recorded -> transaction -> outcomes recorded).
RECOVERED = {
    "before-record": set(),  # nothing recorded for the batch: nothing to settle
    "after-record": {"not_applied"},
    "before-commit": {"not_applied"},  # the transaction died uncommitted
    "after-apply": {"applied"},
    "after-apply:3": {"applied"},
    "after-outcome": set(),  # the outcomes were recorded before the kill
}


def fresh(backend, tmp_path, name):
    url, drop = make_db_url(backend, tmp_path / name)
    (tmp_path / name).mkdir(exist_ok=True)
    engine = make_engine(url, must_exist=False)
    build_sample(engine, roots=6, seed=31)
    engine.dispose()
    return url, drop


def test_sigkill_at_every_point_then_rerun(backend, tmp_path):
    ref_url, ref_drop = fresh(backend, tmp_path, "ref")
    try:
        undisturbed = convmig(ref_url, "migrate", "--all")
        assert undisturbed.returncode == 1, undisturbed.stderr  # some trees need the operator
        expected = comparable(ref_url)
    finally:
        ref_drop()
    for point in POINTS:
        url, drop = fresh(backend, tmp_path, point.replace(":", "_"))
        try:
            killed = convmig(url, "migrate", "--all", "--batch-size", "3", failpoint=point)
            assert killed.returncode == -9, (point, killed.stderr)
            rerun = convmig(url, "migrate", "--all", "--format", "json")
            assert rerun.returncode == 1, (point, rerun.stderr)
            assert comparable(url) == expected, point
            report = json.loads(rerun.stdout)
            recovered = {r["kind"] for r in report["recovered"]}
            assert recovered == RECOVERED[point], point
            log = convmig(url, "log", "--format", "json", "--limit", "100000")
            events = [e["event"] for e in json.loads(log.stdout)]
            if recovered:
                assert "recovered" in events, point
            assert convmig(url, "log", "--verify").returncode == 0, point
        finally:
            drop()


def test_sigkill_during_rollback_then_rerun(backend, tmp_path):
    url, drop = fresh(backend, tmp_path, "rb")
    try:
        before = dump(url)
        run = json.loads(convmig(url, "migrate", "--all", "--format", "json").stdout)["run_id"]
        killed = convmig(url, "rollback", "--run", run, "--yes", "--batch-size", "2", failpoint="after-apply:2")
        assert killed.returncode == -9
        again = convmig(url, "rollback", "--run", run, "--yes", "--format", "json")
        assert again.returncode in (0, 1), again.stderr
        assert dump(url) == before
    finally:
        drop()


def test_rollback_by_run_after_a_killed_migration(backend, tmp_path):
    """A run killed after applying a batch still names every tree it planned, so
    `rollback --run` of it (and of the run that finished its work) restores all."""
    url, drop = fresh(backend, tmp_path, "killed")
    try:
        before = dump(url)
        assert convmig(url, "migrate", "--all", "--batch-size", "1", failpoint="after-apply:3").returncode == -9
        assert convmig(url, "migrate", "--all").returncode == 1
        started = json.loads(convmig(url, "log", "--event", "run-started", "--format", "json").stdout)
        runs = [e["run"] for e in started if e["command"] == "migrate"]
        assert len(runs) == 2
        killed = convmig(url, "rollback", "--run", runs[0], "--yes", "--batch-size", "1", failpoint="after-apply:2")
        assert killed.returncode == -9
        for run in runs:
            convmig(url, "rollback", "--run", run, "--yes")
        assert dump(url) == before
    finally:
        drop()
