"""``convmig status``: which engine each stack runs on, and what blocks the rest.

Counts are done by the database (GROUP BY). The blocking reasons are the
planner's own refusals, computed read-only and batch by batch exactly as
``migrate --dry-run --all`` computes them (so status names every tree a migrate
would refuse, and why), plus stack locks, grouped by reason in the table.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import click
import sqlalchemy as sa
from tabulate import tabulate

from migrator.errors import EXIT_PARTIAL
from migrator.heat.connection import connect_checked
from migrator.heat.engines import engines, stack_locks
from migrator.cli.options import Settings, format_option, pass_settings, tenant_option
from migrator.heat.schema import check_schema, stack, state_name
from migrator.heat.tree import on_engine
from migrator.planning.batch import iter_legacy_roots, plan_roots

#: Stacks Heat's tree walker skips: soft-deleted or backups (``backup = False``
#: in SQL also drops NULL, as Heat's own query does).
_WALKED = sa.and_(stack.c.deleted_at.is_(None), stack.c.backup == sa.false())


def _engine_name(convergence) -> str:
    return "convergence" if convergence else "legacy"


def _counts(conn, tenant: str | None) -> list[dict]:
    """Per engine and state: root stacks and all stacks (soft-deleted excluded)."""
    is_root = sa.case((stack.c.owner_id.is_(None), 1), else_=0)
    query = (
        sa.select(
            stack.c.convergence,
            stack.c.action,
            stack.c.status,
            sa.func.sum(is_root).label("roots"),
            sa.func.count().label("stacks"),
        )
        .where(stack.c.deleted_at.is_(None))
        .group_by(stack.c.convergence, stack.c.action, stack.c.status)
    )
    if tenant:
        query = query.where(stack.c.tenant == tenant)
    rows = [
        {
            "engine": _engine_name(r.convergence),
            "state": state_name(r.action, r.status),
            "roots": int(r.roots or 0),
            "stacks": int(r.stacks),
        }
        for r in conn.execute(query)
    ]
    return sorted(rows, key=lambda r: (r["engine"], r["state"]))


def _root_of(stack_id: str, owners: dict[str, str]) -> str:
    """Follow owner links up to the root (guarding against a corrupt loop)."""
    seen = set()
    while stack_id in owners and stack_id not in seen:
        seen.add(stack_id)
        stack_id = owners[stack_id]
    return stack_id


#: A refusal kind in words, for the grouped table.
REASONS = {
    "failed_state": "a stack is FAILED",
    "in_progress": "an action in progress",
    "stale_rows": "rows not in the template",
    "duplicate_rows": "duplicate resource rows",
    "bad_template": "template problem",
    "undecidable": "value unknown offline",
    "cycle": "dependency cycle",
    "locked": "stack lock held",
}


def _blocked(engine, tenant: str | None) -> list[dict]:
    """Legacy roots a migrate would refuse now, each with every reason: the planner's
    own verdict (states, stale and duplicate rows, templates, undecidable values,
    cycles), read-only and batch by batch as ``migrate --dry-run`` plans, plus
    stack locks, which only a real run meets."""
    found: dict[str, dict] = {}
    for batch in iter_legacy_roots(engine, tenant=tenant):
        with engine.connect() as conn:
            planned = plan_roots(conn, batch)
            conn.rollback()
        for tree, plan in planned:
            if plan.refusals:
                entry = _entry(found, plan.root_id, plan.root_name, tree.root["tenant"] if tree else None)
                entry["reasons"] += [{"kind": r.kind, "message": r.message} for r in plan.refusals]
    _add_locks(engine, tenant, found)
    return sorted(found.values(), key=lambda b: (b["name"] or "", b["root_id"]))


def _entry(found: dict, root_id: str, name: str | None, tenant: str | None) -> dict:
    return found.setdefault(root_id, {"root_id": root_id, "name": name, "tenant": tenant, "reasons": []})


def _add_locks(engine, tenant: str | None, found: dict) -> None:
    """A stack_lock on any stack of a legacy tree: migrate skips that tree (exit 3)."""
    with engine.connect() as conn:
        locks = stack_locks(conn)
        if not locks:
            return
        owners = {r.id: r.owner_id for r in conn.execute(
            sa.select(stack.c.id, stack.c.owner_id).where(stack.c.owner_id.is_not(None), _WALKED))}
        roots = {_root_of(s, owners) for s in locks}
        query = sa.select(stack.c.id, stack.c.name, stack.c.tenant).where(
            stack.c.id.in_(sorted(roots)), stack.c.deleted_at.is_(None), on_engine(convergence=False))
        if tenant:
            query = query.where(stack.c.tenant == tenant)
        legacy = {r.id: r for r in conn.execute(query)}
    for stack_id, engine_id in sorted(locks.items()):
        root = _root_of(stack_id, owners)
        if root in legacy:
            row = legacy[root]
            _entry(found, root, row.name, row.tenant)["reasons"].append(
                {"kind": "locked", "message": f"stack {stack_id} is locked by engine {engine_id}"})


def include_failed_summary(blocked: list[dict]) -> dict:
    """The roots ``--include-failed`` would add (only FAILED states block them) and
    those it would still refuse, with why. Template-level problems and backup rows
    that cannot be placed need a plan: ``migrate --dry-run --include-failed``."""
    clears = {b["root_id"]: {r["kind"] for r in b["reasons"]} == {"failed_state"} for b in blocked}
    return {
        "would_add": [b["root_id"] for b in blocked if clears[b["root_id"]]],
        "still_refused": [{"root_id": b["root_id"], "name": b["name"], "reasons": b["reasons"]}
                          for b in blocked if not clears[b["root_id"]]],
    }


def status(settings: Settings, tenant: str | None = None) -> dict:
    """Gather the report: counts, blocked roots, engines, and configuration warnings."""
    engine = connect_checked(settings.db_url)
    try:
        with engine.connect() as conn:
            check_schema(conn)
            report = {
                "counts": _counts(conn, tenant),
                "blocked": [],
                "engines": [
                    {"engine_id": e.engine_id, "host": e.hostname or e.host, "alive": e.alive,
                     "last_seen": e.last_seen.isoformat() if e.last_seen else None}
                    for e in engines(conn)
                ],
            }
        report["blocked"] = _blocked(engine, tenant)
        report["include_failed"] = include_failed_summary(report["blocked"])
    finally:
        engine.dispose()
    conf = settings.heat_conf
    report["warnings"] = []
    if conf is not None and conf.convergence_engine is False:
        report["warnings"].append(
            f"{conf.path} sets convergence_engine = false: new stacks are still created on the legacy engine"
        )
    return report


def _totals(counts: list[dict]) -> dict[str, Counter]:
    totals: dict[str, Counter] = defaultdict(Counter)
    for row in counts:
        totals[row["engine"]]["roots"] += row["roots"]
        totals[row["engine"]]["stacks"] += row["stacks"]
    return totals


def _grouped(blocked: list[dict]) -> list[list]:
    """One row per reason: how many trees, and the first few by name (fits 100 columns)."""
    trees: dict[str, list[str]] = defaultdict(list)
    for b in blocked:
        for kind in dict.fromkeys(r["kind"] for r in b["reasons"]):
            trees[kind].append(b["name"] or b["root_id"])
    rows = []
    for kind, names in sorted(trees.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        shown = ", ".join(names[:EXAMPLES]) + (f" and {len(names) - EXAMPLES} more" if len(names) > EXAMPLES else "")
        rows.append([REASONS.get(kind, kind), len(names), _fit(shown, EXAMPLE_WIDTH)])
    return rows


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


#: Names shown per reason, and the width of that column.
EXAMPLES, EXAMPLE_WIDTH = 3, 60


def render_table(report: dict) -> str:
    """The human report: totals per engine, states, blocked roots."""
    totals = _totals(report["counts"])
    lines = [
        tabulate(
            [[eng, t["roots"], t["stacks"]] for eng, t in sorted(totals.items())] or [["(no stacks)", 0, 0]],
            headers=["engine", "root stacks", "all stacks"],
        ),
        "",
        tabulate(
            [[r["engine"], r["state"], r["roots"], r["stacks"]] for r in report["counts"]],
            headers=["engine", "state", "root stacks", "all stacks"],
        ),
    ]
    if report["blocked"]:
        lines += ["", f"{len(report['blocked'])} legacy root stack(s) cannot be migrated now "
                      "(each reason: status --format json):",
                  tabulate(_grouped(report["blocked"]), headers=["why", "trees", "for example"])]
        extra = report["include_failed"]
        lines += [f"migrate --include-failed would add {len(extra['would_add'])} of them; "
                  f"{len(extra['still_refused'])} would still be refused"]
    live = [e for e in report["engines"] if e["alive"]]
    if live:
        lines += ["", "live heat-engines: " + ", ".join(f"{e['engine_id']} on {e['host']}" for e in live)]
    return "\n".join(lines)


@click.command("status")
@tenant_option
@format_option
@pass_settings
def cli(settings: Settings, tenant: str | None, fmt: str) -> None:
    """How many stacks run on each engine, by state, and which legacy roots
    cannot be migrated now and why.

    \b
    Examples:
      convmig --db sqlite:///heat.sqlite status
      convmig --heat-config /etc/heat/heat.conf status --tenant 5f0e... --format json
    """
    report = status(settings, tenant)
    if tenant and not report["counts"]:
        report["warnings"].append(f"no stack of tenant {tenant}: check the project id (openstack project list)")
    for warning in report["warnings"]:
        click.echo(f"convmig: warning: {warning}", err=True)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        click.echo(render_table(report))
    if tenant and not report["counts"]:
        click.get_current_context().exit(EXIT_PARTIAL)
