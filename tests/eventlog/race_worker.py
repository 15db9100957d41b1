"""One contender in the two-process race test (run as a script, not collected).

Usage: race_worker.py URL STACK_ID READY_FILE GO_FILE
Prepares a plan for STACK_ID, signals READY_FILE, waits for GO_FILE, saves,
and prints ``won`` or ``busy <stack ids>``.
"""

from __future__ import annotations

import os
import sys
import time

from events import EventLog, StackBusy


def main(url: str, stack_id: str, ready: str, go: str) -> None:
    with EventLog.open(url, env={}) as log:
        run = log.start_run(
            command="migrate", arguments={}, selection={}, operator=f"pid{os.getpid()}", host="h", pid=os.getpid(), version="0.1.0"
        )
        history = log.stack_or_new(stack_id, "raced")
        history.planned(run.id, direction="migrate", changes=[], summary={"pid": os.getpid()})
        run.cover([stack_id])
        open(ready, "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.0005)
        try:
            log.save(run, history)
            print("won", flush=True)
        except StackBusy as busy:
            print("busy " + ",".join(busy.stack_ids), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
