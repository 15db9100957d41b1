"""Which trees a migrate run takes up, checked once and recorded with the run so
``--retry`` can take up the same selection without the operator re-typing it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from migrator.errors import UsageError
from migrator.planning.batch import BATCH, iter_legacy_roots
from migrator.heat.schema import stack
from migrator.heat.tree import on_engine


@dataclass(frozen=True)
class Selection:
    stack_ids: tuple[str, ...] = ()
    all: bool = False
    tenant: str | None = None
    limit: int | None = None
    prune: bool = False
    repair: bool = False  # convergence trees whose requires lack edges, instead of legacy trees
    include_failed: bool = False  # also trees with *_FAILED stacks (issue 19)

    def validate(self) -> "Selection":
        """Refuse contradictory or empty selections (exit 2, nothing opened)."""
        if self.stack_ids and self.all:
            raise UsageError("give STACK_IDs or --all, not both")
        if not self.stack_ids and not self.all:
            raise UsageError("nothing selected: give STACK_IDs or --all (or --retry)")
        if self.stack_ids and (self.tenant or self.limit):
            raise UsageError("--tenant and --limit go with --all")
        if self.limit is not None and self.limit < 1:
            raise UsageError("--limit must be at least 1")
        if self.repair and self.prune:
            raise UsageError("--repair-deps works on convergence trees and --prune-orphans on legacy ones: give one")
        if self.repair and self.include_failed:
            raise UsageError("--include-failed selects legacy trees to migrate; --repair-deps works on convergence trees: give one")
        return self

    def batches(self, engine: Engine, size: int = BATCH) -> Iterator[list[str]]:
        """Explicit ids in batches, or every legacy (with ``repair``: convergence) root paged by id."""
        if self.stack_ids:
            ids = list(dict.fromkeys(self.stack_ids))
            return iter([ids[i : i + size] for i in range(0, len(ids), size)])
        return iter_legacy_roots(engine, tenant=self.tenant, limit=self.limit, batch=size, convergence=self.repair)

    def total(self, engine: Engine) -> int:
        """How many trees the selection will take up (for the progress line)."""
        if self.stack_ids:
            return len(set(self.stack_ids))
        q = sa.select(sa.func.count()).where(
            stack.c.owner_id.is_(None), stack.c.deleted_at.is_(None), on_engine(self.repair))
        if self.tenant:
            q = q.where(stack.c.tenant == self.tenant)
        with engine.connect() as conn:
            n = conn.execute(q).scalar() or 0
        return min(n, self.limit) if self.limit else n

    def as_dict(self) -> dict:
        data = asdict(self)
        data["stack_ids"] = list(self.stack_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Selection":
        return cls(tuple(data.get("stack_ids") or ()), bool(data.get("all")), data.get("tenant"),
                   data.get("limit"), bool(data.get("prune")), bool(data.get("repair")),
                   bool(data.get("include_failed")))
