"""The interop suites' shared harness: database servers, the World of one
server's databases (Heat's driver and convmig run as subprocesses against
them), dumps and diffs of Heat's tables, and the checks of a convergence
update and delete. Test modules import it; no test module imports another.

Heat runs in its own virtual environment (openstack-heat pulls SQLAlchemy 2.1,
convmig needs <2.1): ``heat_driver.py`` runs there, convmig from this
environment as ``python -m migrator``; both only as subprocesses.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import _require  # the suite's one rule: skip on a laptop, fail in CI

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("heat_driver.py")
PG_URL = os.environ.get("CONVMIG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("CONVMIG_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
TIMEOUT = int(os.environ.get("CONVMIG_INTEROP_TIMEOUT", "600"))


# --------------------------------------------------------------------------- database servers


class SQLite:
    name = "sqlite"

    def __init__(self, directory: Path):
        self.dir = directory

    def url(self, db: str) -> str:
        return f"sqlite:///{self.dir / (db + '.sqlite')}"

    def create(self, db: str) -> str:
        sqlite3.connect(self.dir / f"{db}.sqlite").close()
        return self.url(db)

    def copy(self, src: str, dst: str) -> str:
        with sqlite3.connect(self.dir / f"{src}.sqlite") as s, sqlite3.connect(self.dir / f"{dst}.sqlite") as d:
            s.backup(d)
        return self.url(dst)

    def drop_all(self) -> None:
        pass  # pytest's tmp_path


class Server:
    """A server on which the suite may CREATE/DROP DATABASE interop_*."""

    def __init__(self, admin_url: str, label: str):
        _require(admin_url, label)
        self.admin_url = sa.engine.make_url(admin_url)
        self.admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.prefix = f"interop_{uuid.uuid4().hex[:8]}"
        self.made: list[str] = []

    def dbname(self, db: str) -> str:
        return f"{self.prefix}_{db}"

    def url(self, db: str) -> str:
        return self.admin_url.set(database=self.dbname(db)).render_as_string(hide_password=False)

    def execute(self, *statements: str) -> None:
        with self.admin.connect() as conn:
            for sql in statements:
                conn.exec_driver_sql(sql)

    def drop_all(self) -> None:
        if os.environ.get("CONVMIG_INTEROP_KEEP"):
            return
        for name in self.made:
            self.drop(name)
        self.admin.dispose()


class PostgreSQL(Server):
    name = "postgresql"

    def __init__(self):
        super().__init__(PG_URL, "PostgreSQL")

    def create(self, db: str) -> str:
        self.execute(f'CREATE DATABASE "{self.dbname(db)}"')
        self.made.append(self.dbname(db))
        return self.url(db)

    def copy(self, src: str, dst: str) -> str:
        # A byte-for-byte clone, sequences included; needs no session on src.
        self.execute(f'CREATE DATABASE "{self.dbname(dst)}" TEMPLATE "{self.dbname(src)}"')
        self.made.append(self.dbname(dst))
        return self.url(dst)

    def drop(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class MariaDB(Server):
    name = "mariadb"

    def __init__(self):
        super().__init__(MYSQL_URL, "MariaDB")

    def create(self, db: str) -> str:
        self.execute(f"CREATE DATABASE `{self.dbname(db)}`")
        self.made.append(self.dbname(db))
        return self.url(db)

    def copy(self, src: str, dst: str) -> str:
        """The same tables recreated from SHOW CREATE TABLE (foreign keys, indexes,
        AUTO_INCREMENT counters) and their rows copied."""
        s, d = self.dbname(src), self.dbname(dst)
        self.create(dst)
        with self.admin.connect() as conn:
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
            tables = [r[0] for r in conn.exec_driver_sql(f"SHOW FULL TABLES FROM `{s}` WHERE Table_type = 'BASE TABLE'")]
            conn.exec_driver_sql(f"USE `{d}`")  # the DDL names its foreign-key targets unqualified
            for t in tables:
                ddl = conn.exec_driver_sql(f"SHOW CREATE TABLE `{s}`.`{t}`").one()[1]
                conn.exec_driver_sql(ddl)
                conn.exec_driver_sql(f"INSERT INTO `{d}`.`{t}` SELECT * FROM `{s}`.`{t}`")
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
        return self.url(dst)

    def drop(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS `{name}`")


# --------------------------------------------------------------------------- subprocesses


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class World:
    """One server's databases, the stacks on them and what each step returned."""

    def __init__(self, backend, heat_python: Path, logdir: Path):
        self.backend = backend
        self.heat_python = heat_python
        self.logdir = logdir
        self.urls: dict[str, str] = {}
        self.steps = 0

    # -- running things ------------------------------------------------------
    def cloud(self, db: str) -> Path:
        """The fake cloud's state for one database (tests/interop/fake_cloud.py)."""
        return self.logdir / f"{db}.cloud.json"

    def heat(self, command: str, db: str, *stack_ids: str, options: tuple[str, ...] = ()) -> dict:
        """heat_driver.py in the Heat environment; its JSON result."""
        self.steps += 1
        log = self.logdir / f"{self.steps:02d}-{command}-{db}.log"
        proc = subprocess.run(
            [str(self.heat_python), str(DRIVER), "--log", str(log), "--cloud", str(self.cloud(db)),
             command, *options, self.urls[db], *stack_ids],
            capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO,
        )
        if proc.returncode != 0:
            pytest.fail(f"heat_driver {command} on {self.backend.name}/{db} exited {proc.returncode}\n"
                        f"stderr:\n{proc.stderr[-3000:]}\nlog {log}:\n{_tail(log)}")
        return json.loads(proc.stdout)

    def convmig(self, db: str, *args: str, expect: tuple[int, ...] = (0,)) -> tuple[int, str, str]:
        """convmig from this environment, as an operator runs it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVMIG_")}
        proc = subprocess.run(
            [sys.executable, "-m", "migrator", "--db", self.urls[db], *args],
            capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO, env=env,
        )
        assert proc.returncode in expect, (
            f"convmig {' '.join(args)} on {self.backend.name}/{db} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
        return proc.returncode, proc.stdout, proc.stderr

    def copy(self, src: str, dst: str) -> None:
        """The database and the fake cloud behind it."""
        self.urls[dst] = self.backend.copy(src, dst)
        if self.cloud(src).exists():
            shutil.copyfile(self.cloud(src), self.cloud(dst))

    # -- a legacy database -------------------------------------------------
    def legacy(self, heat_set: str | None = None) -> dict:
        """Heat's own schema (``db_sync``) on a fresh "base" database, then Heat's
        legacy engine creates a set of ``heat_driver.py`` (its default set
        without one); what the driver returned."""
        self.urls["base"] = self.backend.create("base")
        self.heat("dbsync", "base")
        made = self.heat("create", "base", options=("--set", heat_set) if heat_set else ())
        self.created = made["stacks"]
        self.roots = {kind: info["id"] for kind, info in self.created.items()}
        return made


def backend_named(name: str, logdir: Path):
    """The database server of a module's ``params`` entry."""
    return {"sqlite": lambda: SQLite(logdir), "postgresql": PostgreSQL, "mariadb": MariaDB}[name]()


@contextmanager
def legacy_world(name: str, heat_python: Path, logdir: Path, report: dict, heat_set: str | None = None):
    """A World on server ``name`` whose "base" database holds what Heat's legacy
    engine made of ``heat_set`` (the driver's result is ``world.made``), dumped
    as ``world.base_dump``; every database of it is dropped afterwards."""
    backend = backend_named(name, logdir)
    w = World(backend, heat_python, logdir)
    w.report = report
    try:
        w.made = w.legacy(heat_set)
        w.base_dump = dump(w.urls["base"])
        yield w
    finally:
        backend.drop_all()


# --------------------------------------------------------------------------- reading databases


def dump(url: str) -> dict[str, dict[tuple, dict]]:
    """Every Heat table (not convmig's own), row by row keyed by primary key."""
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        out = {}
        with engine.connect() as conn:
            for t in meta.sorted_tables:
                if t.name.startswith("convmig"):
                    continue
                key = list(t.primary_key.columns) or list(t.columns)
                out[t.name] = {tuple(r[c.name] for c in key): dict(r) for r in conn.execute(sa.select(t)).mappings()}
        return out
    finally:
        engine.dispose()


def tree_of(dumped: dict, root_id: str) -> set[str]:
    """Root and descendants by owner_id, as Heat walks them (no backup, not deleted)."""
    children = defaultdict(list)
    for s in dumped["stack"].values():
        if s["owner_id"] and not s["backup"] and s["deleted_at"] is None:
            children[s["owner_id"]].append(s["id"])
    out, todo = set(), [root_id]
    while todo:
        sid = todo.pop()
        out.add(sid)
        todo += children[sid]
    return out


def active_rows(dumped: dict, stack_ids: set[str]) -> list[dict]:
    return [r for r in dumped["resource"].values()
            if r["stack_id"] in stack_ids and not (r["action"] == "DELETE" and r["status"] == "COMPLETE")]


def diff(a: dict, b: dict) -> list[tuple]:
    """(table, key, column, a value, b value) for every difference; whole rows
    present on one side only come as column None."""
    out = []
    for table in sorted(set(a) | set(b)):
        ra, rb = a.get(table, {}), b.get(table, {})
        for key in sorted(set(ra) - set(rb), key=str):
            out.append((table, key, None, ra[key], None))
        for key in sorted(set(rb) - set(ra), key=str):
            out.append((table, key, None, None, rb[key]))
        for key in sorted(set(ra) & set(rb), key=str):
            for col in ra[key]:
                if ra[key][col] != rb[key].get(col):
                    out.append((table, key, col, ra[key][col], rb[key].get(col)))
    return out


def is_uuid(value) -> bool:
    try:
        return isinstance(value, str) and len(value) == 36 and str(uuid.UUID(value)) == value
    except ValueError:
        return False


# --------------------------------------------------------------------------- fixtures


# --------------------------------------------------------------------------- convergence results


def assert_update(result: dict, convergence: bool, replacements: bool = False) -> None:
    """Every root UPDATE_COMPLETE; below it every stack updated, or created by this
    update, or deleted with a removed resource; no resource replaced (unless
    ``replacements``); each live stack holds exactly the resources its template
    enables, all on the engine."""
    assert result["errors"] == {}, result["errors"]
    for root, after in result["after"].items():
        before = {s["id"]: s for s in result["before"][root]}
        before_rows = {(s["id"], r["name"]): r["id"] for s in result["before"][root] for r in s["resources"]}
        assert after[0]["id"] == root and after[0]["state"] == "UPDATE_COMPLETE", after[0]
        for s in after:
            where = f"{s['name']} ({s['id']})"
            if s["deleted"]:
                assert s["state"] == "DELETE_COMPLETE", (where, s["state"], s["reason"])
                continue
            assert s["state"] == "UPDATE_COMPLETE" or (s["state"] == "CREATE_COMPLETE" and s["id"] not in before), \
                (where, s["state"], s["reason"])
            if convergence or s["id"] not in before:
                assert s["convergence"] is convergence, where  # migrated, or created by this update
            else:
                assert s["convergence"] is before[s["id"]]["convergence"], where  # the legacy engine keeps flags
            assert sorted(r["name"] for r in s["resources"]) == s["template_resources"], where
            for r in s["resources"]:
                assert r["state"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "CHECK_COMPLETE"), (where, r)
                if (s["id"], r["name"]) in before_rows and not replacements:
                    assert r["id"] == before_rows[(s["id"], r["name"])], f"{where}: {r['name']} was replaced"
        grown = [s for s in after if not s["deleted"] and s["template_resources"] == ["0", "1", "2"]]
        if before[root]["name"].endswith("nested"):
            assert grown, "the ResourceGroup grew from 2 to 3 members"


def assert_delete(result: dict) -> None:
    assert result["errors"] == {}, result["errors"]
    for root, after in result["after"].items():
        for s in after:
            assert s["deleted"] and s["state"] == "DELETE_COMPLETE", (s["name"], s["state"], s["reason"])
            assert s["resources"] == [], (s["name"], s["resources"])
