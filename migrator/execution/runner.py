"""Running a command over many trees with the write-ahead protocol.

For each batch of trees: lock every stack of each tree (Heat's ``stack_lock``),
load and plan under the lock, record the plans in the event log (committed),
apply each tree in one database transaction with compare-and-swap, record the
outcomes, release the locks. Migrate and rollback both run through ``Runner``;
they differ only in the function that plans a batch.

Before its first batch a run recovers plans an earlier process recorded but
never finished (it died between the two log writes): the database says whether
they were applied, not applied, or changed by someone else since.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from events import EventLog, EventStoreError, HistoryUnverified, StackBusy, Unverified

from migrator import __version__
from migrator.execution.apply import Drift, apply_changes, apply_many, check
from migrator.planning.changes import RowChange, invert
from migrator.heat.connection import connect_checked, describe_db_error
from migrator.heat.engines import live_engines
from migrator.heat.indexes import SupportIndexes, index_name, serialised
from migrator.execution.faults import failpoint
from migrator.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, ConvmigError, Interrupted, exit_code
from migrator.heat.locks import StackLocks, pid_alive, same_host
from migrator.planning.plan import Refusal, TreePlan
from migrator.heat.schema import check_schema
from migrator.heat.tree import tree_stacks

#: Plans a batch under lock: (engine connection, root ids) -> plans in order.
BatchPlanner = Callable[[sa.Connection, list[str]], list[TreePlan]]
#: The stacks of each tree (root first; rows with at least "id" and "name").
StacksOf = Callable[[sa.Connection, list[str]], dict[str, list[dict]]]
#: Histories to append plans to: Heat id -> name in, Heat id -> StackHistory out.
Histories = Callable[[dict[str, str]], dict]
#: A verdict from stack rows alone: "noop", a Refusal, or None to go on.
Precheck = Callable[[list[dict]], "Refusal | str | None"]


#: A run's direction -> the outcome of a tree whose plan was applied.
DONE = {"migrate": "migrated", "rollback": "rolled back", "repair": "repaired"}


@dataclass
class TreeResult:
    """What happened to one tree in this run."""

    root_id: str
    name: str | None
    outcome: str  # one of DONE's values | "already done" | "skipped" | "failed" | "recovered"
    kind: str | None = None
    reason: str | None = None
    retryable: bool = False
    by_run: str | None = None  # "already done": the run whose applied plan did it

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class RunReport:
    run_id: str
    counts: Counter = field(default_factory=Counter)
    problems: list[TreeResult] = field(default_factory=list)  # skipped and failed trees
    recovered: list[TreeResult] = field(default_factory=list)
    done_by_others: list[TreeResult] = field(default_factory=list)  # already done, by another run

    def add(self, result: TreeResult) -> None:
        key = result.outcome if result.outcome not in ("skipped",) else f"skipped: {result.kind}"
        self.counts[key] += 1
        if result.outcome in ("skipped", "failed"):
            self.problems.append(result)
        if result.by_run and result.by_run != self.run_id:
            self.done_by_others.append(result)

    @property
    def exit_code(self) -> int:
        return exit_code([p.retryable for p in self.problems])

    @property
    def failed(self) -> list[TreeResult]:
        """Trees whose change was attempted and did not go through (drift, a database error)."""
        return [p for p in self.problems if p.outcome == "failed"]

    @property
    def outcome(self) -> str:
        """The run's outcome as the log records it: ``failed`` only when a tree failed,
        ``partial`` when trees were only refused, else ``done``."""
        if self.failed:
            return "failed"
        return "partial" if self.problems else "done"

    def headline(self) -> str:
        """The outcome in words: "done", "done, 7 refused", "failed: 1 failed, 7 refused"."""
        refused = len(self.problems) - len(self.failed)
        parts = [f"{len(self.failed)} failed"] if self.failed else []
        parts += [f"{refused} refused"] if refused else []
        if self.failed:
            return "failed: " + ", ".join(parts)
        return "done" + (f", {parts[0]}" if parts else "")


class StopSignals:
    """SIGINT and SIGTERM, turned into a request to stop at the next safe point.

    The first signal only sets a flag: the batch in hand finishes (its
    transaction and log writes are short and atomic), then ``check`` raises
    ``Interrupted`` and the run closes as usual: locks released, the run
    recorded as interrupted. A second signal stops at once (the default
    behaviour), for an operator who cannot wait."""

    CODES = {signal.SIGINT: EXIT_INTERRUPTED, signal.SIGTERM: EXIT_TERMINATED}

    def __init__(self, install: bool = True):
        self.received: int | None = None
        self.previous = {}
        if install and threading.current_thread() is threading.main_thread():
            for sig in self.CODES:
                self.previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, _frame) -> None:
        if self.received is not None:
            self.restore()
            signal.raise_signal(signum)
            return
        self.received = signum

    def check(self) -> None:
        if self.received is not None:
            raise Interrupted(signal.Signals(self.received).name, self.CODES[self.received])

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}


def operator_name() -> str:
    try:
        return os.environ.get("CONVMIG_OPERATOR") or getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return f"uid {os.getuid()}"


class Runner:
    """One convmig run: Heat's database, the event log, the run record, the locks."""

    def __init__(self, settings, *, command: str, direction: str, arguments: dict, selection: dict,
                 online: bool = False, retry_of: uuid.UUID | None = None):
        self.settings = settings
        self.command = command
        self.direction = direction
        self.arguments = arguments
        self.selection = selection
        self.online = online
        self.retry_of = retry_of
        self.engine: Engine | None = None
        self.log: EventLog | None = None
        self.run = None
        self.locks: StackLocks | None = None
        self.report: RunReport | None = None
        self._stop = StopSignals(install=False)  # until the run is entered
        self.indexes: SupportIndexes | None = None
        self._others: dict[str, bool] = {}  # run id -> did it overlap this run

    # ----------------------------------------------------------------- lifecycle

    def open(self) -> None:
        """Check the database and engines, open the log and record the run (committed)
        before any row of Heat's is touched."""
        self.engine = connect_checked(self.settings.db_url)
        with self.engine.connect() as conn:
            check_schema(conn)
            live = live_engines(conn)
        if live and not self.online:
            names = "; ".join(e.describe() for e in live)
            raise ConvmigError(f"heat-engine is running ({names}): stop the engines, or pass --online to work beside them under stack locks")
        try:
            self.log = EventLog.open(self.settings.event_store_url)
        except EventStoreError as exc:
            raise ConvmigError(f"event log unavailable, nothing was changed: {exc}") from None
        where = self.settings.provenance()
        self.run = self.log.start_run(
            command=self.command, arguments={**self.arguments, **where}, selection=self.selection,
            operator=operator_name(), host=socket.gethostname(), pid=os.getpid(),
            version=__version__, retry_of=self.retry_of,
        )
        self._save(self.run)
        self.report = RunReport(str(self.run.id))
        self.locks = StackLocks(self.engine, str(self.run.id), self._probe_convmig)
        self._build_indexes()

    def _build_indexes(self) -> None:
        """Supporting indexes for this run (see ``migrator.heat.indexes``), recorded
        in the run's log before they are built; a killed run's leftovers are
        taken in charge and dropped at the end like this run's own. They only
        make the run faster: if one cannot be built, the run goes on without it."""
        self.indexes = SupportIndexes(self.engine)
        try:
            with serialised(self.engine) as conn:
                planned = self.indexes.plan()
                if planned:
                    self.run.note("indexes", planned)
                    self._save(self.run)
                self.indexes.build(conn)
        except sa.exc.DBAPIError as exc:
            self.run.note("indexes", {"not built": describe_db_error(exc, self.engine.url)})
            self._save(self.run)
        failpoint("after-indexes")

    def _drop_indexes(self) -> None:
        """Heat's schema as before: every supporting index this run holds goes. If
        the database is gone, the next run (or rollback) drops what is left."""
        if self.indexes is None or not self.indexes.held:
            return
        try:
            self.indexes.remove()
            detail = {"dropped": "all"}
        except sa.exc.DBAPIError as exc:
            left = [index_name(t, c) for t, c in self.indexes.held]
            detail = {"left for the next run": left, "reason": describe_db_error(exc, self.engine.url)}
        if self.run is not None and self.run.outcome is None:
            self.run.note("indexes", detail)

    def __enter__(self) -> "Runner":
        self._stop = StopSignals()
        try:
            self.open()
        except BaseException:
            self.close(interrupted=True)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.close(interrupted=exc_type is not None)
        finally:
            self._stop.restore()

    def close(self, interrupted: bool = False) -> None:
        """Release every lock we hold, record how the run ended, close connections."""
        try:
            if self.locks is not None:
                self._release_all(quiet=interrupted)
            self._drop_indexes()
            if self.run is not None and self.report is not None:
                self._finish("interrupted" if interrupted else self.report.outcome, quiet=interrupted)
        finally:
            if self.engine is not None:
                self.engine.dispose()  # first: the log may then restore SQLite's journal mode
            if self.log is not None:
                self.log.close()

    def _release_all(self, quiet: bool) -> None:
        """Every lock of ours. After another failure (a full disk, a cut
        connection) a release that fails too is retried once on a new
        connection, then left to the next run, which removes dead runs' locks."""
        for attempt in (1, 2):
            try:
                self.locks.release()
                return
            except sa.exc.DBAPIError:
                self.engine.dispose()
                if attempt == 2 and not quiet:
                    raise

    def _finish(self, outcome: str, quiet: bool) -> None:
        """Record the run's end. After another failure (``quiet``) a log that still
        refuses the write is not news: the earlier error is the one reported, and
        the next run closes this one when it recovers."""
        if self.run.outcome is not None:
            return
        self.run.finish(outcome, dict(self.report.counts))
        try:
            self._save(self.run)
        except (ConvmigError, StackBusy):
            if not quiet:
                raise

    def _probe_convmig(self, engine_id: str) -> tuple[bool, bool, str]:
        """Is this lock owner a convmig run, and is its process still there?"""
        try:
            run = self.log.get_run(uuid.UUID(engine_id))
        except (ValueError, TypeError):
            return False, False, ""
        except HistoryUnverified:
            return True, True, f"convmig run {engine_id} (its log does not verify: lock kept)"
        if run is None:
            return False, False, ""
        detail = f"convmig run {engine_id} (pid {run.pid} on {run.host})"
        if run.outcome is not None:
            return True, False, detail
        if same_host(run.host):
            return True, pid_alive(run.pid), detail
        return True, True, detail  # another host: cannot tell, assume alive

    def _save(self, *aggregates) -> None:
        try:
            self.log.save(*aggregates)
        except EventStoreError as exc:
            raise ConvmigError(f"event log write failed: {exc}") from None

    # ----------------------------------------------------------------- recovery

    def recover(self) -> list[str]:
        """Settle every plan recorded without an outcome; return the roots whose plan
        was found not applied (the caller may run them again)."""
        not_applied = []
        self.locks.clear_dead()
        for stack_id in self.log.stacks_with_pending():
            hist = self._history(stack_id)
            pending = hist.pending if hist else None
            if not pending:
                continue
            members = pending["summary"].get("stacks") or [stack_id]
            failpoint("recover-seen")
            if self.locks.acquire({stack_id: members}):
                continue  # a live process holds it: not ours to judge
            try:
                settled = self._settle(stack_id, pending)
            finally:
                self.locks.release(members)
            if settled is None:
                continue
            hist, outcome, detail = settled
            result = TreeResult(stack_id, hist.stack_name, "recovered", outcome, detail)
            self.report.recovered.append(result)
            self._close_dead_run(pending["run_id"])
            if outcome == "not_applied" and pending["direction"] == self.direction:
                not_applied.append(stack_id)
        return not_applied

    def _settle(self, stack_id: str, seen: dict):
        """Judge and record one open plan, holding its locks. The history is read
        again under the lock: the plan's own run may have finished it between our
        first look and the lock (it released the lock after recording), and another
        recovering process may record first; either way it is no longer ours."""
        hist = self._history(stack_id)
        pending = hist.pending if hist else None
        if not pending or pending["version"] != seen["version"]:
            return None
        outcome, detail = self._judge(pending)
        hist.recovered(self.run.id, outcome=outcome, detail=detail)
        try:
            self._save(hist)
        except StackBusy:
            return None
        return hist, outcome, detail

    def _history(self, stack_id: str):
        """The stack's history for recovery, or None when it does not verify: then
        it is reported (once) as refused, and nothing of it is judged or written."""
        found = self.log.stacks([stack_id])[stack_id]
        if isinstance(found, Unverified):
            if all(p.root_id != stack_id for p in self.report.problems):
                self.report.add(TreeResult(stack_id, None, "failed", "unverified", found.message))
            return None
        return found

    def _close_dead_run(self, run_id) -> None:
        """Record that a run whose plan we just recovered was interrupted."""
        try:
            run = self.log.get_run(run_id)
        except HistoryUnverified:
            return  # its own log is damaged: leave it for the operator
        if run is not None and run.outcome is None and run.id != self.run.id:
            run.finish("interrupted", {"recovered_by": str(self.run.id)})
            try:
                self._save(run)
            except StackBusy:
                pass  # another recovering process closed it first

    def _judge(self, pending: dict) -> tuple[str, str]:
        changes = [RowChange.from_dict(c) for c in pending["changes"]]
        with self.engine.connect() as conn:
            before = check(conn, changes, lock=False)
            after = check(conn, invert(changes), lock=False) if before else []
        if not before:
            return "not_applied", f"{len(changes)} change(s) of run {pending['run_id']} were never applied"
        if not after:
            return "applied", f"{len(changes)} change(s) of run {pending['run_id']} were applied before the process died"
        return "drifted", "the tree matches neither the recorded before- nor after-image: " + after[0].describe()

    # ----------------------------------------------------------------- batches

    def process(self, root_ids: list[str], planner: BatchPlanner, stacks_of: StacksOf = tree_stacks,
                precheck: Precheck | None = None, histories: Histories | None = None) -> list[TreeResult]:
        """Check, lock, plan, record, apply and record again, for one batch of trees.
        ``histories`` supplies the trees' log histories when the planner already
        read them (default: the log)."""
        self._stop.check()  # a safe point: between batches, nothing held
        with self.engine.connect() as conn:
            trees = stacks_of(conn, root_ids)
        results = self._prechecked(trees, precheck) if precheck else {}
        membership = {r: [row["id"] for row in rows] for r, rows in trees.items() if r not in results}
        for root, (reason, retryable) in self.locks.acquire(membership).items():
            results[root] = TreeResult(root, trees[root][0].get("name"), "skipped", "locked", reason, retryable)
        try:
            to_plan = [r for r in root_ids if r not in results]
            with self.engine.connect() as conn:
                plans = planner(conn, to_plan) if to_plan else []
                conn.rollback()
            self._guard_membership(plans, membership, results)
            if precheck:
                self._credit_raced([p for p in plans if p.noop and p.root_id not in results])
            work = [p for p in plans if p.root_id not in results and p.has_work]
            for p in plans:
                if p.root_id not in results and not p.has_work:
                    results[p.root_id] = self._not_applied(p)
            failpoint("before-record")
            histories = self._record_plans(work, results, root_ids, histories or self.log.histories)
            failpoint("after-record")
            self._apply_batch([p for p in work if p.root_id not in results], histories, results)
            self._note_skipped(root_ids, results)
            self._save(*histories.values(), self.run)
            failpoint("after-outcome")
        finally:
            self.locks.release([s for ids in membership.values() for s in ids])
        ordered = [results[r] for r in dict.fromkeys(root_ids) if r in results]
        for res in ordered:
            self.report.add(res)
        return ordered

    def _note_skipped(self, root_ids: list[str], results: dict[str, TreeResult]) -> None:
        """Record in the run which trees of the batch were skipped and why (saved
        with the batch's outcomes): the change record (``convmig report``) names them."""
        skipped = [results[r] for r in dict.fromkeys(root_ids) if r in results and results[r].outcome == "skipped"]
        self.run.skipped([{"stack_id": r.root_id, "name": r.name or "", "kind": r.kind or "",
                           "reason": r.reason or "", "retryable": r.retryable} for r in skipped])

    @staticmethod
    def _prechecked(trees: dict[str, list[dict]], precheck: Precheck) -> dict[str, TreeResult]:
        """Trees settled from their stack rows alone, before any lock is taken."""
        results = {}
        for root, rows in trees.items():
            verdict = precheck(rows)
            name = rows[0].get("name")
            if verdict == "noop":
                results[root] = TreeResult(root, name, "already done")
            elif verdict is not None:
                results[root] = TreeResult(root, name, "skipped", verdict.kind, verdict.message, verdict.retryable)
        return results

    def _guard_membership(self, plans: list[TreePlan], membership: dict, results: dict) -> None:
        """A nested stack created after we locked the tree would escape the lock."""
        for p in plans:
            locked = set(membership.get(p.root_id, []))
            now = {sid for sid, _ in p.stacks}
            if p.stacks and not now <= locked:
                results[p.root_id] = TreeResult(p.root_id, p.root_name, "skipped", "busy",
                                                f"tree {p.root_name} ({p.root_id}) changed while convmig locked it: re-run", True)

    def _credit_raced(self, plans: list[TreePlan]) -> None:
        """Name the run that did each tree found done under the lock though the
        precheck, just before, found work: another process got there first (four
        ``migrate --all`` at once), and the log says which. Only these trees cost
        a log read; a tree done before the run began is settled by the precheck."""
        if not plans:
            return
        found = self.log.stacks([p.root_id for p in plans])
        for plan in plans:
            hist = found.get(plan.root_id)
            done = None if hist is None or isinstance(hist, Unverified) else hist.last_applied(self.direction)
            if done is not None:
                plan.done_by = str(done["run_id"])
                plan.notes.append(f"stack {plan.root_name} ({plan.root_id}) is already {DONE[self.direction]} "
                                  f"by run {plan.done_by[:8]}: nothing to do")

    def _overlapped(self, run_id: str) -> bool:
        """Was that run still going when this one started? Then the tree it did is
        a sibling's work, worth a note; a repeat of a finished job stays quiet.
        (Asked once per run; a run whose record does not verify is not named.)"""
        if run_id not in self._others:
            try:
                other = self.log.get_run(uuid.UUID(run_id))
            except (HistoryUnverified, ValueError):
                other = None
            self._others[run_id] = other is not None and other.id != self.run.id and (
                other.outcome is None or other.modified_on >= self.run.created_on)
        return self._others[run_id]

    def _not_applied(self, plan: TreePlan) -> TreeResult:
        if plan.outcome == "noop":
            if plan.done_by is None or not self._overlapped(plan.done_by):
                return TreeResult(plan.root_id, plan.root_name, "already done")
            return TreeResult(plan.root_id, plan.root_name, "already done", f"already {DONE[self.direction]}",
                              plan.notes[-1], by_run=plan.done_by)
        first: Refusal = plan.refusals[0]
        reason = "; ".join(r.message for r in plan.refusals)
        return TreeResult(plan.root_id, plan.root_name, "skipped", first.kind, reason, plan.retryable)

    def _record_plans(self, work: list[TreePlan], results: dict, root_ids: list[str], source: Histories) -> dict:
        """Write-ahead: every plan is committed to the log, with the run's note of
        the trees it took up, before any tree is touched (so a run killed after
        applying still lists every tree it planned). A tree another process
        recorded first is reported busy; the rest are recorded again, from fresh
        aggregates, since a failed save stores nothing and leaves stale ones."""
        plans = {p.root_id: p for p in work}
        while True:
            histories = self._usable(source({root: plan.root_name or "" for root, plan in plans.items()}), plans, results)
            for root, plan in plans.items():
                self._planned(histories[root], plan, self.run.id, self.direction)
            self.run.cover(list(root_ids))
            try:
                self._save(*histories.values(), self.run)
                return histories
            except StackBusy as busy:
                self.run = self.log.get_run(self.run.id)
                for stack_id in busy.stack_ids:
                    plans.pop(stack_id, None)
                    results[stack_id] = TreeResult(
                        stack_id, None, "skipped", "busy",
                        f"stack {stack_id} is being handled by another convmig process: re-run later", True)

    @staticmethod
    def _usable(histories: dict, plans: dict, results: dict) -> dict:
        """The histories that verify; each tree whose history does not is refused
        (verify before use: nothing is appended to it, nothing written to Heat)."""
        for root, hist in list(histories.items()):
            if isinstance(hist, Unverified):
                plan = plans.pop(root)
                del histories[root]
                results[root] = TreeResult(root, plan.root_name, "failed", "unverified", hist.message)
        return histories

    @staticmethod
    def _planned(hist, plan: TreePlan, run_id, direction: str) -> None:
        """Append this plan to the tree's history (not yet saved)."""
        summary = {**plan.summary(), "stacks": [s for s, _ in plan.stacks], "notes": plan.notes,
                   "resources": plan.kept_resources}
        if plan.undoes is not None:
            summary["undoes"] = plan.undoes
        hist.planned(run_id, direction=direction, changes=[c.to_dict() for c in plan.changes], summary=summary)

    def _apply_batch(self, plans: list[TreePlan], histories: dict, results: dict) -> None:
        """All trees of the batch in one transaction (one commit instead of one per
        tree); a tree whose images drifted is left out whole. Should the batch's
        write fail, it is rolled back and each tree is applied on its own."""
        if not plans:
            return
        try:
            with self.engine.begin() as conn:
                diffs = apply_many(conn, [p.changes for p in plans])
                failpoint("before-commit")
        except (sa.exc.DBAPIError, ValueError):
            for plan in plans:
                results[plan.root_id] = self._apply(plan, histories[plan.root_id])
            failpoint("after-apply")
            return
        failpoint("after-apply")
        for plan, found in zip(plans, diffs):
            hist = histories[plan.root_id]
            results[plan.root_id] = self._drifted(plan, hist, Drift(found)) if found else self._applied(plan, hist)

    def _applied(self, plan: TreePlan, hist) -> TreeResult:
        hist.applied(self.run.id, summary=plan.summary())
        return TreeResult(plan.root_id, plan.root_name, DONE[self.direction])

    def _drifted(self, plan: TreePlan, hist, exc: Drift) -> TreeResult:
        reason = f"tree {plan.root_name} ({plan.root_id}) changed since it was planned, nothing written: {exc}"
        hist.failed(self.run.id, reason=reason)
        return TreeResult(plan.root_id, plan.root_name, "failed", "drift", reason)

    def _apply(self, plan: TreePlan, hist) -> TreeResult:
        """One tree in its own transaction; any difference from the images refuses it."""
        try:
            with self.engine.begin() as conn:
                apply_changes(conn, plan.changes)
        except Drift as exc:
            return self._drifted(plan, hist, exc)
        except sa.exc.DBAPIError as exc:
            reason = f"tree {plan.root_name} ({plan.root_id}): {describe_db_error(exc, self.engine.url)}"
            hist.failed(self.run.id, reason=reason)
            return TreeResult(plan.root_id, plan.root_name, "failed", "database", reason)
        return self._applied(plan, hist)
