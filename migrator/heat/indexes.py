"""Supporting indexes: built for one run, dropped when it ends.

Why: Heat's schema leaves unindexed the columns convmig looks trees up by
(``resource.stack_id``) and the columns foreign keys check when convmig
deletes a row (``stack.raw_template_id``, ``stack.prev_raw_template_id``,
``resource.current_template_id`` when a previous raw template goes, and the
like). PostgreSQL does not index a foreign key by itself, so every such
delete scans whole tables, and a cloud-wide run grows with the square of the
cloud. MariaDB indexes foreign keys implicitly; SQLite checks none but still
scans ``resource`` for each batch's load.

So a run (migrate or rollback) creates, before its first batch, an index on
every column of ``WANTED`` that no existing index leads with, and drops them
all when it ends: Heat's schema is exactly as before once convmig is done.
Every name starts with ``PREFIX`` and is fixed per column, so a run killed
before it could drop its indexes leaves names the next run recognises: it
takes them in charge (a PostgreSQL index whose concurrent build was cut short
is invalid and is rebuilt) and drops them at its end like its own.

Built without blocking Heat: ``CREATE INDEX CONCURRENTLY`` on PostgreSQL
(outside any transaction), ``ALGORITHM=INPLACE, LOCK=NONE`` on MariaDB.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

#: Every index convmig creates is named ``PREFIX + table + "_" + column``.
PREFIX = "convmig_tmp_"

#: (table, column) convmig selects by, or a foreign key checks when convmig deletes.
WANTED: tuple[tuple[str, str], ...] = (
    ("resource", "stack_id"),               # tree load: a stack's resources
    ("stack", "raw_template_id"),           # FK check on deleting a raw_template; template users
    ("stack", "prev_raw_template_id"),      # the same
    ("resource", "current_template_id"),    # the same
    ("raw_template", "files_id"),           # FK check on deleting raw_template_files
    ("resource_data", "resource_id"),       # tree load; FK check on deleting a resource
    ("resource", "rsrc_prop_data_id"),      # users of properties data; FK check on deleting it
    ("resource", "attr_data_id"),           # the same
    ("event", "rsrc_prop_data_id"),         # the same
)


def index_name(table: str, column: str) -> str:
    return f"{PREFIX}{table}_{column}"


@dataclass(frozen=True)
class Found:
    """One of convmig's indexes as the database has it now."""

    table: str
    column: str
    valid: bool  # False: a PostgreSQL concurrent build that never finished

    @property
    def name(self) -> str:
        return index_name(self.table, self.column)


def _invalid_pg(conn: sa.Connection) -> set[str]:
    """Names of convmig's PostgreSQL indexes whose build did not complete."""
    rows = conn.execute(sa.text(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND NOT i.indisvalid AND c.relname LIKE :p"), {"p": PREFIX + "%"})
    return {r[0] for r in rows}


def survey(engine: Engine) -> tuple[list[Found], list[tuple[str, str]]]:
    """convmig's indexes present now (left by a killed run, or a live one), and the
    wanted columns no index covers: neither Heat's nor convmig's leads with them."""
    inspector = sa.inspect(engine)
    ours = {index_name(t, c): (t, c) for t, c in WANTED}
    found, missing = [], []
    with engine.connect() as conn:
        invalid = _invalid_pg(conn) if engine.dialect.name == "postgresql" else set()
    tables = set(inspector.get_table_names())
    by_table = {t: inspector.get_indexes(t) for t in {t for t, _ in WANTED} & tables}
    for table, column in WANTED:
        if table not in tables:
            continue
        existing = by_table[table]
        if index_name(table, column) in {ix["name"] for ix in existing}:
            found.append(Found(table, column, index_name(table, column) not in invalid))
        elif not any((ix.get("column_names") or [None])[0] == column for ix in existing):
            missing.append((table, column))
    # an index of ours the inspector hides (PostgreSQL lists invalid ones too; be sure)
    for name in invalid - {f.name for f in found}:
        if name in ours:
            found.append(Found(*ours[name], valid=False))
    return found, missing


#: PostgreSQL advisory lock key / MariaDB named lock: one convmig process at a
#: time surveys, builds or drops supporting indexes. Two concurrent index builds
#: on PostgreSQL wait for each other's transactions and deadlock; and a run that
#: surveys while another builds would take a half-built index for a leftover.
LOCK_KEY = 0x636F6E766D6967  # "convmig"
LOCK_NAME = "convmig_tmp_indexes"
LOCK_WAIT_S = 3600


@contextmanager
def serialised(engine: Engine) -> Iterator[sa.Connection]:
    """An autocommit connection holding the index lock (SQLite: its own write lock suffices)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        dialect = engine.dialect.name
        if dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        elif dialect in ("mysql", "mariadb"):
            conn.execute(sa.text("SELECT GET_LOCK(:n, :t)"), {"n": LOCK_NAME, "t": LOCK_WAIT_S})
        try:
            yield conn
        finally:
            if dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            elif dialect in ("mysql", "mariadb"):
                conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": LOCK_NAME})


def create(conn: sa.Connection, table: str, column: str) -> str:
    """Build one index without blocking Heat's writes; returns its name."""
    name = index_name(table, column)
    quote = conn.dialect.identifier_preparer.quote
    on = f"{quote(table)} ({quote(column)})"
    dialect = conn.dialect.name
    if dialect == "postgresql":
        sql = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {quote(name)} ON {on}"
    elif dialect in ("mysql", "mariadb"):
        sql = f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {on} ALGORITHM=INPLACE LOCK=NONE"
    else:
        sql = f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {on}"
    conn.exec_driver_sql(sql)
    return name


def drop(conn: sa.Connection, table: str, column: str) -> str:
    """Drop one of convmig's indexes if it is there; returns its name."""
    name = index_name(table, column)
    quote = conn.dialect.identifier_preparer.quote
    dialect = conn.dialect.name
    if dialect == "postgresql":
        sql = f"DROP INDEX CONCURRENTLY IF EXISTS {quote(name)}"
    elif dialect in ("mysql", "mariadb"):
        sql = f"DROP INDEX IF EXISTS {quote(name)} ON {quote(table)}"
    else:
        sql = f"DROP INDEX IF EXISTS {quote(name)}"
    conn.exec_driver_sql(sql)
    return name


class SupportIndexes:
    """The supporting indexes of one run.

    At the start, holding the index lock: ``plan`` says what ``build`` will do,
    so the run can record it first (the leftovers it takes in charge,
    "adopted"; those it rebuilds, an interrupted PostgreSQL build; those it
    creates), then ``build``. At the end ``remove``."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.held: list[tuple[str, str]] = []  # ours to drop at the end
        self._found: list[Found] = []
        self._missing: list[tuple[str, str]] = []

    def plan(self) -> dict:
        self._found, self._missing = survey(self.engine)
        report = {
            "adopted": [f.name for f in self._found if f.valid],
            "rebuilt": [f.name for f in self._found if not f.valid],
            "created": [index_name(t, c) for t, c in self._missing],
        }
        return {k: v for k, v in report.items() if v}

    def build(self, conn: sa.Connection) -> None:
        for f in self._found:
            self.held.append((f.table, f.column))
            if not f.valid:
                drop(conn, f.table, f.column)
                create(conn, f.table, f.column)
        for table, column in self._missing:
            self.held.append((table, column))  # held first: a half-built one is dropped too
            create(conn, table, column)

    def remove(self) -> None:
        """Drop every index this run holds (another run may have dropped one
        already: IF EXISTS)."""
        with serialised(self.engine) as conn:
            while self.held:
                drop(conn, *self.held[0])
                self.held.pop(0)
