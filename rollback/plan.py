"""The inverse plan: the recorded changes of a tree's last applied migration,
reversed, and a check that convergence has not touched the tree since.

No second migrator: the plan is ``invert(recorded changes)`` and migrate's
executor applies it, with the same compare-and-swap. What the executor cannot
see on its own (a nested stack or a resource row convergence *added*) is
checked here against the membership the migration recorded.

Everything is done per batch of trees, with a fixed number of queries per
batch, and each tree's history is read from the log once per batch.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from events import Unverified

from migrator.execution.apply import Difference, compare, read_current
from migrator.planning.changes import RowChange, invert
from migrator.planning.plan import Refusal, TreePlan
from migrator.heat.schema import resource, stack
from migrator.heat.tree import ACTIVE, chunks, tree_stacks

SHOWN = 5


class RollbackPlanner:
    """Plans rollbacks batch by batch for a ``Runner`` (``stacks_of`` for the
    locks, ``plan``, then ``histories`` when the plans are recorded), reading
    each tree's history from the log once per batch."""

    def __init__(self, log):
        self.log = log
        self._read: dict[str, object] = {}  # this batch, read for the locks
        self._planned: dict[str, object] = {}  # this batch, handed to the runner

    def history(self, root_id: str):
        if root_id not in self._read:
            self._read[root_id] = self.log.stacks([root_id])[root_id]
        return self._read[root_id]

    def stacks_of(self, conn: Connection, root_ids: list[str]) -> dict[str, list[dict]]:
        """The stacks to lock: those the migration recorded plus any there now."""
        self._read = self.log.stacks(root_ids)  # the batch's histories in one read
        now = tree_stacks(conn, root_ids)
        result = {}
        for r in root_ids:
            plan = _migration(self.history(r))
            recorded = [{"id": s, "name": None} for s in (plan["summary"].get("stacks", []) if plan else [])]
            rows = list({row["id"]: row for row in [*recorded, *now.get(r, [])]}.values())
            if rows:
                result[r] = rows
        return result

    def plan(self, conn: Connection, root_ids: list[str]) -> list[TreePlan]:
        """Inverse plans (or refusals) for a batch."""
        self._planned = {r: self.history(r) for r in root_ids}
        self._read = {}
        return self._replan_moved(conn, plan_batch(conn, self._planned))

    def _replan_moved(self, conn: Connection, plans: list[TreePlan]) -> list[TreePlan]:
        """Plan again, from the log as it is now, each drifted tree whose history moved on.

        The histories were read before the trees were locked (to know what to lock).
        A sibling process that rolled a tree back in between leaves it exactly at the
        before-image of the migration, which against the stale history looks like
        drift. Under the lock the log is read again for the drifted trees only (a
        conflict is rare, a second read of every tree is not free): one whose
        history gained events is planned from the fresh one, so it is "already
        rolled back by run ...", or judged against what that run left."""
        drifted = [p.root_id for p in plans if any(r.kind == "drift" for r in p.refusals)]
        if not drifted:
            return plans
        fresh = self.log.stacks(drifted)
        moved = {r: h for r, h in fresh.items() if _version(h) != _version(self._planned.get(r))}
        if not moved:
            return plans
        self._planned.update(moved)
        again = {p.root_id: p for p in plan_batch(conn, moved)}
        return [again.get(p.root_id, p) for p in plans]

    def histories(self, names: dict[str, str]) -> dict[str, object]:
        """The batch's histories for recording its plans: those just planned from
        (each handed out once), the log for any other (or a second attempt)."""
        given = {sid: self._planned.pop(sid) for sid in list(names) if self._planned.get(sid) is not None}
        rest = {sid: name for sid, name in names.items() if sid not in given}
        return {**given, **(self.log.histories(rest) if rest else {})}


def _version(history) -> int | None:
    """How far a history goes (None for no history or one that does not verify)."""
    return getattr(history, "version", None)


def _migration(history) -> dict | None:
    """The applied plan a rollback takes back: the newest migration or repair not yet
    undone; none from a history that does not verify."""
    if history is None or isinstance(history, Unverified):
        return None
    return history.to_undo()


def plan_batch(conn: Connection, histories: dict[str, object]) -> list[TreePlan]:
    """Inverse plans for ``root id -> history``, checked against the database."""
    rows = _stack_rows(conn, list(histories))
    plans, checked = [], []
    for root_id, history in histories.items():
        plan = _inverse(root_id, rows.get(root_id), history)
        plans.append(plan)
        if plan.has_work:
            checked.append((plan, _migration(history)["summary"]))
    _refuse_drifted(conn, checked)
    return plans


def _stack_rows(conn: Connection, root_ids: list[str]) -> dict[str, dict]:
    found = {}
    for part in chunks(root_ids):
        found.update({r["id"]: dict(r) for r in conn.execute(sa.select(stack).where(stack.c.id.in_(part))).mappings()})
    return found


def _inverse(root_id: str, row: dict | None, history) -> TreePlan:
    """The inverse plan of the last applied migration, or why there is none."""
    name = row["name"] if row else getattr(history, "stack_name", None)
    who = f"{name} ({root_id})"
    if row is None and history is None:
        return _refused(root_id, None, "unknown", f"stack {root_id} not found: check the id")
    if isinstance(history, Unverified):  # verify before use: nothing of it reaches Heat
        return _refused(root_id, row["name"] if row else None, "unverified", history.message)
    migration = _migration(history)
    if migration is None:
        if history is not None and (history.last_applied("migrate") or history.last_applied("repair")):
            return _already(root_id, name, who, history.last_applied("rollback"))
        return _refused(root_id, name, "not_migrated",
                        f"stack {who} was not migrated by convmig according to this event log: nothing to roll back "
                        "(if an earlier run used --event-store, pass it again)")
    changes = invert(RowChange.from_dict(c) for c in migration["changes"])
    stacks = migration["summary"].get("stacks", [root_id])
    plan = TreePlan(root_id, name, [(s, None) for s in stacks], changes=changes, direction="rollback",
                    undoes=migration["version"])
    what = "the dependency repair of run" if migration["direction"] == "repair" else "run"
    plan.notes.append(f"undoes {what} {migration['run_id']} (log entry {migration['version']})")
    return plan


def _already(root_id: str, name: str | None, who: str, rollback: dict | None) -> TreePlan:
    """Rolling back what is already rolled back is done, not an error (as migrating a
    migrated tree is): the command is safe to repeat, e.g. to finish an interrupted job.
    The run that rolled it back is named: with several rollbacks at once, a tree a
    sibling took is that sibling's work, not a change of anyone else's."""
    by = str(rollback["run_id"]) if rollback else None
    plan = TreePlan(root_id, name, [], noop=True, direction="rollback", done_by=by)
    plan.notes.append(f"stack {who} is already rolled back" + (f" by run {by[:8]}" if by else "") + ": nothing to do")
    return plan


def _refused(root_id: str, name: str | None, kind: str, message: str) -> TreePlan:
    return TreePlan(root_id, name, [], refusals=[Refusal(kind, message, root_id)])


def _refuse_drifted(conn: Connection, checked: list[tuple[TreePlan, dict]]) -> None:
    """Compare every tree with its recorded after-image (one read per table for the
    batch) and turn each tree that changed into a refusal listing every difference."""
    if not checked:
        return
    current = read_current(conn, [c for plan, _ in checked for c in plan.changes], lock=False)
    members = membership_drift(conn, [(plan.root_id, summary) for plan, summary in checked])
    for plan, _summary in checked:
        diffs = members.get(plan.root_id, []) + compare(plan.changes, current)
        if diffs:
            shown = "; ".join(d.describe() for d in diffs[:SHOWN])
            more = f" (and {len(diffs) - SHOWN} more)" if len(diffs) > SHOWN else ""
            who = f"{plan.root_name} ({plan.root_id})"
            plan.refusals.append(Refusal(
                "drift", f"stack {who} changed since convmig migrated it: {shown}{more}; nothing was touched",
                plan.root_id, tuple(d.describe() for d in diffs)))


def membership_drift(conn: Connection, trees: list[tuple[str, dict]]) -> dict[str, list[Difference]]:
    """Per tree: stacks and active resource rows present now but not right after the
    migration (or the reverse): what a convergence update or replacement leaves."""
    now_stacks = {r: {row["id"] for row in rows} for r, rows in tree_stacks(conn, [r for r, _ in trees]).items()}
    expected_rows = {sid: set(ids) for _, s in trees for sid, ids in (s.get("resources") or {}).items()}
    now_rows = active_rows(conn, list(expected_rows))
    result: dict[str, list[Difference]] = {}
    for root, summary in trees:
        diffs = []
        expected = set(summary.get("stacks", [root]))
        now = now_stacks.get(root, set())
        diffs += [Difference(f"stack[id={s}]", None, "no nested stack", "a nested stack created since") for s in sorted(now - expected)]
        diffs += [Difference(f"stack[id={s}]", None, "the nested stack", "none") for s in sorted(expected - now)]
        for sid in sorted(summary.get("resources") or {}):
            diffs += [Difference(f"resource[id={r}]", None, "no row", f"a new row in stack {sid}")
                      for r in sorted(now_rows.get(sid, set()) - expected_rows[sid])]
            diffs += [Difference(f"resource[id={r}]", None, "an active row", "none")
                      for r in sorted(expected_rows[sid] - now_rows.get(sid, set()))]
        if diffs:
            result[root] = diffs
    return result


def active_rows(conn: Connection, stack_ids: list[str]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = defaultdict(set)
    for part in chunks(stack_ids):
        q = sa.select(resource.c.stack_id, resource.c.id).where(resource.c.stack_id.in_(part), ACTIVE)
        for sid, rid in conn.execute(q):
            found[sid].add(rid)
    return found
