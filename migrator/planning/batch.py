"""Planning many trees: load a batch, analyse, fetch what pruning needs, plan.

Kept apart from ``plan`` (pure) because it reads the database, and apart from
execution so that ``--dry-run`` runs exactly this and nothing else.
"""

from __future__ import annotations

from typing import Callable, Iterator

from sqlalchemy.engine import Connection, Engine

from migrator.planning.plan import TreePlan, analyse, plan_tree, refuse_missing
from migrator.planning.repair import plan_repair
from migrator.heat.tree import Tree, legacy_root_ids, load_prune_details, load_trees

BATCH = 500


def plan_roots(conn: Connection, root_ids: list[str], *, prune: bool = False, include_failed: bool = False,
               new_traversal: Callable[[], str] | None = None) -> list[tuple[Tree | None, TreePlan]]:
    """Plans for ``root_ids`` in order (refusals for ids that are not roots);
    ``include_failed`` also takes trees with FAILED stacks (issue 19)."""
    trees, missing = load_trees(conn, root_ids)
    memo: dict = {}  # template readings shared within the batch (see ``analyse``)
    analyses = {t.root_id: analyse(t, memo, include_failed) for t in trees}
    if prune:
        _attach_prune_details(conn, trees, analyses)
    kwargs = {"new_traversal": new_traversal} if new_traversal else {}
    planned = {t.root_id: (t, plan_tree(t, analyses[t.root_id], prune=prune, **kwargs)) for t in trees}
    planned.update({m.stack_id: (None, refuse_missing(m)) for m in missing})
    return [planned[i] for i in dict.fromkeys(root_ids)]


def repair_roots(conn: Connection, root_ids: list[str]) -> list[tuple[Tree | None, TreePlan]]:
    """Repair plans (missing dependency edges of convergence trees) for ``root_ids`` in order."""
    trees, missing = load_trees(conn, root_ids)
    memo: dict = {}
    planned = {t.root_id: (t, plan_repair(t, memo)) for t in trees}
    planned.update({m.stack_id: (None, refuse_missing(m, "repair")) for m in missing})
    return [planned[i] for i in dict.fromkeys(root_ids)]


def _attach_prune_details(conn: Connection, trees: list[Tree], analyses: dict) -> None:
    """One batched read of resource_data and properties data for every row to prune."""
    rows = [r for t in trees for r in analyses[t.root_id].prunable_rows]
    if not rows:
        return
    details = load_prune_details(conn, rows)
    for t in trees:
        if analyses[t.root_id].prunable_rows:
            t.prune = details


def iter_legacy_roots(engine: Engine, *, tenant: str | None = None, limit: int | None = None,
                      batch: int = BATCH, convergence: bool = False) -> Iterator[list[str]]:
    """Batches of legacy (or, with ``convergence``, convergence) root ids by keyset
    paging, so memory stays flat."""
    after, seen = None, 0
    while limit is None or seen < limit:
        size = batch if limit is None else min(batch, limit - seen)
        with engine.connect() as conn:
            ids = legacy_root_ids(conn, tenant=tenant, after=after, limit=size, convergence=convergence)
        if not ids:
            return
        seen += len(ids)
        after = ids[-1]
        yield ids
