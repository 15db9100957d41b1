"""Heat's ``stack_lock`` rows, taken and released as Heat's engine does.

convmig locks every stack of a tree before it plans it, with its run id as the
``engine_id``, and releases them whatever happens. A lock held by a heat-engine
refuses the tree (the engine may be acting on it). A lock left by a convmig
process that died (same host, process gone; or a run the log shows finished) is
taken over, as Heat steals locks from dead engines.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from migrator.heat.engines import engines, utcnow
from migrator.heat.schema import stack_lock
from migrator.heat.tree import chunks


class LostRace(Exception):
    """Another process changed a lock row between our read and our write."""


@dataclass(frozen=True)
class LockOwner:
    """Who holds a lock, as far as convmig can tell."""

    engine_id: str
    kind: str  # "heat-engine" | "convmig" | "unknown"
    alive: bool
    detail: str


#: Tells whether a lock owner that is not a Heat engine is a live convmig run:
#: called with the engine_id; returns (is_convmig, alive, detail).
ConvmigProbe = Callable[[str], tuple[bool, bool, str]]


def pid_alive(pid: int) -> bool:
    """Is a process of this host still running (signal 0 probes without killing)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def same_host(host: str) -> bool:
    return host == socket.gethostname()


class StackLocks:
    """The locks one convmig run holds, with the rules for taking them."""

    def __init__(self, engine: Engine, owner_id: str, probe: ConvmigProbe):
        self.engine = engine
        self.owner_id = owner_id
        self.probe = probe
        self.held: set[str] = set()

    def owners(self, held: dict[str, str | None]) -> dict[str, LockOwner]:
        """Classify the holders of existing locks."""
        with self.engine.connect() as conn:
            heat = {e.engine_id: e for e in engines(conn)}
        result = {}
        for engine_id in set(held.values()):
            key = engine_id or ""
            if key in heat:
                e = heat[key]
                result[key] = LockOwner(key, "heat-engine", e.alive, e.describe())
                continue
            is_convmig, alive, detail = self.probe(key) if key else (False, False, "")
            kind = "convmig" if is_convmig else "unknown"
            result[key] = LockOwner(key, kind, alive, detail or f"engine {key or '(none)'}")
        return result

    def acquire(self, trees: dict[str, list[str]]) -> dict[str, tuple[str, bool]]:
        """Lock every stack of each tree (root id -> stack ids). Returns the trees
        that could not be locked, root id -> (reason, whether waiting can clear it);
        the others are held."""
        all_ids = [s for ids in trees.values() for s in ids]
        existing = self._existing(all_ids)
        refused: dict[str, tuple[str, bool]] = {}
        owners = self.owners(existing) if existing else {}
        to_steal: dict[str, str] = {}
        for root, ids in trees.items():
            blocking = [(s, owners[existing[s] or ""]) for s in ids if s in existing and existing[s] != self.owner_id]
            live = [(s, o) for s, o in blocking if o.alive or o.kind != "convmig"]
            if live:
                s, o = live[0]
                state = "alive" if o.alive else "not alive: if no engine works on it, run heat-manage reset_stack_status"
                refused[root] = (f"stack {s} is locked by {o.detail} ({state})", o.alive)
            else:
                to_steal.update({s: existing[s] for s, _ in blocking})
        free = {root: ids for root, ids in trees.items() if root not in refused}
        refused.update(self._insert(free, to_steal))
        return refused

    def _existing(self, stack_ids: list[str]) -> dict[str, str | None]:
        found = {}
        with self.engine.connect() as conn:
            for part in chunks(stack_ids):
                q = sa.select(stack_lock.c.stack_id, stack_lock.c.engine_id).where(stack_lock.c.stack_id.in_(part))
                found.update({r.stack_id: r.engine_id for r in conn.execute(q)})
        return found

    def _insert(self, trees: dict[str, list[str]], steal: dict[str, str | None]) -> dict[str, tuple[str, bool]]:
        """Insert (or take over) the lock rows: all at once, or tree by tree after a race."""
        if not trees:
            return {}
        try:
            with self.engine.begin() as conn:
                self._write_locks(conn, [s for ids in trees.values() for s in ids], steal)
        except (sa.exc.DBAPIError, LostRace):
            return self._insert_one_by_one(trees, steal)
        self.held.update(s for ids in trees.values() for s in ids)
        return {}

    def _insert_one_by_one(self, trees: dict[str, list[str]], steal: dict[str, str | None]) -> dict[str, tuple[str, bool]]:
        refused = {}
        for root, ids in trees.items():
            try:
                with self.engine.begin() as conn:
                    self._write_locks(conn, ids, steal)
                self.held.update(ids)
            except (sa.exc.DBAPIError, LostRace):
                refused[root] = (f"tree of {root} was locked by another process while convmig started on it", True)
        return refused

    def _write_locks(self, conn, stack_ids: list[str], steal: dict[str, str | None]) -> None:
        now = utcnow()
        taken = [s for s in stack_ids if s in steal]
        fresh = [s for s in stack_ids if s not in steal]
        for s in taken:
            result = conn.execute(
                stack_lock.update()
                .where(stack_lock.c.stack_id == s, stack_lock.c.engine_id == steal[s])
                .values(engine_id=self.owner_id, updated_at=now)
            )
            if result.rowcount != 1:
                raise LostRace(s)
        if fresh:
            conn.execute(stack_lock.insert(), [{"stack_id": s, "engine_id": self.owner_id, "created_at": now} for s in fresh])

    def clear_dead(self) -> int:
        """Delete lock rows left by convmig runs that died (SIGKILL, power cut):
        no lock outlives a run, even one that could not clean up after itself."""
        existing = self._all()
        owners = self.owners(existing) if existing else {}
        dead = sorted(k for k, o in owners.items() if o.kind == "convmig" and not o.alive and k != self.owner_id)
        if not dead:
            return 0
        with self.engine.begin() as conn:
            removed = conn.execute(stack_lock.delete().where(stack_lock.c.engine_id.in_(dead))).rowcount
        return removed

    def _all(self) -> dict[str, str | None]:
        with self.engine.connect() as conn:
            return {r.stack_id: r.engine_id for r in conn.execute(sa.select(stack_lock.c.stack_id, stack_lock.c.engine_id))}

    def release(self, stack_ids: list[str] | None = None) -> None:
        """Delete our own lock rows (only ours: another owner's row is never touched)."""
        ids = sorted(self.held if stack_ids is None else set(stack_ids) & self.held)
        if not ids:
            return
        with self.engine.begin() as conn:
            for part in chunks(ids):
                conn.execute(stack_lock.delete().where(stack_lock.c.stack_id.in_(part), stack_lock.c.engine_id == self.owner_id))
        self.held.difference_update(ids)
