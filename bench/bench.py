#!/usr/bin/env python3
"""How fast is convmig on a cloud-sized Heat database, and how far from the floor?

For each backend and size the benchmark builds a sample legacy Heat database with
``migrator.sample.build.build_sample`` (``specials=False``, fixed seed: every root is a
migratable COMPLETE tree of about 10 resources, with nesting). Building is not
timed. Then, ``--runs`` times, on a fresh identical copy of that database, it
runs convmig as a subprocess, exactly as an operator would, and measures:

  plan       ``convmig --db URL migrate --dry-run --all --format json``  (planning every tree, printed)
  migrate    ``convmig --db URL migrate --all --format json``   (wall s, trees/s)
  log page   ``convmig --db URL log``                            (first page)
  log scan   ``convmig --db URL log --verify``                   (reads every event)
  rollback   ``convmig --db URL rollback --run RUN --yes``       (all of them)

and the peak RSS and the CPU time (user + system) of each command (the
child's own ``ru_maxrss`` and ``ru_utime + ru_stime`` from ``os.wait4``; the
CPU time is convmig's own work, which another process's load changes little,
though it leaves out the database server's). Each figure is the median over the runs (min and max too).

The floor: on another fresh copy, the same final rows are written by the
plainest bulk SQL there is, through the bare DB-API driver (sqlite3, psycopg,
PyMySQL): one transaction, ``executemany`` UPDATEs of exactly the columns and
rows convmig changed, and DELETEs of exactly the rows it deleted; no planning,
no log. Those rows are derived, untimed, by diffing a full dump of every Heat
table before and after convmig's first migrate run. Only connect + statements
+ commit is timed. The floor's result is then diffed against the original too
and must equal convmig's result (``stack.current_traversal`` compared as "set",
since convmig draws fresh ones), so the floor provably writes what convmig
writes. The floor's database first gets, untimed, the same supporting indexes
convmig builds for its runs (without them PostgreSQL's foreign-key checks make
the floor quadratic). "ratio" is convmig migrate time / floor time; convmig's time includes
its process start-up (shown under the table), the floor's does not.

Checks, all untimed, on the first run (every run with --check-every-run): the
copy equals the template (MariaDB), convmig migrated every tree and changed the
same rows as on run 1, Heat's schema (columns, indexes, foreign keys) is the
template's after migrate and after rollback (no supporting index left),
rollback restored every Heat table exactly, and the floor equals convmig.

Copies: SQLite copies the file; PostgreSQL builds ``bench_tmpl_<roots>`` once
and runs ``CREATE DATABASE bench_run TEMPLATE bench_tmpl_<roots>`` per copy;
MariaDB builds ``bench_tmpl_<roots>`` once and copies it per run into a fresh
``bench_run`` created with convmig's own schema (every index and foreign key)
filled by ``INSERT ... SELECT``. The bench_* databases are dropped at the end
unless --keep.

Output: a Markdown table on stdout, progress on stderr, and with --out a JSON
file of every raw timing, the checks and the floor's statements.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from migrator.heat.connection import make_engine  # noqa: E402
from migrator.heat.indexes import SupportIndexes, serialised  # noqa: E402
from migrator.sample.build import build_sample  # noqa: E402
from migrator.heat.schema import HEAT_TABLES, create_schema  # noqa: E402

EXAMPLES = """\
examples:
  python bench/bench.py --smoke                       # 20 roots, 1 run, SQLite: seconds (CI)
  python bench/bench.py --roots 1000 --backends sqlite,postgresql,mariadb --runs 3
  python bench/bench.py --roots 1000,10000 --backends sqlite --runs 3 --out results.json
  python bench/bench.py --roots 10000,100000 --backends sqlite --runs 1 --out r.json --plot per-tree.png
  python bench/bench.py --roots 1000 --backends postgresql \\
      --pg-url postgresql+psycopg://postgres@db:5432/postgres --keep

The PostgreSQL and MariaDB URLs name an admin database to connect to; the
benchmark creates and drops bench_tmpl_<roots> and bench_run next to it.
"""

DEFAULT_PG = os.environ.get("CONVMIG_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DEFAULT_MYSQL = os.environ.get("CONVMIG_BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
SEED = 20250801
RUN_DB = "bench_run"

#: The column whose values convmig draws afresh on every run.
VOLATILE = {("stack", "current_traversal")}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A check failed or a command misbehaved: the benchmark's numbers are void."""


# =========================================================================== backends


class Backend:
    """One database server: build the template once, make fresh copies of it."""

    name = ""

    def __init__(self, roots: int):
        self.roots = roots

    def build(self, seed: int) -> dict[str, int]:
        raise NotImplementedError

    def fresh_copy(self) -> str:
        """A fresh copy of the template; returns its URL."""
        raise NotImplementedError

    def drop_copy(self) -> None:
        raise NotImplementedError

    def cleanup(self, keep: bool) -> None:
        raise NotImplementedError

    @property
    def template_url(self) -> str:
        raise NotImplementedError

    @property
    def copy_verified(self) -> bool:
        """True when a copy is byte-identical by construction (file copy, TEMPLATE)."""
        return True

    def raw_connect(self, url: str):
        """A bare DB-API connection (no SQLAlchemy) for the floor."""
        raise NotImplementedError

    paramstyle = "%s"


class SQLiteBackend(Backend):
    name = "sqlite"
    paramstyle = "?"

    def __init__(self, roots: int, workdir: Path):
        super().__init__(roots)
        self.dir = workdir
        self.tmpl = workdir / f"bench_tmpl_{roots}.sqlite"
        self.run = workdir / f"{RUN_DB}.sqlite"

    @property
    def template_url(self) -> str:
        return f"sqlite:///{self.tmpl}"

    def build(self, seed: int) -> dict[str, int]:
        self.tmpl.unlink(missing_ok=True)
        engine = make_engine(self.template_url, must_exist=False)
        try:
            return build_sample(engine, self.roots, seed=seed, specials=False).counts
        finally:
            engine.dispose()

    def fresh_copy(self) -> str:
        self.drop_copy()
        shutil.copyfile(self.tmpl, self.run)
        return f"sqlite:///{self.run}"

    def drop_copy(self) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.run}{suffix}").unlink(missing_ok=True)

    def cleanup(self, keep: bool) -> None:
        if not keep:
            self.drop_copy()
            self.tmpl.unlink(missing_ok=True)

    def raw_connect(self, url: str):
        return sqlite3.connect(sa.engine.make_url(url).database)


class ServerBackend(Backend):
    """PostgreSQL or MariaDB: databases next to the admin URL's."""

    def __init__(self, roots: int, admin_url: str):
        super().__init__(roots)
        self.admin_url = sa.engine.make_url(admin_url)
        self.tmpl_db = f"bench_tmpl_{roots}"
        self.admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def url_of(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    @property
    def template_url(self) -> str:
        return self.url_of(self.tmpl_db)

    def sql(self, statement: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(statement)

    def probe(self) -> None:
        try:
            self.sql("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means unreachable
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise BenchError(f"{self.name} at {self.admin_url.render_as_string(hide_password=True)} unreachable: {reason}")

    def drop_copy(self) -> None:
        self.drop(RUN_DB)

    def cleanup(self, keep: bool) -> None:
        if not keep:
            self.drop(RUN_DB)
            self.drop(self.tmpl_db)
        self.admin.dispose()

    def raw_args(self, url: str, **names: str) -> dict:
        return sa.engine.make_url(url).translate_connect_args(**names)


class PostgresBackend(ServerBackend):
    name = "postgresql"

    def drop(self, database: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def build(self, seed: int) -> dict[str, int]:
        self.drop(RUN_DB)
        self.drop(self.tmpl_db)
        self.sql(f'CREATE DATABASE "{self.tmpl_db}"')
        engine = make_engine(self.template_url)
        try:
            counts = build_sample(engine, self.roots, seed=seed, specials=False).counts
        finally:
            engine.dispose()
        # Statistics as a real, long-lived database has them; copied with the template.
        analyze = sa.create_engine(self.template_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with analyze.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        analyze.dispose()
        return counts

    def fresh_copy(self) -> str:
        self.drop(RUN_DB)
        for attempt in range(50):
            try:
                self.sql(f'CREATE DATABASE "{RUN_DB}" TEMPLATE "{self.tmpl_db}"')
                break
            except sa.exc.OperationalError as exc:
                # A session that just closed may still be leaving the template.
                if "being accessed by other users" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.1)
        return self.url_of(RUN_DB)

    def raw_connect(self, url: str):
        import psycopg

        return psycopg.connect(**self.raw_args(url, username="user", database="dbname"))


class MariaDBBackend(ServerBackend):
    name = "mariadb"

    def drop(self, database: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS `{database}`")

    def create(self, database: str) -> None:
        self.sql(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")

    def build(self, seed: int) -> dict[str, int]:
        self.drop(RUN_DB)
        self.drop(self.tmpl_db)
        self.create(self.tmpl_db)
        engine = make_engine(self.template_url)
        try:
            return build_sample(engine, self.roots, seed=seed, specials=False).counts
        finally:
            engine.dispose()

    @property
    def copy_verified(self) -> bool:
        return False

    def fresh_copy(self) -> str:
        # CREATE TABLE ... LIKE drops foreign keys on MariaDB: create the schema
        # exactly as the sample builder does, then copy the rows server-side.
        self.drop(RUN_DB)
        self.create(RUN_DB)
        url = self.url_of(RUN_DB)
        engine = make_engine(url)
        try:
            create_schema(engine)
            with engine.begin() as conn:
                for table in HEAT_TABLES:
                    cols = ", ".join(f"`{c.name}`" for c in table.columns)
                    conn.exec_driver_sql(
                        f"INSERT INTO `{RUN_DB}`.`{table.name}` ({cols}) "
                        f"SELECT {cols} FROM `{self.tmpl_db}`.`{table.name}`"
                    )
        finally:
            engine.dispose()
        return url

    def raw_connect(self, url: str):
        import pymysql

        return pymysql.connect(**self.raw_args(url, username="user", database="database"), charset="utf8mb4")


# =========================================================================== dump and diff


def _digest(row: tuple) -> bytes:
    return hashlib.blake2b(repr(row).encode(), digest_size=16).digest()


def _pk_getter(table: sa.Table):
    cols = list(table.columns)
    idx = [cols.index(c) for c in table.primary_key.columns]
    return lambda row: tuple(row[i] for i in idx)


def _scan(conn: sa.Connection, table: sa.Table) -> Iterator[tuple]:
    stmt = sa.select(*table.columns).order_by(*table.primary_key.columns)
    yield from conn.execution_options(yield_per=5000).execute(stmt)


def _fetch(conn: sa.Connection, table: sa.Table, pks: list[tuple]) -> dict[tuple, tuple]:
    pk_of = _pk_getter(table)
    pkcols = list(table.primary_key.columns)
    out: dict[tuple, tuple] = {}
    for start in range(0, len(pks), 500):
        chunk = pks[start:start + 500]
        if len(pkcols) == 1:
            cond = pkcols[0].in_([k[0] for k in chunk])
        else:
            cond = sa.tuple_(*pkcols).in_(chunk)
        for row in conn.execute(sa.select(*table.columns).where(cond)):
            out[pk_of(tuple(row))] = tuple(row)
    return out


@dataclass
class TableDiff:
    changed: dict[tuple, dict[str, tuple[Any, Any]]] = field(default_factory=dict)  # pk -> col -> (before, after)
    deleted: list[tuple] = field(default_factory=list)
    inserted: dict[tuple, tuple] = field(default_factory=dict)  # pk -> full row

    def empty(self) -> bool:
        return not (self.changed or self.deleted or self.inserted)


def schema_of(url: str) -> dict:
    """Heat's tables as the database describes them: columns, indexes (by their
    columns and uniqueness) and foreign keys. Two databases with equal schemas
    give equal results, whatever the names of their databases."""
    engine = make_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {table: {
            "columns": sorted(c["name"] for c in inspector.get_columns(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)),
            "foreign_keys": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                                   for f in inspector.get_foreign_keys(table)),
        } for table in (t.name for t in HEAT_TABLES)}
    finally:
        engine.dispose()


def diff_databases(before_url: str, after_url: str) -> dict[str, TableDiff]:
    """Every Heat table, row by row: what differs between two databases.

    One table at a time; the before side is held as a digest per row, so memory
    stays modest on big samples."""
    before_engine = make_engine(before_url)
    after_engine = make_engine(after_url)
    result: dict[str, TableDiff] = {}
    try:
        with before_engine.connect() as bconn, after_engine.connect() as aconn:
            for table in HEAT_TABLES:
                pk_of = _pk_getter(table)
                digests = {}
                for row in _scan(bconn, table):
                    row = tuple(row)
                    digests[pk_of(row)] = _digest(row)
                d = TableDiff()
                changed_after: dict[tuple, tuple] = {}
                for row in _scan(aconn, table):
                    row = tuple(row)
                    pk = pk_of(row)
                    old = digests.pop(pk, None)
                    if old is None:
                        d.inserted[pk] = row
                    elif old != _digest(row):
                        changed_after[pk] = row
                d.deleted = sorted(digests, key=repr)
                if changed_after:
                    before_rows = _fetch(bconn, table, list(changed_after))
                    names = [c.name for c in table.columns]
                    for pk, after in changed_after.items():
                        before = before_rows[pk]
                        d.changed[pk] = {
                            n: (b, a) for n, b, a in zip(names, before, after) if b != a or type(b) is not type(a)
                        }
                if not d.empty():
                    result[table.name] = d
    finally:
        before_engine.dispose()
        after_engine.dispose()
    return result


def canonical(diff: dict[str, TableDiff]) -> dict:
    """A comparable form of a diff: volatile values reduced to whether they are set."""
    out = {}
    for name, d in diff.items():
        changed = {}
        for pk, cols in d.changed.items():
            changed[pk] = {
                c: (b, "<set>" if (name, c) in VOLATILE and a is not None else a) for c, (b, a) in cols.items()
            }
        out[name] = {"changed": changed, "deleted": sorted(d.deleted, key=repr), "inserted": d.inserted}
    return out


def describe_diff(diff: dict[str, TableDiff]) -> dict:
    """Counts per table: rows updated (and which columns), deleted, inserted."""
    out = {}
    for name, d in diff.items():
        cols: dict[str, int] = {}
        for changes in d.changed.values():
            for c in changes:
                cols[c] = cols.get(c, 0) + 1
        out[name] = {"updated": len(d.changed), "columns": cols, "deleted": len(d.deleted), "inserted": len(d.inserted)}
    return out


def first_difference(a: dict, b: dict) -> str:
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            return f"table {name} changed in only one of them"
        for part in ("changed", "deleted", "inserted"):
            x, y = a[name][part], b[name][part]
            if x != y:
                if isinstance(x, dict):
                    for k in sorted(set(x) | set(y), key=repr):
                        if x.get(k) != y.get(k):
                            return f"{name} {part} {k}: {x.get(k)!r} != {y.get(k)!r}"
                return f"{name} {part}: {len(x)} rows vs {len(y)} rows"
    return "no difference"


# =========================================================================== the floor


@dataclass
class Statement:
    sql: str
    params: list[tuple]
    table: str
    op: str


def floor_statements(diff: dict[str, TableDiff], url: str, paramstyle: str) -> list[Statement]:
    """The plainest SQL that turns the original into convmig's result: inserts in
    foreign-key order, one executemany UPDATE per table and set of changed
    columns, deletes in reverse foreign-key order. Parameters are converted to
    DB-API values here, untimed, exactly as SQLAlchemy would bind them."""
    engine = make_engine(url)
    dialect = engine.dialect
    engine.dispose()
    quote = dialect.identifier_preparer.quote

    def processor(col: sa.Column):
        proc = col.type.dialect_impl(dialect).bind_processor(dialect)
        return proc or (lambda v: v)

    def bind(table: sa.Table, names: list[str], values: list) -> tuple:
        return tuple(processor(table.c[n])(v) for n, v in zip(names, values))

    ph = paramstyle
    stmts: list[Statement] = []
    for table in HEAT_TABLES:
        d = diff.get(table.name)
        if d and d.inserted:
            names = [c.name for c in table.columns]
            sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
                   f"VALUES ({', '.join([ph] * len(names))})")
            stmts.append(Statement(sql, [bind(table, names, list(r)) for r in d.inserted.values()], table.name, "insert"))
    for table in HEAT_TABLES:
        d = diff.get(table.name)
        if not d or not d.changed:
            continue
        pknames = [c.name for c in table.primary_key.columns]
        groups: dict[tuple[str, ...], list[tuple]] = {}
        for pk, cols in d.changed.items():
            names = tuple(sorted(cols))
            groups.setdefault(names, []).append(
                bind(table, list(names), [cols[n][1] for n in names]) + bind(table, pknames, list(pk))
            )
        for names, params in sorted(groups.items()):
            sql = (f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(n)} = {ph}' for n in names)} "
                   f"WHERE {' AND '.join(f'{quote(n)} = {ph}' for n in pknames)}")
            stmts.append(Statement(sql, params, table.name, "update"))
    for table in reversed(HEAT_TABLES):
        d = diff.get(table.name)
        if d and d.deleted:
            pknames = [c.name for c in table.primary_key.columns]
            sql = f"DELETE FROM {quote(table.name)} WHERE {' AND '.join(f'{quote(n)} = {ph}' for n in pknames)}"
            stmts.append(Statement(sql, [bind(table, pknames, list(pk)) for pk in d.deleted], table.name, "delete"))
    return stmts


def floor_indexes(url: str) -> list[str]:
    """Untimed, before the floor: the supporting indexes convmig builds for its
    runs (``migrator.heat.indexes``), so the floor's foreign-key checks are not
    the quadratic scans convmig no longer pays (and its time includes building
    them). They stay: the copy is dropped after the floor."""
    engine = make_engine(url)
    try:
        indexes = SupportIndexes(engine)
        planned = indexes.plan()
        with serialised(engine) as conn:
            indexes.build(conn)
        return planned.get("created", [])
    finally:
        engine.dispose()


def run_floor(backend: Backend, url: str, stmts: list[Statement]) -> float:
    """Connect, execute every statement, commit: one transaction, timed."""
    floor_indexes(url)
    t0 = time.perf_counter()
    conn = backend.raw_connect(url)
    try:
        cur = conn.cursor()
        for s in stmts:
            cur.executemany(s.sql, s.params)
        conn.commit()
        elapsed = time.perf_counter() - t0
    finally:
        conn.close()
    return elapsed


# =========================================================================== convmig as a subprocess


@dataclass
class Result:
    wall: float
    rc: int
    rss_mb: float
    stdout: str
    stderr: str
    cpu: float = 0.0  # the child's user + system CPU seconds: its own work, whatever the machine's load


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CONVMIG_DB_URL", "CONVMIG_EVENT_STORE")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


#: The launcher: a bare Python that starts every convmig command and reaps it
#: with ``os.wait4``. Linux counts the memory of the process that forks into a
#: child's ``ru_maxrss`` (the old address space's high-water mark at exec), so
#: convmig is not started from this process, which holds dumps of whole
#: databases, but from this small one (a few MB, far below any convmig peak).
LAUNCHER = r"""
import json, os, sys, time
for line in sys.stdin:
    req = json.loads(line)
    if req is None:
        break
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_OPEN, 2, req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    t0 = time.perf_counter()
    pid = os.posix_spawn(req["argv"][0], req["argv"], req["env"], file_actions=actions)
    _pid, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    # The launcher's own high-water mark (its rusage would include its parent's).
    own = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    sys.stdout.write(json.dumps({"wall": wall, "status": status, "maxrss_kb": usage.ru_maxrss, "launcher_kb": own,
                                 "cpu": usage.ru_utime + usage.ru_stime}) + "\n")
    sys.stdout.flush()
"""

_launcher: subprocess.Popen | None = None
LAUNCHER_RSS_MB = 0.0


def _launch(argv: list[str], env: dict[str, str], stdout: str, stderr: str) -> dict:
    global _launcher, LAUNCHER_RSS_MB
    if _launcher is None:
        _launcher = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=str(REPO))
    _launcher.stdin.write(json.dumps({"argv": argv, "env": env, "stdout": stdout, "stderr": stderr}) + "\n")
    _launcher.stdin.flush()
    line = _launcher.stdout.readline()
    if not line:
        raise BenchError("the launcher process died")
    reply = json.loads(line)
    LAUNCHER_RSS_MB = reply["launcher_kb"] / 1024.0
    return reply


def stop_launcher() -> None:
    global _launcher
    if _launcher is not None:
        _launcher.stdin.write("null\n")
        _launcher.stdin.close()
        _launcher.wait(timeout=30)
        _launcher.stdout.close()
        _launcher = None


def convmig(url: str | None, *args: str) -> Result:
    """Run ``python -m migrator [--db URL] ARGS``: wall time and the child's own
    peak RSS (``ru_maxrss`` from ``os.wait4`` in the launcher)."""
    argv = [sys.executable, "-m", "migrator", *(["--db", url] if url else []), *args]
    with tempfile.TemporaryDirectory(prefix="convmig-bench-out-") as tmp:
        out, err = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
        reply = _launch(argv, child_env(), out, err)
        with open(out, "rb") as fh:
            stdout = fh.read().decode(errors="replace")
        with open(err, "rb") as fh:
            stderr = fh.read().decode(errors="replace")
    return Result(reply["wall"], os.waitstatus_to_exitcode(reply["status"]), reply["maxrss_kb"] / 1024.0, stdout, stderr,
                  reply["cpu"])


def expect(res: Result, what: str, rc: int = 0) -> None:
    if res.rc != rc:
        lines = res.stderr.strip().splitlines()
        shown = lines if len(lines) <= 20 else [*lines[:12], "...", *lines[-6:]]
        raise BenchError(f"{what} exited {res.rc} (expected {rc}):\n" + "\n".join(shown))


# =========================================================================== one configuration


MEASURES = ("plan", "migrate", "floor", "rollback", "log_page", "log_scan")
COMMANDS = ("plan", "migrate", "rollback", "log_page", "log_scan")


def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def bench_one(backend: Backend, runs: int, seed: int, batch_size: int | None, check_every_run: bool) -> dict:
    name, n = backend.name, backend.roots
    log(f"{name} {n} roots: building the sample (untimed)")
    t0 = time.perf_counter()
    counts = backend.build(seed)
    log(f"{name} {n} roots: built in {time.perf_counter() - t0:.1f}s: {counts['stack']} stacks, "
        f"{counts['resource']} resources")
    timings: dict[str, list[float]] = {m: [] for m in MEASURES}
    rss: dict[str, list[float]] = {c: [] for c in COMMANDS}
    cpu: dict[str, list[float]] = {c: [] for c in COMMANDS}
    checks: list[str] = []
    heat_schema = schema_of(backend.template_url)
    reference = None
    stmts: list[Statement] = []
    diff_summary: dict = {}
    migrate_args = ["migrate", "--all", "--format", "json"] + (["--batch-size", str(batch_size)] if batch_size else [])
    for i in range(1, runs + 1):
        check = i == 1 or check_every_run
        tag = f"{name} {n} roots run {i}/{runs}"

        url = backend.fresh_copy()
        if check and not backend.copy_verified:
            if diff_databases(backend.template_url, url):
                raise BenchError(f"{tag}: the fresh copy differs from the template")
            checks.append(f"run {i}: copy equals template")

        res = convmig(url, "migrate", "--dry-run", "--all", "--format", "json")
        expect(res, f"{tag}: migrate --dry-run")
        timings["plan"].append(res.wall)
        rss["plan"].append(res.rss_mb)
        cpu["plan"].append(res.cpu)
        log(f"{tag}: plan (dry run) {res.wall:.2f}s ({n / res.wall:.0f} trees/s), {res.rss_mb:.0f} MB")

        res = convmig(url, *migrate_args)
        expect(res, f"{tag}: migrate")
        report = json.loads(res.stdout)
        if report.get("counts") != {"migrated": n}:
            raise BenchError(f"{tag}: migrate counts {report.get('counts')}, expected {{'migrated': {n}}}")
        run_id = report["run_id"]
        timings["migrate"].append(res.wall)
        rss["migrate"].append(res.rss_mb)
        cpu["migrate"].append(res.cpu)
        log(f"{tag}: migrate {res.wall:.2f}s ({n / res.wall:.0f} trees/s), {res.rss_mb:.0f} MB")

        if check:
            if schema_of(url) != heat_schema:
                raise BenchError(f"{tag}: Heat's schema differs from the template's after migrate (an index left behind?)")
            checks.append(f"run {i}: Heat's schema (tables, columns, indexes, foreign keys) as before after migrate")
        if reference is None or check:
            diff = diff_databases(backend.template_url, url)
            canon = canonical(diff)
            if reference is None:
                reference = canon
                diff_summary = describe_diff(diff)
                stmts = floor_statements(diff, url, backend.paramstyle)
                log(f"{tag}: convmig changed {json.dumps(diff_summary)}")
            elif canon != reference:
                raise BenchError(f"{tag}: convmig changed other rows than in run 1: {first_difference(reference, canon)}")
            else:
                checks.append(f"run {i}: convmig changed the same rows as run 1")
            del diff

        res = convmig(url, "log")
        expect(res, f"{tag}: log")
        timings["log_page"].append(res.wall)
        rss["log_page"].append(res.rss_mb)
        cpu["log_page"].append(res.cpu)

        res = convmig(url, "log", "--verify")
        expect(res, f"{tag}: log --verify")
        if "verified clean" not in res.stderr:
            raise BenchError(f"{tag}: log --verify did not report a clean log: {res.stderr.strip()[-300:]}")
        timings["log_scan"].append(res.wall)
        rss["log_scan"].append(res.rss_mb)
        cpu["log_scan"].append(res.cpu)
        log(f"{tag}: log page {timings['log_page'][-1]:.2f}s, log scan {res.wall:.2f}s")

        res = convmig(url, "rollback", "--run", run_id, "--yes", "--format", "json")
        expect(res, f"{tag}: rollback")
        rb = json.loads(res.stdout)
        if rb.get("counts") != {"rolled back": n}:
            raise BenchError(f"{tag}: rollback counts {rb.get('counts')}, expected {{'rolled back': {n}}}")
        timings["rollback"].append(res.wall)
        rss["rollback"].append(res.rss_mb)
        cpu["rollback"].append(res.cpu)
        log(f"{tag}: rollback {res.wall:.2f}s, {res.rss_mb:.0f} MB")
        if check:
            left = diff_databases(backend.template_url, url)
            if left:
                raise BenchError(f"{tag}: rollback did not restore the Heat tables: {json.dumps(describe_diff(left))}")
            checks.append(f"run {i}: rollback restored every Heat table exactly")
            if schema_of(url) != heat_schema:
                raise BenchError(f"{tag}: Heat's schema differs from the template's after rollback (an index left behind?)")
            checks.append(f"run {i}: Heat's schema as before after rollback")

        url = backend.fresh_copy()
        elapsed = run_floor(backend, url, stmts)
        timings["floor"].append(elapsed)
        log(f"{tag}: floor {elapsed:.3f}s ({sum(len(s.params) for s in stmts)} rows, {len(stmts)} statements)")
        if check:
            got = canonical(diff_databases(backend.template_url, url))
            if got != reference:
                raise BenchError(f"{tag}: the floor's result differs from convmig's: {first_difference(reference, got)}")
            checks.append(f"run {i}: floor result equals convmig's (current_traversal compared as set)")
        backend.drop_copy()

    summary = {m: stats(v) for m, v in timings.items()}
    return {
        "backend": name,
        "roots": n,
        "seed": seed,
        "counts": counts,
        "timings": summary,
        "rss_mb": {c: {"max": max(v), "runs": v} for c, v in rss.items()},
        "cpu_s": {c: stats(v) for c, v in cpu.items() if v},
        "trees_per_s": n / summary["migrate"]["median"],
        "ratio": summary["migrate"]["median"] / summary["floor"]["median"],
        "floor": {
            "rows": diff_summary,
            "statements": [{"table": s.table, "op": s.op, "sql": s.sql, "rows": len(s.params)} for s in stmts],
        },
        "checks": checks,
    }


# =========================================================================== report


def fmt_s(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def markdown(results: list[dict], startup: dict | None) -> str:
    head = ["backend", "roots", "stacks", "resources", "plan (dry run) s", "migrate s", "trees/s", "floor s", "ratio",
            "rollback s", "log first page s", "log full scan s",
            "peak RSS MB plan / migrate / rollback / log page / log scan"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in results:
        t = r["timings"]
        rss = " / ".join(f"{r['rss_mb'][c]['max']:.0f}" for c in COMMANDS)
        cells = [r["backend"], str(r["roots"]), str(r["counts"]["stack"]), str(r["counts"]["resource"]),
                 fmt_s(t["plan"]["median"]), fmt_s(t["migrate"]["median"]), f"{r['trees_per_s']:.0f}", fmt_s(t["floor"]["median"]),
                 f"{r['ratio']:.1f}", fmt_s(t["rollback"]["median"]), fmt_s(t["log_page"]["median"]),
                 fmt_s(t["log_scan"]["median"]), rss]
        lines.append("| " + " | ".join(cells) + " |")
    runs = sorted({len(r["timings"]["migrate"]["runs"]) for r in results})
    lines.append("")
    lines.append(f"Medians over {'/'.join(map(str, runs))} run(s); peak RSS is the largest of the runs. "
                 "min–max per measure:")
    lines.append("")
    head2 = ["backend", "roots", *[f"{m} s" for m in MEASURES]]
    lines.append("| " + " | ".join(head2) + " |")
    lines.append("|" + "|".join(["---"] * len(head2)) + "|")
    for r in results:
        t = r["timings"]
        lines.append("| " + " | ".join([r["backend"], str(r["roots"]),
                                         *[f"{fmt_s(t[m]['min'])}–{fmt_s(t[m]['max'])}" for m in MEASURES]]) + " |")
    if startup:
        lines.append("")
        lines.append(f"convmig process start-up (`python -m migrator --help`, included in every convmig time): "
                     f"median {startup['median']:.3f}s, {startup['rss_mb']:.0f} MB.")
    return "\n".join(lines)


def measure_startup(runs: int) -> dict:
    walls, mem = [], []
    for _ in range(max(runs, 3)):
        res = convmig(None, "--help")
        expect(res, "convmig --help")
        walls.append(res.wall)
        mem.append(res.rss_mb)
    return {**stats(walls), "rss_mb": max(mem)}


def git_state() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:  # noqa: BLE001 - not a checkout
            return ""

    return {"head": git("rev-parse", "HEAD"), "dirty": git("status", "--porcelain", "--untracked-files=no").splitlines()}


# =========================================================================== main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/bench.py",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--roots", default="1000", metavar="N[,N...]",
                   help="sample sizes in root stacks, comma-separated (default 1000)")
    p.add_argument("--backends", default=None, metavar="B[,B...]",
                   help="sqlite, postgresql, mariadb, comma-separated (default sqlite)")
    p.add_argument("--runs", type=int, default=3, help="measured runs per backend and size; medians are reported (default 3)")
    p.add_argument("--out", metavar="FILE", help="write every raw timing, check and floor statement as JSON")
    p.add_argument("--smoke", action="store_true",
                   help="tiny and quick, for CI: 20 roots, 1 run, SQLite unless --backends is given")
    p.add_argument("--seed", type=int, default=SEED, help=f"sample seed (default {SEED})")
    p.add_argument("--batch-size", type=int, default=None, help="pass --batch-size to migrate (default: convmig's)")
    p.add_argument("--check-every-run", action="store_true",
                   help="run the untimed correctness checks on every run, not just the first")
    p.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL admin URL (default %(default)s; env CONVMIG_BENCH_PG_URL)")
    p.add_argument("--mysql-url", default=DEFAULT_MYSQL, help="MariaDB admin URL (default %(default)s; env CONVMIG_BENCH_MYSQL_URL)")
    p.add_argument("--workdir", metavar="DIR", help="where SQLite files go (default: a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the template databases and files at the end")
    p.add_argument("--variant", metavar="TEXT", help="what is special about this setup (e.g. a server setting), "
                   "recorded with each result; bench/plot.py draws it as a line of its own")
    p.add_argument("--plot", metavar="PNG", help="also draw ms per tree against roots into PNG (needs --out; "
                   "bench/plot.py combines several result files)")
    args = p.parse_args(argv)
    if args.smoke:
        args.roots = "20"
        args.runs = 1
    if args.backends is None:
        args.backends = "sqlite"
    try:
        args.sizes = [int(x) for x in args.roots.split(",") if x.strip()]
    except ValueError:
        p.error("--roots: comma-separated integers, e.g. 1000,10000")
    if not args.sizes or any(x < 1 for x in args.sizes):
        p.error("--roots: at least one positive size")
    args.backend_list = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in args.backend_list if b not in ("sqlite", "postgresql", "mariadb")]
    if unknown:
        p.error(f"--backends: unknown {', '.join(unknown)} (sqlite, postgresql, mariadb)")
    if args.runs < 1:
        p.error("--runs: at least 1")
    if args.plot and not args.out:
        p.error("--plot needs --out (the plot is drawn from the results file)")
    return args


def make_backend(name: str, roots: int, args, workdir: Path) -> Backend:
    if name == "sqlite":
        return SQLiteBackend(roots, workdir)
    backend = PostgresBackend(roots, args.pg_url) if name == "postgresql" else MariaDBBackend(roots, args.mysql_url)
    backend.probe()
    return backend


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    own_dir = args.workdir is None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="convmig-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    results: list[dict] = []
    errors: list[str] = []
    startup = None
    try:
        log("measuring convmig process start-up")
        startup = measure_startup(args.runs)
        for name in args.backend_list:
            for roots in args.sizes:
                backend = None
                try:
                    backend = make_backend(name, roots, args, workdir)
                    result = bench_one(backend, args.runs, args.seed, args.batch_size, args.check_every_run)
                    results.append({**result, "variant": args.variant} if args.variant else result)
                except BenchError as exc:
                    errors.append(f"{name} {roots}: {exc}")
                    log(f"ERROR {name} {roots}: {exc}")
                finally:
                    if backend is not None:
                        backend.cleanup(args.keep)
    finally:
        stop_launcher()
        if own_dir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if results:
        print(markdown(results, startup))
    if args.out:
        doc = {
            "command": " ".join([os.path.relpath(sys.argv[0]) if sys.argv[0] else "bench/bench.py", *(argv if argv is not None else sys.argv[1:])]),
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"host": socket.gethostname(), "cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()},
            "git": git_state(),
            "startup": startup,
            "launcher_rss_mb": LAUNCHER_RSS_MB,
            "results": results,
            "errors": errors,
        }
        Path(args.out).write_text(json.dumps(doc, indent=2, default=str) + "\n")
        log(f"wrote {args.out}")
        if args.plot and results:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            import plot  # noqa: E402 - bench/plot.py, beside this file

            plot.plot(plot.load([args.out]), args.plot)
            log(f"wrote {args.plot}")
    for e in errors:
        print(f"bench: error: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
