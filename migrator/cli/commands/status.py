"""``convmig status``: which engine each stack runs on, and what blocks the rest.

Counts are done by the database (GROUP BY), and the blocking reasons come from
two narrow scans (nested stacks' owner links and states, stack locks), so the
command stays cheap on a cloud with a hundred thousand stacks. Template-level
problems (stale rows, cycles) need a plan: ``convmig migrate --dry-run --all``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import click
import sqlalchemy as sa
from tabulate import tabulate

from migrator.heat.connection import connect_checked
from migrator.heat.engines import engines, stack_locks
from migrator.cli.options import Settings, format_option, pass_settings, tenant_option
from migrator.heat.schema import check_schema, stack

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
            "state": f"{r.action}_{r.status}",
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


def _blocked(conn, tenant: str | None) -> list[dict]:
    """Legacy roots that cannot be migrated now, each with every reason found."""
    root_filter = [stack.c.owner_id.is_(None), stack.c.deleted_at.is_(None), sa.not_(sa.func.coalesce(stack.c.convergence, False))]
    if tenant:
        root_filter.append(stack.c.tenant == tenant)
    roots = {
        r.id: r
        for r in conn.execute(
            sa.select(stack.c.id, stack.c.name, stack.c.action, stack.c.status, stack.c.tenant).where(*root_filter)
        )
    }
    reasons: dict[str, list[str]] = defaultdict(list)
    kinds: dict[str, set[str]] = defaultdict(set)  # what --include-failed can and cannot clear
    for r in roots.values():
        if r.status != "COMPLETE":
            reasons[r.id].append(_state_reason("stack", r.name, r.id, r.action, r.status))
            kinds[r.id].add(_state_kind(r.status))
    owners = {r.id: r.owner_id for r in conn.execute(sa.select(stack.c.id, stack.c.owner_id).where(stack.c.owner_id.is_not(None), _WALKED))}
    nested_bad = conn.execute(
        sa.select(stack.c.id, stack.c.name, stack.c.action, stack.c.status).where(
            stack.c.owner_id.is_not(None), _WALKED, sa.or_(stack.c.status.is_(None), stack.c.status != "COMPLETE")
        )
    )
    for r in nested_bad:
        root = _root_of(r.id, owners)
        if root in roots:
            reasons[root].append(_state_reason("nested stack", r.name, r.id, r.action, r.status))
            kinds[root].add(_state_kind(r.status))
    for stack_id, engine_id in stack_locks(conn).items():
        root = _root_of(stack_id, owners)
        if root in roots:
            reasons[root].append(f"stack {stack_id} is locked by engine {engine_id}")
            kinds[root].add("locked")
    return [
        {"root_id": rid, "name": roots[rid].name, "tenant": roots[rid].tenant, "reasons": reasons[rid],
         "include_failed_clears": kinds[rid] == {"failed"}}
        for rid in sorted(reasons, key=lambda i: (roots[i].name or "", i))
    ]


def _state_reason(kind: str, name: str, stack_id: str, action: str, status: str) -> str:
    if status == "IN_PROGRESS":
        what = "wait for it to finish (a dead engine's: heat-manage reset_stack_status, then --include-failed)"
    elif status == "FAILED":
        what = "fix or update it first, or migrate it with --include-failed"
    else:
        what = "fix or update it first"
    return f"{kind} {name} ({stack_id}) is {action}_{status}: {what}"


def _state_kind(status: str | None) -> str:
    """"failed" for what ``migrate --include-failed`` accepts (issue 19), else "state"."""
    return "failed" if status == "FAILED" else "state"


def include_failed_summary(blocked: list[dict]) -> dict:
    """The roots ``--include-failed`` would add (only FAILED states block them) and
    those it would still refuse, with why. Template-level problems and backup rows
    that cannot be placed need a plan: ``migrate --dry-run --include-failed``."""
    return {
        "would_add": [b["root_id"] for b in blocked if b["include_failed_clears"]],
        "still_refused": [{"root_id": b["root_id"], "name": b["name"], "reasons": b["reasons"]}
                          for b in blocked if not b["include_failed_clears"]],
    }


def status(settings: Settings, tenant: str | None = None) -> dict:
    """Gather the report: counts, blocked roots, engines, and configuration warnings."""
    engine = connect_checked(settings.db_url)
    try:
        with engine.connect() as conn:
            check_schema(conn)
            report = {
                "counts": _counts(conn, tenant),
                "blocked": (blocked := _blocked(conn, tenant)),
                "include_failed": include_failed_summary(blocked),
                "engines": [
                    {"engine_id": e.engine_id, "host": e.hostname or e.host, "alive": e.alive,
                     "last_seen": e.last_seen.isoformat() if e.last_seen else None}
                    for e in engines(conn)
                ],
            }
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
        lines += ["", f"{len(report['blocked'])} legacy root stack(s) cannot be migrated now:"]
        lines.append(
            tabulate(
                [[b["name"], b["root_id"], "; ".join(b["reasons"])] for b in report["blocked"]],
                headers=["root stack", "id", "why"],
            )
        )
        extra = report["include_failed"]
        lines += ["", f"migrate --include-failed would add {len(extra['would_add'])} of them; "
                      f"{len(extra['still_refused'])} would still be refused (in progress or locked)"]
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
    for warning in report["warnings"]:
        click.echo(f"convmig: warning: {warning}", err=True)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        click.echo(render_table(report))
