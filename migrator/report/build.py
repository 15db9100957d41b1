"""From a recorded run, or from the plans of a dry run, to the ``Report`` a page shows.

Two sources, one model. A run's record (``events.runrecord``) has the plans
as the log stores them, their outcomes, the batches and the verified chains.
A dry run has only plans: nothing was recorded, so there is no outcome and
nothing to verify, and the page says so at the top.

Row values are shown exactly as ``convmig log --changes`` shows them
(``events.report.column_rows``: secrets as ``sha256:`` digests); a value longer
than ``MAX_VALUE`` is cut, saying how long it was, so that a deleted template
does not make a 10,000-tree page hundreds of megabytes.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from typing import Callable, Iterable

from events.report import column_rows
from events.runrecord import RunRecord

from migrator.planning.plan import RETRYABLE, TreePlan
from migrator.report.graph import ExplicitOf, from_changes
from migrator.report.model import BatchView, ChainView, Fact, Report, TreeView  # noqa: F401 - Fact for callers

MAX_VALUE = 240
KEEP = 160
#: A run's direction -> what its applied plans are called.
DONE = {"migrate": "migrated", "rollback": "rolled back", "repair": "repaired"}
DRY_OUTCOMES = {"migrate": "to migrate", "repair": "to repair", "rollback": "to roll back", "noop": "already done"}


def when(moment: datetime | None) -> str:
    """A time as the page shows it: UTC to the second."""
    if moment is None:
        return ""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def clip(text: str) -> str:
    """A value short enough for the page; a long one says how long it was."""
    if len(text) <= MAX_VALUE:
        return text
    return f"{text[:KEEP]}… ({len(text):,} characters; convmig log --stack ID --changes shows all)"


def change_groups(changes: Iterable[dict]) -> list[list]:
    """Per changed row: table, key, op and each column's before and after, as ``log --changes``."""
    groups: list[list] = []
    for change in changes:
        rows = column_rows(change, show_secrets=False)
        if not rows:
            continue
        head = rows[0]
        groups.append([head["table"], head["key"], head["op"], [[r["column"], clip(r["before"]), clip(r["after"])] for r in rows]])
    return groups


def tree_payload(changes: list[dict], stacks: list[tuple[str, str | None]], direction: str,
                 explicit_of: ExplicitOf) -> tuple[str, object]:
    """What the page draws when a tree is opened, as JSON text: its graph and its row changes."""
    image = "before" if direction == "rollback" else "after"
    graph = from_changes(changes, stacks, image=image, explicit_of=explicit_of)
    data = {"graph": graph.payload(), "image": image, "changes": change_groups(changes)}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")), graph


def _with_payload(view: TreeView, changes: list[dict], stacks, direction: str, explicit_of: ExplicitOf) -> TreeView:
    view.payload, graph = tree_payload(changes, stacks, direction, explicit_of)
    view.nodes, view.edges, view.changes = len(graph.nodes), graph.kinds(), len(changes)
    if graph.cyclic:
        view.notes.append("the recorded requires form a cycle: drawn without layers")
    if direction == "rollback":
        view.restored = restored(changes)
    return view


def restored(changes: list[dict]) -> list[str]:
    """What a rollback plan puts back, one line per kind of row."""
    lines = []
    legacy = [c for c in changes if c["table"] == "stack" and c["op"] == "update" and (c.get("after") or {}).get("convergence") is False]
    for c in legacy:
        lines.append(f"stack {(c.get('before') or {}).get('name', '')} ({c['pk']['id']}) back on the legacy engine")
    for c in changes:
        if c["op"] == "insert":
            lines.append(f"{c['table']} {','.join(f'{k}={v}' for k, v in c['pk'].items())} re-inserted")
    rows = [c for c in changes if c["table"] == "resource" and c["op"] == "update"]
    if rows:
        columns = sorted({k for c in rows for k in (c.get("after") or {})})
        lines.append(f"{len(rows)} resource row{'s' if len(rows) != 1 else ''}: {', '.join(columns)} as before")
    return lines


# --------------------------------------------------------------------------- a recorded run


def _run_outcome(outcome: str, kind: str, direction: str) -> tuple[str, str]:
    """(label, tone) of a tree's outcome in a run."""
    if outcome == "applied":
        return DONE.get(direction, "applied"), "ok"
    if outcome == "skipped":
        return f"skipped: {kind}", "warn" if kind in RETRYABLE else "bad"
    if outcome == "pending":
        return "planned, no outcome recorded", "warn"
    if outcome.startswith("recovered"):
        found = outcome.split(" ", 1)[-1]
        return f"recovered: {found}", {"applied": "ok", "not_applied": "warn"}.get(found, "bad")
    return outcome, {"failed": "bad", "already done": "none", "not planned": "warn"}.get(outcome, "none")


class RunReport:
    """Builds a recorded run's report chunk by chunk (``trees``, handed to
    ``events.runrecord.gather`` as ``on_trees``), then the page (``report``)."""

    def __init__(self, explicit_for: Callable[[list], ExplicitOf]):
        self.explicit_for = explicit_for
        self.views: dict[str, TreeView] = {}

    def trees(self, chunk: list) -> None:
        explicit_of = self.explicit_for(chunk)
        for t in chunk:
            self.views[t.stack_id] = _tree_view(t, explicit_of)

    def report(self, record: RunRecord, *, database: str | None = None, now: datetime | None = None) -> Report:
        """The page. ``database`` names Heat's database the edge kinds were read
        from when the run itself did not record one."""
        run = record.run
        trees = [self.views.get(t.stack_id) or _tree_view(t, lambda _sid: None) for t in record.trees]
        counts = sorted(Counter(v.outcome for v in trees).items(), key=lambda kv: (-kv[1], kv[0]))
        return Report(
            title=f"convmig {run.command} run {run.id}",
            dry_run=False,
            facts=_run_facts(record, database),
            counts=counts,
            trees=trees,
            timeline=_timeline(record, trees),
            chains=[ChainView(c.kind, c.id, c.name, c.version, c.head,
                              [f"v{f['version']} {f['finding']}: {f['detail']}" for f in c.findings]) for c in record.chains],
            generated=when(now or datetime.now(timezone.utc)),
        )


def _tree_view(t, explicit_of: ExplicitOf) -> TreeView:
    """One tree of a run: outcome, reason, notes, and its plan drawn (if it has one)."""
    label, tone = _run_outcome(t.outcome, t.kind, (t.plan or {}).get("direction", "migrate"))
    view = TreeView(t.stack_id, t.name or "", label, tone, t.reason, batch=t.batch)
    view.notes += [f"settled an earlier run's plan: {r['outcome']}: {r['detail']}" for r in t.recoveries]
    if t.plan and "changes" in t.plan:
        view.notes += [str(n) for n in (t.plan["summary"] or {}).get("notes", [])]
        stacks = [(s, None) for s in (t.plan["summary"] or {}).get("stacks", [])] or [(t.stack_id, t.name)]
        stacks = [(s, t.name if s == t.stack_id else n) for s, n in stacks]
        _with_payload(view, t.plan["changes"], stacks, t.plan["direction"], explicit_of)
    return view


def from_run(record: RunRecord, explicit_of: ExplicitOf, *, database: str | None = None, now: datetime | None = None) -> Report:
    """The report of a run gathered whole (its plans still in the record)."""
    builder = RunReport(lambda _chunk: explicit_of)
    builder.trees(record.trees)
    return builder.report(record, database=database, now=now)


def _pairs(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items() if k not in ("database", "event_store")) or "none"


def _run_facts(record: RunRecord, database: str | None) -> list[Fact]:
    run = record.run
    args = run.arguments or {}
    end = f"{when(record.finished)} ({run.outcome})" if record.finished else "not recorded: the run did not finish (interrupted, or still running)"
    facts = [
        Fact("Run", str(run.id) + (f" (continues run {run.retry_of})" if run.retry_of else "")),
        Fact("Command", f"convmig {run.command}"),
        Fact("Options", _pairs(args)),
        Fact("Selection", _pairs(run.selection or {})),
        Fact("Operator", run.operator),
        Fact("Host", f"{run.host} (pid {run.pid})"),
        Fact("convmig version", run.convmig_version),
        Fact("Started", when(run.started_on)),
        Fact("Finished", end),
    ]
    if record.finished:
        facts.append(Fact("Duration", f"{(record.finished - run.started_on).total_seconds():.1f} s"))
    recorded = args.get("database")
    facts.append(Fact("Heat database", recorded or (f"not recorded by this run; edge kinds read from {database}" if database else "not recorded by this run")))
    facts.append(Fact("Event store", args.get("event_store") or record.store))
    return facts


def _timeline(record: RunRecord, trees: list[TreeView]) -> list[BatchView]:
    """One bar per batch, placed in the span from the run's start to its end."""
    start = record.run.started_on
    ends = [b.ended or b.started for b in record.batches] + ([record.finished] if record.finished else [])
    stop = max([start, *ends])
    by_batch: dict[int, Counter] = {}
    for t in trees:
        if t.batch is not None:
            by_batch.setdefault(t.batch, Counter())[t.outcome] += 1
    return _bars([(b.number, len(b.stack_ids), b.started, b.ended or b.started, by_batch.get(b.number, Counter()))
                  for b in record.batches], start, stop)


def _bars(batches: list[tuple], start: datetime, stop: datetime) -> list[BatchView]:
    span = max((stop - start).total_seconds(), 1e-6)
    bars = []
    for number, size, began, ended, outcomes in batches:
        left = (began - start).total_seconds() / span * 100
        width = max((ended - began).total_seconds() / span * 100, 0.5)
        text = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items(), key=lambda kv: -kv[1]))
        bars.append(BatchView(number, size, when(began), (ended - began).total_seconds(),
                              round(min(left, 99.5), 3), round(min(width, 100 - min(left, 99.5)), 3), text))
    return bars


# --------------------------------------------------------------------------- a dry run


class DryRunReport:
    """Collects a dry run's plans as they stream by (``add``), batch by batch
    (``batch``), and makes the report at the end (``report``)."""

    def __init__(self, explicit_for: Callable[[object], ExplicitOf]):
        self.explicit_for = explicit_for
        self.trees: list[TreeView] = []
        self.batches: list[tuple] = []
        self.started = datetime.now(timezone.utc)

    def add(self, plan: TreePlan, tree=None) -> None:
        """One tree's plan; ``tree`` (the loaded ``Tree``) lets edge kinds be read from its templates."""
        if plan.refusals:
            outcome, tone = f"refused: {plan.refusals[0].kind}", "warn" if plan.retryable else "bad"
        else:
            outcome = DRY_OUTCOMES.get("noop" if plan.noop else plan.direction, plan.outcome)
            tone = "none" if plan.noop else "ok"
        view = TreeView(plan.root_id, plan.root_name or "", outcome, tone, "; ".join(r.message for r in plan.refusals),
                        notes=list(plan.notes), batch=len(self.batches) + 1)
        if plan.has_work:
            _with_payload(view, [c.to_dict() for c in plan.changes], list(plan.stacks), plan.direction, self.explicit_for(tree))
        self.trees.append(view)

    def batch(self, began: datetime, ended: datetime) -> None:
        """Close the batch whose trees were added since the last call."""
        number = len(self.batches) + 1
        trees = [t for t in self.trees if t.batch == number]
        self.batches.append((number, len(trees), began, ended, Counter(t.outcome for t in trees)))

    def report(self, facts: list[Fact], now: datetime | None = None) -> Report:
        now = now or datetime.now(timezone.utc)
        counts = sorted(Counter(v.outcome for v in self.trees).items(), key=lambda kv: (-kv[1], kv[0]))
        stop = max([self.started, *(b[3] for b in self.batches)])
        return Report(
            title="convmig migrate --dry-run",
            dry_run=True,
            facts=facts,
            counts=counts,
            trees=self.trees,
            timeline=_bars(self.batches, self.started, stop),
            chains=None,
            generated=when(now),
        )
