"""Trees already on convergence whose stored ``requires`` lack edges Heat would write.

Earlier convmig releases, and Heat's own tool run where its plugins could not read
a property, migrated networking stacks without the implicit plugin dependencies
(reference §3.3). Heat's convergence engine takes the *cleanup* order of existing
rows from the stored ``requires`` and a later update does not add edges to rows it
leaves unchanged, so such a tree deletes a subnet before the port on it. This module
finds those missing edges (for ``verify``) and plans writing them (for
``migrate --repair-deps``): a plan like a migration's, recorded, compare-and-swapped
and undone by ``rollback`` the same way.

Only edges are added: every id already in ``requires`` stays (a convergence
traversal may have put there the ids of replaced rows it still has to clean up), and
nothing else of the row changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.heat.schema import load_json
from migrator.heat.tree import Tree
from migrator.planning.changes import UPDATE, RowChange
from migrator.planning.plan import RESOURCE_IMAGE, Refusal, TreePlan, analyse_stack, id_list, suitability, label

#: Refusal kinds from reading a stack's template that also stop a repair (stale and
#: duplicate rows are normal on convergence: replaced rows wait for their cleanup).
_BLOCKING = ("bad_template", "undecidable", "cycle")


@dataclass(frozen=True)
class MissingEdge:
    """One resource row whose ``requires`` lacks the row of a resource it depends on."""

    stack: dict
    row: dict
    targets: tuple[dict, ...]

    def describe(self) -> str:
        names = ", ".join(f"{t['name']} (id {t['id']})" for t in self.targets)
        return (f"stack {label(self.stack)} resource {self.row['name']} (id {self.row['id']}): "
                f"requires lacks {names}")


def current_rows(tree: Tree, st: dict) -> dict[str, dict]:
    """Per resource name, the row the stack's current template uses.

    Rows written for the current template (``current_template_id``) come first;
    among those, or among all rows of the name when none is, Heat's own preference
    (not FAILED, not DELETE, not replaced, newest)."""
    by_name: dict[str, list[dict]] = {}
    for row in tree.resources.get(st["id"], []):
        by_name.setdefault(row["name"], []).append(row)
    chosen = {}
    for name, rows in by_name.items():
        current = [r for r in rows if r["current_template_id"] == st["raw_template_id"]] or rows
        chosen[name] = max(current, key=suitability)
    return chosen


def missing_edges(tree: Tree, memo: dict | None = None) -> tuple[list[MissingEdge], list[Refusal]]:
    """Every convergence stack's rows whose ``requires`` lack a dependency of the
    current template (explicit or implicit), or why a stack cannot be read."""
    found: list[MissingEdge] = []
    refusals: list[Refusal] = []
    for st in tree.stacks:
        if not st["convergence"]:
            continue  # a legacy stack inside the tree is migrate's business
        analysis, problems = analyse_stack(tree, st, memo)
        blocking = [p for p in problems if p.kind in _BLOCKING]
        if blocking or analysis.deps is None:
            refusals += blocking
            continue
        found += _stack_missing(st, analysis.deps.requires, current_rows(tree, st))
    return found, refusals


def _stack_missing(st: dict, requires: dict, rows: dict[str, dict]) -> list[MissingEdge]:
    found = []
    for name, row in sorted(rows.items(), key=lambda kv: kv[1]["id"]):
        stored = set(_ids(row["requires"]))
        targets = [rows[d] for d in requires.get(name, ()) if d in rows and rows[d]["id"] not in stored]
        if targets:
            found.append(MissingEdge(st, row, tuple(sorted(targets, key=lambda r: r["id"]))))
    return found


def _ids(text) -> list[int]:
    """The ids of a stored ``requires``; anything unreadable counts as none."""
    try:
        value = load_json(text)
    except (TypeError, ValueError):
        return []
    return [v for v in value if isinstance(v, int)] if isinstance(value, list) else []


def _in_progress(tree: Tree) -> Refusal | None:
    """A traversal still running owns the rows: repairing under it would race Heat."""
    for st in tree.stacks:
        if st["status"] == "IN_PROGRESS":
            return Refusal("in_progress", f"stack {label(st)} is {st['action']}_IN_PROGRESS: "
                                          "repair it once Heat has finished", st["id"])
    return None


def plan_repair(tree: Tree, memo: dict | None = None) -> TreePlan:
    """The plan that adds every missing edge of a convergence tree, or why not.

    A legacy root is refused (migrating it computes every edge); a tree with nothing
    missing is a no-op."""
    root = tree.root
    plan = TreePlan(tree.root_id, root["name"], [(s["id"], s["name"]) for s in tree.stacks], direction="repair")
    if not root["convergence"]:
        plan.refusals.append(Refusal("legacy", f"stack {label(root)} is on the legacy engine: "
                                               "migrate it (that writes every dependency) instead of repairing it", root["id"]))
        return plan
    busy = _in_progress(tree)
    if busy:
        plan.refusals.append(busy)
        return plan
    edges, refusals = missing_edges(tree, memo)
    if refusals:
        plan.refusals += refusals
        return plan
    if not edges:
        plan.noop = True
        plan.notes.append(f"stack {label(root)}: every resource already requires what its template needs")
        return plan
    plan.changes = [_add_edges(edge) for edge in edges]
    plan.notes += [edge.describe() for edge in edges]
    plan.kept_resources = {st["id"]: sorted(r["id"] for r in tree.resources.get(st["id"], [])) for st in tree.stacks}
    return plan


def _add_edges(edge: MissingEdge) -> RowChange:
    """``requires`` grown by the missing targets, written descending as Heat writes it."""
    row = edge.row
    wanted = sorted(set(_ids(row["requires"])) | {t["id"] for t in edge.targets}, reverse=True)
    return RowChange("resource", {"id": row["id"]}, UPDATE, {c: row[c] for c in RESOURCE_IMAGE},
                     {"requires": id_list(wanted)})
