"""Everything the tests share: database servers, dumps, ways to run convmig,
in-memory Heat rows, event log builders and generated templates.

The one helper module of the suite (fixtures are in ``conftest.py``, which
imports from here). No test module imports another; pyproject's
``pythonpath = ["tests"]`` makes ``from helpers import ...`` work under every
import mode, ``--import-mode=importlib`` included.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from datetime import time as time_of_day
from decimal import Decimal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import strategies as st

from events import EventLog, Run
from migrator.cli import main
from migrator.heat import schema
from migrator.heat.connection import make_engine
from migrator.heat.tree import Tree, tree_stacks

# =========================================================================== database servers
#
# SQLite always runs. PostgreSQL (a fresh schema per test) and MariaDB (a fresh
# database per test) run when their servers answer; on a laptop without them the
# tests skip with the reason, and in CI (``CI`` set) they fail instead, so a dead
# server can never turn the suite green.

PG_ADMIN_URL = os.environ.get("CONVMIG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN_URL = os.environ.get("CONVMIG_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")

_reachable: dict[str, str | None] = {}


def _probe(url: str) -> str | None:
    """None when the server answers, else the reason (cached per session)."""
    if url not in _reachable:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            _reachable[url] = None
        except Exception as exc:  # noqa: BLE001 - any failure means unreachable
            _reachable[url] = str(getattr(exc, "orig", exc)).splitlines()[0]
        finally:
            engine.dispose()
    return _reachable[url]


def _require(url: str, name: str) -> None:
    """Skip (fail in CI) unless the server at ``url`` answers."""
    reason = _probe(url)
    if reason is None:
        return
    message = f"{name} at {sa.engine.make_url(url).render_as_string(hide_password=True)} unreachable: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI requires every database server)")
    pytest.skip(message)


def _sqlite_url(tmp_path) -> tuple[str, callable]:
    path = tmp_path / "heat.sqlite"
    return f"sqlite:///{path}", lambda: None


def _pg_url() -> tuple[str, callable]:
    _require(PG_ADMIN_URL, "PostgreSQL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.engine.make_url(PG_ADMIN_URL).update_query_dict({"options": f"-csearch_path={schema}"})

    def drop():
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def _mysql_url() -> tuple[str, callable]:
    _require(MYSQL_ADMIN_URL, "MariaDB")
    name = f"convmig_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(MYSQL_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    url = sa.engine.make_url(MYSQL_ADMIN_URL).set(database=name)

    def drop():
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
]


def make_db_url(backend: str, tmp_path) -> tuple[str, callable]:
    """A URL of an empty database on ``backend`` and the function that drops it."""
    if backend == "sqlite":
        return _sqlite_url(tmp_path)
    if backend == "postgresql":
        return _pg_url()
    return _mysql_url()


require_server = _require

# =========================================================================== reading a Heat database back


def dump(target, exclude: tuple[str, ...] = ()) -> dict:
    """Every Heat table, row for row, column for column (ordered by key), of a
    URL, an engine or an open connection (read inside its transaction)."""
    if isinstance(target, sa.engine.Connection):
        return {t.name: [dict(r) for r in target.execute(sa.select(t).order_by(*t.primary_key.columns)).mappings()]
                for t in schema.HEAT_TABLES if t.name not in exclude}
    engine = make_engine(target) if isinstance(target, str) else target
    try:
        with engine.connect() as conn:
            return dump(conn, exclude)
    finally:
        if isinstance(target, str):
            engine.dispose()


def comparable(url: str) -> dict:
    """The database with the random traversal ids blanked (set or not), and the clock
    times at which a migration soft-deletes a finished legacy backup stack ("now")."""
    data = dump(url)
    for row in data["stack"]:
        row["current_traversal"] = bool(row["current_traversal"])
        if row["backup"]:
            row["updated_at"], row["deleted_at"] = bool(row["updated_at"]), bool(row["deleted_at"])
    return data


def tree_members(conn, root_ids: list[str]) -> dict[str, list[str]]:
    """Stack ids of each root's tree, walked as convmig (and Heat) walks it."""
    return {root: [row["id"] for row in rows] for root, rows in tree_stacks(conn, root_ids).items()}


def tree_rows(url: str, root_id: str) -> dict:
    """The stack and resource rows of one tree (for untouched-tree comparisons)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ids = tree_members(conn, [root_id]).get(root_id, [root_id])
            stacks = [dict(r) for r in conn.execute(sa.select(schema.stack).where(schema.stack.c.id.in_(ids))
                                                  .order_by(schema.stack.c.id)).mappings()]
            res = [dict(r) for r in conn.execute(sa.select(schema.resource).where(schema.resource.c.stack_id.in_(ids))
                                               .order_by(schema.resource.c.id)).mappings()]
            tmpl_ids = {s[c] for s in stacks for c in ("raw_template_id", "prev_raw_template_id") if s[c]}
            tmpls = [dict(r) for r in conn.execute(sa.select(schema.raw_template).where(schema.raw_template.c.id.in_(tmpl_ids))
                                                 .order_by(schema.raw_template.c.id)).mappings()]
            return {"stacks": stacks, "resources": res, "templates": tmpls}
    finally:
        engine.dispose()


def cli(*args, env=None):
    """Run convmig through click's runner; stdout and stderr are kept apart."""
    return CliRunner().invoke(main, list(args), env={"CONVMIG_DB_URL": "", **(env or {})}, catch_exceptions=False)


def cli_json(*args):
    result = cli(*args, "--format", "json")
    return result, json.loads(result.stdout)


def _env(failpoint=None, marker=None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVMIG_")}
    if failpoint:
        env["CONVMIG_FAILPOINT"] = failpoint
    if marker:
        env["CONVMIG_FAILPOINT_FILE"] = str(marker)
    return env


def convmig(url, *args, failpoint=None, event_store=None):
    """convmig in its own process (for failpoints that kill it); CONVMIG_* unset."""
    extra = ["--event-store", event_store] if event_store else []
    return subprocess.run([sys.executable, "-m", "migrator", "--db", url, *extra, *args],
                          capture_output=True, text=True, env=_env(failpoint), timeout=300)


def start(url, *args, failpoint=None, marker=None, event_store=None) -> subprocess.Popen:
    """convmig started in its own process; with ``name:N:pause`` it waits at the
    failpoint until ``marker`` is removed (see ``wait_for``)."""
    extra = ["--event-store", event_store] if event_store else []
    return subprocess.Popen([sys.executable, "-m", "migrator", "--db", url, *extra, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(failpoint, marker))


def wait_for(marker, proc, timeout=60) -> None:
    """Until the process has reached its paused failpoint (a hang guard, not a timing check)."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "failpoint never reached"
        time.sleep(0.05)


def dump_all(url: str) -> dict:
    """Every table in the database, Heat's and the event log's, as the driver
    returns its rows (no type processing, so any column type compares)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            return {name: sorted((tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {quote(name)}")), key=repr)
                    for name in sorted(sa.inspect(conn).get_table_names())}
    finally:
        engine.dispose()


# =========================================================================== in-memory Heat rows (planner tests)

_ids = itertools.count(1)


def stack_row(sid, name, tmpl_id, *, owner=None, status="COMPLETE", action="CREATE", convergence=False,
              prev=None, backup=False, tenant="t1"):
    return {
        "id": sid, "name": name, "raw_template_id": tmpl_id, "prev_raw_template_id": prev,
        "owner_id": owner, "status": status, "action": action, "convergence": convergence,
        "backup": backup, "tenant": tenant, "deleted_at": None, "created_at": datetime(2024, 1, 1),
        "updated_at": None, "current_traversal": None, "current_deps": "null", "user_creds_id": None,
        "username": "demo", "status_reason": "", "timeout": None, "disable_rollback": True,
        "stack_user_project_id": None, "nested_depth": 0, "parent_resource_name": None,
    }


def resource_row(rid, stack_id, name, *, status="COMPLETE", action="CREATE", requires="[]", needed_by="[]",
                 replaced_by=None, updated_at=None, rsrc_prop_data_id=None, attr_data_id=None):
    return {
        "id": rid, "uuid": f"u-{rid}", "name": name, "stack_id": stack_id, "status": status, "action": action,
        "requires": requires, "needed_by": needed_by, "current_template_id": None, "replaces": None,
        "replaced_by": replaced_by, "engine_id": None, "atomic_key": 1, "root_stack_id": stack_id,
        "rsrc_prop_data_id": rsrc_prop_data_id, "attr_data_id": attr_data_id, "updated_at": updated_at,
        "created_at": datetime(2024, 1, 1), "nova_instance": None, "status_reason": "", "rsrc_metadata": "{}",
        "properties_data": None, "properties_data_encrypted": None,
    }


def template_row(tid, template, environment=None, files_id=None):
    return {"id": tid, "template": json.dumps(template), "environment": json.dumps(environment or {}),
            "files": None, "files_id": files_id, "created_at": None, "updated_at": None}


def hot(resources, version="2018-08-31", **sections):
    return {"heat_template_version": version, "resources": resources, **sections}


def single_stack_tree(template, names, *, sid="s1", status="COMPLETE", extra_rows=()):
    """A one-stack tree whose active rows are ``names`` (ids 1..n in order)."""
    st = stack_row(sid, "web", 10, status=status)
    rows = [resource_row(i + 1, sid, n) for i, n in enumerate(names)] + list(extra_rows)
    return Tree(root=st, stacks=[st], resources={sid: rows}, templates={10: template_row(10, template)})


# =========================================================================== event log builders

#: One value of every type a Heat row image may hold.
ROW = {
    "id": 5,
    "name": "web-server",
    "convergence": False,
    "requires": None,
    "created_at": datetime(2023, 5, 4, 3, 2, 1, 123456),
    "updated_at": datetime(2023, 5, 4, 3, 2, 1, tzinfo=timezone.utc),
    "day": date(2023, 5, 4),
    "at": time_of_day(3, 2, 1),
    "duration": timedelta(days=1, seconds=2, microseconds=3),
    "pickle": b"\x80\x04\x95\x00\xff",
    "amount": Decimal("12.50"),
    "ratio": 0.25,
    "unicode": "häßlich ☃",
}


def changes_for(stack_id: str, template_text: str = '{"heat_template_version": "2018-08-31"}') -> list[dict]:
    """A plan's worth of row changes: an update, a delete with a whole row, an insert."""
    return [
        {
            "table": "stack",
            "pk": {"id": stack_id},
            "op": "update",
            "before": {"id": stack_id, "convergence": False, "current_traversal": None, "prev_raw_template_id": 7},
            "after": {"convergence": True, "current_traversal": "7f0c", "prev_raw_template_id": None},
        },
        {
            "table": "raw_template",
            "pk": {"id": 7},
            "op": "delete",
            "before": {"id": 7, "template": template_text, "environment": '{"parameters": {"db_password": "hunter2"}}', "files_id": None},
            "after": None,
        },
        {"table": "resource", "pk": {"id": 5}, "op": "update", "before": dict(ROW), "after": {"requires": "[4, 3]", "pickle": b"\x00\x01"}},
        {"table": "user_creds", "pk": {"id": 3}, "op": "update", "before": {"id": 3, "password": "s3cret"}, "after": {"password": "n3w"}},
        {"table": "sync_point", "pk": {"entity_id": "5", "traversal_id": "7f0c", "is_update": True}, "op": "insert", "before": None, "after": {"entity_id": "5", "atomic_key": 0}},
    ]


def start_run(log: EventLog, command: str = "migrate", operator: str = "alice") -> Run:
    return log.start_run(
        command=command,
        arguments={"all": True, "dry_run": False},
        selection={"tenant": "t1"},
        operator=operator,
        host="ctl-1",
        pid=4242,
        version="0.1.0",
    )


def record_migration(log: EventLog, run: Run, stack_id: str, name: str, outcome: str = "applied", **planned) -> None:
    """Record one stack's plan and its outcome, as the migrator does (two saves)."""
    history = log.stack_or_new(stack_id, name)
    history.planned(run.id, direction="migrate", changes=planned.get("changes", changes_for(stack_id)), summary={"resources": 4})
    run.cover([stack_id])
    log.save(run, history)
    if outcome == "applied":
        history.applied(run.id, summary={"rows": 5})
    elif outcome == "failed":
        history.failed(run.id, reason=f"row stack[{stack_id}] changed since it was planned")
    elif outcome == "pending":
        return
    log.save(history)



def log_group():
    """A ``convmig``-like group with only ``log`` (the lead registers it on the real one)."""
    import click

    from migrator.cli import ConvmigGroup
    from migrator.cli.commands.log import cli as log_cli
    from migrator.cli.options import Settings

    @click.group(cls=ConvmigGroup)
    @click.option("--event-store", metavar="URL")
    @click.pass_context
    def group(ctx, event_store):
        ctx.obj = Settings(event_store=event_store)

    group.add_command(log_cli)
    return group


def log_cli(url: str, *args: str):
    """Run ``convmig --event-store URL log ARGS``; stdout and stderr stay apart."""
    from click.testing import CliRunner

    return CliRunner().invoke(log_group(), ["--event-store", url, "log", *args], catch_exceptions=False)


# =========================================================================== generated templates (hypothesis)


def _reference(target: str, form: int):
    """One of Heat's ways to depend on ``target``."""
    return [
        {"get_resource": target},
        {"get_attr": [target, "value"]},
        {"str_replace": {"template": "x=$X", "params": {"$X": {"get_attr": [target, "a", 0]}}}},
        {"list_join": [",", [{"get_resource": target}, "lit"]]},
    ][form]


@st.composite
def templates(draw):
    """An acyclic template: resource i may depend only on resources j < i."""
    n = draw(st.integers(1, 12))
    names = [f"r{i}" for i in range(n)]
    resources = {}
    edges = {}
    for i, name in enumerate(names):
        targets = draw(st.sets(st.sampled_from(names[:i]), max_size=3)) if i else set()
        edges[name] = targets
        body = {"type": "OS::Heat::None"}
        explicit = [t for t in sorted(targets) if draw(st.booleans())]
        implicit = [t for t in sorted(targets) if t not in explicit]
        if explicit:
            body["depends_on"] = explicit[0] if len(explicit) == 1 and draw(st.booleans()) else explicit
        if implicit:
            body["properties"] = {f"p{k}": _reference(t, draw(st.integers(0, 3))) for k, t in enumerate(implicit)}
        resources[name] = body
    with_rows = [nm for nm in names if draw(st.integers(0, 9)) > 0]  # some resources never got a row
    order = draw(st.permutations(with_rows))
    return hot(resources), edges, list(order)


def read_only_user(url, dialect, request):
    """A SELECT-only role (PostgreSQL) or user (MariaDB) on the test database; dropped after the test."""
    name = f"ro_{uuid.uuid4().hex[:8]}"
    parsed = sa.engine.make_url(url)
    admin = make_engine(url)
    with admin.begin() as conn:
        if dialect == "postgresql":
            schema_name = parsed.query["options"].split("=", 1)[1]
            conn.exec_driver_sql(f"CREATE ROLE {name} LOGIN")
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema_name} TO {name}")
            conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema_name} TO {name}")
        else:
            conn.exec_driver_sql(f"CREATE USER '{name}'@'%%'")
            conn.exec_driver_sql(f"CREATE USER '{name}'@'localhost'")
            conn.exec_driver_sql(f"GRANT SELECT ON `{parsed.database}`.* TO '{name}'@'%%'")
            conn.exec_driver_sql(f"GRANT SELECT ON `{parsed.database}`.* TO '{name}'@'localhost'")

    def drop():
        with admin.begin() as conn:
            if dialect == "postgresql":
                conn.exec_driver_sql(f"DROP OWNED BY {name}")
                conn.exec_driver_sql(f"DROP ROLE {name}")
            else:
                conn.exec_driver_sql(f"DROP USER '{name}'@'%%'")
                conn.exec_driver_sql(f"DROP USER '{name}'@'localhost'")
        admin.dispose()

    request.addfinalizer(drop)
    return parsed.set(username=name).render_as_string(hide_password=False)
