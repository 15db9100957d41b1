"""Row changes: the unit every plan, log entry, apply and rollback speaks in.

A ``RowChange`` names a table, a primary key, and the row before and after:

* ``update``: ``before`` is the compare-and-swap image (the columns that change
  and those the plan was decided on, as read), ``after`` only the columns that
  change;
* ``delete``: ``before`` is the whole row, so it can be re-inserted exactly;
* ``insert``: ``after`` is the whole row, and no row may hold that key yet.

Every operation knows its inverse, so a rollback is the recorded changes
reversed and inverted, run by the same executor as the migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

UPDATE, DELETE, INSERT = "update", "delete", "insert"


@dataclass(frozen=True)
class RowChange:
    table: str
    pk: dict[str, Any]
    op: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def inverse(self) -> "RowChange":
        """The change that undoes this one (applied after it, on the row it left)."""
        if self.op == UPDATE:
            full_after = {**self.before, **self.after}
            return RowChange(self.table, self.pk, UPDATE, full_after, {k: self.before[k] for k in self.after})
        if self.op == DELETE:
            return RowChange(self.table, self.pk, INSERT, None, dict(self.before))
        return RowChange(self.table, self.pk, DELETE, dict(self.after), None)

    def image_after(self) -> dict[str, Any] | None:
        """The image once applied: for an update, the before-image's columns with
        the new values; for an insert, the whole row; None for a delete."""
        if self.op == UPDATE:
            return {**self.before, **self.after}
        return None if self.op == DELETE else dict(self.after)

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "pk": dict(self.pk), "op": self.op, "before": self.before, "after": self.after}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RowChange":
        return cls(data["table"], dict(data["pk"]), data["op"], data.get("before"), data.get("after"))

    def describe(self) -> str:
        key = ",".join(f"{k}={v}" for k, v in self.pk.items())
        return f"{self.table}[{key}]"


def invert(changes: Iterable[RowChange]) -> list[RowChange]:
    """Undo a sequence: inverses in reverse order (so foreign keys hold throughout)."""
    return [c.inverse() for c in reversed(list(changes))]
