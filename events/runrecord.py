"""One run as the log recorded it: the facts a change record is built from.

``convmig report`` turns a run into a page; this module only reads the log and
answers, without any presentation: who ran what and how it ended, the batches in
order, per tree what this run planned and what became of it (or why it was left
alone), and whether every history the run touched still verifies.

Every stored row of the run and of the trees it touched is read once, in chunks
of aggregates: the same decoded events give the chain check and the facts, so
a 10,000-tree run costs one pass over its own events, not a scan of the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.utils import get_topic

from . import index
from .chain import ChainResult, StoredItem, verify_chain
from .domain import Run, StackHistory, stack_aggregate_id
from .eventlog import SCAN_ROWS, EventLog, _notification
from .report import _finding_record, _index_findings, _outcome, _stored_item

#: Trees whose histories are read (and handed on) at a time.
CHUNK = 500
#: Outcome events: they settle the plan before them.
_SETTLING = (StackHistory.Applied, StackHistory.Failed, StackHistory.Recovered)


@dataclass
class Batch:
    """One batch of the run: the trees it took up, when, and when their outcomes were recorded."""

    number: int
    started: datetime
    stack_ids: list[str]
    ended: datetime | None = None


@dataclass
class TreeRecord:
    """What the run did to one tree (a root stack and its nested stacks)."""

    stack_id: str
    name: str
    batch: int | None = None
    #: the plan this run recorded: direction, changes (row dicts), summary, time
    plan: dict | None = None
    #: "applied", "failed", "recovered <outcome>", "pending", "skipped", "already done",
    #: or "not planned" (a run that did not record why)
    outcome: str = "already done"
    kind: str = ""
    reason: str = ""
    settled: datetime | None = None
    #: recoveries this run recorded for an earlier run's open plan of this tree
    recoveries: list[dict] = field(default_factory=list)


@dataclass
class Chain:
    """One verified history: the head to keep elsewhere and what is wrong with it."""

    kind: str
    id: str
    name: str
    version: int
    head: str
    findings: list[dict]


@dataclass
class RunRecord:
    run: Run
    finished: datetime | None
    batches: list[Batch]
    trees: list[TreeRecord]
    chains: list[Chain]
    store: str  # the event store's URL, password masked

    @property
    def verified(self) -> bool:
        return not any(c.findings for c in self.chains)


def gather(log: EventLog, key: str, on_trees: Callable[[list[TreeRecord]], None] | None = None) -> RunRecord:
    """The record of the run ``key`` (its id or a unique prefix; ``LookupError`` if none).

    The trees' histories are read ``CHUNK`` at a time. With ``on_trees``, each
    chunk is handed over once read, and then its plans' row changes are dropped
    from the record, so memory stays flat however many trees the run took up."""
    run = log.find_run(key)
    run_items = list(_items(log, [run.id]).get(run.id, []))
    run_events = [i.event for i in run_items if i.event is not None]
    batches, skipped = _batches(run_events)
    trees = {sid: TreeRecord(sid, "") for sid in run.covered}
    for sid, info in skipped.items():
        tree = trees.setdefault(sid, TreeRecord(sid, info.get("name", "")))
        tree.name = tree.name or info.get("name", "")
        tree.outcome, tree.kind, tree.reason = "skipped", info.get("kind", ""), info.get("reason", "")
    for sid in _recovered_elsewhere(log, run, run_items):
        trees.setdefault(sid, TreeRecord(sid, ""))
    for batch in batches:
        for sid in batch.stack_ids:
            if sid in trees and trees[sid].batch is None:
                trees[sid].batch = batch.number
    indexed = log.index_heads()
    chains = [_chain(run.id, "run", str(run.id), run.command, run_items, indexed)]
    unexplained = not skipped and any(str(k).startswith("skipped") for k in (run.counts or {}))
    ordered = list(trees.values())
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start:start + CHUNK]
        chains += _read_chunk(log, run, chunk, indexed)
        if unexplained:
            _unexplained(chunk, run.counts)
        if on_trees is not None:
            on_trees(chunk)
            for tree in chunk:
                if tree.plan:
                    tree.plan = {k: v for k, v in tree.plan.items() if k != "changes"}
    _close_batches(batches, trees)
    finished = next((e.timestamp for e in run_events if isinstance(e, Run.Finished)), None)
    return RunRecord(run, finished, batches, ordered, chains, log.display_url)


def _read_chunk(log: EventLog, run: Run, chunk: list[TreeRecord], indexed: dict) -> list[Chain]:
    """Read and verify the histories of a chunk of trees; fill each tree from its own."""
    by_aggregate = {stack_aggregate_id(t.stack_id): t for t in chunk}
    chains = []
    for aggregate_id, items in _items(log, list(by_aggregate)).items():
        tree = by_aggregate[aggregate_id]
        _read_history(tree, run.id, [i.event for i in items if i.event is not None])
        chains.append(_chain(aggregate_id, "stack", tree.stack_id, tree.name, items, indexed))
    return chains


def _items(log: EventLog, aggregate_ids: list[UUID]) -> dict[UUID, list[StoredItem]]:
    """Every stored row of the given aggregates, decoded, in version order (chunked reads)."""
    table = log.table
    found: dict[UUID, list[StoredItem]] = {}
    for start in range(0, len(aggregate_ids), SCAN_ROWS):
        part = aggregate_ids[start:start + SCAN_ROWS]
        query = (sa.select(table.c.id, table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state)
                 .where(table.c.originator_id.in_(part))
                 .order_by(table.c.originator_id, table.c.originator_version))
        for row in log.query(lambda conn: conn.execute(query).all()):
            found.setdefault(row.originator_id, []).append(_stored_item(log, _notification(row)))
    return found


def _batches(events: list[Any]) -> tuple[list[Batch], dict[str, dict]]:
    """The run's batches (one ``Covered`` event each) and the trees it recorded as skipped."""
    batches: list[Batch] = []
    skipped: dict[str, dict] = {}
    for event in events:
        if isinstance(event, Run.Covered):
            batches.append(Batch(len(batches) + 1, event.timestamp, list(event.stack_ids)))
        elif isinstance(event, Run.Skipped):
            for tree in event.trees:
                skipped[str(tree.get("stack_id"))] = dict(tree)
            if batches:
                batches[-1].ended = event.timestamp
    return batches, skipped


def _recovered_elsewhere(log: EventLog, run: Run, run_items: list[StoredItem]) -> list[str]:
    """Trees whose earlier plan this run settled at its start without taking them up
    again: found among the ``Recovered`` events between the run's first and last rows."""
    if not run_items:
        return []
    first, last = run_items[0].position, max(i.position for i in run_items)
    rows = log.notifications(after=first, limit=10**9, topics=[get_topic(StackHistory.Recovered)], stop=last)
    ids = {e.originator_id for e in map(log.decode, rows) if e.run_id == run.id}
    labels = log.query(lambda conn: index.stack_labels(conn, ids)) if ids else {}
    return sorted(sid for sid, _name in labels.values())


def _read_history(tree: TreeRecord, run_id: UUID, events: Iterable[Any]) -> None:
    """Fill ``tree`` from its history's events: its name, this run's plan and what
    became of it. The first outcome after the plan settles it, whichever run recorded
    it (a later run recovers the plan of one that died); an outcome this run recorded
    with no plan of its own open is the recovery of an earlier run's plan."""
    plan_open = False
    for event in events:
        if isinstance(event, StackHistory.Opened):
            tree.name = tree.name or event.stack_name
        elif isinstance(event, StackHistory.Planned) and event.run_id == run_id:
            tree.plan = {"direction": event.direction, "changes": event.changes, "summary": event.summary,
                         "time": event.timestamp, "version": event.originator_version}
            tree.outcome, tree.kind, tree.reason, tree.settled, plan_open = "pending", "", "", None, True
        elif isinstance(event, _SETTLING) and plan_open:
            tree.outcome, tree.settled, plan_open = _outcome(event), event.timestamp, False
            tree.reason = getattr(event, "reason", "") or getattr(event, "detail", "")
        elif isinstance(event, StackHistory.Recovered) and event.run_id == run_id:
            tree.recoveries.append({"outcome": event.outcome, "detail": event.detail, "time": event.timestamp})


def _unexplained(trees: Iterable[TreeRecord], counts: dict) -> None:
    """A run recorded before runs noted their skipped trees: an unplanned tree may
    have been skipped or already done, and only the run's counts say how many."""
    for tree in trees:
        if tree.plan is None and tree.outcome == "already done":
            tree.outcome = "not planned"
            tree.reason = ("this run did not record why (its convmig predates run-skipped events); "
                           "its counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _close_batches(batches: list[Batch], trees: dict[str, TreeRecord]) -> None:
    """A batch ends with the last outcome recorded for one of its trees."""
    for batch in batches:
        times = [t.settled for s in batch.stack_ids if (t := trees.get(s)) and t.settled]
        if times:
            batch.ended = max([*times, *([batch.ended] if batch.ended else [])])


def _chain(aggregate_id: UUID, kind: str, ident: str, name: str, items: list[StoredItem], indexed: dict) -> Chain:
    """One history's chain recomputed, plus what only the index can reveal (a cut-off end)."""
    result: ChainResult = verify_chain(aggregate_id, items)
    own = {aggregate_id: indexed[aggregate_id]} if aggregate_id in indexed else {}
    found = {aggregate_id: (result.version, result.head, not result.findings)}
    findings = list(result.findings) + _index_findings(own, found)
    labels = {aggregate_id: {"kind": kind, "id": ident, "name": name}}
    return Chain(kind, ident, name, result.version, result.head, [_finding_record(f, labels, own) for f in findings])
