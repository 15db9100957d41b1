"""The audit report: which events to show, as which records, rendered how.

Three questions an operator or auditor asks of the log:

* ``page``: what happened, in log order, filtered by stack, run, time and
  event; one page at a time by log position, because positions are ordered
  but not dense (PostgreSQL and MariaDB skip ids after a failed insert);
* ``changes``: what exactly a stack's plans changed, column by column, with
  secrets shown only as a digest unless asked for;
* ``verify``: is every chain intact, and what are the heads to keep elsewhere.

Records are flat dicts of strings (plus an int position) so the same records
come out of table, json and csv; rendering is the last, separate step.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from itertools import groupby
from typing import Any, Iterable, Sequence
from uuid import UUID

from eventsourcing.utils import get_topic
from tabulate import tabulate

from . import index
from .chain import ChainResult, Finding, StoredItem, verify_chain
from .domain import Run, StackHistory, stack_aggregate_id
from .eventlog import EventLog, reason
from .secrets import mask_urls, redact_row

FORMATS = ("table", "json", "csv")
DEFAULT_LIMIT = 100
#: How far event time and log position may disagree: events are timestamped
#: when created and positioned when saved, and convmig saves every event with
#: the batch it was created in, so a few batches at most. Time filters find
#: their positions by binary search and then read this many positions wider.
POSITION_SLACK = 10_000
#: Events read for one filtered page before handing back a resume position.
SCAN_BUDGET = 200_000
#: Free-text table cells longer than this are shortened (json and csv carry the
#: full value; ids and hashes are never shortened).
CELL_WIDTH = 60
SHORTENED = {"summary", "before", "after"}
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

REPORT_COLUMNS = ("position", "time", "run", "operator", "command", "stack_name", "stack_id", "event", "summary")
CHANGE_COLUMNS = ("position", "time", "run", "direction", "outcome", "table", "key", "op", "column", "before", "after")
VERIFY_COLUMNS = ("record", "kind", "id", "name", "version", "position", "head", "finding", "detail")

#: Event class -> kind; with the direction it makes the label shown.
KINDS = {
    Run.Started: "run-started",
    Run.Covered: "run-covered",
    Run.Skipped: "run-skipped",
    Run.Finished: "run-finished",
    Run.Noted: "run-noted",
    StackHistory.Opened: "opened",
    StackHistory.Planned: "planned",
    StackHistory.Applied: "applied",
    StackHistory.Failed: "failed",
    StackHistory.Refused: "refused",
    StackHistory.Recovered: "recovered",
}
_ROLLBACK_LABELS = {"planned": "rollback-planned", "applied": "rolled-back"}
_REPAIR_LABELS = {"planned": "repair-planned", "applied": "repaired"}
_KINDS_WITH_DIRECTION = ("planned", "applied", "failed", "refused", "recovered")


class ReportError(ValueError):
    """A request the report cannot answer (unknown stack, bad time ...): one line."""


def event_names() -> list[str]:
    """Every name ``--event`` accepts: kinds, and the rollback and repair labels."""
    names = list(KINDS.values())
    names += [_ROLLBACK_LABELS.get(k, f"rollback-{k}") for k in _KINDS_WITH_DIRECTION]
    names += [_REPAIR_LABELS.get(k, f"repair-{k}") for k in _KINDS_WITH_DIRECTION]
    return names


def label(event: Any) -> str:
    """The event column: the kind, named for the rollback or repair direction when it is one."""
    kind = KINDS.get(type(event), type(event).__name__.lower())
    direction = getattr(event, "direction", "migrate")
    if direction == "rollback":
        return _ROLLBACK_LABELS.get(kind, f"rollback-{kind}")
    if direction == "repair":
        return _REPAIR_LABELS.get(kind, f"repair-{kind}")
    return kind


# -- time ------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, *, end_of_day: bool = False, now: datetime | None = None) -> datetime:
    """An aware UTC datetime from ISO 8601 (naive = UTC) or ``30m``/``2h``/``7d`` ago.

    A bare date means its start, or with ``end_of_day`` (for ``--until``) its end.
    """
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        now = now or datetime.now(timezone.utc)
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
            return day + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else day
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ReportError(f"cannot read time {text!r}; use e.g. 2024-03-01, 2024-03-01T12:00Z or 2h") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def utc_text(moment: datetime) -> str:
    """The machine form of a time: ISO 8601 UTC with microseconds and ``Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- the event page ----------------------------------------------------------------


@dataclass
class Filters:
    stack: str | None = None
    run: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    events: Sequence[str] = ()
    after: int | None = None
    limit: int = DEFAULT_LIMIT


@dataclass
class Page:
    records: list[dict]
    #: pass as ``--after`` for the next page (None: the log ends here)
    next_after: int | None


@dataclass
class _Scope:
    """Filters resolved against the log: what to ask the database, what to check after decoding."""

    originators: list[UUID] | None = None
    run_id: UUID | None = None
    topics: list[str] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)
    start: int | None = None
    stop: int | None = None


def page(log: EventLog, filters: Filters) -> Page:
    """One page of the report: up to ``limit`` matching events after ``after``."""
    if filters.limit < 1:
        raise ReportError("--limit must be at least 1")
    scope = _scope(log, filters)
    found: list[tuple[Any, Any]] = []
    cursor, scanned, exhausted = scope.start, 0, False
    while len(found) < filters.limit and scanned < SCAN_BUDGET:
        batch = log.notifications(
            after=cursor, limit=max(filters.limit * 2, 500), topics=scope.topics, originator_ids=scope.originators or (), stop=scope.stop
        )
        if not batch:
            exhausted = True
            break
        for stored in batch:
            cursor, scanned = stored.id, scanned + 1
            event = log.decode(stored)
            if _matches(event, scope, filters):
                found.append((stored, event))
                if len(found) == filters.limit:
                    break
    records = _records(log, found)
    return Page(records, None if exhausted else cursor)


def _scope(log: EventLog, filters: Filters) -> _Scope:
    scope = _Scope(start=filters.after)
    _scope_events(scope, filters.events)
    if filters.stack:
        scope.originators = [stack_aggregate_id(resolve_stack(log, filters.stack))]
    if filters.run:
        run = resolve_run(log, filters.run)
        scope.run_id = run.id
        if scope.originators is None and run.covered and len(run.covered) <= 1000:
            scope.originators = [run.id] + [stack_aggregate_id(s) for s in run.covered]
    if filters.since:
        first = position_at(log, filters.since)
        first = (log.max_position() or 0) + 1 if first is None else first
        scope.start = max(scope.start or 0, first - 1 - POSITION_SLACK)
    if filters.until:
        beyond = position_at(log, filters.until + timedelta(microseconds=1))
        scope.stop = None if beyond is None else beyond - 1 + POSITION_SLACK
    return scope


def _scope_events(scope: _Scope, names: Sequence[str]) -> None:
    """``--event`` names to topics (for the database) and labels (checked after decoding)."""
    known = event_names()
    by_kind = {kind: cls for cls, kind in KINDS.items()}
    for name in names:
        name = name.strip().lower()
        if name not in known:
            raise ReportError(f"unknown event {name!r}; one of: {', '.join(known)}")
        kind = name if name in by_kind else next(k for k in by_kind if name in (
            f"rollback-{k}", _ROLLBACK_LABELS.get(k), f"repair-{k}", _REPAIR_LABELS.get(k)))
        scope.topics.append(get_topic(by_kind[kind]))
        scope.labels.add(name)


def _matches(event: Any, scope: _Scope, filters: Filters) -> bool:
    if scope.labels and label(event) not in scope.labels and KINDS.get(type(event)) not in scope.labels:
        return False
    if scope.run_id is not None and event.originator_id != scope.run_id and getattr(event, "run_id", None) != scope.run_id:
        return False
    if filters.since and event.timestamp < filters.since:
        return False
    return not (filters.until and event.timestamp > filters.until)


def position_at(log: EventLog, moment: datetime) -> int | None:
    """The first log position whose event is at or after ``moment`` (binary search).

    Assumes time grows with position, which holds up to ``POSITION_SLACK``;
    the callers widen by that much and filter exactly after decoding.
    """
    first = log.notifications(after=None, limit=1)
    last = log.max_position()
    if not first or last is None:
        return None
    lo, hi = first[0].id, last + 1
    while lo < hi:
        mid = (lo + hi) // 2
        probe = log.notifications(after=mid - 1, limit=1, stop=hi - 1)
        if probe and log.decode(probe[0]).timestamp < moment:
            lo = probe[0].id + 1
        else:
            hi = mid
    nxt = log.notifications(after=lo - 1, limit=1)
    return nxt[0].id if nxt else None


def resolve_stack(log: EventLog, key: str) -> str:
    """A Heat stack id from ``--stack`` (id or exact name)."""
    found = log.query(lambda conn: index.find_stacks(conn, key))
    if not found:
        if log.stacks([key])[key] is not None:
            return key
        raise ReportError(f"no events recorded for stack {key}")
    if len(found) > 1:
        ids = ", ".join(f"{sid} ({name})" for sid, name in found)
        raise ReportError(f"stack name {key} is ambiguous: {ids}; give the stack id")
    return found[0][0]


def resolve_run(log: EventLog, key: str) -> Run:
    """A run from ``--run``: its id or an unambiguous prefix of at least 4 characters."""
    try:
        return log.find_run(key, verify=False)
    except LookupError as exc:
        raise ReportError(str(exc)) from None


def _records(log: EventLog, found: list[tuple[Any, Any]]) -> list[dict]:
    """Decoded events as report records, with stack names and run operators from the index."""
    stacks = log.query(lambda conn: index.stack_labels(conn, {e.originator_id for _, e in found}))
    run_ids = {e.originator_id if isinstance(e, Run.Event) else getattr(e, "run_id", None) for _, e in found} - {None}
    runs = log.query(lambda conn: index.run_labels(conn, run_ids))
    records = []
    for stored, event in found:
        run_id = event.originator_id if isinstance(event, Run.Event) else getattr(event, "run_id", None)
        operator, command = runs.get(run_id, ("", ""))
        stack_id, stack_name = stacks.get(event.originator_id, ("", ""))
        records.append(
            {
                "position": stored.id,
                "time": utc_text(event.timestamp),
                "run": str(run_id) if run_id else "",
                "operator": operator,
                "command": command,
                "stack_name": stack_name,
                "stack_id": stack_id,
                "event": label(event),
                "summary": mask_urls(summary(event)),
            }
        )
    return records


def summary(event: Any) -> str:
    """One line saying what the event records (never a row value)."""
    kind = KINDS.get(type(event))
    if kind == "run-started":
        text = f"{event.command} {_pairs(event.arguments)}".strip()
        return f"{text}; selection {_pairs(event.selection)}" if event.selection else text
    if kind == "run-covered":
        more = f" (+{len(event.stack_ids) - 3} more)" if len(event.stack_ids) > 3 else ""
        return f"{_count(len(event.stack_ids), 'stack')}: {', '.join(event.stack_ids[:3])}{more}"
    if kind == "run-skipped":
        more = f" (+{len(event.trees) - 3} more)" if len(event.trees) > 3 else ""
        shown = ", ".join(f"{t.get('stack_id')} {t.get('kind')}" for t in event.trees[:3])
        return f"{_count(len(event.trees), 'tree')} skipped: {shown}{more}"
    if kind == "run-finished":
        return f"{event.outcome} {_pairs(event.counts)}".strip()
    if kind == "run-noted":
        return f"{event.what} {_pairs(event.detail)}".strip()
    if kind == "opened":
        return f"history of {event.stack_name} opened"
    if kind == "planned":
        return f"{_change_counts(event.changes)}; {_pairs(event.summary)}".rstrip("; ")
    if kind == "applied":
        return _pairs(event.summary or {})
    if kind in ("failed", "refused"):
        return event.reason
    if kind == "recovered":
        return f"{event.outcome}: {event.detail}"
    return ""


def _pairs(values: dict) -> str:
    return " ".join(f"{k}={_text(v)}" for k, v in values.items())


def _change_counts(changes: list[dict]) -> str:
    counts: dict[str, int] = {}
    for change in changes:
        key = f"{change['table']} {change['op']}"
        counts[key] = counts.get(key, 0) + 1
    detail = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
    return _count(len(changes), "row change") + (f" ({detail})" if detail else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# -- column-level changes --------------------------------------------------------------


def changes(log: EventLog, filters: Filters, *, show_secrets: bool = False) -> list[dict]:
    """Every column a stack's plans changed, before -> after, with each plan's outcome."""
    if not filters.stack:
        raise ReportError("--changes needs --stack STACK_ID")
    aggregate_id = stack_aggregate_id(resolve_stack(log, filters.stack))
    run_id = resolve_run(log, filters.run).id if filters.run else None
    stored = log.notifications(after=filters.after, limit=10**9, originator_ids=[aggregate_id])
    events = [(n, log.decode(n)) for n in stored]
    outcomes = _outcomes([e for _, e in events])
    rows: list[dict] = []
    for n, event in events:
        if not isinstance(event, StackHistory.Planned) or (run_id and event.run_id != run_id):
            continue
        if (filters.since and event.timestamp < filters.since) or (filters.until and event.timestamp > filters.until):
            continue
        head = {
            "position": n.id,
            "time": utc_text(event.timestamp),
            "run": str(event.run_id),
            "direction": event.direction,
            "outcome": outcomes.get(event.originator_version, "pending"),
        }
        for change in event.changes:
            rows.extend({**head, **row} for row in column_rows(change, show_secrets))
    return rows


def _outcomes(events: list[Any]) -> dict[int, str]:
    """``{plan version: what became of it}`` from a stack's events in order."""
    result, plan = {}, None
    for event in events:
        if isinstance(event, StackHistory.Planned):
            plan = event.originator_version
        elif plan is not None and isinstance(event, (StackHistory.Applied, StackHistory.Failed, StackHistory.Recovered)):
            result[plan] = _outcome(event)
            plan = None
    return result


def _outcome(event: Any) -> str:
    if isinstance(event, StackHistory.Applied):
        return "applied"
    if isinstance(event, StackHistory.Failed):
        return "failed"
    return f"recovered {event.outcome}"


def column_rows(change: dict, show_secrets: bool) -> list[dict]:
    """One record per column of one row change (masked where secret)."""
    table, op = change["table"], change["op"]
    before, after = change.get("before") or {}, change.get("after") or {}
    whole = {**before, **after}
    columns = list(after) if op == "update" else list(before if op == "delete" else after)
    key = ",".join(f"{k}={_text(v)}" for k, v in change["pk"].items())
    before = redact_row(table, before, show_secrets, whole)
    after = redact_row(table, after, show_secrets, whole)
    return [
        {
            "table": table,
            "key": key,
            "op": op,
            "column": column,
            "before": _text(before.get(column)) if op != "insert" else "",
            "after": _text(after.get(column)) if op != "delete" else "",
        }
        for column in columns
    ]


def _text(value: Any) -> str:
    """A value as the report prints it: NULL, text, ``\\x`` hex for bytes, ISO times, JSON."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return str(value)


# -- verification ----------------------------------------------------------------------


@dataclass
class Verification:
    heads: list[dict]
    findings: list[dict]
    events: int

    @property
    def clean(self) -> bool:
        return not self.findings


def verify(log: EventLog) -> Verification:
    """Recompute every chain from the stored rows; cross-check the index and run references.

    Memory grows by one output record per chain (the heads an operator keeps
    elsewhere) and one small tuple for the cross-checks, not by whole chain
    results: a 100,000-tree log is half a million events."""
    heads: list[dict] = []
    chains: dict[UUID, tuple[int, str, bool, int]] = {}  # aggregate -> (version, head, clean, heads index)
    findings: list[Finding] = []
    referenced: dict[tuple[UUID, UUID], int] = {}  # (run, aggregate) -> first version naming it
    run_ids: dict[UUID, UUID] = {}  # one object per run id, however many events name it
    events = 0
    for aggregate_id, rows in groupby(log.scan_by_aggregate(), key=lambda n: n.originator_id):
        items, kind, ident, name = [], "", str(aggregate_id), ""
        for n in rows:
            events += 1
            item = _stored_item(log, n)
            items.append(item)
            kind, ident, name = _identity(item, kind, ident, name)
            run_id = getattr(item.event, "run_id", None)
            if run_id is not None:
                referenced.setdefault((run_ids.setdefault(run_id, run_id), aggregate_id), n.originator_version)
        result = verify_chain(aggregate_id, items)
        findings += result.findings
        chains[aggregate_id] = (result.version, result.head, not result.findings, len(heads))
        heads.append(_head_record(kind, ident, name, result))
    indexed = log.index_heads()
    findings += _index_findings(indexed, chains)
    runs = {agg for agg, (*_, i) in chains.items() if heads[i]["kind"] == "run"}
    findings += [
        Finding(agg, version, None, "deleted", f"v{version} refers to run {run_id}, whose events are missing")
        for (run_id, agg), version in referenced.items()
        if run_id not in runs
    ]
    labels = {f.aggregate_id: heads[chains[f.aggregate_id][3]] for f in findings if f.aggregate_id in chains}
    return Verification(
        heads=sorted(heads, key=lambda h: (h["kind"] != "stack", h["id"])),
        findings=[_finding_record(f, labels, indexed) for f in sorted(findings, key=lambda f: (str(f.aggregate_id), f.version))],
        events=events,
    )


def _stored_item(log: EventLog, stored: Any) -> StoredItem:
    try:
        return StoredItem(stored.id, stored.originator_version, log.app.mapper.to_domain_event(stored))
    except Exception as exc:  # noqa: BLE001 - any decode failure is a finding
        return StoredItem(stored.id, stored.originator_version, None, f"cannot decode: {reason(exc)[:160]}")


def _identity(item: StoredItem, kind: str, ident: str, name: str) -> tuple[str, str, str]:
    """(kind, id, name) of an aggregate, learnt from its first event."""
    event = item.event
    if isinstance(event, StackHistory.Opened):
        return "stack", event.stack_id, event.stack_name
    if isinstance(event, Run.Started):
        return "run", str(event.originator_id), event.command
    if not kind and isinstance(event, StackHistory.Event):
        return "stack", ident, name
    if not kind and isinstance(event, Run.Event):
        return "run", str(event.originator_id), name
    return kind, ident, name


def _index_findings(indexed: dict[UUID, tuple[str, int, str]], chains: dict[UUID, tuple]) -> list[Finding]:
    """What only the index can reveal: a chain shorter than recorded, or gone entirely.

    ``chains`` maps an aggregate to ``(version, head, clean, ...)``: what was
    recomputed, whether the chain had findings; callers may keep more after."""
    findings = []
    for aggregate_id, (label_, version, head) in indexed.items():
        chain = chains.get(aggregate_id)
        if chain is None:
            findings.append(Finding(aggregate_id, 1, None, "deleted", f"all events of {label_} are missing (index records v{version})"))
            continue
        found_version, found_head, clean = chain[:3]
        if found_version < version:
            findings.append(
                Finding(aggregate_id, found_version + 1, None, "truncated", f"index records v{version}, the log ends at v{found_version}")
            )
        elif found_version == version and found_head != head and clean:
            findings.append(Finding(aggregate_id, version, None, "edited", f"v{version} differs from the head the index recorded"))
    return findings


def _head_record(kind: str, ident: str, name: str, result: ChainResult) -> dict:
    return {"kind": kind or "unknown", "id": ident, "name": name, "version": str(result.version), "head": result.head}


def _finding_record(finding: Finding, labels: dict, indexed: dict) -> dict:
    head = labels.get(finding.aggregate_id)
    kind, ident, name = (head["kind"], head["id"], head["name"]) if head else ("", "", "")
    if kind == "unknown":
        kind = ""
    if not kind and finding.aggregate_id in indexed:
        kind, ident = indexed[finding.aggregate_id][0].split(" ", 1)
    return {
        "kind": kind or "unknown",
        "id": ident or str(finding.aggregate_id),
        "name": name,
        "version": str(finding.version),
        "position": "" if finding.position is None else str(finding.position),
        "finding": finding.kind,
        "detail": finding.detail,
    }


# -- rendering --------------------------------------------------------------------------


def render(records: list[dict], columns: Sequence[str], fmt: str, *, headers: dict[str, str] | None = None) -> str:
    """Records as a table (shortened cells), JSON (a list of objects) or CSV (header row)."""
    if fmt == "json":
        return json.dumps([{c: r.get(c, "") for c in columns} for r in records], indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return out.getvalue()
    if fmt != "table":
        raise ReportError(f"unknown format {fmt}; one of {', '.join(FORMATS)}")
    heads = [(headers or {}).get(c, c) for c in columns]
    rows = [[_cell(r.get(c, ""), c in SHORTENED) for c in columns] for r in records]
    return tabulate(rows, headers=heads, tablefmt="simple", disable_numparse=True) + "\n"


def _cell(value: Any, shorten: bool) -> str:
    """One table cell on one line; free-text columns cut to ``CELL_WIDTH``."""
    text = str(value).replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")
    if not shorten or len(text) <= CELL_WIDTH or _DIGEST.fullmatch(text):
        return text
    return text[: CELL_WIDTH - 3] + "..."


def table_records(records: Iterable[dict]) -> list[dict]:
    """Main-report records shaped for the table: short time and run, one stack column."""
    shaped = []
    for r in records:
        stack = f"{r['stack_name']} ({r['stack_id']})" if r["stack_id"] else ""
        shaped.append({**r, "time": r["time"][:19].replace("T", " "), "run": r["run"][:8], "stack": stack})
    return shaped


TABLE_COLUMNS = ("position", "time", "run", "operator", "command", "stack", "event", "summary")
TABLE_HEADERS = {"position": "pos", "time": "time (UTC)"}


def render_page(records: list[dict], fmt: str) -> str:
    """The main report in the chosen format."""
    if fmt == "table":
        return render(table_records(records), TABLE_COLUMNS, fmt, headers=TABLE_HEADERS)
    return render(records, REPORT_COLUMNS, fmt)


def render_changes(records: list[dict], fmt: str) -> str:
    if fmt == "table":
        shaped = [{**r, "time": r["time"][:19].replace("T", " "), "run": r["run"][:8]} for r in records]
        return render(shaped, CHANGE_COLUMNS, fmt, headers={"position": "pos", "time": "time (UTC)"})
    return render(records, CHANGE_COLUMNS, fmt)


def render_verification(result: Verification, fmt: str) -> str:
    """Findings (if any) then every chain head, so the heads can be kept elsewhere."""
    if fmt == "json":
        return json.dumps({"findings": result.findings, "heads": result.heads}, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        rows = [{"record": "finding", **f} for f in result.findings] + [{"record": "head", **h} for h in result.heads]
        return render(rows, VERIFY_COLUMNS, "csv")
    parts = []
    if result.findings:
        parts.append(render(result.findings, ("kind", "id", "version", "position", "finding", "detail"), "table"))
    parts.append(render(result.heads, ("kind", "id", "name", "version", "head"), "table"))
    return "\n".join(parts)
