"""Rendering plans and summaries for people (tables) and scripts (JSON).

Values are shortened for tables and secrets are always replaced by digests
(``events.secrets.redact_row``, the rule ``convmig log --changes`` uses), in both formats.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from tabulate import tabulate

from events.secrets import redact_row

from migrator.planning.changes import DELETE, INSERT
from migrator.planning.plan import TreePlan

MAX_CELL = 60


def jsonable(value: Any) -> Any:
    """Plain JSON types for output (datetimes as ISO strings, bytes as hex)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _short(value: Any) -> str:
    text = "NULL" if value is None else str(jsonable(value))
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def change_json(change) -> dict:
    data = change.to_dict()
    data["before"] = jsonable(redact_row(change.table, change.before))
    data["after"] = jsonable(redact_row(change.table, change.after))
    return data


def plan_json(plan: TreePlan) -> dict:
    return {
        "root_id": plan.root_id,
        "root_name": plan.root_name,
        "outcome": plan.outcome,
        "stacks": [{"id": i, "name": n} for i, n in plan.stacks],
        "changes": [change_json(c) for c in plan.changes],
        "refusals": [{"kind": r.kind, "stack_id": r.stack_id, "message": r.message, "details": list(r.details)}
                     for r in plan.refusals],
        "notes": plan.notes,
        "summary": plan.summary(),
    }


def _change_cells(change) -> str:
    if change.op == DELETE:
        return "whole row deleted (kept in the log)"
    if change.op == INSERT:
        return "whole row re-inserted"
    before = redact_row(change.table, change.before)
    after = redact_row(change.table, change.after)
    return "; ".join(f"{k}: {_short(before.get(k))} → {_short(v)}" for k, v in after.items())


def plan_table(plan: TreePlan) -> str:
    """One tree's plan as a heading line and a table of its row changes."""
    who = f"{plan.root_name} ({plan.root_id})" if plan.root_name else plan.root_id
    head = f"tree {who}: {plan.outcome}"
    if not plan.has_work:
        return head
    counts = ", ".join(f"{n} {k}" for k, n in plan.summary()["changes"].items())
    rows = [[c.table, ",".join(map(str, c.pk.values())), c.op, _change_cells(c)] for c in plan.changes]
    body = tabulate(rows, headers=["table", "key", "op", "change"])
    notes = "".join(f"\n  note: {n}" for n in plan.notes)
    return f"{head}: {len(plan.stacks)} stack(s), {counts}{notes}\n{body}"


def summary_table(counts: dict[str, int]) -> str:
    return tabulate(sorted(counts.items()), headers=["outcome", "trees"])


def dumps(data: Any) -> str:
    return json.dumps(jsonable(data), indent=2, sort_keys=True)
