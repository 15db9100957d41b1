"""The executor: applies a list of row changes inside the caller's transaction,
with compare-and-swap on every before-image.

Migration and rollback both run through ``apply_changes``; rollback simply
passes the recorded changes inverted. The executor first reads every row it will
touch (``SELECT … FOR UPDATE`` where the dialect has row locks) and compares it
with the image the plan expects; a single difference raises ``Drift`` before
anything is written, and the caller rolls the transaction back. Writes are then
batched: consecutive changes of one kind on one table become one executemany
or one ``IN`` delete, never one round trip per row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any, Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from events.secrets import redact_row

from migrator.planning.changes import DELETE, INSERT, UPDATE, RowChange
from migrator.heat.schema import metadata
from migrator.heat.tree import chunks, rows_of


@dataclass(frozen=True)
class Difference:
    """One column of one row that is not what the plan expected.

    ``describe`` is what refusals, failed events and recovery verdicts print,
    so it shows values through ``redact_row``: a drifted template environment
    or password appears as a digest, never as itself.
    """

    where: str  # e.g. "resource[id=5]"
    column: str | None  # None: the whole row (missing or unexpectedly present)
    expected: Any
    actual: Any
    table: str = ""
    row: dict | None = field(default=None, compare=False, repr=False)  # decides resource_data.value

    def describe(self) -> str:
        if self.column is None:
            return f"{self.where}: expected {self.expected}, found {self.actual}"
        expected = redact_row(self.table, {self.column: self.expected}, whole=self.row)[self.column]
        actual = redact_row(self.table, {self.column: self.actual}, whole=self.row)[self.column]
        return f"{self.where}.{self.column}: expected {expected!r}, found {actual!r}"


class Drift(Exception):
    """The database no longer matches the plan's images; nothing was written."""

    def __init__(self, differences: list[Difference]):
        self.differences = differences
        first = differences[0].describe()
        more = f" (and {len(differences) - 1} more)" if len(differences) > 1 else ""
        super().__init__(first + more)


def _table(name: str) -> sa.Table:
    return metadata.tables[name]


def _pk_column(table: sa.Table) -> sa.Column:
    cols = list(table.primary_key.columns)
    if len(cols) != 1:
        raise ValueError(f"{table.name}: convmig only changes tables with a single-column key")
    return cols[0]


def same(expected: Any, actual: Any) -> bool:
    """Equality across drivers and the log's round trip (bool/int, datetime precision)."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return bool(expected) == bool(actual)
    if isinstance(expected, datetime) and isinstance(actual, datetime):
        return expected.replace(tzinfo=None) == actual.replace(tzinfo=None)
    return expected == actual


def read_rows(conn: Connection, table: sa.Table, keys: list, lock: bool = True,
              columns: Iterable[str] | None = None) -> dict:
    """Current rows by key (only ``columns`` and the key when given), locked for
    the transaction where the dialect can."""
    pk = _pk_column(table)
    selected = list(table.c) if columns is None else [pk, *(table.c[c] for c in columns if c in table.c and c != pk.name)]
    found = {}
    for part in chunks(sorted(set(keys), key=str)):
        query = sa.select(*selected).where(pk.in_(part))
        if lock:
            query = query.with_for_update()
        for row in rows_of(conn, query):
            found[row[pk.name]] = row
    return found


def compare(changes: list[RowChange], current: dict[str, dict]) -> list[Difference]:
    """Every difference between the expected images and the rows as they are now."""
    diffs = []
    for change in changes:
        key = next(iter(change.pk.values()))
        row = current.get(change.table, {}).get(key)
        if change.op == INSERT:
            if row is not None:
                diffs.append(Difference(change.describe(), None, "no row", "a row"))
            continue
        if row is None:
            diffs.append(Difference(change.describe(), None, "a row", "no row"))
            continue
        if change.before.items() <= row.items():  # the usual case, decided at C level (the row also has its key)
            continue
        for col, expected in change.before.items():  # named only when different: most trees have none
            if col in row and not same(expected, row[col]):
                diffs.append(Difference(change.describe(), col, expected, row[col], change.table,
                                        {**change.before, **row}))
    return diffs


def read_current(conn: Connection, changes: list[RowChange], lock: bool = True) -> dict[str, dict]:
    """Every row the changes touch, one query per table (and IN chunk), locked;
    only the columns some image names (an insert needs the key alone)."""
    keys: dict[str, list] = {}
    columns: dict[str, dict] = {}
    for c in changes:
        keys.setdefault(c.table, []).append(next(iter(c.pk.values())))
        columns.setdefault(c.table, {}).update(dict.fromkeys(c.before or ()))
    return {name: read_rows(conn, _table(name), ks, lock, columns[name]) for name, ks in keys.items()}


def check(conn: Connection, changes: list[RowChange], lock: bool = True) -> list[Difference]:
    """Read (and lock) every row the changes touch and compare with their images."""
    return compare(changes, read_current(conn, changes, lock))


def apply_changes(conn: Connection, changes: list[RowChange]) -> None:
    """Compare-and-swap, then write, in the caller's open transaction."""
    diffs = check(conn, changes)
    if diffs:
        raise Drift(diffs)
    write(conn, changes)


def apply_many(conn: Connection, plans: list[list[RowChange]]) -> list[list[Difference]]:
    """Several trees in the caller's transaction: one locked read per table for all
    of them, then the trees whose images all match are written together (a tree
    with any difference is left out whole). Returns each tree's differences."""
    current = read_current(conn, [c for changes in plans for c in changes])
    diffs = [compare(changes, current) for changes in plans]
    write(conn, merge([changes for changes, d in zip(plans, diffs) if not d]))
    return diffs


def merge(plans: list[list[RowChange]]) -> list[RowChange]:
    """One sequence for several trees that keeps each tree's foreign-key order.

    Each plan orders its (table, op) steps; the union of those orders is sorted
    topologically, and changes are stably sorted by their step's place in it,
    so like changes sit together for executemany and every tree stays correct.
    Plans that contradict each other raise ValueError (apply them one by one)."""
    first: dict[tuple[str, str], int] = {}
    after: dict[tuple[str, str], set] = {}
    for changes in plans:
        steps = [k for k, _ in groupby(changes, key=lambda c: (c.table, c.op))]
        for k in steps:
            first.setdefault(k, len(first))
            after.setdefault(k, set())
        for a, b in zip(steps, steps[1:]):
            after[a].add(b)
    indegree = {k: 0 for k in first}
    for targets in after.values():
        for b in targets:
            indegree[b] += 1
    ready = sorted((k for k, n in indegree.items() if n == 0), key=first.get)
    order: list[tuple[str, str]] = []
    while ready:
        k = ready.pop(0)
        order.append(k)
        for b in sorted(after[k], key=first.get):
            indegree[b] -= 1
            if indegree[b] == 0:
                ready.append(b)
                ready.sort(key=first.get)
    if len(order) != len(first):
        raise ValueError("plans disagree on the order of their steps; apply them one by one")
    rank = {k: i for i, k in enumerate(order)}
    return sorted((c for changes in plans for c in changes), key=lambda c: rank[(c.table, c.op)])


def write(conn: Connection, changes: Iterable[RowChange]) -> None:
    """Batched writes, in the given order (which keeps foreign keys satisfied)."""
    inserted: set[str] = set()
    for (name, op), group in groupby(changes, key=lambda c: (c.table, c.op)):
        table, group = _table(name), list(group)
        if op == UPDATE:
            _update(conn, table, group)
        elif op == DELETE:
            _delete(conn, table, group)
        else:
            conn.execute(table.insert(), [_coerce(table, c.after) for c in group])
            inserted.add(name)
    if inserted and conn.dialect.name == "postgresql":
        _bump_sequences(conn, inserted)


def _coerce(table: sa.Table, row: dict) -> dict:
    """Only the table's own columns (a log written by a newer Heat schema may have more)."""
    return {k: v for k, v in row.items() if k in table.c}


def _update(conn: Connection, table: sa.Table, group: list[RowChange]) -> None:
    """Changes setting the same columns go together: one driver-level executemany,
    or on MySQL/MariaDB one ``CASE`` statement per chunk (see ``_update_by_case``)."""
    pk = _pk_column(table)
    mark = _PLACEHOLDERS.get(conn.dialect.paramstyle)
    if mark is None:  # db.normalise_url pins sqlite3, PyMySQL and psycopg
        raise ValueError(f"convmig cannot write updates through a {conn.dialect.paramstyle!r} driver")
    by_case = conn.dialect.name in ("mysql", "mariadb")
    for cols, same_cols in groupby(sorted(group, key=lambda c: tuple(sorted(c.after))), key=lambda c: tuple(sorted(c.after))):
        same_cols = list(same_cols)
        if by_case:
            _update_by_case(conn, table, pk, cols, same_cols)
        else:
            _update_by_executemany(conn, table, pk, cols, same_cols, mark)


#: The positional placeholder of the paramstyles of the drivers convmig uses.
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _update_by_executemany(conn: Connection, table: sa.Table, pk: sa.Column, cols: tuple,
                           changes: list[RowChange], mark: str) -> None:
    """One driver-level executemany of ``UPDATE t SET c = ? … WHERE id = ?``.

    sqlite3 runs it as one C loop and psycopg pipelines it. Written as SQL text
    with the columns' bind processors applied, because SQLAlchemy's executemany
    builds a parameter dict per row in Python: a fifth of the write time."""
    quote = conn.dialect.identifier_preparer.quote
    binders = [_binder(table.c[col], conn.dialect) for col in cols]
    key_bind = _binder(pk, conn.dialect)
    sets = ", ".join(f"{quote(col)} = {mark}" for col in cols)
    sql = f"UPDATE {quote(table.name)} SET {sets} WHERE {quote(pk.name)} = {mark}"
    rows = [(*(bind(c.after[col]) for bind, col in zip(binders, cols)), key_bind(c.pk[pk.name])) for c in changes]
    conn.exec_driver_sql(sql, rows)


def _update_by_case(conn: Connection, table: sa.Table, pk: sa.Column, cols: tuple, changes: list[RowChange]) -> None:
    """``UPDATE t SET c = CASE id WHEN k1 THEN v1 … END … WHERE id IN (k1, …)``.

    PyMySQL runs an executemany UPDATE as one statement and one round trip per
    row, which made the writes a third of a MariaDB migration; this is one round
    trip per chunk. Every key was just read under ``FOR UPDATE``, so each row
    exists and matches its image. The SQL is written directly, with the
    columns' own bind processors applied: an expression tree of a thousand
    branches cost more to build and compile than the round trips it saved."""
    quote = conn.dialect.identifier_preparer.quote
    key_bind = _binder(pk, conn.dialect)
    binders = {col: _binder(table.c[col], conn.dialect) for col in cols}
    for part in chunks(changes, CASE_ROWS):
        keys = [key_bind(c.pk[pk.name]) for c in part]
        branches = " ".join(["WHEN %s THEN %s"] * len(part))
        sets = ", ".join(f"{quote(col)} = CASE {quote(pk.name)} {branches} END" for col in cols)
        sql = f"UPDATE {quote(table.name)} SET {sets} WHERE {quote(pk.name)} IN ({', '.join(['%s'] * len(part))})"
        params: list = []
        for col in cols:
            bind = binders[col]
            for key, c in zip(keys, part):
                params += (key, bind(c.after[col]))
        conn.exec_driver_sql(sql, tuple(params + keys))


#: Rows per CASE statement.
CASE_ROWS = 500


def _binder(column: sa.Column, dialect) -> Callable[[Any], Any]:
    """The column type's bind processor for this dialect (identity if it has none)."""
    return column.type.bind_processor(dialect) or (lambda value: value)


def _delete(conn: Connection, table: sa.Table, group: list[RowChange]) -> None:
    pk = _pk_column(table)
    keys = [c.pk[pk.name] for c in group]
    for part in chunks(keys):
        conn.execute(table.delete().where(pk.in_(part)))


def _bump_sequences(conn: Connection, tables: set[str]) -> None:
    """After explicit-id inserts, make sure PostgreSQL's serial sequences stay ahead
    of every id, so Heat's next insert never collides with a restored row."""
    for name in sorted(tables):
        pk = _pk_column(_table(name))
        if not isinstance(pk.type, sa.Integer):
            continue
        seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": name, "c": pk.name}).scalar()
        if seq is None:
            continue
        last = conn.execute(sa.text(f"SELECT last_value FROM {seq}")).scalar()
        top = conn.execute(sa.select(sa.func.max(pk))).scalar()
        if top is not None and top > last:
            conn.execute(sa.text("SELECT setval(:s, :v)"), {"s": seq, "v": top})
