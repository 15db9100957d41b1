"""What a FAILED legacy tree leaves behind that convergence never looks at: the
legacy *backup stacks*.

The legacy engine keeps, during an update, a hidden stack named after its owner
with a ``*`` suffix (``backup = 1``, owned by the stack it backs up). A
successful update deletes it; a failed one leaves it, sometimes holding the
resource rows an update replaced (their physical resources still exist). The
convergence engine never reads backup stacks (issue 19), so after a migration
an empty one would stay behind for ever, legacy and IN_PROGRESS, and the
resources of a full one would leak on the next update or delete.

So the migration finishes the legacy engine's job, every step a recorded,
reversible ``RowChange``:

* an **empty** backup stack is soft-deleted as ``Stack.delete(backup=True)``
  leaves it (DELETE_COMPLETE, ``deleted_at`` set);
* a backup holding rows has each row **adopted** by its owner the way
  convergence represents a replaced resource: the row moves to the owner stack,
  ``replaced_by`` names the owner's current row of the same name (whose
  ``replaces`` names it back), and ``current_template_id`` is the backup's own
  template, which still defines it. The next convergence traversal then sees a
  replaced row of an older template and deletes it (``Resource.delete_convergence``)
  after its replacement, in the order ``requires`` gives; the backup, now empty,
  is soft-deleted;
* a row with no current row of its name to replace it (or whose would-be
  replacement already replaces something), or a backup that owns live stacks,
  has no convergence meaning: the tree is refused, naming the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from migrator.planning.changes import UPDATE, RowChange

#: What ``Stack.delete(backup=True)`` writes into a backup stack's row before
#: ``stack_delete`` soft-deletes it (Heat's reason text, verbatim).
DELETED_REASON = "Stack DELETE completed successfully"


@dataclass
class BackupPlan:
    """The backup stacks' part of a tree's plan."""

    stack_changes: list[RowChange] = field(default_factory=list)
    resource_after: dict[int, dict] = field(default_factory=dict)  # row id -> columns to write
    moved: dict[str, list[int]] = field(default_factory=dict)  # owner stack id -> adopted row ids
    problems: list[tuple[str, str]] = field(default_factory=list)  # (stack id, message)
    notes: list[str] = field(default_factory=list)


def utc_now() -> datetime:
    """Heat's timestamps: naive UTC. Whole seconds, so the value reads back the same
    from every database (MariaDB's DATETIME drops the fraction)."""
    return datetime.utcnow().replace(microsecond=0)


def plan_backups(tree, stacks: list, requires_after: Callable[[dict], str], label: Callable[[dict], str],
                 now: Callable[[], datetime] = utc_now) -> BackupPlan:
    """The changes for the backup stacks owned by the migrated ``stacks``
    (``StackAnalysis`` objects), or the problems that refuse the tree.

    ``requires_after(row)`` is the ``requires`` text the plan leaves on a kept
    row: an adopted row takes its replacement's, so its cleanup waits for every
    resource that needs the replacement, and precedes what it needs."""
    plan = BackupPlan()
    for sa_ in stacks:
        for backup in tree.backups.get(sa_.stack["id"], []):
            _plan_backup(plan, tree, sa_, backup, requires_after, label, now)
    return plan


def _plan_backup(plan: BackupPlan, tree, sa_, backup: dict, requires_after, label, now) -> None:
    owner = sa_.stack
    rows = tree.backup_resources.get(backup["id"], [])
    children = tree.backup_children.get(backup["id"], [])
    if children:
        names = ", ".join(label(c) for c in children)
        plan.problems.append((owner["id"], f"stack {label(owner)} has a legacy backup stack {label(backup)} that owns "
                                           f"stacks of its own ({names}); update or delete the stack with the legacy "
                                           f"engine first, then re-run"))
        return
    unplaceable = _unplaceable(sa_, rows)
    if unplaceable:
        names = "; ".join(f"{r['name']} (id {r['id']}): {why}" for r, why in unplaceable)
        plan.problems.append((owner["id"], f"stack {label(owner)} has a legacy backup stack {label(backup)} holding "
                                           f"resource rows convergence could not clean up: {names}; update or delete "
                                           f"the stack with the legacy engine first, then re-run"))
        return
    for row in rows:
        current = sa_.keep[row["name"]]
        plan.resource_after[row["id"]] = {
            "stack_id": owner["id"], "replaced_by": current["id"], "current_template_id": backup["raw_template_id"],
            "requires": requires_after(current),
        }
        plan.resource_after.setdefault(current["id"], {})["replaces"] = row["id"]
        plan.moved.setdefault(owner["id"], []).append(row["id"])
        plan.notes.append(f"adopt resource row {row['name']} (id {row['id']}) of backup stack {label(backup)} into "
                          f"stack {label(owner)}, replaced by row {current['id']}: convergence deletes it next")
    plan.stack_changes.append(soft_delete(backup, now()))
    what = "emptied" if rows else "empty"
    plan.notes.append(f"soft-delete the {what} legacy backup stack {label(backup)}")


def _unplaceable(sa_, rows: list[dict]) -> list[tuple[dict, str]]:
    """Rows that cannot become a replaced row of the owner, each with why."""
    out, seen = [], set()
    for row in rows:
        current = sa_.keep.get(row["name"])
        if row["name"] in seen:
            out.append((row, "a second backup row of that name"))
        elif current is None:
            out.append((row, "the stack has no current resource of that name"))
        elif row["nova_instance"] is not None and row["nova_instance"] == current["nova_instance"]:
            out.append((row, f"it names the physical resource {row['nova_instance']} of the current row "
                             f"(id {current['id']}): deleting it would delete the live resource"))
        elif current["replaces"] is not None:
            out.append((row, f"its replacement (id {current['id']}) already replaces row {current['replaces']}"))
        seen.add(row["name"])
    return out


#: The before-image of a soft-deleted backup stack: what the plan decides on and every column it writes.
BACKUP_IMAGE = ("name", "action", "status", "status_reason", "updated_at", "deleted_at", "owner_id", "backup",
                "raw_template_id", "convergence")


def soft_delete(backup: dict, when: datetime) -> RowChange:
    """The backup stack row as the legacy engine's ``Stack.delete(backup=True)``
    leaves it: DELETE_COMPLETE, then soft-deleted."""
    after = {"action": "DELETE", "status": "COMPLETE", "status_reason": DELETED_REASON,
             "updated_at": when, "deleted_at": when}
    return RowChange("stack", {"id": backup["id"]}, UPDATE, {c: backup[c] for c in BACKUP_IMAGE}, after)


def with_backup_columns(changes: list[RowChange], kept: dict[int, dict], extra: dict[int, dict],
                        image: Callable[[dict], dict]) -> list[RowChange]:
    """The plan's resource updates with the adoption's columns merged in: one
    change per row (the executor compares every before-image with the row as read
    before any write, so a row must not be changed twice), and an update for each
    adopted row (``kept`` holds every row by id; ``image`` makes a before-image)."""
    if not extra:
        return changes
    out, done = [], set()
    for c in changes:
        rid = c.pk["id"]
        if c.table == "resource" and rid in extra:
            c = RowChange(c.table, c.pk, UPDATE, c.before, {**c.after, **extra[rid]})
            done.add(rid)
        out.append(c)
    for rid in sorted(set(extra) - done):
        row = kept[rid]
        after = {k: v for k, v in extra[rid].items() if row[k] != v}
        if after:
            out.append(RowChange("resource", {"id": rid}, UPDATE, image(row), after))
    return out
