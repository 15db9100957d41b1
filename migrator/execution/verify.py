"""Checking migrated trees against the invariants of a correct migration.

The invariants are those listed at the end of the reference
(heat-convergence.md) that the database alone can show; ``check_tree`` is a pure
function of a loaded tree, so it is tested without a database and runs over
tens of thousands of trees in batches. Comparing with the log (was the tree
migrated by convmig, are its states what they were before) is layered on top.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from migrator.planning.deps import TemplateError, Undecidable, find_cycle, template_dependencies
from migrator.heat.schema import load_json
from migrator.heat.tree import Tree
from migrator.planning.repair import missing_edges

UUID_LEN = 36


@dataclass
class TreeVerdict:
    root_id: str
    name: str | None
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def _json_list(text) -> list | None:
    try:
        value = load_json(text)
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, list) else None


def check_tree(tree: Tree, locks: dict[str, str | None] | None = None) -> TreeVerdict:
    """Every database-visible invariant of a migrated tree (reference 1–12, 14)."""
    verdict = TreeVerdict(tree.root_id, tree.root["name"])
    add = verdict.violations.append
    traversals: dict[str, str] = {}
    for st in tree.stacks:
        who = f"stack {st['name']} ({st['id']})"
        if not st["convergence"]:
            add(f"{who}: convergence is not set")
            continue
        trav = st["current_traversal"]
        if not trav or len(trav) != UUID_LEN:
            add(f"{who}: current_traversal {trav!r} is not a traversal id")
        elif trav in traversals:
            add(f"{who}: current_traversal shared with stack {traversals[trav]}")
        else:
            traversals[trav] = st["id"]
        if st["prev_raw_template_id"] is not None:
            add(f"{who}: prev_raw_template_id is {st['prev_raw_template_id']}, not NULL")
        if st["raw_template_id"] not in tree.templates:
            add(f"{who}: raw_template {st['raw_template_id']} does not exist")
            continue
        if locks and st["id"] in locks:
            add(f"{who}: stack_lock held by {locks[st['id']]}")
        try:
            current_deps = load_json(st["current_deps"])
        except ValueError:
            current_deps = "invalid"
        if current_deps is not None and not (isinstance(current_deps, dict) and isinstance(current_deps.get("edges"), list)):
            add(f"{who}: current_deps is neither null nor an edges document")
        verdict.violations += _check_resources(tree, st, who)
    if all(st["raw_template_id"] in tree.templates for st in tree.stacks):
        verdict.violations += check_edges(tree)
    return verdict


def _check_resources(tree: Tree, st: dict, who: str) -> list[str]:
    problems = []
    rows = tree.resources.get(st["id"], [])
    tmpl = tree.templates[st["raw_template_id"]]
    try:
        deps = template_dependencies(load_json(tmpl["template"]) or {}, load_json(tmpl["environment"]) or None,
                                     stack_name=st["name"], stack_id=st["id"], tenant=st["tenant"])
    except (TemplateError, Undecidable, ValueError) as exc:
        return [f"{who}: cannot read its template ({exc})"]
    enabled = set(deps.resources)
    ids = {r["id"] for r in rows}
    by_name: dict[str, int] = {}
    requires: dict[int, list] = {}
    live = {r["id"]: r for r in rows}
    for r in rows:
        rwho = f"{who} resource {r['name']} (id {r['id']})"
        if _replaced(r, live):
            pass  # a replaced row waiting for convergence's cleanup (e.g. adopted from a legacy backup stack)
        elif r["name"] not in enabled:
            problems.append(f"{rwho}: not an enabled resource of the template")
        elif r["name"] in by_name:
            problems.append(f"{rwho}: second active row named {r['name']} (also id {by_name[r['name']]})")
        else:
            by_name[r["name"]] = r["id"]
        if r["current_template_id"] != st["raw_template_id"] and not _replaced(r, live):
            problems.append(f"{rwho}: current_template_id {r['current_template_id']} is not {st['raw_template_id']}")
        if r["engine_id"] is not None:
            problems.append(f"{rwho}: engine_id {r['engine_id']} left set")
        req = _json_list(r["requires"])
        if req is None or not all(isinstance(x, int) for x in req):
            problems.append(f"{rwho}: requires {r['requires']!r} is not a JSON list of ids")
            continue
        if len(set(req)) != len(req) or r["id"] in req or not set(req) <= ids:
            problems.append(f"{rwho}: requires {req} has duplicates, itself, or rows of another stack")
        if _json_list(r["needed_by"]) is None:
            problems.append(f"{rwho}: needed_by {r['needed_by']!r} is not a JSON list")
        requires[r["id"]] = req
    cycle = find_cycle({str(k): frozenset(str(x) for x in v if x in requires) for k, v in requires.items()})
    if cycle:
        problems.append(f"{who}: requires forms a cycle {' -> '.join(cycle)}")
    return problems


def _replaced(row: dict, live: dict[int, dict]) -> bool:
    """A row convergence has replaced: its replacement is an active row of the same
    name in the same stack that names it back. It keeps an older template until
    the next traversal deletes it, so the one-row-per-name and current-template
    invariants do not apply to it."""
    other = live.get(row["replaced_by"])
    return other is not None and other["name"] == row["name"] and other["replaces"] == row["id"]


def check_edges(tree: Tree, memo: dict | None = None) -> list[str]:
    """Every resource of the tree's convergence stacks whose stored ``requires`` lacks
    a dependency (explicit or a plugin's implicit one) of its current template, named
    with the missing targets; or why a stack's template cannot be read.

    This is the check for *any* convergence tree, whoever migrated it: convmig, an
    earlier convmig, or Heat's own tool."""
    edges, refusals = missing_edges(tree, memo)
    fix = f"; convmig migrate --repair-deps {tree.root_id} adds them"
    return [r.message for r in refusals] + [e.describe() + fix for e in edges]


def check_unchanged(tree: Tree, recorded_changes: list[dict]) -> list[str]:
    """States the migration must not change (reference 13), against the log's before-images."""
    problems = []
    stacks = {s["id"]: s for s in tree.stacks}
    rows = {r["id"]: r for rs in tree.resources.values() for r in rs}
    for change in recorded_changes:
        if change["op"] != "update":
            continue
        key = change["pk"]["id"]
        current = stacks.get(key) if change["table"] == "stack" else rows.get(key) if change["table"] == "resource" else None
        if current is None:
            continue
        for col in ("action", "status"):
            if col in change["before"] and current[col] != change["before"][col]:
                problems.append(f"{change['table']} {key}: {col} was {change['before'][col]!r} before the migration, "
                                f"now {current[col]!r} (Heat has acted on it since)")
    return problems


def as_json(verdicts: list[TreeVerdict]) -> list[dict]:
    return [{"root_id": v.root_id, "name": v.name, "ok": v.ok, "violations": v.violations} for v in verdicts]


def dumps(verdicts: list[TreeVerdict]) -> str:
    return json.dumps(as_json(verdicts), indent=2)
