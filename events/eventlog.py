"""``EventLog``: the one object the migrator and rollback talk to.

It opens (and if needed creates) the store, hands out aggregates, and saves
them atomically together with the index rows that summarise them. Every
storage failure leaves here as ``EventStoreError`` (one line), every lost
concurrency race as ``StackBusy``; callers never see library exceptions.

After a failed ``save()`` the events that were not stored are pending again
on their aggregates: saving the aggregate later stores them (no version gap),
or discard it and reload with ``stack()``/``get_run()``.
"""

from __future__ import annotations

import os
import re
from itertools import groupby
from typing import Any, Iterator, Mapping, Sequence
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import OriginatorVersionError
from eventsourcing.persistence import (
    MapperDeserialisationError,
    Notification,
    PersistenceError,
    RecordConflictError,
    StoredEvent,
)
from eventsourcing.utils import TopicError

from . import index
from .chain import StoredItem, verify_chain
from .domain import Run, StackHistory, stack_aggregate_id
from .errors import EventStoreError, HistoryUnverified, NoEventLog, StackBusy, Unverified
from .secrets import display_url
from .store import ConvmigApp, app_env, ensure_schema, journal_mode, normalise_url, read_only_url, restore_journal_mode

#: Most state bytes fetched in one query when scanning the whole log.
SCAN_BYTES = 64 * 1024 * 1024
SCAN_ROWS = 1000


def reason(exc: BaseException) -> str:
    """The first line of the innermost database error, without driver tuple noise."""
    seen = exc
    while True:
        inner = getattr(seen, "orig", None) or seen.__cause__
        if inner is None or inner is seen:
            break
        seen = inner
    args = getattr(seen, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = args[1]
    else:
        text = str(seen) or type(seen).__name__
    return text.strip().splitlines()[0] if text.strip() else type(seen).__name__


def _is_race(exc: BaseException) -> bool:
    """A conflict on (aggregate, version), or a deadlock between two savers."""
    if isinstance(exc, (RecordConflictError, sa.exc.IntegrityError)):
        return True
    text = reason(exc).lower()
    return "deadlock" in text or "lock wait timeout" in text


class RunNotFound(LookupError):
    """``find_run`` was given a well-formed id or prefix that no run has."""


class EventLog:
    """convmig's append-only, hash-chained event log."""

    def __init__(self, app: ConvmigApp, display_url: str, encrypted: bool):
        self.app = app
        self.display_url = display_url
        self.encrypted = encrypted

    # -- opening ------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, env: Mapping[str, str] | None = None, read_only: bool = False) -> "EventLog":
        """Open the store at ``url``, creating the convmig tables if missing.

        ``env`` supplies ``CONVMIG_CIPHER_KEY``/``CONVMIG_CIPHER_KEY_FILE``
        (default: the process environment). On MySQL/MariaDB the session and
        the events column are checked (see ``store``).

        ``read_only`` is for the commands that only read (``log``, ``verify``,
        dry runs): nothing is created or altered, not even SQLite's journal
        mode; a SQLite file is opened with ``mode=ro``, so an auditor without
        write access can read it; and a store without the convmig tables is
        ``NoEventLog``.
        """
        env = os.environ if env is None else env
        parsed = normalise_url(url)
        shown = display_url(url, lambda: parsed.difference_update_query(["connect_timeout"]).render_as_string(hide_password=True))
        if read_only:
            _require_file(parsed, shown)
            parsed = read_only_url(parsed)
        config = app_env(parsed, env)
        try:
            app = ConvmigApp(env=config)
        except Exception as exc:  # noqa: BLE001 - bad driver, bad URL: one line
            raise EventStoreError(f"cannot open event store {shown}: {reason(exc)}") from None
        log = cls(app, shown, "CIPHER_KEY" in config)
        try:
            if read_only:
                app.recorder.datastore._tried_init_sqlite_wal_mode = True  # the library would switch to WAL
                log._require_tables()
            else:
                log._journal_mode = journal_mode(app)
                ensure_schema(app, index.metadata)
            log._probe()
        except EventStoreError:
            app.close()
            raise
        except Exception as exc:  # noqa: BLE001 - unreachable, no rights ...
            app.close()
            raise EventStoreError(f"event store {shown}: {reason(exc)}") from None
        return log

    def _require_tables(self) -> None:
        """A read-only open of a store convmig never wrote to says so, creating nothing."""
        names = set(self.query(lambda conn: sa.inspect(conn).get_table_names()))
        if self.table.name not in names:
            raise NoEventLog(f"no event log in {self.display_url}: convmig has recorded nothing there (check --event-store)")

    def _probe(self) -> None:
        """Decode the first stored event now, so a wrong cipher key fails at open."""
        first = self.app.recorder.select_notifications(start=None, limit=1)
        if first:
            self.decode(first[0])

    #: SQLite's journal mode as found at open (None: not SQLite, or opened read-only).
    _journal_mode: str | None = None

    def close(self) -> None:
        """Close the store; a SQLite file is put back in the journal mode it was found in.

        WAL lets concurrent runs read beside a writer, so convmig uses it while
        it works; leaving it on would change how Heat's own database behaves
        for good. Switching back needs the file to itself: when another process
        still uses it, that process (the last to close) puts it back."""
        try:
            if self._journal_mode not in (None, "wal"):
                restore_journal_mode(self.app, self._journal_mode)
        finally:
            self.app.close()

    def __enter__(self) -> "EventLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- aggregates ---------------------------------------------------------

    def start_run(self, **fields: Any) -> Run:
        """A new Run (not yet saved: pass it to ``save`` with the first batch);
        the fields are those of ``Run.start``."""
        return Run.start(**fields)

    def get_run(self, run_id: UUID, *, verify: bool = True) -> Run | None:
        """The run, verified before use; ``HistoryUnverified`` if its chain is damaged.
        ``verify=False`` is for the audit report only, which shows what is there."""
        run_id = UUID(str(run_id))
        if not verify:
            found = self._get(run_id, f"run {run_id}")
            return found if isinstance(found, Run) else None
        found = self._load([run_id], lambda agg: f"run {agg}").get(run_id)
        if isinstance(found, Unverified):
            raise HistoryUnverified(found)
        return found if isinstance(found, Run) else None

    def find_run(self, key: str, flag: str = "--run", *, verify: bool = True) -> Run:
        """A run by its id or an unambiguous prefix of at least 4 characters (as ``log``
        shows 8), so every command takes what the operator reads. Raises ``LookupError``
        with a one-line message naming the option (``flag``) and what was given."""
        key = key.strip().lower()
        try:
            run = self.get_run(UUID(key), verify=verify)
        except ValueError:
            if len(key) < 4 or not re.fullmatch(r"[0-9a-f-]+", key):
                raise LookupError(f"{flag} {key}: not a run id; give the id or at least its first 4 characters "
                                  "(convmig log lists runs)") from None
            ids = self.query(lambda conn: index.find_runs(conn, key))
            if len(ids) > 1:
                raise LookupError(f"{flag} {key} matches several runs; give more characters") from None
            run = self.get_run(ids[0], verify=verify) if ids else None
        if run is None:
            raise RunNotFound(f"no run {key} in the event log {self.display_url}; "
                              "if that run used another event store, pass its --event-store")
        return run

    def last_run(self, command: str | None = None) -> Run | None:
        """The newest run, optionally of one command."""
        run_id = self.query(lambda conn: index.last_run_id(conn, command))
        return self.get_run(run_id) if run_id else None

    def stack(self, stack_id: str) -> StackHistory | None:
        """The history of a Heat stack, verified before use, or None if convmig never
        recorded it; ``HistoryUnverified`` if its chain does not verify."""
        found = self.stacks([stack_id])[stack_id]
        if isinstance(found, Unverified):
            raise HistoryUnverified(found)
        return found

    def stack_or_new(self, stack_id: str, stack_name: str) -> StackHistory:
        return self.stack(stack_id) or StackHistory.open(stack_id, stack_name)

    def stacks(self, stack_ids: Sequence[str]) -> dict[str, StackHistory | Unverified | None]:
        """``stack`` for many stacks with one query per chunk of ids, not one
        repository read (and round trip) per stack.

        Every history is verified before it is handed out (verify before use):
        its hash chain is recomputed from the stored rows and compared with the
        index. A history that does not verify maps to an ``Unverified`` (never
        to a history convmig could act on), so one damaged tree is refused and
        the others go on."""
        wanted = {stack_aggregate_id(sid): sid for sid in dict.fromkeys(stack_ids)}
        loaded = self._load(list(wanted), lambda agg: f"stack {wanted[agg]}")
        found: dict[str, StackHistory | Unverified | None] = {}
        for agg, sid in wanted.items():
            value = loaded.get(agg)
            found[sid] = value if isinstance(value, (StackHistory, Unverified)) else None
        return found

    def _load(self, aggregate_ids: list[UUID], label) -> dict[UUID, Any]:
        """Aggregates by id, each verified (chain and index) before replay.

        The index is read before the events: both are written in one
        transaction, so events read afterwards are never behind it, and a
        chain shorter than the index, or ending at another head, was cut or
        edited."""
        found: dict[UUID, Any] = {}
        table = self.table
        for start in range(0, len(aggregate_ids), SCAN_ROWS):
            part = aggregate_ids[start:start + SCAN_ROWS]
            indexed = self.query(lambda conn: index.heads_of(conn, part))
            query = (sa.select(table.c.id, table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state)
                     .where(table.c.originator_id.in_(part))
                     .order_by(table.c.originator_id, table.c.originator_version))
            rows = self.query(lambda conn: conn.execute(query).all())
            for agg, group in groupby(rows, key=lambda r: r.originator_id):
                found[agg] = self._verified(agg, [_notification(r) for r in group], indexed.get(agg), label(agg))
            for agg in part:
                if agg not in found and agg in indexed:
                    found[agg] = Unverified(label(agg), f"all its events are missing (the index records v{indexed[agg][0]})")
        return found

    def _verified(self, agg: UUID, stored: list[Notification], indexed: tuple[int, str] | None, label: str) -> Any:
        """The replayed aggregate, or ``Unverified`` naming the first problem."""
        items = [self._item(n) for n in stored]
        result = verify_chain(agg, items)
        problem = result.findings[0].detail if result.findings else None
        if problem is None and indexed is not None:
            version, head = indexed
            if result.version < version:
                problem = f"the index records v{version}, the log ends at v{result.version}"
            elif result.version == version and result.head != head:
                problem = f"v{version} differs from the head the index recorded"
        if problem is not None:
            return Unverified(label, problem)
        aggregate = None
        for item in items:
            aggregate = item.event.mutate(aggregate)
        return aggregate

    def _item(self, stored: Notification) -> StoredItem:
        try:
            return StoredItem(stored.id, stored.originator_version, self.app.mapper.to_domain_event(stored))
        except Exception as exc:  # noqa: BLE001 - any decode failure makes the history unusable
            return StoredItem(stored.id, stored.originator_version, None, f"v{stored.originator_version} cannot be read: {reason(exc)[:120]}")

    def histories(self, names: Mapping[str, str]) -> dict[str, StackHistory | Unverified]:
        """``stack_or_new`` for many stacks (Heat id -> name): one index query
        tells which exist, and those are read in one batch, so a first migration
        of a cloud reads nothing per tree. A history that does not verify is
        an ``Unverified``: the caller refuses that tree."""
        known = self.query(lambda conn: index.known_stacks(conn, names))
        found = self.stacks([sid for sid in names if sid in known]) if known else {}
        return {sid: found.get(sid) or StackHistory.open(sid, name) for sid, name in names.items()}

    def stacks_with_pending(self) -> list[str]:
        """Heat ids of stacks with a plan and no outcome (a crashed run), from the index."""
        return self.query(index.pending_stack_ids)

    def stack_states(self) -> dict[str, str]:
        """Heat id -> where each stack history stands (migrated, rolled_back, ...), from the index."""
        return self.query(index.stack_states)

    def _get(self, aggregate_id: UUID, label: str) -> Any:
        try:
            return self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        except OriginatorVersionError:
            raise EventStoreError(f"the recorded history of {label} has missing events; run: convmig log --verify") from None
        except (MapperDeserialisationError, TopicError) as exc:
            raise EventStoreError(f"cannot read the history of {label}: {reason(exc)}; run: convmig log --verify") from None
        except (PersistenceError, sa.exc.SQLAlchemyError) as exc:
            raise EventStoreError(f"event store {self.display_url}: {reason(exc)}") from None

    # -- saving ---------------------------------------------------------------

    def save(self, *aggregates: Any) -> None:
        """Store the new events of all ``aggregates`` in one transaction, or none of them.

        No false findings: when the write fails, the events go back to their
        aggregates' pending lists, so the next ``save`` of an aggregate stores
        them again, in order, with whatever came after. Without that a failed
        write followed by a successful one leaves a version gap that
        ``log --verify`` cannot tell from a deletion. (Should the failed write
        have committed after all, the retry meets a version conflict, never a
        gap or a duplicate.)"""
        aggs = [a for a in aggregates if a is not None]
        base = {a.id: a.version - len(a.pending_events) for a in aggs}
        collected = [(a, a.collect_events()) for a in aggs]
        try:
            with self.app.recorder.transaction(commit=True) as session:
                # The events go straight to the event store: ``Application.save``
                # would only add snapshots, followers and a cache, none of which
                # convmig configures, and its per-object protocol checks cost
                # more than the put itself at a hundred thousand events.
                recordings = self.app.events.put([e for _, events in collected for e in events])
                firsts = {r.domain_event.originator_id: r.notification.id for r in recordings if r.domain_event.originator_version == 1}
                index.record(session, aggs, base, firsts)
        except BaseException as exc:
            for agg, events in collected:
                agg._pending_events[:0] = events
            self._reraise(exc, aggs, base)

    def _reraise(self, exc: BaseException, aggs: Sequence[Any], base: dict[UUID, int]) -> None:
        """A failed save as ``StackBusy`` (a lost race) or one ``EventStoreError`` line."""
        if isinstance(exc, EventStoreError) or not isinstance(exc, Exception):
            raise exc
        if _is_race(exc):
            lost = self._lost(aggs, base, deadlock=not isinstance(exc, (RecordConflictError, sa.exc.IntegrityError)))
            if lost is not None:
                raise StackBusy(lost) from None
        if isinstance(exc, (PersistenceError, sa.exc.SQLAlchemyError)):
            raise EventStoreError(f"cannot save to event store {self.display_url}: {reason(exc)}") from None
        raise exc

    def _lost(self, aggs: Sequence[Any], base: dict[UUID, int], deadlock: bool) -> list[str] | None:
        """Which stacks another process extended first; all of this save's stacks when
        unsure (a deadlock, or the check failed). None when a conflict error came and no
        history was extended: the other writer's row would be committed and visible by
        now, so it was no race but the store refusing the write (a trigger, a
        constraint), which must not be told as "another convmig process"."""
        stacks = [a for a in aggs if isinstance(a, StackHistory)]
        try:
            lost = [a.stack_id for a in stacks if self.app.recorder.select_events(a.id, gt=base[a.id], limit=1)]
        except Exception:  # noqa: BLE001 - only a refinement of the message
            return [a.stack_id for a in stacks]
        if lost:
            return lost
        return [a.stack_id for a in stacks] if deadlock else None

    # -- reading rows (report and verify) -------------------------------------

    def decode(self, stored: StoredEvent | Notification) -> Any:
        """One stored row as its domain event; a store-level error if it cannot be read."""
        try:
            return self.app.mapper.to_domain_event(stored)
        except (MapperDeserialisationError, TopicError) as exc:
            if self.encrypted:
                hint = "wrong CONVMIG_CIPHER_KEY, or an unencrypted or damaged log"
            else:
                hint = "the log may be encrypted (set CONVMIG_CIPHER_KEY or CONVMIG_CIPHER_KEY_FILE) or damaged"
            raise EventStoreError(
                f"cannot read event v{stored.originator_version} of {stored.originator_id}: {hint} ({reason(exc)[:120]})"
            ) from None

    @property
    def table(self) -> sa.Table:
        return self.app.recorder.events_record_cls.__table__

    def query(self, work):
        """Run ``work(connection)`` with store errors turned into one line."""
        try:
            with self.app.engine.connect() as conn:
                return work(conn)
        except EventStoreError:
            raise
        except (PersistenceError, sa.exc.SQLAlchemyError) as exc:
            raise EventStoreError(f"event store {self.display_url}: {reason(exc)}") from None

    def max_position(self) -> int | None:
        return self.query(lambda conn: conn.execute(sa.select(sa.func.max(self.table.c.id))).scalar())

    def notifications(
        self,
        *,
        after: int | None,
        limit: int,
        topics: Sequence[str] = (),
        originator_ids: Sequence[UUID] = (),
        stop: int | None = None,
    ) -> list[Notification]:
        """Up to ``limit`` stored rows after position ``after``, in log order.

        Without an originator filter this is the library's
        ``select_notifications`` (an index range scan, never a full scan).
        """
        if not originator_ids:
            try:
                return self.app.recorder.select_notifications(
                    start=after, limit=limit, stop=stop, topics=topics, inclusive_of_start=after is None
                )
            except (PersistenceError, sa.exc.SQLAlchemyError) as exc:
                raise EventStoreError(f"event store {self.display_url}: {reason(exc)}") from None
        return self._of_aggregates(after=after, limit=limit, topics=topics, originator_ids=originator_ids, stop=stop)

    def _of_aggregates(self, *, after, limit, topics, originator_ids, stop) -> list[Notification]:
        """Rows of a few aggregates in log order, found through the (aggregate, version) index.

        ``ORDER BY id + 0`` keeps planners (PostgreSQL's especially) from
        walking the whole primary key looking for a handful of rows; ids
        come first, states second, so only the page's states are read.
        """
        t = self.table
        query = sa.select(t.c.id).where(t.c.originator_id.in_(list(originator_ids))).order_by(t.c.id + 0).limit(limit)
        if after is not None:
            query = query.where(t.c.id > after)
        if stop is not None:
            query = query.where(t.c.id <= stop)
        if topics:
            query = query.where(t.c.topic.in_(list(topics)))
        ids = self.query(lambda conn: list(conn.execute(query).scalars()))
        if not ids:
            return []
        rows = sa.select(t.c.id, t.c.originator_id, t.c.originator_version, t.c.topic, t.c.state).where(t.c.id.in_(ids)).order_by(t.c.id)
        return self.query(lambda conn: [_notification(r) for r in conn.execute(rows)])

    def scan_by_aggregate(self) -> Iterator[Notification]:
        """Every stored row, grouped by aggregate in version order, memory-bounded.

        Keyset pages of row metadata, then states fetched in batches of at
        most ``SCAN_BYTES``, so a log of millions of events or of a few huge
        ones is read without holding it all.
        """
        t = self.table
        last: tuple[UUID, int] | None = None
        while True:
            meta = self.query(lambda conn: self._meta_page(conn, last))
            if not meta:
                return
            for batch in _by_bytes(meta):
                states = self.query(
                    lambda conn: dict(conn.execute(sa.select(t.c.id, t.c.state).where(t.c.id.in_([m.id for m in batch]))).all())
                )
                for m in batch:
                    yield Notification(
                        id=m.id, originator_id=m.originator_id, originator_version=m.originator_version, topic=m.topic, state=bytes(states[m.id])
                    )
            last = (meta[-1].originator_id, meta[-1].originator_version)

    def _meta_page(self, conn: sa.Connection, last: tuple[UUID, int] | None) -> list[Any]:
        """The next ``SCAN_ROWS`` rows' metadata after ``last`` in (aggregate, version) order.

        Two plain range queries (the rest of the current aggregate, then the
        aggregates after it): each is an index range scan everywhere, where
        an OR is not on PostgreSQL and a row-value comparison is not on MariaDB.
        """
        t = self.table
        query = sa.select(t.c.id, t.c.originator_id, t.c.originator_version, t.c.topic, sa.func.length(t.c.state).label("size"))
        ordered = query.order_by(t.c.originator_id, t.c.originator_version)
        if last is None:
            return conn.execute(ordered.limit(SCAN_ROWS)).all()
        rest = conn.execute(
            ordered.where(t.c.originator_id == last[0], t.c.originator_version > last[1]).limit(SCAN_ROWS)
        ).all()
        following = ordered.where(t.c.originator_id > last[0]).limit(SCAN_ROWS - len(rest))
        return rest + (conn.execute(following).all() if len(rest) < SCAN_ROWS else [])

    def index_heads(self) -> dict[UUID, tuple[str, int, str]]:
        return self.query(index.heads)

    def rebuild_index(self) -> int:
        """Recreate the index tables from the events (after a restore or a manual repair)."""
        ids: list[UUID] = []
        previous = None
        for row in self.scan_by_aggregate():
            if row.originator_id != previous:
                ids.append(row.originator_id)
                previous = row.originator_id
        firsts = self.query(
            lambda conn: dict(
                conn.execute(sa.select(self.table.c.originator_id, self.table.c.id).where(self.table.c.originator_version == 1)).all()
            )
        )
        with self.app.recorder.transaction(commit=True) as session:
            index.clear(session)
            aggs = [a for a in (self._get(i, f"aggregate {i}") for i in ids) if a is not None]
            index.record(session, aggs, {a.id: 0 for a in aggs}, firsts)
        return len(aggs)


def _require_file(url: sa.URL, shown: str) -> None:
    """A SQLite file that is not there holds no log (and a read must not create it)."""
    path = url.database
    if url.get_backend_name() == "sqlite" and path and path != ":memory:" and not path.startswith("file:"):
        if not os.path.exists(path):
            raise NoEventLog(f"no event log in {shown}: the file does not exist (check --event-store)")


def _notification(row: Any) -> Notification:
    return Notification(
        id=row.id, originator_id=row.originator_id, originator_version=row.originator_version, topic=row.topic, state=bytes(row.state)
    )


def _by_bytes(meta: Sequence[Any]) -> Iterator[list[Any]]:
    """Split row metadata into batches whose states add up to at most ``SCAN_BYTES``."""
    batch: list[Any] = []
    size = 0
    for m in meta:
        if batch and size + (m.size or 0) > SCAN_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(m)
        size += m.size or 0
    if batch:
        yield batch
