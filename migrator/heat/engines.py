"""Heat engines as the database shows them: heartbeats and stack locks.

Heat calls an engine *up* when its ``service`` row was refreshed within twice its
report interval (``heat/common/service_utils.py``); convmig uses the same rule so
that it refuses to work under a live engine exactly when ``heat-manage service
list`` would show one as up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from migrator.heat.schema import service, stack_lock


@dataclass(frozen=True)
class Engine:
    """One heat-engine service record."""

    engine_id: str
    host: str
    hostname: str
    last_seen: datetime | None
    report_interval: int
    alive: bool

    def describe(self) -> str:
        seen = self.last_seen.strftime("%Y-%m-%d %H:%M:%S") if self.last_seen else "never"
        return f"engine {self.engine_id} on {self.hostname or self.host} (last heartbeat {seen} UTC)"


def utcnow() -> datetime:
    """Naive UTC, as Heat stores its timestamps."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def is_alive(last_seen: datetime | None, report_interval: int, now: datetime) -> bool:
    """Heat's rule: up when the heartbeat is no older than two report intervals."""
    if last_seen is None:
        return False
    return now - last_seen <= timedelta(seconds=2 * (report_interval or 60))


def engines(conn: Connection, now: datetime | None = None) -> list[Engine]:
    """Every non-deleted heat-engine service record, with Heat's liveness verdict."""
    now = now or utcnow()
    rows = conn.execute(
        sa.select(
            service.c.engine_id,
            service.c.host,
            service.c.hostname,
            service.c.updated_at,
            service.c.created_at,
            service.c.report_interval,
        ).where(service.c.deleted_at.is_(None))
    )
    result = []
    for r in rows:
        seen = r.updated_at or r.created_at
        result.append(Engine(r.engine_id, r.host, r.hostname, seen, r.report_interval, is_alive(seen, r.report_interval, now)))
    return result


def live_engines(conn: Connection, now: datetime | None = None) -> list[Engine]:
    return [e for e in engines(conn, now) if e.alive]


def stack_locks(conn: Connection, stack_ids: list[str] | None = None) -> dict[str, str | None]:
    """``stack_id -> engine_id`` of held stack locks (all, or those of ``stack_ids``)."""
    query = sa.select(stack_lock.c.stack_id, stack_lock.c.engine_id)
    if stack_ids is not None:
        if not stack_ids:
            return {}
        query = query.where(stack_lock.c.stack_id.in_(stack_ids))
    return {r.stack_id: r.engine_id for r in conn.execute(query)}
