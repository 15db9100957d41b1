"""Failpoints: named places where a test can make convmig die or wait on the spot.

``CONVMIG_FAILPOINT=name`` (or ``name:N`` for the N-th time that place is
reached) makes the process SIGKILL itself there, exactly as an operator's
``kill -9``, an OOM kill or a power cut would, with no cleanup. The crash
tests use it to stop a run before, between and after the log writes and the
database transaction.

``name:N:pause`` instead creates the file named by ``CONVMIG_FAILPOINT_FILE``
and waits (at most a minute) until the test removes it: the fault tests use
that window to cut the database connection or take the event store away in
the middle of a run. Unset (always, in production) it costs one lookup.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

_hits: Counter = Counter()
PAUSE_LIMIT = 60.0


def failpoint(name: str) -> None:
    spec = os.environ.get("CONVMIG_FAILPOINT")
    if not spec:
        return
    wanted, _, rest = spec.partition(":")
    if wanted != name:
        return
    nth, _, action = rest.partition(":")
    _hits[name] += 1
    if _hits[name] != int(nth or 1):
        return
    if action == "pause":
        _pause(os.environ["CONVMIG_FAILPOINT_FILE"])
    else:
        os.kill(os.getpid(), signal.SIGKILL)


def _pause(marker: str) -> None:
    """Signal arrival by creating ``marker``; go on once it is gone."""
    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(str(os.getpid()))
    deadline = time.monotonic() + PAUSE_LIMIT
    while os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
