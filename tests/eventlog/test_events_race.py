"""Two processes recording a plan for the same stack at once: exactly one wins."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from events import EventLog
from helpers import record_migration as migrate, start_run as start

WORKER = Path(__file__).with_name("race_worker.py")


def _race(url: str, stack_id: str, tmp_path: Path) -> list[str]:
    go = tmp_path / f"go-{stack_id}"
    ready = [tmp_path / f"ready-{stack_id}-{n}" for n in range(2)]
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), url, stack_id, str(r), str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for r in ready
    ]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)
    go.touch()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(out.strip())
    return sorted(outputs)


@pytest.mark.slow
def test_two_processes_plan_the_same_new_stack(db_url, tmp_path):
    EventLog.open(db_url, env={}).close()  # tables exist before the race
    assert _race(db_url, "raced-1", tmp_path) == ["busy raced-1", "won"]
    with EventLog.open(db_url, env={}) as log:
        history = log.stack("raced-1")
        assert history.version == 2 and history.state == "planned"
        winner = log.last_run()
        assert winner.id == history.pending["run_id"] and winner.covered == ["raced-1"]  # the loser's run was not saved
        assert log.stacks_with_pending() == ["raced-1"]


@pytest.mark.slow
def test_two_processes_extend_the_same_history(db_url, tmp_path):
    with EventLog.open(db_url, env={}) as log:
        migrate(log, start(log), "raced-2", "raced", outcome="failed")
    assert _race(db_url, "raced-2", tmp_path) == ["busy raced-2", "won"]
    with EventLog.open(db_url, env={}) as log:
        assert log.stack("raced-2").version == 4
