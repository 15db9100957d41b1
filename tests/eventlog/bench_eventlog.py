"""Event log figures: save throughput (one save per stack vs batched) and report page times.

Not a test (pytest does not collect it). Run against an empty database:

    python tests/eventlog/bench_eventlog.py throughput sqlite:////tmp/bench.sqlite
    python tests/eventlog/bench_eventlog.py biglog sqlite:////tmp/big.sqlite 1000000

``biglog`` fills the log through the public API (batched saves of 1000
stacks, each Opened + Planned with a 10-column before/after row change) until
it holds the given number of events (skipped when it already does), then
times the first report page, a page far in, a ``--stack`` page, a ``--since``
page (binary search over positions) and a ``--event`` page.
"""

from __future__ import annotations

import sys
import time
from uuid import uuid4

from events import EventLog, StackHistory, index, report


def _change(n: int) -> list[dict]:
    row = {f"col{i}": f"value-{n}-{i}" for i in range(10)}
    return [{"table": "resource", "pk": {"id": n}, "op": "update", "before": row, "after": {"col0": "new", "col1": None}}]


def _histories(log: EventLog, run, count: int, prefix: str) -> list:
    histories = []
    for n in range(count):
        history = StackHistory.open(f"{prefix}-{n}", f"name-{n}")  # fresh ids: no existence read
        history.planned(run.id, direction="migrate", changes=_change(n), summary={"resources": 1})
        histories.append(history)
    return histories


def throughput(url: str, stacks: int = 2000) -> None:
    with EventLog.open(url, env={}) as log:
        run = log.start_run(command="bench", arguments={}, selection={}, operator="bench", host="h", pid=0, version="0")
        log.save(run)
        for batch in (1, 100, 1000):
            histories = _histories(log, run, stacks, f"b{batch}-{uuid4().hex[:6]}")
            began = time.perf_counter()
            for start in range(0, stacks, batch):
                log.save(*histories[start : start + batch])
            elapsed = time.perf_counter() - began
            print(f"{url.split(':')[0]:<10} batch {batch:>5}: {2 * stacks / elapsed:>8.0f} events/s ({stacks} stacks, 2 events each)")


def fill(url: str, target: int) -> None:
    with EventLog.open(url, env={}) as log:
        have = log.max_position() or 0
        if have >= target:
            return
        run = log.start_run(command="bench", arguments={}, selection={}, operator="bench", host="h", pid=0, version="0")
        log.save(run)
        began, written = time.perf_counter(), 0
        while have + written < target:
            log.save(*_histories(log, run, 1000, uuid4().hex[:8]))
            written += 2000
        print(f"filled {written} events in {time.perf_counter() - began:.0f}s")


def timed(label: str, work) -> None:
    began = time.perf_counter()
    result = work()
    print(f"{label:<40} {1000 * (time.perf_counter() - began):8.1f} ms  ({len(result.records)} records)")


def biglog(url: str, target: int) -> None:
    fill(url, target)
    with EventLog.open(url, env={}) as log:
        last = log.max_position()
        first = log.notifications(after=None, limit=1)[0]
        some_stack = log.decode(log.notifications(after=last // 2, limit=1)[0])
        stack_id = log.query(lambda c: index.stack_labels(c, [some_stack.originator_id]))[some_stack.originator_id][0]
        middle_time = some_stack.timestamp
        print(f"log: {last} positions, first {first.id}")
        timed("first page (100)", lambda: report.page(log, report.Filters()))
        timed("page after position N/2 (100)", lambda: report.page(log, report.Filters(after=last // 2)))
        timed("--stack (one history)", lambda: report.page(log, report.Filters(stack=stack_id)))
        timed("--since middle (binary search)", lambda: report.page(log, report.Filters(since=middle_time)))
        timed("--event planned", lambda: report.page(log, report.Filters(events=("planned",))))
    from click.testing import CliRunner
    from helpers import log_group as cli_group

    began = time.perf_counter()
    result = CliRunner().invoke(cli_group(), ["--event-store", url, "log"])
    print(f"{'convmig log (CLI, open + first page)':<40} {1000 * (time.perf_counter() - began):8.1f} ms  exit {result.exit_code}")


if __name__ == "__main__":
    if sys.argv[1] == "throughput":
        throughput(sys.argv[2])
    else:
        biglog(sys.argv[2], int(sys.argv[3]))
