"""The planner: what migrating one stack tree writes, as data.

``analyse`` and ``plan_tree`` are pure functions of a loaded ``Tree``: no I/O,
so a dry run is just "plan and print" and the tests need no database. The plan
follows Heat's ``Stack.migrate_to_convergence`` (reference §1.4–1.6) with the
differences an operator needs and Heat's own code lacks:

* stale rows (names not enabled in the template) and duplicate rows of one name
  are refused by default, where Heat crashes with KeyError; with ``prune`` they
  are deleted like Heat intends, keeping of duplicates the row Heat's
  convergence engine would pick (``Stack._get_best_existing_rsrc_db``);
* ``needed_by`` is written as the inverse of ``requires`` (Heat leaves it alone);
* the previous raw template is deleted only when nothing else references it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from migrator.planning.changes import DELETE, UPDATE, RowChange
from migrator.planning.deps import (
    TemplateDeps, TemplateError, Undecidable, find_cycle, needs_implicit, physical_ids, template_dependencies,
    with_implicit)
from migrator.heat.schema import load_json, state_name
from migrator.planning.failed import BackupPlan, plan_backups, utc_now, with_backup_columns
from migrator.heat.tree import Missing, Tree

#: Refusal kinds a later run can clear without the operator changing anything.
RETRYABLE = frozenset({"in_progress", "locked", "busy", "live_engine"})


@dataclass(frozen=True)
class Refusal:
    """Why a tree is not migrated: a kind (for summaries) and a one-line message
    that names the stack and says what to do."""

    kind: str
    message: str
    stack_id: str | None = None
    details: tuple[str, ...] = ()  # e.g. every drifted column, for --format json

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


@dataclass
class StackAnalysis:
    """One stack's template reading and the fate of each active row."""

    stack: dict
    deps: TemplateDeps | None = None
    keep: dict[str, dict] = field(default_factory=dict)  # resource name -> row kept
    stale: list[dict] = field(default_factory=list)  # rows whose name is not an enabled resource
    duplicates: list[dict] = field(default_factory=list)  # losing rows of a duplicated name


@dataclass
class TreeAnalysis:
    tree: Tree
    stacks: list[StackAnalysis]
    refusals: list[Refusal]
    noop: bool = False

    @property
    def prunable_rows(self) -> list[dict]:
        return [r for s in self.stacks for r in s.stale + s.duplicates]


@dataclass
class TreePlan:
    """The changes for one tree, or why there are none."""

    root_id: str
    root_name: str | None
    stacks: list[tuple[str, str | None]]
    changes: list[RowChange] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    noop: bool = False
    kept_resources: dict[str, list[int]] = field(default_factory=dict)  # stack id -> active row ids after
    direction: str = "migrate"  # or "rollback", "repair": what applying the changes does
    undoes: int | None = None  # a rollback: the log version of the plan it takes back
    done_by: str | None = None  # a noop: the run whose applied plan left the tree as it is

    @property
    def outcome(self) -> str:
        if self.refusals:
            return "refused"
        return "noop" if self.noop else self.direction

    @property
    def has_work(self) -> bool:
        return not self.refusals and not self.noop

    @property
    def retryable(self) -> bool:
        return bool(self.refusals) and all(r.retryable for r in self.refusals)

    def summary(self) -> dict:
        counts: dict[str, int] = defaultdict(int)
        for c in self.changes:
            counts[f"{c.op} {c.table}"] += 1
        return {"stacks": len(self.stacks), "changes": dict(sorted(counts.items()))}


def label(row: dict) -> str:
    """How a stack is named in every message: name and id."""
    return f"{row.get('name')} ({row['id']})"


# --------------------------------------------------------------------------- refusals of ids


def refuse_missing(missing: Missing, verb: str = "migrate") -> TreePlan:
    """A requested id that is not a root this command can take (``verb`` names it)."""
    sid = missing.stack_id
    if missing.reason == "unknown":
        refusal = Refusal("unknown", f"stack {sid} not found: check the id (convmig status lists roots)", sid)
    elif missing.reason == "deleted":
        refusal = Refusal("deleted", f"stack {label(missing.row)} is deleted: nothing to {verb}", sid)
    elif missing.root is None or missing.root["id"] == missing.row["id"] or missing.root.get("owner_id"):
        refusal = Refusal("orphan", f"stack {label(missing.row)} is nested, but its parent stack "
                                    f"{(missing.root or missing.row).get('owner_id')} no longer exists: it belongs to no "
                                    "tree convmig can take; ask Heat's operators how to clean it up", sid)
    else:
        refusal = Refusal(
            "nested", f"stack {label(missing.row)} is nested: {verb} its root stack {label(missing.root)} instead", sid
        )
    return TreePlan(sid, missing.row.get("name") if missing.row else None, [], refusals=[refusal])


# --------------------------------------------------------------------------- analysis


def _state_refusal(row: dict, nested: bool, include_failed: bool = False) -> Refusal | None:
    """Heat's precondition: every stack of the tree has status COMPLETE; with
    ``include_failed`` (issue 19) FAILED is accepted too, IN_PROGRESS never."""
    if row["status"] == "COMPLETE" or (include_failed and row["status"] == "FAILED"):
        return None
    what = "nested stack" if nested else "stack"
    state = state_name(row["action"], row["status"])
    if row["status"] == "IN_PROGRESS":
        return Refusal("in_progress", f"{what} {label(row)} is {state}: wait for it to finish and re-run; if no "
                       f"heat-engine is alive any more, run heat-manage reset_stack_status {row['id']}, then "
                       f"migrate with --include-failed", row["id"])
    return Refusal("failed_state", f"{what} {label(row)} is {state}: fix or update it first, or migrate it as it "
                   f"is with --include-failed (the convergence engine can then retry it), then re-run", row["id"])


def precheck(stacks: list[dict], include_failed: bool = False) -> Refusal | str | None:
    """Heat's preconditions on the stack rows alone (root first): "noop" when the
    root is already convergence, a refusal when a stack is not COMPLETE (nor, with
    ``include_failed``, FAILED), else None. Cheap enough to run before taking any lock."""
    if stacks[0]["convergence"]:
        return "noop"
    return next((r for i, s in enumerate(stacks) if (r := _state_refusal(s, i > 0, include_failed))), None)


def analyse(tree: Tree, memo: dict | None = None, include_failed: bool = False) -> TreeAnalysis:
    """Check the tree's states, read every legacy stack's template, sort its rows.

    ``memo`` (a dict the caller keeps across the trees of a batch) shares the
    template reading between stacks stored with the same template and
    environment text: a ResourceGroup's members, or one template deployed many
    times. See ``_read_template``."""
    root = tree.root
    if root["convergence"]:
        return TreeAnalysis(tree, [], [], noop=True)
    refusals = [r for i, s in enumerate(tree.stacks) if (r := _state_refusal(s, i > 0, include_failed))]
    stacks = []
    if not refusals:
        for s in tree.stacks:
            if s["convergence"]:
                continue  # already convergence: left alone, but its state was checked
            analysis, problems = analyse_stack(tree, s, memo)
            stacks.append(analysis)
            refusals += problems
    return TreeAnalysis(tree, stacks, refusals)


def analyse_stack(tree: Tree, st: dict, memo: dict | None = None) -> tuple[StackAnalysis, list[Refusal]]:
    """One stack's template read (explicit and implicit edges, cycles) and its rows
    sorted into kept, stale and duplicate; a refusal when the template cannot be
    read. Public because the repair planner (``planning.repair``) reads a
    convergence tree the same way."""
    analysis = StackAnalysis(st)
    tmpl_row = tree.templates.get(st["raw_template_id"])
    if tmpl_row is None:
        return analysis, [Refusal("bad_template", f"stack {label(st)} has no raw_template {st['raw_template_id']}: the database is inconsistent", st["id"])]
    reading = _read_template(st, tmpl_row, memo, tree)
    if isinstance(reading, Refusal):
        return analysis, [reading]
    analysis.deps, cycle = reading
    if cycle:
        return analysis, [Refusal("cycle", f"stack {label(st)}: dependency cycle {' -> '.join(cycle)}; fix the template first", st["id"])]
    return analysis, _sort_rows(analysis, tree.resources.get(st["id"], []))


def _read_template(st: dict, tmpl_row: dict, memo: dict | None, tree: Tree) -> tuple[TemplateDeps, list | None] | Refusal:
    """The stack's dependencies (explicit and implicit) and their first cycle, or
    why they cannot be read.

    The result is a function of the template, environment and files alone unless
    a pseudo parameter (the stack's own name, id or project) or a row's physical
    id (``deps.implicit``, FloatingIP) decided it, so it is kept in ``memo`` under
    that text, and only then. Refusals are not kept: their message names the stack."""
    files_id = tmpl_row["files_id"] if tmpl_row["files_id"] in tree.stack_files else None
    key = (tmpl_row["template"], tmpl_row["environment"], files_id)
    shareable = memo is not None and all(isinstance(part, str) for part in key[:2])
    if shareable and key in memo:
        return memo[key]
    try:
        template = load_json(tmpl_row["template"])
        environment = load_json(tmpl_row["environment"])
    except ValueError as exc:
        return Refusal("bad_template", f"stack {label(st)}: raw_template {tmpl_row['id']} is not valid JSON ({exc}); repair it first", st["id"])
    environment = environment if isinstance(environment, dict) else None
    ident = {"stack_name": st["name"], "stack_id": st["id"], "tenant": st["tenant"]}
    try:
        deps = template_dependencies(template or {}, environment, **ident)
        if needs_implicit(deps, environment):
            deps = with_implicit(deps, template or {}, environment, _files_of(tree, tmpl_row),
                                 physical_ids(tree.resources.get(st["id"], [])), **ident)
    except TemplateError as exc:
        return Refusal("bad_template", f"stack {label(st)}: {exc}; fix the template with a stack update first", st["id"])
    except Undecidable as exc:
        return Refusal("undecidable", f"stack {label(st)}: {exc}; cannot tell which resources are enabled or what they require, so nothing is guessed", st["id"])
    reading = (deps, find_cycle(deps.requires))
    if shareable and not deps.uses_identity and not deps.uses_rows:
        memo[key] = reading
    return reading


def _files_of(tree: Tree, tmpl_row: dict) -> dict:
    """The template's files map, when the tree loaded it (``Tree.stack_files``)."""
    row = tree.stack_files.get(tmpl_row["files_id"]) if tmpl_row["files_id"] is not None else None
    if row is None:
        return {}
    try:
        files = load_json(row["files"])
    except ValueError as exc:
        raise TemplateError(f"the files of raw_template {tmpl_row['id']} are not valid JSON ({exc})") from None
    return files if isinstance(files, dict) else {}


def _sort_rows(analysis: StackAnalysis, rows: list[dict]) -> list[Refusal]:
    """Keep one row per enabled name; collect stale and duplicate rows as refusals."""
    enabled = set(analysis.deps.resources)
    by_name: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["name"] in enabled:
            by_name[row["name"]].append(row)
        else:
            analysis.stale.append(row)
    for name, candidates in by_name.items():
        best = max(candidates, key=suitability)
        analysis.keep[name] = best
        analysis.duplicates += [r for r in candidates if r is not best]
    st = analysis.stack
    problems = []
    if analysis.stale:
        names = ", ".join(sorted({f"{r['name']} (id {r['id']})" for r in analysis.stale}))
        problems.append(Refusal("stale_rows", f"stack {label(st)} has resource rows not in its template: {names}; re-run with --prune-orphans (or: convmig migrate --retry --prune-orphans) to delete them", st["id"]))
    if analysis.duplicates:
        names = ", ".join(sorted({f"{r['name']} (id {r['id']})" for r in analysis.duplicates}))
        problems.append(Refusal("duplicate_rows", f"stack {label(st)} has duplicate resource rows: {names}; re-run with --prune-orphans (or: convmig migrate --retry --prune-orphans) to keep the row Heat would use", st["id"]))
    return problems


def suitability(row: dict) -> tuple:
    """Heat convergence's choice among rows of one name: not FAILED, not DELETE,
    not replaced, then the most recently updated (then the newest id)."""
    score = 0
    if row["status"] == "FAILED":
        score -= 30
    if row["action"] == "DELETE":
        score -= 50
    if row["replaced_by"]:
        score -= 1
    return score, row["updated_at"] or datetime.min, row["id"]


# --------------------------------------------------------------------------- the plan


def plan_tree(
    tree: Tree,
    analysis: TreeAnalysis | None = None,
    *,
    prune: bool = False,
    new_traversal: Callable[[], str] = lambda: str(uuid.uuid4()),
    now: Callable[[], datetime] = utc_now,
) -> TreePlan:
    """The plan of one tree (pure). With ``prune`` the tree must carry its
    ``PruneDetails`` (``tree.load_prune_details``) for the rows to delete;
    ``now`` stamps the legacy backup stacks it soft-deletes."""
    analysis = analysis or analyse(tree)
    plan = TreePlan(tree.root_id, tree.root["name"], [(s["id"], s["name"]) for s in tree.stacks])
    if analysis.noop:
        plan.noop = True
        plan.notes.append(f"stack {label(tree.root)} is already on convergence: nothing to do")
        return plan
    refusals = analysis.refusals
    if prune:
        refusals = [r for r in refusals if r.kind not in ("stale_rows", "duplicate_rows")]
    if refusals:
        plan.refusals = refusals
        return plan
    pruned = analysis.prunable_rows if prune else []
    stack_changes, resource_changes = [], []
    for sa_ in analysis.stacks:
        stack_changes.append(_stack_change(sa_.stack, new_traversal()))
        resource_changes += _resource_changes(sa_)
        plan.kept_resources[sa_.stack["id"]] = sorted(r["id"] for r in sa_.keep.values())
    backups = _plan_backups(tree, analysis, resource_changes, now)
    if backups.problems:
        plan.refusals = [Refusal("backup_rows", message, sid) for sid, message in backups.problems]
        plan.kept_resources = {}
        return plan
    resource_changes = _adopt(analysis, resource_changes, backups, plan)
    plan.changes = (stack_changes + backups.stack_changes + resource_changes + _prune_changes(tree, pruned, plan)
                    + _template_deletions(tree, analysis, plan))
    return plan


def _plan_backups(tree: Tree, analysis: TreeAnalysis, resource_changes: list[RowChange], now) -> BackupPlan:
    """The legacy backup stacks' part (``migrator.planning.failed``), given the
    ``requires`` this plan leaves on each kept row."""
    written = {c.pk["id"]: c.after["requires"] for c in resource_changes if "requires" in c.after}
    return plan_backups(tree, analysis.stacks, lambda row: written.get(row["id"], row["requires"]), label, now)


def _adopt(analysis: TreeAnalysis, resource_changes: list[RowChange], backups: BackupPlan, plan: TreePlan) -> list[RowChange]:
    """Merge the adopted rows' columns into the plan; they are active rows of their new stack."""
    plan.notes += backups.notes
    for sid, ids in backups.moved.items():
        plan.kept_resources[sid] = sorted(plan.kept_resources.get(sid, []) + ids)
    rows = {r["id"]: r for sa_ in analysis.stacks for r in sa_.keep.values()}
    rows.update({r["id"]: r for rs in analysis.tree.backup_resources.values() for r in rs})
    return with_backup_columns(resource_changes, rows, backups.resource_after, lambda r: _image(r, RESOURCE_IMAGE))


#: The before-image of an updated row: the columns the plan changes and the ones it
#: was decided on. Heat stamps ``updated_at`` and sets action/status whenever it acts
#: on a stack or resource, so these catch "Heat acted since the plan" at apply time;
#: the owner, template and name columns are what tree membership and dependencies
#: were computed from. Other columns (status_reason, metadata, properties data) are
#: neither read by the plan nor written by it, so they stay out of the log: that
#: keeps each plan event small and template secrets out of it.
STACK_IMAGE = ("name", "action", "status", "updated_at", "deleted_at", "owner_id", "backup",
               "raw_template_id", "prev_raw_template_id", "convergence", "current_traversal")
RESOURCE_IMAGE = ("name", "action", "status", "updated_at", "stack_id", "replaces", "replaced_by",
                  "current_template_id", "requires", "needed_by")


def _image(row: dict, columns: tuple[str, ...]) -> dict:
    return {c: row[c] for c in columns}


def _stack_change(st: dict, traversal: str) -> RowChange:
    """convergence on, a fresh traversal, no previous template; backup NULL becomes
    False, as Heat's ``Stack.store`` writes it."""
    after = {"convergence": True, "current_traversal": traversal}
    if st["prev_raw_template_id"] is not None:  # only what changes: no "NULL -> NULL" in a plan
        after["prev_raw_template_id"] = None
    if st["backup"] is None:
        after["backup"] = False
    return RowChange("stack", {"id": st["id"]}, UPDATE, _image(st, STACK_IMAGE), after)


def _resource_changes(analysis: StackAnalysis) -> list[RowChange]:
    """current_template_id, requires (descending ids) and needed_by (its inverse)."""
    ids = {name: row["id"] for name, row in analysis.keep.items()}
    requires = {
        name: sorted({ids[d] for d in analysis.deps.requires.get(name, ()) if d in ids}, reverse=True)
        for name in ids
    }
    needed_by: dict[int, set[int]] = defaultdict(set)
    for name, targets in requires.items():
        for t in targets:
            needed_by[t].add(ids[name])
    changes = []
    for name, row in sorted(analysis.keep.items(), key=lambda kv: kv[1]["id"]):
        wanted = {
            "current_template_id": analysis.stack["raw_template_id"],
            "requires": id_list(requires[name]),
            "needed_by": id_list(sorted(needed_by[row["id"]], reverse=True)),
        }
        after = {k: v for k, v in wanted.items() if row[k] != v}
        if after:
            changes.append(RowChange("resource", {"id": row["id"]}, UPDATE, _image(row, RESOURCE_IMAGE), after))
    return changes


def id_list(ids: list[int]) -> str:
    """A list of ids as Heat's Json type writes it (``json.dumps``: ``[4, 1]``),
    without the encoder's overhead on the hot path."""
    return "[" + ", ".join(map(str, ids)) + "]"


def _prune_changes(tree: Tree, rows: list[dict], plan: TreePlan) -> list[RowChange]:
    """Delete pruned rows with their resource_data and the properties data only they use."""
    if not rows:
        return []
    details = tree.prune
    if details is None:
        raise ValueError("plan_tree(prune=True) needs tree.prune loaded for the rows to prune")
    data = [RowChange("resource_data", {"id": d["id"]}, DELETE, dict(d), None) for r in rows for d in details.resource_data.get(r["id"], [])]
    res = [RowChange("resource", {"id": r["id"]}, DELETE, dict(r), None) for r in sorted(rows, key=lambda r: r["id"])]
    rpd_ids = sorted({r[c] for r in rows for c in ("rsrc_prop_data_id", "attr_data_id") if r[c]})
    props = [
        RowChange("resource_properties_data", {"id": p}, DELETE, dict(details.properties[p]), None)
        for p in rpd_ids
        if p in details.properties and not details.properties_refs.get(p)
    ]
    for r in rows:
        plan.notes.append(f"prune resource row {r['name']} (id {r['id']}) of stack {r['stack_id']}")
    return data + res + props


def _template_deletions(tree: Tree, analysis: TreeAnalysis, plan: TreePlan) -> list[RowChange]:
    """Each migrated stack's previous raw template, and its files row when orphaned."""
    deleted_templates: list[RowChange] = []
    gone: set[int] = set()
    for sa_ in analysis.stacks:
        prev = sa_.stack["prev_raw_template_id"]
        if not prev or prev in gone:
            continue
        row = tree.templates.get(prev)
        if row is None:
            continue  # Heat ignores a missing row too
        if tree.template_refs.get(prev):
            plan.notes.append(f"previous raw_template {prev} of stack {label(sa_.stack)} is still referenced elsewhere: kept")
            continue
        gone.add(prev)
        deleted_templates.append(RowChange("raw_template", {"id": prev}, DELETE, dict(row), None))
    files = []
    for fid in sorted({c.before["files_id"] for c in deleted_templates if c.before["files_id"] is not None}):
        if fid in tree.files and not (tree.files_refs.get(fid, set()) - gone):
            files.append(RowChange("raw_template_files", {"id": fid}, DELETE, dict(tree.files[fid]), None))
    return deleted_templates + files
