"""Where and how the log is stored: the eventsourcing Application and its storage config.

* eventsourcing-sqlalchemy, so any database SQLAlchemy reaches works; by default
  the Heat database itself (tables ``convmig_events`` and the ``convmig_`` index
  tables), so the log is backed up with the data it describes.
* zlib compression always (row images are repetitive JSON), at level 1: on
  convmig's events it costs 40% less time than zlib's default level 6 for 5%
  more bytes, and any level decompresses the same way, so logs written at
  level 6 read as before.
* Optional AES-GCM encryption at rest: key (base64 of 16, 24 or 32 bytes) from
  ``CONVMIG_CIPHER_KEY`` or from the file named by ``CONVMIG_CIPHER_KEY_FILE``.
  It needs ``pycryptodome`` (``pip install 'convmig[crypto]'``) or the
  ``cryptography`` package; both write the same format. Topics, stack ids and
  versions stay in clear text; only the event payload is encrypted.
* Transcodings for the values Heat rows hold (bytes, date, time, timedelta;
  datetime, Decimal and UUID are built in), plus a test-only hook for
  freezegun's fake datetimes (``allow_frozen_time``).
* MySQL/MariaDB: the library's default ``state`` column is a BLOB (64 KiB) and a
  non-strict server silently truncates a larger event. Our record class makes
  it LONGBLOB, and ``check_mysql`` refuses a store whose existing column is
  smaller, whose ``sql_mode`` is not strict, or whose ``max_allowed_packet`` is
  too small. Each insert is also checked against ``max_allowed_packet`` so an
  oversized event fails with a clear message instead of a dropped connection.

Configuration is explicit (``ConvmigApp.construct_env`` ignores ambient
``PERSISTENCE_MODULE``/``SQLALCHEMY_URL`` variables): the log must go exactly
where convmig says.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import os
import time as clock
import zlib
from datetime import date, time, timedelta
from typing import Any, Mapping, Sequence

import sqlalchemy as sa
from eventsourcing.application import Application
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import DatetimeAsISO, InfrastructureFactory, JSONTranscoder, StoredEvent, Transcoding
from eventsourcing.utils import Environment, get_topic
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.models import EventRecord
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Mapped
from sqlalchemy_utils.types.uuid import UUIDType

from .errors import EventStoreError
from .secrets import url_is_clean

APP_NAME = "convmig"
EVENTS_TABLE = f"{APP_NAME}_events"
#: Waits, in seconds, and their defaults: connecting, waiting for an answer, sending.
from .timeouts import TIMEOUTS, driver_timeouts, timeouts  # noqa: F401 -- re-exported

#: Smallest ``max_allowed_packet`` accepted: MariaDB's default. Large events
#: are checked one by one against the real value at save time.
MIN_MAX_ALLOWED_PACKET = 16 * 1024 * 1024
#: What a single INSERT adds around the state bytes: PyMySQL sends binary
#: values as hex literals (twice their size), plus the statement and the
#: other columns. So with the 16 MiB default one event can store about 8 MB
#: (after compression: a template of tens of MB usually fits).
_PACKET_OVERHEAD = 2.0, 64 * 1024

#: Drivers convmig ships; a Heat URL often names none or MySQLdb.
_DRIVERS = {"mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql", "postgresql": "postgresql+psycopg"}

_CIPHERS = (("Crypto", "eventsourcing.cipher:AESCipher"), ("cryptography", "eventsourcing.cryptography:AESCipher"))


# -- transcodings ------------------------------------------------------------


class BytesAsBase64(Transcoding):
    """Binary column values (BLOBs, pickles) as base64 text."""

    type = bytes
    name = "bytes_b64"

    def encode(self, obj: bytes) -> str:
        return base64.b64encode(obj).decode("ascii")

    def decode(self, data: str) -> bytes:
        return base64.b64decode(data)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class TimeAsISO(Transcoding):
    type = time
    name = "time_iso"

    def encode(self, obj: time) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> time:
        return time.fromisoformat(data)


class TimedeltaAsParts(Transcoding):
    """MySQL TIME columns come back as timedelta; kept exactly as (days, seconds, µs)."""

    type = timedelta
    name = "timedelta"

    def encode(self, obj: timedelta) -> list:
        return [obj.days, obj.seconds, obj.microseconds]

    def decode(self, data: list) -> timedelta:
        return timedelta(days=data[0], seconds=data[1], microseconds=data[2])


_EXTRA_TRANSCODINGS: list[Transcoding] = []


def allow_frozen_time() -> None:
    """Test hook: let events created under freezegun be saved.

    Under ``freeze_time`` the library's timestamps (and ``datetime.now()`` in
    payloads) are ``FakeDatetime``; the transcoder matches exact types, so it
    refuses them. This registers the fakes under the real types' wire names,
    so the stored bytes are identical to production and decode to real types.
    Applies to every store opened afterwards in this process.
    """
    from freezegun.api import FakeDate, FakeDatetime

    class FakeDatetimeAsISO(DatetimeAsISO):
        type = FakeDatetime

    class FakeDateAsISO(DateAsISO):
        type = FakeDate

    if not _EXTRA_TRANSCODINGS:
        _EXTRA_TRANSCODINGS.extend([FakeDatetimeAsISO(), FakeDateAsISO()])


# -- storage classes -----------------------------------------------------------


class FastZlibCompressor(ZlibCompressor):
    """zlib at level 1 (see the module's docstring); reads any level."""

    def compress(self, data: bytes) -> bytes:
        return zlib.compress(data, 1)


class ConvmigEventRecord(EventRecord):
    """The events table: the library's columns, with a LONGBLOB state on MySQL."""

    __tablename__ = "stored_events"
    __abstract__ = True

    id: Mapped[int] = Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)
    originator_id = Column(UUIDType(), nullable=False)
    originator_version = Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=False)
    topic = Column(Text(), nullable=False)
    state = Column(LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), nullable=False)

    __table_args__ = (Index("stored_aggregate_event_index", "originator_id", "originator_version", unique=True),)


class ConvmigDatastore(SQLAlchemyDatastore):
    base_stored_event_record_cls = ConvmigEventRecord


def _packet_bytes(state: bytes) -> int:
    """What one row of ``state`` bytes adds to an INSERT statement, generously."""
    return int(len(state) * _PACKET_OVERHEAD[0]) + _PACKET_OVERHEAD[1]


class ConvmigRecorder(SQLAlchemyApplicationRecorder):
    """The library's recorder; on MySQL it checks and splits inserts to fit one packet each."""

    #: The server's ``max_allowed_packet`` (None: not MySQL, no limit to respect).
    max_insert_bytes: int | None = None

    def _insert_stored_events(self, session, stored_events: Sequence[StoredEvent], **kwargs: Any):
        """The library's insert as one Core ``INSERT … RETURNING id`` per packet-sized
        group, ids in the events' order; returns them.

        The library adds an ORM object per event and flushes: the unit of work
        then costs more than the statement. Where the dialect returns
        executemany ids in parameter order (PostgreSQL, SQLite, MariaDB) one
        statement does it; elsewhere (MySQL) the ORM flush remains. On MySQL the
        whole statement must also fit ``max_allowed_packet``, so three 6 MB
        events would otherwise fail together although each fits alone.
        """
        self._check_size(stored_events)
        rows = [
            {"originator_id": e.originator_id, "originator_version": e.originator_version, "topic": e.topic, "state": e.state}
            for e in stored_events
        ]
        self._lock_table(session)
        if session.get_bind().dialect.insert_executemany_returning_sort_by_parameter_order:
            table = self.events_record_cls.__table__
            insert = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
            ids: list[int] = []
            for group in self._groups(rows):
                ids += session.execute(insert, group).scalars().all()
        else:
            ids = []
            for group in self._groups(rows):
                records = [self.events_record_cls(**row) for row in group]
                session.add_all(records)
                session.flush()  # the autoincremented ids, in order
                ids += [r.id for r in records]
        self._notify_channel(session)
        return ids

    def _groups(self, rows: list[dict]) -> list[list[dict]]:
        if self.max_insert_bytes is None:
            return [rows] if rows else []
        groups: list[list] = [[]]
        size = 0
        for row in rows:
            needed = _packet_bytes(row["state"])
            if groups[-1] and size + needed > self.max_insert_bytes:
                groups.append([])
                size = 0
            groups[-1].append(row)
            size += needed
        return groups if groups[0] else []

    def _check_size(self, stored_events: Sequence[StoredEvent]) -> None:
        if self.max_insert_bytes is None:
            return
        for event in stored_events:
            needed = _packet_bytes(event.state)
            if needed > self.max_insert_bytes:
                raise EventStoreError(
                    f"event {event.topic.rsplit(':', 1)[-1]} of {event.originator_id} is {len(event.state)} bytes stored, "
                    f"more than the server's max_allowed_packet ({self.max_insert_bytes}) allows; "
                    "raise max_allowed_packet (SET GLOBAL max_allowed_packet=1073741824) and re-run"
                )


class ConvmigFactory(SQLAlchemyFactory):
    """The extension's factory with our record class, recorder and engine options."""

    datastore_class = ConvmigDatastore
    application_recorder_class = ConvmigRecorder

    def __init__(self, env: Environment):  # noqa: D107 - replaces the parent's engine setup
        InfrastructureFactory.__init__(self, env)
        self._schema_name = None
        url = self.env.get(self.SQLALCHEMY_URL)
        self.datastore = ConvmigDatastore(url=url, **engine_options(url))

    def close(self) -> None:
        if self.datastore.engine is not None:
            self.datastore.engine.dispose()


class ConvmigApp(Application):
    """The eventsourcing application holding convmig's aggregates."""

    name = APP_NAME
    log_section_size = 1000

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        """Only the configuration convmig builds; no ambient library variables."""
        return Environment(name, dict(env or {}))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in (BytesAsBase64(), DateAsISO(), TimeAsISO(), TimedeltaAsParts()):
            transcoder.register(transcoding)
        for transcoding in _EXTRA_TRANSCODINGS:
            transcoder.register(transcoding)
        # The fakes share wire names with the real types: make names decode to real types.
        transcoder.register(DatetimeAsISO())
        transcoder.register(DateAsISO())

    @property
    def engine(self) -> sa.Engine:
        return self.recorder.datastore.engine


# -- configuration ---------------------------------------------------------------


def normalise_url(url: str) -> sa.URL:
    """Parse the URL, choose a driver convmig ships, and bound the connect time."""
    if not url_is_clean(url):
        raise EventStoreError("cannot parse the event store URL cleanly: percent-encode @ / ? # in the "
                              "user name and password (@ as %40, / as %2F)")
    try:
        parsed = make_url(url)
    except Exception:
        raise EventStoreError("cannot parse the event store URL; expected e.g. mysql+pymysql://user:pw@host/heat") from None
    backend = parsed.get_backend_name()
    if backend in _DRIVERS and parsed.get_driver_name() not in ("pymysql", "psycopg"):
        parsed = parsed.set(drivername=_DRIVERS[backend])
    return parsed


def read_only_url(url: sa.URL) -> sa.URL:
    """A SQLite file as a read-only URI (``mode=ro``): SQLite then neither creates
    the file nor writes to it, and a file the user may only read can be opened.
    Servers are read-only by what convmig sends, so their URL stays as it is."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return url
    return url.set(database=f"file:{os.path.abspath(url.database)}").update_query_dict({"mode": "ro", "uri": "true"})


def engine_options(url: str) -> dict[str, Any]:
    """Engine keyword arguments: wait for SQLite's lock; re-check pooled server
    connections; bound every wait of a server's driver (``driver_timeouts``)."""
    if url.startswith("sqlite"):
        return {} if ":memory:" in url or "mode=memory" in url else {"connect_args": {"timeout": 60}}
    parsed = make_url(url)
    given = set(parsed.query)
    args = {k: v for k, v in driver_timeouts(parsed.get_backend_name()).items() if k not in given}
    return {"pool_pre_ping": True, "connect_args": args}


def cipher_settings(env: Mapping[str, str]) -> dict[str, str]:
    """``CIPHER_TOPIC``/``CIPHER_KEY`` for the library, or nothing when no key is configured."""
    key = env.get("CONVMIG_CIPHER_KEY") or _read_key_file(env.get("CONVMIG_CIPHER_KEY_FILE"))
    if not key:
        return {}
    try:
        size = len(base64.b64decode(key.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        size = -1
    if size not in (16, 24, 32):
        raise EventStoreError(
            "CONVMIG_CIPHER_KEY is not base64 of 16, 24 or 32 bytes; "
            "create one with: python -c \"import os,base64;print(base64.b64encode(os.urandom(32)).decode())\""
        )
    for module, topic in _CIPHERS:
        if importlib.util.find_spec(module) is not None:
            return {"CIPHER_TOPIC": topic, "CIPHER_KEY": key}
    raise EventStoreError("an event log cipher key is set but no AES library is installed: pip install 'convmig[crypto]'")


def _read_key_file(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise EventStoreError(f"cannot read CONVMIG_CIPHER_KEY_FILE {path}: {reason}") from None


def app_env(url: sa.URL, env: Mapping[str, str]) -> dict[str, str]:
    """The complete library configuration for one store."""
    return {
        "PERSISTENCE_MODULE": get_topic(ConvmigFactory),
        "SQLALCHEMY_URL": url.render_as_string(hide_password=False),
        "CREATE_TABLE": "no",  # ensure_schema() creates and checks the tables itself
        "COMPRESSOR_TOPIC": get_topic(FastZlibCompressor),
        **cipher_settings(env),
    }


# -- schema ------------------------------------------------------------------------


def is_mysql(engine: sa.Engine) -> bool:
    return engine.dialect.name in ("mysql", "mariadb")


def check_mysql(conn: sa.Connection) -> int:
    """Refuse a MySQL/MariaDB session that could truncate or drop large events.

    Returns ``max_allowed_packet`` for the per-insert size check.
    """
    sql_mode, packet = conn.exec_driver_sql("SELECT @@SESSION.sql_mode, @@SESSION.max_allowed_packet").one()
    modes = set((sql_mode or "").upper().split(","))
    if not modes & {"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "TRADITIONAL"}:
        raise EventStoreError(
            f"MySQL sql_mode is not strict ({sql_mode or 'empty'}): a large event could be silently truncated; "
            "add STRICT_TRANS_TABLES to the server's sql_mode (or append ?init_command=SET sql_mode='TRADITIONAL' to the URL)"
        )
    if int(packet) < MIN_MAX_ALLOWED_PACKET:
        raise EventStoreError(
            f"MySQL max_allowed_packet is {int(packet)} bytes, too small for large events; "
            f"set it to at least {MIN_MAX_ALLOWED_PACKET} (SET GLOBAL max_allowed_packet=1073741824)"
        )
    return int(packet)


def check_state_column(conn: sa.Connection, table: str = EVENTS_TABLE) -> None:
    """Refuse an existing MySQL events table whose ``state`` column is smaller than LONGBLOB."""
    kind = conn.execute(
        sa.text(
            "SELECT DATA_TYPE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t AND COLUMN_NAME = 'state'"
        ),
        {"t": table},
    ).scalar()
    if kind is not None and kind.lower() != "longblob":
        raise EventStoreError(
            f"{table}.state is {kind.upper()}, which truncates large events; "
            f"run ALTER TABLE {table} MODIFY state LONGBLOB NOT NULL and re-run"
        )


def ensure_schema(app: ConvmigApp, extra: sa.MetaData | None = None) -> None:
    """Create ``convmig_events`` (LONGBLOB state on MySQL) and ``extra`` when missing; check MySQL.

    Two convmig processes may open a fresh store at once, and "check, then
    create" races (PostgreSQL then fails on its catalog's unique index). So
    creation runs under a database lock (an advisory lock on PostgreSQL, a
    named lock on MySQL, SQLite's write lock taken up front), and a table that
    appeared meanwhile is accepted everywhere.
    """
    tables = [app.recorder.events_record_cls.__table__, *(extra.sorted_tables if extra is not None else [])]
    if app.recorder.datastore.is_sqlite_filedb:
        use_wal(app.engine)
    with app.engine.begin() as conn:
        _lock_schema(conn)
        try:
            if is_mysql(app.engine):
                app.recorder.max_insert_bytes = check_mysql(conn)
            _create(conn, tables)
            if is_mysql(app.engine):
                check_state_column(conn)
        finally:
            _unlock_schema(conn)


#: How long ``use_wal`` retries while other connections hold the SQLite file.
WAL_WAIT = 60.0


def use_wal(engine: sa.Engine, wait: float = WAL_WAIT) -> None:
    """Put a SQLite event store in WAL mode, waiting for the file's other users.

    The library switches the file to WAL on its first transaction. The switch
    needs the file's exclusive lock, and when two connections want it at once
    SQLite answers one of them "database is locked" at once, without waiting
    (its deadlock rule): four runs started together beside a busy Heat failed
    so. Here the switch is retried until ``wait`` runs out; once the file is in
    WAL mode (which persists), the library's own switch is a no-op."""
    deadline = clock.monotonic() + wait
    while True:
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            return
        except sa.exc.OperationalError as exc:
            if "locked" not in str(exc) or clock.monotonic() > deadline:
                raise
            clock.sleep(0.05)


def journal_mode(app: ConvmigApp) -> str | None:
    """A SQLite file's journal mode now (None elsewhere), to put it back at close."""
    if not app.recorder.datastore.is_sqlite_filedb:
        return None
    with app.engine.connect() as conn:
        return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower()


def restore_journal_mode(app: ConvmigApp, mode: str) -> None:
    """Best effort: back to ``mode`` if no other connection holds the file."""
    app.engine.dispose()  # our own pooled connections would hold it
    try:
        with app.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout=0")
            conn.exec_driver_sql(f"PRAGMA journal_mode={mode}")
    except sa.exc.DBAPIError:
        pass  # another process still has it open: the last one restores it


#: Arbitrary constant naming convmig's PostgreSQL advisory lock ("conv").
_PG_LOCK_KEY = 0x636F6E76


def _lock_schema(conn: sa.Connection) -> None:
    if conn.dialect.name == "sqlite":
        # A deferred transaction that has read the catalogue and then wants to
        # write gets "database is locked" at once, without waiting, whenever
        # another connection is about to commit (SQLite's deadlock rule):
        # four runs opening a fresh log beside a busy Heat failed so.
        # BEGIN IMMEDIATE takes the write lock first, waiting its busy timeout.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    elif is_mysql(conn.engine):
        got = conn.execute(sa.text("SELECT GET_LOCK(CONCAT('convmig_schema:', DATABASE()), 60)")).scalar()
        if got != 1:
            raise EventStoreError("timed out waiting for another convmig process to create the event log tables; re-run")


def _unlock_schema(conn: sa.Connection) -> None:
    if is_mysql(conn.engine):
        conn.execute(sa.text("SELECT RELEASE_LOCK(CONCAT('convmig_schema:', DATABASE()))"))


def _create(conn: sa.Connection, tables: list[sa.Table]) -> None:
    """Create each missing table; one that another process created meanwhile is fine.

    Only SQLite can get here racing (the servers hold the lock above), and a
    failed CREATE there leaves the connection usable for the re-check.
    """
    for table in tables:
        try:
            table.create(conn, checkfirst=True)
        except sa.exc.OperationalError:
            if conn.dialect.name != "sqlite" or not sa.inspect(conn).has_table(table.name):
                raise
