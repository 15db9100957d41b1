"""Bounds on every wait of every driver, from the environment, validated.

Its own small module, so the command line can check the values (a bad one is a
usage error before anything connects) and Heat's connection can use them, without
loading the event store and the eventsourcing library.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping

TIMEOUTS = {"CONVMIG_CONNECT_TIMEOUT": 10.0, "CONVMIG_READ_TIMEOUT": 600.0, "CONVMIG_WRITE_TIMEOUT": 600.0}


def timeouts(env: Mapping[str, str] | None = None) -> dict[str, float]:
    """``{"connect": s, "read": s, "write": s}`` from the environment, validated.

    A server that accepts the connection and never answers would otherwise
    hang convmig for ever; every driver gets all three bounds. A value that is
    not a positive number raises ``ValueError`` with the line to show."""
    env = os.environ if env is None else env
    found = {}
    for name, default in TIMEOUTS.items():
        text = env.get(name, "").strip()
        try:
            value = float(text) if text else default
        except ValueError:
            value = -1.0
        if not (0 < value < 10**7):
            raise ValueError(f"{name}={text!r}: give a positive number of seconds (e.g. {name}={int(default)})")
        found[name.split("_")[1].lower()] = value
    return found


def driver_timeouts(backend: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Connect arguments bounding every wait of one driver (see ``timeouts``).

    PyMySQL: connect, read and write timeouts on the socket. psycopg (libpq):
    ``connect_timeout`` (whole seconds, at least 2), TCP keepalives that give up
    on a silent server after about the read timeout, and ``tcp_user_timeout``
    for unacknowledged writes. SQLite has no server: its wait is the busy
    timeout, set where the engine is made."""
    t = timeouts(env)
    if backend in ("mysql", "mariadb"):
        return {"connect_timeout": t["connect"], "read_timeout": t["read"], "write_timeout": t["write"]}
    if backend == "postgresql":
        idle = max(1, int(t["read"] // 2))
        return {"connect_timeout": max(2, math.ceil(t["connect"])), "keepalives": 1, "keepalives_idle": idle,
                "keepalives_interval": max(1, int(t["read"] // 10)), "keepalives_count": 5,
                "tcp_user_timeout": int(t["write"] * 1000)}
    return {}
