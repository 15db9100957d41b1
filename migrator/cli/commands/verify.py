"""``convmig verify``: check migrated trees against the invariants, and the log
against the database."""

from __future__ import annotations

from typing import Iterator

import click
import sqlalchemy as sa
from tabulate import tabulate

from events import EventLog, EventStoreError, NoEventLog, Unverified

from migrator.heat.connection import connect_checked
from migrator.heat.engines import stack_locks
from migrator.errors import EXIT_FAILED, EXIT_OK, ConvmigError, UsageError
from migrator.cli.options import Settings, format_option, pass_settings, stack_ids_argument
from migrator.heat.schema import check_schema, stack
from migrator.heat.tree import chunks, load_trees
from migrator.execution.verify import TreeVerdict, check_edges, check_tree, check_unchanged, dumps
from migrator.planning.batch import iter_legacy_roots

BATCH = 500


def verify(settings: Settings, stack_ids: tuple[str, ...], all_: bool) -> list[TreeVerdict]:
    """Verdicts for the chosen trees; with ``--all``, every tree the log says is
    migrated plus every other convergence tree (checked for missing dependency edges)."""
    if bool(stack_ids) == bool(all_):
        raise UsageError("give STACK_IDs or --all (exactly one of them)")
    engine = connect_checked(settings.db_url)
    try:
        log = EventLog.open(settings.event_store_url, read_only=True)
    except NoEventLog as exc:
        # a cloud migrated by Heat's own tool has no convmig log, and its trees'
        # dependency edges are what most needs checking: go on without one
        click.echo(f"convmig: note: {exc}; checking the dependency edges of convergence trees only", err=True)
        log = _NoLog()
    except EventStoreError as exc:
        engine.dispose()
        raise ConvmigError(f"event log unavailable: {exc}") from None
    try:
        with engine.connect() as conn:
            check_schema(conn)
        states = log.stack_states()
        migrated = sorted(s for s, state in states.items() if state in ("migrated", "repaired"))
        verdicts = []
        for batch in _batches(list(stack_ids)) if stack_ids else _all_roots(engine, migrated):
            verdicts += _verify_batch(engine, log, batch)
        if all_:
            verdicts += _log_disagreements(engine, states)
        return _one_per_tree(verdicts)
    finally:
        log.close()
        engine.dispose()


def _one_per_tree(verdicts: list[TreeVerdict]) -> list[TreeVerdict]:
    """A tree found twice (its invariants, then the log's disagreement) is one verdict
    with both findings, so "N of M tree(s) verified" counts trees."""
    merged: dict[str, TreeVerdict] = {}
    for v in verdicts:
        if v.root_id in merged:
            merged[v.root_id].violations += [x for x in v.violations if x not in merged[v.root_id].violations]
        else:
            merged[v.root_id] = v
    return list(merged.values())


class _NoLog:
    """Stands in for an event log that does not exist: no history for any stack."""

    def stack_states(self) -> dict:
        return {}

    def stacks(self, ids) -> dict:
        return dict.fromkeys(ids)

    def close(self) -> None:
        pass


def _batches(ids: list[str]) -> Iterator[list[str]]:
    return (ids[i : i + BATCH] for i in range(0, len(ids), BATCH))


def _all_roots(engine, migrated: list[str]) -> Iterator[list[str]]:
    """The trees the log says convmig migrated, then every other convergence root
    (paged, so a cloud of 100,000 stacks is read in bounded memory)."""
    yield from _batches(migrated)
    known = set(migrated)
    for page in iter_legacy_roots(engine, batch=BATCH, convergence=True):
        rest = [r for r in page if r not in known]
        if rest:
            yield rest


def _verify_batch(engine, log: EventLog, roots: list[str]) -> list[TreeVerdict]:
    with engine.connect() as conn:
        trees, missing = load_trees(conn, roots)
        locks = stack_locks(conn, [s for t in trees for s in t.stack_ids])
    verdicts = [TreeVerdict(m.stack_id, None, [f"not a root stack that can be verified ({m.reason})"]) for m in missing]
    histories = log.stacks([t.root_id for t in trees])
    memo: dict = {}
    for tree in trees:
        hist = histories.get(tree.root_id)
        verdicts.append(_verdict(tree, hist, locks, memo))
    return verdicts


def _verdict(tree, hist, locks: dict, memo: dict) -> TreeVerdict:
    """The full invariants for a tree convmig migrated; for any other convergence
    tree (an earlier convmig's, Heat's own tool's), its dependency edges."""
    if isinstance(hist, Unverified):  # its chain does not verify: nothing in it is trusted
        verdict = check_tree(tree, locks) if tree.root["convergence"] else TreeVerdict(tree.root_id, tree.root["name"])
        verdict.violations.append(hist.message)
        return verdict
    if hist is not None and hist.converged:
        verdict = check_tree(tree, locks)
        verdict.violations += _unchanged_since(tree, hist.last_applied("migrate"))
        return verdict
    verdict = TreeVerdict(tree.root_id, tree.root["name"])
    if hist is not None and hist.last_applied("migrate") is not None and not tree.root["convergence"]:
        verdict.violations.append("the log says this tree was rolled back, but it is checked as migrated")
    elif not tree.root["convergence"]:
        verdict.violations.append("on the legacy engine and not migrated by convmig: nothing to verify (migrate it first)")
    else:
        verdict.violations += check_edges(tree, memo)
    return verdict


def _unchanged_since(tree, migration: dict) -> list[str]:
    """While convergence has not run a traversal since, statuses must be as before."""
    recorded = {c["pk"]["id"]: c for c in migration["changes"] if c["table"] == "stack" and c["op"] == "update"}
    if all(s["current_traversal"] == recorded.get(s["id"], {}).get("after", {}).get("current_traversal")
           for s in tree.stacks if s["id"] in recorded):
        return check_unchanged(tree, migration["changes"])
    return []


def _log_disagreements(engine, states: dict[str, str]) -> list[TreeVerdict]:
    """Every tree the log calls migrated is on convergence, every rolled-back one is legacy."""
    wanted = {s: st for s, st in states.items() if st in ("migrated", "rolled_back")}
    found = {}
    with engine.connect() as conn:
        for part in chunks(sorted(wanted)):
            q = sa.select(stack.c.id, stack.c.name, stack.c.convergence, stack.c.deleted_at).where(stack.c.id.in_(part))
            found.update({r.id: r for r in conn.execute(q)})
    verdicts = []
    for sid, state in sorted(wanted.items()):
        row = found.get(sid)
        if row is None or row.deleted_at is not None:
            continue  # deleted since: nothing to disagree with
        if state == "rolled_back" and row.convergence:
            verdicts.append(TreeVerdict(sid, row.name, ["the log says rolled back, but the stack is on convergence"]))
        elif state == "migrated" and not row.convergence:
            verdicts.append(TreeVerdict(sid, row.name, ["the log says migrated, but the stack is legacy"]))
    return verdicts


@click.command("verify")
@stack_ids_argument
@click.option("--all", "all_", is_flag=True, help="Every tree the log says convmig migrated, every other convergence "
              "tree's dependency edges, and log/database agreement.")
@format_option
@pass_settings
def cli(settings: Settings, stack_ids, all_, fmt) -> None:
    """Check migrated trees against the invariants of a correct migration
    (convergence flags, traversal ids, no previous template, current_template_id,
    requires/needed_by, no leftover locks) and the log against the database.
    Any other convergence tree (migrated by an earlier convmig or by Heat's own
    tool) is checked for resources whose stored requires lack a dependency of
    the template, explicit or implicit (Port on Subnet, ...): `migrate
    --repair-deps` adds them. Exit 1 on any violation.

    \b
    Examples:
      convmig verify --all
      convmig verify 0b1c... --format json | jq '.[] | select(.ok | not)'
      convmig migrate --repair-deps --all    # then add the missing edges verify found
    """
    verdicts = verify(settings, tuple(stack_ids), all_)
    bad = [v for v in verdicts if not v.ok]
    if fmt == "json":
        click.echo(dumps(verdicts))
    else:
        rows = [[v.name, v.root_id, "ok" if v.ok else "; ".join(v.violations)] for v in verdicts]
        click.echo(tabulate(rows, headers=["tree", "id", "verdict"]) if rows else "no migrated trees to verify")
    for v in bad:
        for violation in v.violations:
            click.echo(f"convmig: violation: tree {v.name} ({v.root_id}): {violation}", err=True)
    click.echo(f"convmig: {len(verdicts) - len(bad)} of {len(verdicts)} tree(s) verified", err=True)
    click.get_current_context().exit(EXIT_FAILED if bad else EXIT_OK)
