"""``convmig migrate``: plan, record, and apply the migration of stack trees to the
convergence engine; or only plan and print (``--dry-run``)."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from dataclasses import replace
from functools import partial
from typing import Callable

import click

from migrator.heat.connection import connect_checked
from migrator.errors import EXIT_PARTIAL, ConvmigError, UsageError, exit_code
from migrator.execution.runner import RunReport, Runner
from migrator.cli.options import Settings, batch_size_option, online_option, retry_option, dry_run_option, format_option, pass_settings, stack_ids_argument, tenant_option
from migrator.planning.plan import TreePlan, precheck
from migrator.planning.batch import BATCH, plan_roots, repair_roots
from migrator.cli.progress import Progress
from migrator.cli.outcome import echo_report
from migrator.cli.render import dumps, plan_json, plan_table, summary_table
from migrator.heat.schema import check_schema
from migrator.planning.selection import Selection

# --------------------------------------------------------------------------- dry run


def outcome_key(plan: TreePlan) -> str:
    """The summary bucket of a plan: an outcome, or 'skipped: <reason kind>'."""
    if plan.refusals:
        return f"skipped: {plan.refusals[0].kind}"
    return {"noop": "already done", "migrate": "to migrate", "repair": "to repair"}[plan.outcome]


def dry_run(settings: Settings, selection: Selection, emit: Callable[[TreePlan], None],
            recorder=None) -> tuple[Counter, list[TreePlan]]:
    """Plan every selected tree and emit each plan; nothing is written anywhere
    (``recorder``, for ``--report``, sees each plan with its tree, batch by batch)."""
    engine = connect_checked(settings.db_url)
    counts: Counter = Counter()
    refused: list[TreePlan] = []
    try:
        with engine.connect() as conn:
            check_schema(conn)
        for batch in selection.batches(engine):
            with engine.connect() as conn:
                planned = _planned(conn, batch, selection)
                conn.rollback()
            for tree, plan in planned:
                counts[outcome_key(plan)] += 1
                if plan.refusals:
                    refused.append(plan)
                emit(plan)
                if recorder:
                    recorder.add(plan, tree)
            if recorder:
                recorder.batch()
    finally:
        engine.dispose()
    return counts, refused


def dry_run_exit(refused: list[TreePlan]) -> int:
    return exit_code([p.retryable for p in refused])


# --------------------------------------------------------------------------- real run


def resolve_retry(settings: Settings, retry: str) -> tuple[Selection, bool, uuid.UUID]:
    """The selection and options of the run to continue ("last" or a run id)."""
    from events import EventLog, EventStoreError, RunNotFound

    try:
        log = EventLog.open(settings.event_store_url)
    except EventStoreError as exc:
        raise ConvmigError(f"event log unavailable: {exc}") from None
    try:
        if retry == "last":
            run = log.last_run(command="migrate")
        else:
            try:
                run = log.find_run(retry, flag="--retry")
            except RunNotFound as exc:
                raise ConvmigError(str(exc)) from None
            except LookupError as exc:
                raise UsageError(str(exc)) from None
    finally:
        log.close()
    if run is None:
        raise ConvmigError("no migrate run to retry: the log has none" if retry == "last" else f"run {retry} not found in the log")
    if run.command != "migrate":
        raise UsageError(f"run {run.id} was a {run.command} run; retry it with convmig {run.command} --retry")
    selection = Selection.from_dict(run.selection)
    if not selection.all and run.covered:
        selection = replace(selection, stack_ids=tuple(dict.fromkeys([*selection.stack_ids, *run.covered])))
    return selection, bool(run.arguments.get("online")), run.id


def migrate(settings: Settings, selection: Selection, *, online: bool = False, retry_of: uuid.UUID | None = None,
            on_batch: Callable[[int], None] | None = None, batch_size: int = BATCH) -> RunReport:
    """Migrate (or, with ``selection.repair``, repair) the selected trees with the
    write-ahead protocol; return the report."""
    direction = "repair" if selection.repair else "migrate"
    runner = Runner(settings, command="migrate", direction=direction,
                    arguments={"online": online, "prune": selection.prune, "repair": selection.repair,
                               "include_failed": selection.include_failed},
                    selection=selection.as_dict(), online=online, retry_of=retry_of)
    # a repair's planner judges the tree itself: it takes convergence roots, which migrate's precheck skips
    check = None if selection.repair else partial(precheck, include_failed=selection.include_failed)
    with runner:
        planner = partial(_plan_batch, selection=selection)
        again = [r for r in runner.recover() if r not in selection.stack_ids]
        if again and not selection.all:  # --all takes them up again anyway
            runner.process(again, planner, precheck=check)
        for batch in selection.batches(runner.engine, batch_size):
            runner.process(batch, planner, precheck=check)
            if on_batch:
                on_batch(len(batch))
    return runner.report


def _planned(conn, root_ids: list[str], selection: Selection) -> list[tuple]:
    """(tree, plan) per root: a repair's or a migration's."""
    if selection.repair:
        return repair_roots(conn, root_ids)
    return plan_roots(conn, root_ids, prune=selection.prune, include_failed=selection.include_failed)


def _plan_batch(conn, root_ids: list[str], *, selection: Selection) -> list[TreePlan]:
    return [plan for _tree, plan in _planned(conn, root_ids, selection)]


# --------------------------------------------------------------------------- CLI


@click.command("migrate")
@stack_ids_argument
@click.option("--all", "all_", is_flag=True, help="Every legacy root stack.")
@tenant_option
@click.option("--limit", type=int, help="With --all: at most this many trees.")
@dry_run_option
@click.option("--prune-orphans", "prune", is_flag=True,
              help="Delete stale and duplicate resource rows (recorded, reversible) instead of refusing the tree.")
@click.option("--repair-deps", "repair", is_flag=True,
              help="For trees already on convergence: add the dependency edges their stored requires lack "
                   "(recorded, reversible with rollback); --all takes every convergence root.")
@click.option("--include-failed", "include_failed", is_flag=True,
              help="Also migrate trees whose stacks are *_FAILED (after a reset, a dead engine's IN_PROGRESS ones), "
                   "so the convergence engine can retry, update or delete them; finishes their legacy backup "
                   "stacks (recorded, reversible).")
@online_option
@retry_option("migrate")
@batch_size_option
@format_option
@click.option("--report", "report_path", metavar="FILE",
              help="With --dry-run: also write the plan as a self-contained HTML change record to FILE.")
@pass_settings
def cli(settings: Settings, stack_ids, all_, tenant, limit, dry_run, prune, repair, include_failed, online, retry,
        batch_size, fmt, report_path) -> None:
    """Migrate stack trees (a root and all its nested stacks) to convergence.

    Each tree is planned, the plan is committed to the event log, then the
    tree is changed in one transaction that first checks every row is still
    as planned. Exit 0 when all done, 3 when some trees were skipped for a
    reason a later run can clear (in progress, locked), 1 otherwise.

    \b
    Examples:
      convmig migrate --dry-run --all                 # what would change, nothing written
      convmig migrate --dry-run 0b1c... --format json | jq '.trees[].changes'
      convmig migrate --all --tenant 5f0e...          # one project's stacks
      convmig migrate 0b1c... 7d2e...                 # these trees
      convmig migrate --retry                         # continue the last run
      convmig migrate --include-failed 0b1c...        # a CREATE/UPDATE_FAILED tree, for convergence to retry
      convmig migrate --repair-deps --all             # convergence trees missing edges (see verify)
    """
    if report_path and not dry_run:
        raise UsageError("--report goes with --dry-run; for a run that happened, use: convmig report RUN_ID")
    if retry is not None:
        if stack_ids or all_ or tenant or limit or repair:
            raise UsageError("--retry takes the selection of the run it continues; "
                             "only --prune-orphans, --include-failed and --online may widen it")
        if dry_run:
            raise UsageError("--retry cannot be combined with --dry-run")
        selection, online_then, retry_of = resolve_retry(settings, retry)
        online = online or online_then
        if prune:  # the refusal hint for stale rows: the retry now prunes them
            selection = replace(selection, prune=True).validate()
        if include_failed:  # the refusal hint for FAILED trees: the retry now takes them
            selection = replace(selection, include_failed=True).validate()
    else:
        selection = Selection(tuple(stack_ids), all_, tenant, limit, prune, repair, include_failed).validate()
        retry_of = None
    engine = connect_checked(settings.db_url)
    try:
        with engine.connect() as conn:
            check_schema(conn)
        total = selection.total(engine)
    finally:
        engine.dispose()
    if selection.tenant and not total:
        click.echo(f"convmig: warning: no {'convergence' if selection.repair else 'legacy'} root stack of tenant "
                   f"{selection.tenant}: check the project id (convmig status --tenant lists its stacks)", err=True)
        click.get_current_context().exit(EXIT_PARTIAL)
    if dry_run:
        _cli_dry_run(settings, selection, fmt, report_path)
        return
    settings.announce()
    progress = Progress(total)
    try:
        report = migrate(settings, selection, online=online, retry_of=retry_of, on_batch=progress.advance,
                         batch_size=batch_size)
    finally:
        progress.close()
    echo_report(report, fmt)
    click.get_current_context().exit(report.exit_code)


def _cli_dry_run(settings: Settings, selection: Selection, fmt: str, report_path: str | None = None) -> None:
    """Stream each tree's plan as it is made (a JSON array written piece by piece,
    so memory stays flat however many trees --all covers); with ``report_path``
    also write the change record."""
    first = True
    recorder = None
    if report_path:
        from migrator.cli.commands.report import DryRunRecorder

        recorder = DryRunRecorder(settings, selection)

    def emit(plan: TreePlan) -> None:
        nonlocal first
        if fmt == "json":
            click.echo(('{"trees": [\n' if first else ",\n") + dumps(plan_json(plan)), nl=False)
        else:
            click.echo(plan_table(plan))
        first = False

    counts, refused = dry_run(settings, selection, emit, recorder)
    if fmt == "json":
        click.echo(('{"trees": [' if first else "\n") + '], "summary": ' + dumps(dict(counts)) + "}")
    else:
        click.echo("")
        click.echo(summary_table(counts))
    for plan in refused:
        for r in plan.refusals:
            click.echo(f"convmig: refused: {r.message}", err=True)
    if recorder:
        recorder.write(report_path)
        click.echo(f"convmig: dry-run report written to {os.path.abspath(report_path)}", err=True)
    click.get_current_context().exit(dry_run_exit(refused))
