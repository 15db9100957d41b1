"""Two small index tables kept beside the log, so common questions need no replay.

``convmig_stacks`` (one row per stack history: Heat id and name, state, whether
a plan is open, version and head) and ``convmig_runs`` (one row per run:
command, operator, host, where it starts in the log, outcome, version, head).

Why: "which stacks have an open plan" must be cheap with 100k stacks, and the
report must name the stack and the run's operator for any page of events
without reading each aggregate's first event. The rows are written in the same
transaction as the events they summarise, so they never disagree with the log.

They are a cache, not the record: they are updated in place, ``--verify``
trusts only the events (it uses the index only to notice a chain that is
shorter than it used to be), and ``rebuild`` recreates them from the events.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import BigInteger, Boolean, Column, DateTime, String

from .domain import Run, StackHistory

metadata = sa.MetaData()

stacks = sa.Table(
    "convmig_stacks",
    metadata,
    Column("aggregate_id", String(36), primary_key=True),
    Column("stack_id", String(64), nullable=False, unique=True),
    Column("stack_name", String(255), nullable=False, index=True),
    Column("state", String(32), nullable=False),
    Column("pending", Boolean, nullable=False, index=True),
    Column("version", BigInteger, nullable=False),
    Column("head", String(64), nullable=False),
)

runs = sa.Table(
    "convmig_runs",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("command", String(64), nullable=False),
    Column("operator", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("started_position", BigInteger, nullable=False, index=True),
    Column("started_on", DateTime, nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("version", BigInteger, nullable=False),
    Column("head", String(64), nullable=False),
)


def _naive_utc(moment: datetime) -> datetime:
    """A plain UTC datetime (drivers reject freezegun's subclass, and columns are naive)."""
    moment = moment.astimezone(timezone.utc)
    return datetime(*moment.timetuple()[:6], moment.microsecond)


def _stack_row(agg: StackHistory) -> dict[str, Any]:
    return {
        "stack_name": agg.stack_name[:255],
        "state": agg.state,
        "pending": agg.pending is not None,
        "version": agg.version,
        "head": agg.head,
    }


def _run_row(agg: Run) -> dict[str, Any]:
    return {"outcome": agg.outcome, "version": agg.version, "head": agg.head}


def record(session, aggregates: Iterable[Any], base_versions: dict[UUID, int], positions: dict[UUID, int]) -> None:
    """Bring the index rows of just-saved aggregates up to date (same transaction).

    ``base_versions``: each aggregate's version before this save (0 = new);
    ``positions``: the log position of each new aggregate's first event.
    One INSERT and one UPDATE statement per table, each executed for many rows.
    """
    new_stacks, old_stacks, new_runs, old_runs = [], [], [], []
    for agg in aggregates:
        if agg.version == base_versions[agg.id]:
            continue
        is_new = base_versions[agg.id] == 0
        if isinstance(agg, StackHistory):
            row = {"key": str(agg.id), **_stack_row(agg)}
            (new_stacks if is_new else old_stacks).append({**row, "stack_id": agg.stack_id} if is_new else row)
        elif isinstance(agg, Run):
            row = {"key": str(agg.id), **_run_row(agg)}
            (new_runs if is_new else old_runs).append({**row, **_run_start(agg, positions[agg.id])} if is_new else row)
    _write(session, stacks, stacks.c.aggregate_id, new_stacks, old_stacks)
    _write(session, runs, runs.c.run_id, new_runs, old_runs)


def _run_start(agg: Run, position: int) -> dict[str, Any]:
    return {
        "command": agg.command[:64],
        "operator": agg.operator[:255],
        "host": agg.host[:255],
        "started_position": position,
        "started_on": _naive_utc(agg.started_on),
    }


def _write(session, table: sa.Table, key: sa.Column, inserts: list[dict], updates: list[dict]) -> None:
    if inserts:
        session.execute(table.insert(), [{key.name: r.pop("key"), **r} for r in inserts])
    if updates:
        columns = [c for c in updates[0] if c != "key"]
        statement = table.update().where(key == sa.bindparam("key")).values({c: sa.bindparam(c) for c in columns})
        session.execute(statement, updates)


def pending_stack_ids(conn: sa.Connection) -> list[str]:
    """Heat ids of stacks whose newest plan has no outcome."""
    query = sa.select(stacks.c.stack_id).where(stacks.c.pending == sa.true()).order_by(stacks.c.stack_id)
    return list(conn.execute(query).scalars())


def known_stacks(conn: sa.Connection, stack_ids: Iterable[str]) -> set[str]:
    """Which of these Heat ids already have a history."""
    found: set[str] = set()
    for part in _chunks(sorted(set(stack_ids))):
        found.update(conn.execute(sa.select(stacks.c.stack_id).where(stacks.c.stack_id.in_(part))).scalars())
    return found


def stack_states(conn: sa.Connection) -> dict[str, str]:
    """Heat id -> state of every stack history (``StackHistory.state``)."""
    return dict(conn.execute(sa.select(stacks.c.stack_id, stacks.c.state)).all())


def last_run_id(conn: sa.Connection, command: str | None) -> UUID | None:
    """The newest run (by log position), optionally of one command."""
    query = sa.select(runs.c.run_id).order_by(runs.c.started_position.desc()).limit(1)
    if command:
        query = query.where(runs.c.command == command)
    found = conn.execute(query).scalar()
    return UUID(found) if found else None


def stack_labels(conn: sa.Connection, aggregate_ids: Iterable[UUID]) -> dict[UUID, tuple[str, str]]:
    """``{aggregate id: (Heat stack id, stack name)}`` for the given histories."""
    keys = sorted({str(a) for a in aggregate_ids})
    found: dict[UUID, tuple[str, str]] = {}
    for chunk in _chunks(keys):
        query = sa.select(stacks.c.aggregate_id, stacks.c.stack_id, stacks.c.stack_name).where(stacks.c.aggregate_id.in_(chunk))
        found.update({UUID(r.aggregate_id): (r.stack_id, r.stack_name) for r in conn.execute(query)})
    return found


def run_labels(conn: sa.Connection, run_ids: Iterable[UUID]) -> dict[UUID, tuple[str, str]]:
    """``{run id: (operator, command)}`` for the given runs."""
    keys = sorted({str(r) for r in run_ids})
    found: dict[UUID, tuple[str, str]] = {}
    for chunk in _chunks(keys):
        query = sa.select(runs.c.run_id, runs.c.operator, runs.c.command).where(runs.c.run_id.in_(chunk))
        found.update({UUID(r.run_id): (r.operator, r.command) for r in conn.execute(query)})
    return found


def find_stacks(conn: sa.Connection, key: str) -> list[tuple[str, str]]:
    """Stacks whose Heat id or name equals ``key``: ``[(stack id, name)]``."""
    query = sa.select(stacks.c.stack_id, stacks.c.stack_name).where(
        sa.or_(stacks.c.stack_id == key, stacks.c.stack_name == key)
    )
    return [(r.stack_id, r.stack_name) for r in conn.execute(query)]


def find_runs(conn: sa.Connection, prefix: str) -> list[UUID]:
    """Runs whose id starts with ``prefix`` (so an operator can type the short id)."""
    query = sa.select(runs.c.run_id).where(runs.c.run_id.like(prefix.lower().replace("%", "") + "%")).limit(2)
    return [UUID(r) for r in conn.execute(query).scalars()]


def heads(conn: sa.Connection) -> dict[UUID, tuple[str, int, str]]:
    """``{aggregate id: (label, version, head)}`` of every indexed aggregate."""
    found = {
        UUID(r.aggregate_id): (f"stack {r.stack_id}", r.version, r.head)
        for r in conn.execute(sa.select(stacks.c.aggregate_id, stacks.c.stack_id, stacks.c.version, stacks.c.head))
    }
    found.update(
        {
            UUID(r.run_id): (f"run {r.run_id}", r.version, r.head)
            for r in conn.execute(sa.select(runs.c.run_id, runs.c.version, runs.c.head))
        }
    )
    return found


def heads_of(conn: sa.Connection, aggregate_ids: Iterable[UUID]) -> dict[UUID, tuple[int, str]]:
    """``{aggregate id: (version, head)}`` the index recorded for these stacks or runs."""
    keys = sorted({str(a) for a in aggregate_ids})
    found: dict[UUID, tuple[int, str]] = {}
    for chunk in _chunks(keys):
        for table, key in ((stacks, stacks.c.aggregate_id), (runs, runs.c.run_id)):
            query = sa.select(key, table.c.version, table.c.head).where(key.in_(chunk))
            found.update({UUID(k): (int(v), h) for k, v, h in conn.execute(query)})
    return found


def clear(session) -> None:
    """Empty both tables (before a rebuild)."""
    session.execute(stacks.delete())
    session.execute(runs.delete())


def _chunks(keys: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]
