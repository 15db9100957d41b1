#!/usr/bin/env python3
"""Time budgets: the speed checks that used to be assertions in the test suite.

Wall-clock bounds make a pass/fail test depend on the machine and its load,
so the suite checks only what the code computes, and these budgets are run by
hand (or on a quiet machine) when performance matters:

  python bench/budgets.py            # every budget; exit 1 if one is over

Each budget is generous (several times a developer machine's figure); a budget
that is over says what was measured and the bound.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from events import EventLog  # noqa: E402
from migrator.heat.connection import make_engine  # noqa: E402
from migrator.planning.deps import template_dependencies  # noqa: E402
from migrator.sample.build import build_sample  # noqa: E402


def large_template() -> float:
    """Dependencies of a 3,000-resource chained template (bound: 5 s)."""
    resources = {"r0": {"type": "OS::Heat::None"}}
    for i in range(1, 3000):
        resources[f"r{i}"] = {"type": "OS::Heat::None", "depends_on": f"r{i - 1}", "properties": {
            "a": {"get_attr": [f"r{i - 1}", "x"]}, "b": [{"list_join": [",", [{"get_resource": f"r{i // 2}"}]]}]}}
    began = time.perf_counter()
    template_dependencies({"heat_template_version": "2018-08-31", "resources": resources})
    return time.perf_counter() - began


def sample_build(tmp: Path) -> float:
    """A 1,200-root sample on a SQLite file (bound: 20 s; 10,000 roots take about 8 s)."""
    engine = make_engine(f"sqlite:///{tmp / 'bench.sqlite'}", must_exist=False)
    began = time.perf_counter()
    build_sample(engine, 1200, specials=False)
    engine.dispose()
    return time.perf_counter() - began


def first_log_page(tmp: Path) -> float:
    """`convmig log --limit 100` over 5,000 events (bound: 1 s): the page, not the log."""
    from click.testing import CliRunner

    from migrator.cli import main

    url = f"sqlite:///{tmp / 'log.sqlite'}"
    with EventLog.open(url, env={}) as log:
        run = log.start_run(command="migrate", arguments={}, selection={}, operator="bench", host="h", pid=1,
                            version="0")
        log.save(run)
        for batch in range(20):
            histories = []
            for n in range(250):
                history = log.stack_or_new(f"s{batch}-{n}", "x")
                history.planned(run.id, direction="migrate", changes=[], summary={})
                histories.append(history)
            log.save(*histories)
    began = time.perf_counter()
    result = CliRunner().invoke(main, ["--event-store", url, "log", "--limit", "100"])
    elapsed = time.perf_counter() - began
    assert result.exit_code == 0, result.output
    return elapsed


BUDGETS = [("large template dependencies", large_template, 5.0, False),
           ("sample build, 1,200 roots", sample_build, 20.0, True),
           ("first log page of 5,000 events", first_log_page, 1.0, True)]


def main() -> int:
    over = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, measure, bound, needs_dir in BUDGETS:
            seconds = measure(Path(tmp)) if needs_dir else measure()
            ok = seconds <= bound
            over += not ok
            print(f"{'ok  ' if ok else 'OVER'} {name:<34} {seconds:7.2f} s  (budget {bound:g} s)")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
