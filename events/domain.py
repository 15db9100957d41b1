"""The event-sourced model of convmig's log: runs and stack histories.

Two aggregates, no persistence here:

* ``Run``: one per command invocation. What was asked (command, arguments,
  selection, operator, host, pid, convmig version, the run it retries), which
  trees it took up, and how it ended.
* ``StackHistory``: one per root stack, for its whole life across runs:
  planned (with every row change, before and after), applied, failed, refused,
  recovered, in any direction (migrate, repair of the dependencies of a tree
  already on convergence, or rollback of either). Its id is derived from
  the Heat stack id, so two processes creating or extending the same history
  race on the same (id, version) and the loser gets a concurrency conflict.

Every event of both carries ``prev_hash`` (see ``chain``), and each aggregate
keeps ``head``, the digest of its newest event.

Event class names and this module's path are stored as topics: renaming either
breaks reading old logs (use ``eventsourcing.utils.register_topic`` if ever
needed). Validation happens in the command methods, before an event exists, so
replay never fails on a rule added later.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Iterator, Optional
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate

from .chain import GENESIS, HASH_FORMAT, event_hash
from .secrets import mask_urls, redact

DIRECTIONS = ("migrate", "rollback", "repair")
#: Directions that move a tree forward; a rollback undoes the newest one not yet undone.
FORWARD = ("migrate", "repair")
RUN_OUTCOMES = ("done", "partial", "failed", "interrupted")
RECOVERY_OUTCOMES = ("applied", "not_applied", "drifted")
ROW_OPS = ("update", "delete", "insert")

_SCALARS = (str, int, float, bool, type(None), datetime, date, time, timedelta, Decimal, bytes, UUID)


#: Exact types kept as they are once seen (floats are checked for finiteness first).
_KEPT = frozenset({str, int, bool, type(None), datetime, date, time, timedelta, Decimal, bytes, UUID})
_STR = frozenset({str})


def stack_aggregate_id(stack_id: str) -> UUID:
    """The StackHistory id of a Heat stack: the same in every process."""
    return uuid5(NAMESPACE_URL, f"convmig:stack:{stack_id}")


def normalise(value: Any, path: Any = "$") -> Any:
    """A copy of a payload in the types the store round-trips exactly.

    Drivers hand back ``memoryview``/``bytearray`` (bytes), tuples come back as
    lists anyway, and an unsupported type (a set, an ORM object) is refused
    here, naming where it is, rather than later inside ``save()``. A plan holds
    thousands of values, so the common types are decided by one set lookup and
    the path (``path`` may be a (parent, key) pair) is only spelt out for an error.
    """
    kind = type(value)
    if kind in _KEPT:  # the common case, and the hot path for large plans
        return value
    if kind is dict and _STR.issuperset(map(type, value)) and _KEPT.issuperset(map(type, value.values())):
        return dict(value)  # a flat row image: decided and copied at C level
    if kind is list and _KEPT.issuperset(map(type, value)):
        return list(value)
    if kind is dict or isinstance(value, dict):
        return {(k if type(k) is str else str(k)): (v if type(v) in _KEPT else normalise(v, (path, k)))
                for k, v in value.items()}
    if kind is list or isinstance(value, (list, tuple)):
        return [v if type(v) in _KEPT else normalise(v, (path, i)) for i, v in enumerate(value)]
    if isinstance(value, (memoryview, bytearray)):
        return bytes(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise TypeError(f"cannot record the non-finite number {value} at {_spell(path)}")
    if isinstance(value, _SCALARS):
        return value
    raise TypeError(f"cannot record a value of type {type(value).__name__} at {_spell(path)}")


def _spell(path: Any) -> str:
    """``(("$", "a"), 0)`` as ``$.a[0]``."""
    if not isinstance(path, tuple):
        return str(path)
    parent, key = path
    return f"{_spell(parent)}[{key}]" if isinstance(key, int) else f"{_spell(parent)}.{key}"


def _check_change(change: dict, index: int) -> None:
    """A row change must name its table, key and operation, with the images its op needs."""
    where = f"changes[{index}]"
    if not isinstance(change, dict):
        raise ValueError(f"{where} is not a dict")
    missing = {"table", "pk", "op"} - change.keys()
    if missing:
        raise ValueError(f"{where} lacks {', '.join(sorted(missing))}")
    if change["op"] not in ROW_OPS:
        raise ValueError(f"{where}: op must be one of {', '.join(ROW_OPS)}, not {change['op']!r}")
    if change["op"] in ("update", "delete") and not isinstance(change.get("before"), dict):
        raise ValueError(f"{where}: a {change['op']} needs a before-image")
    if change["op"] in ("update", "insert") and not isinstance(change.get("after"), dict):
        raise ValueError(f"{where}: an {change['op']} needs an after-image")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


class ChainedAggregate(Aggregate):
    """An aggregate whose events are linked by ``prev_hash`` into a hash chain.

    The link is computed by the command (``_record``) and stored in the event.
    ``head`` is the digest of the newest event, computed when first asked for:
    by the next command (its link) or by the save (the index records it).
    Replay therefore hashes nothing, and a loaded history costs one digest,
    of its newest event, only if something is appended to it. Replay does not
    check the links either way: ``convmig log --verify`` recomputes them all.
    """

    class Event(Aggregate.Event):
        prev_hash: str
        hash_format: int  # absent from events recorded before formats: read as 1

        def mutate(self, aggregate):
            aggregate = super().mutate(aggregate)
            aggregate.__dict__.update(_newest=self, _head=None)
            return aggregate

    class Created(Event, Aggregate.Created):
        pass

    @property
    def head(self) -> str:
        """The digest of the newest event (GENESIS before any), computed once."""
        newest = self.__dict__.get("_newest")
        if newest is None:
            return GENESIS
        if self.__dict__["_head"] is None:
            self.__dict__["_head"] = event_hash(newest)
        return self.__dict__["_head"]

    def _record(self, event_class: type, **fields: Any) -> None:
        """Trigger an event linked to the current head. Every payload was
        normalised first, so it can be hashed when its own digest is needed."""
        self.trigger_event(event_class, prev_hash=self.head, hash_format=HASH_FORMAT, **fields)


class Run(ChainedAggregate):
    """One command invocation: what was asked, what it covered, how it ended."""

    class Started(ChainedAggregate.Created):
        command: str
        arguments: dict
        selection: dict
        operator: str
        host: str
        pid: int
        version: str
        retry_of: Optional[UUID]

    class Covered(ChainedAggregate.Event):
        stack_ids: list

        def apply(self, aggregate: "Run") -> None:
            seen = set(aggregate.covered)
            aggregate.covered.extend(s for s in self.stack_ids if s not in seen)

    class Skipped(ChainedAggregate.Event):
        """Trees of one batch the run left alone, each with why (kind, reason):
        refusals are recorded nowhere else, and a change record must name them."""

        trees: list

    class Finished(ChainedAggregate.Event):
        outcome: str
        counts: dict

        def apply(self, aggregate: "Run") -> None:
            aggregate.outcome, aggregate.counts = self.outcome, dict(self.counts)

    class Noted(ChainedAggregate.Event):
        """Something the run did beside Heat's rows (e.g. supporting indexes)."""

        what: str
        detail: dict

        def apply(self, aggregate: "Run") -> None:
            aggregate.notes.append({"what": self.what, **self.detail})

    def __init__(self, command, arguments, selection, operator, host, pid, version, retry_of):
        self.command, self.arguments, self.selection = command, arguments, selection
        self.operator, self.host, self.pid = operator, host, pid
        #: the convmig release that ran (``version`` is the aggregate's own counter)
        self.convmig_version = version
        self.retry_of = retry_of
        self.outcome: str | None = None
        self.counts: dict = {}
        self.covered: list[str] = []
        self.notes: list[dict] = []

    @classmethod
    def start(
        cls,
        *,
        command: str,
        arguments: dict,
        selection: dict,
        operator: str,
        host: str,
        pid: int,
        version: str,
        retry_of: UUID | None = None,
    ) -> "Run":
        """A new run; secrets in the arguments and selection are redacted before recording."""
        return cls._create(
            cls.Started,
            id=uuid4(),
            prev_hash=GENESIS,
            hash_format=HASH_FORMAT,
            command=command,
            arguments=normalise(redact(arguments)),
            selection=normalise(redact(selection)),
            operator=mask_urls(operator),
            host=host,
            pid=int(pid),
            version=version,
            retry_of=retry_of,
        )

    @property
    def started_on(self) -> datetime:
        return self.created_on

    def cover(self, stack_ids: list[str]) -> None:
        """Record trees this run took up (call once per batch); repeats are ignored."""
        if self.outcome is not None:
            raise ValueError(f"run {self.id} already finished ({self.outcome})")
        covered = set(self.covered)  # once: a run of 50,000 trees covers 100 batches
        new = [s for s in dict.fromkeys(map(str, stack_ids)) if s not in covered]
        if new:
            self._record(self.Covered, stack_ids=new)

    def skipped(self, trees: list[dict]) -> None:
        """Record trees this run did not change and why: dicts with ``stack_id``,
        ``name``, ``kind`` and ``reason`` (passwords in URLs masked)."""
        if self.outcome is not None:
            raise ValueError(f"run {self.id} already finished ({self.outcome})")
        if trees:
            shown = [{k: (mask_urls(v) if isinstance(v, str) else v) for k, v in t.items()} for t in trees]
            self._record(self.Skipped, trees=normalise(shown, "trees"))

    def note(self, what: str, detail: dict) -> None:
        """Record something the run did outside Heat's rows, so the log shows it
        and a later run can tell (e.g. the supporting indexes it created)."""
        self._record(self.Noted, what=what, detail=normalise(detail))

    def finish(self, outcome: str, counts: dict) -> None:
        """Record how the run ended; a run finishes once."""
        _check_choice("outcome", outcome, RUN_OUTCOMES)
        if self.outcome is not None:
            raise ValueError(f"run {self.id} already finished ({self.outcome})")
        self._record(self.Finished, outcome=outcome, counts=normalise(counts))


class StackHistory(ChainedAggregate):
    """Everything convmig did to one root stack, in order, across runs."""

    class Opened(ChainedAggregate.Created):
        stack_id: str
        stack_name: str

    class Planned(ChainedAggregate.Event):
        run_id: UUID
        direction: str
        changes: list
        summary: dict

        def apply(self, aggregate: "StackHistory") -> None:
            aggregate._add(self, "planned", changes=self.changes, summary=self.summary)

    class Applied(ChainedAggregate.Event):
        run_id: UUID
        direction: str
        summary: Optional[dict]

        def apply(self, aggregate: "StackHistory") -> None:
            aggregate._add(self, "applied", summary=self.summary)

    class Failed(ChainedAggregate.Event):
        run_id: UUID
        direction: str
        reason: str

        def apply(self, aggregate: "StackHistory") -> None:
            aggregate._add(self, "failed", reason=self.reason)

    class Refused(ChainedAggregate.Event):
        run_id: UUID
        direction: str
        reason: str

        def apply(self, aggregate: "StackHistory") -> None:
            aggregate._add(self, "refused", reason=self.reason)

    class Recovered(ChainedAggregate.Event):
        run_id: UUID
        direction: str
        outcome: str
        detail: str

        def apply(self, aggregate: "StackHistory") -> None:
            aggregate._add(self, "recovered", outcome=self.outcome, detail=self.detail)

    @staticmethod
    def create_id(stack_id: str) -> UUID:
        return stack_aggregate_id(stack_id)

    def __init__(self, stack_id: str, stack_name: str):
        self.stack_id, self.stack_name = stack_id, stack_name
        self.entries: list[dict] = []

    @classmethod
    def open(cls, stack_id: str, stack_name: str) -> "StackHistory":
        """A new, empty history (its id follows from ``stack_id``)."""
        return cls._create(
            cls.Opened, id=stack_aggregate_id(stack_id), prev_hash=GENESIS, hash_format=HASH_FORMAT, stack_id=str(stack_id), stack_name=str(stack_name or "")
        )

    def _add(self, event: Any, kind: str, **data: Any) -> None:
        """Append one entry (a plain dict) for an event; used only by ``apply``."""
        self.entries.append(
            {
                "kind": kind,
                "version": event.originator_version,
                "timestamp": event.timestamp,
                "run_id": event.run_id,
                "direction": event.direction,
                **data,
            }
        )

    # -- commands ---------------------------------------------------------

    def planned(self, run_id: UUID, *, direction: str, changes: list[dict], summary: dict) -> None:
        """Record a plan before any of it is applied; one plan may be open at a time."""
        _check_choice("direction", direction, DIRECTIONS)
        if self.pending is not None:
            raise ValueError(
                f"stack {self.stack_id} has an open plan from run {self.pending['run_id']}; record its outcome first"
            )
        for index, change in enumerate(changes):
            _check_change(change, index)
        self._record(
            self.Planned, run_id=run_id, direction=direction, changes=normalise(changes, "changes"), summary=normalise(summary or {})
        )

    def applied(self, run_id: UUID, *, summary: dict | None = None) -> None:
        """Record that the open plan was committed to Heat's database."""
        plan = self._open_plan("applied")
        self._record(self.Applied, run_id=run_id, direction=plan["direction"], summary=normalise(summary) if summary is not None else None)

    def failed(self, run_id: UUID, *, reason: str) -> None:
        """Record that applying the open plan failed (nothing of it was committed)."""
        plan = self._open_plan("failed")
        self._record(self.Failed, run_id=run_id, direction=plan["direction"], reason=mask_urls(str(reason)))

    def refused(self, run_id: UUID, *, reason: str, direction: str = "migrate") -> None:
        """Record a refusal at planning time (nothing was planned or written)."""
        _check_choice("direction", direction, DIRECTIONS)
        self._record(self.Refused, run_id=run_id, direction=direction, reason=mask_urls(str(reason)))

    def recovered(self, run_id: UUID, *, outcome: str, detail: str) -> None:
        """Record what a crashed run's open plan turned out to have done."""
        _check_choice("outcome", outcome, RECOVERY_OUTCOMES)
        plan = self._open_plan("recovered")
        self._record(self.Recovered, run_id=run_id, direction=plan["direction"], outcome=outcome, detail=mask_urls(str(detail)))

    def _open_plan(self, what: str) -> dict:
        plan = self.pending
        if plan is None:
            raise ValueError(f"stack {self.stack_id} has no open plan to record as {what}")
        return plan

    # -- queries ----------------------------------------------------------

    @property
    def pending(self) -> dict | None:
        """The last plan with no applied/failed/recovered after it, else None."""
        for entry in reversed(self.entries):
            if entry["kind"] in ("applied", "failed", "recovered"):
                return None
            if entry["kind"] == "planned":
                return {k: entry[k] for k in ("run_id", "direction", "changes", "summary", "version")}
        return None

    def last_applied(self, direction: str = "migrate") -> dict | None:
        """The newest plan of ``direction`` that was applied (or recovered as applied)."""
        found = [p for p in self._settled() if p["direction"] == direction]
        return found[-1] if found else None

    def _settled(self) -> Iterator[dict]:
        """Each plan whose outcome is "applied" (or recovered as applied), in order."""
        plan = None
        for entry in self.entries:
            if entry["kind"] == "planned":
                plan = entry
            elif plan is not None and entry["kind"] in ("applied", "failed", "recovered"):
                if entry["kind"] == "applied" or entry.get("outcome") == "applied":
                    yield plan
                plan = None

    def standing(self) -> list[dict]:
        """The applied forward plans (migrate, repair) that no applied rollback has undone,
        oldest first: what ``rollback`` can still take back, newest first.

        A rollback plan names the version it undoes (``summary["undoes"]``); one
        recorded before repairs existed undid the newest migration.
        """
        done: list[dict] = []
        for plan in self._settled():
            if plan["direction"] in FORWARD:
                done.append(plan)
                continue
            undoes = (plan.get("summary") or {}).get("undoes")
            if undoes is None:
                undoes = next((p["version"] for p in reversed(done) if p["direction"] == "migrate"), None)
            done = [p for p in done if p["version"] != undoes]
        return done

    def to_undo(self) -> dict | None:
        """The plan a rollback takes back now: the newest standing forward plan."""
        standing = self.standing()
        return standing[-1] if standing else None

    @property
    def state(self) -> str:
        """Where the stack stands according to the log.

        ``new`` (nothing recorded), ``planned``/``rollback_planned``/``repair_planned``
        (an open plan), ``migrated``/``rolled_back``/``repaired`` (last outcome
        applied), ``failed``, ``interrupted`` (recovered as not applied),
        ``drifted`` or ``refused``, each with the ``rollback_``/``repair_`` prefix
        when the plan was one.
        """
        if not self.entries:
            return "new"
        last = self.entries[-1]
        prefix = "" if last["direction"] == "migrate" else last["direction"] + "_"
        kind = last["kind"]
        if kind == "recovered":
            kind = {"applied": "applied", "not_applied": "interrupted", "drifted": "drifted"}[last["outcome"]]
        if kind == "applied":
            return {"migrate": "migrated", "rollback": "rolled_back", "repair": "repaired"}[last["direction"]]
        return prefix + kind

    @property
    def converged(self) -> bool:
        """True when a migration by convmig stands (applied, not rolled back since)."""
        return any(p["direction"] == "migrate" for p in self.standing())
