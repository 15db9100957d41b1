"""Helpers for tests that read a Heat database back: dumps and per-tree rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import sqlalchemy as sa
from click.testing import CliRunner

from migrator.heat import schema
from migrator.cli import main
from migrator.heat.connection import make_engine
from migrator.heat.tree import tree_stacks


def tree_members(conn, root_ids: list[str]) -> dict[str, list[str]]:
    """Stack ids of each root's tree, walked as convmig (and Heat) walks it."""
    return {root: [row["id"] for row in rows] for root, rows in tree_stacks(conn, root_ids).items()}


def dump(url: str, exclude: tuple[str, ...] = ()) -> dict:
    """Every Heat table, row for row, column for column (ordered by key)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: [dict(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns)).mappings()]
                for t in schema.HEAT_TABLES if t.name not in exclude
            }
    finally:
        engine.dispose()


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


def convmig(url, *args, failpoint=None):
    """convmig in its own process (for failpoints that kill it); CONVMIG_* unset."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVMIG_")}
    if failpoint:
        env["CONVMIG_FAILPOINT"] = failpoint
    return subprocess.run([sys.executable, "-m", "migrator", "--db", url, *args],
                          capture_output=True, text=True, env=env, timeout=300)


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
