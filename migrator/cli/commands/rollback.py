"""``convmig rollback``: put migrated trees back on the legacy engine, exactly as
they were, from the log."""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass

import click

from events import EventLog, EventStoreError, NoEventLog, RunNotFound, Unverified

from migrator.heat.connection import connect_checked
from migrator.errors import EXIT_NO_LOG, ConvmigError, UsageError
from migrator.execution.runner import RunReport, Runner
from migrator.cli.options import Settings, batch_size_option, online_option, retry_option, dry_run_option, format_option, pass_settings, stack_ids_argument, yes_option
from migrator.planning.batch import BATCH as HISTORY_CHUNK
from migrator.cli.progress import Progress
from migrator.cli.render import dumps, plan_json, plan_table
from migrator.cli.commands.migrate import dry_run_exit
from migrator.cli.outcome import echo_report
from rollback.plan import RollbackPlanner


@dataclass(frozen=True)
class RollbackSelection:
    stack_ids: tuple[str, ...] = ()
    run: str | None = None

    def as_dict(self) -> dict:
        return {"stack_ids": list(self.stack_ids), "run": self.run}


def _open_log(settings: Settings, read_only: bool = False) -> EventLog:
    """The log; read-only for a dry run (no log there: exit 4, nothing created)."""
    try:
        return EventLog.open(settings.event_store_url, read_only=read_only)
    except NoEventLog as exc:
        raise ConvmigError(str(exc), EXIT_NO_LOG) from None
    except EventStoreError as exc:
        raise ConvmigError(f"event log unavailable, nothing was changed: {exc}") from None


def roots_of_run(log: EventLog, run_id: str) -> list[str]:
    """Every tree the named run migrated or repaired (applied, or recovered as applied)."""
    try:
        run = log.find_run(run_id)
    except RunNotFound as exc:
        raise ConvmigError(str(exc)) from None
    except LookupError as exc:
        raise UsageError(str(exc)) from None
    covered = list(dict.fromkeys(run.covered))
    roots = []
    for start in range(0, len(covered), HISTORY_CHUNK):  # bounded memory on a cloud-wide run
        histories = log.stacks(covered[start:start + HISTORY_CHUNK])
        # a history that does not verify stays selected, so planning refuses it by name
        roots += [root for root, history in histories.items()
                  if isinstance(history, Unverified) or applied_in_run(history, run.id)]
    return roots


def applied_in_run(history, run_id, directions: tuple[str, ...] = ("migrate", "repair")) -> bool:
    """Did ``run_id`` apply a plan of one of ``directions`` to this tree?"""
    plan = None
    for entry in history.entries if history else ():
        if entry["kind"] == "planned":
            plan = entry
        elif plan is not None and entry["kind"] in ("applied", "recovered"):
            if plan["run_id"] == run_id and plan["direction"] in directions and (
                entry["kind"] == "applied" or entry.get("outcome") == "applied"
            ):
                return True
            plan = None
    return False


def resolve_selection(settings: Settings, stack_ids, run: str | None, retry: str | None,
                      read_only: bool = False) -> tuple[list[str], RollbackSelection, uuid.UUID | None]:
    """Root ids to roll back, the selection to record, and the run this retries."""
    if retry is not None and (stack_ids or run):
        raise UsageError("--retry takes the selection of the run it continues; give nothing else")
    if stack_ids and run:
        raise UsageError("give STACK_IDs or --run, not both")
    log = _open_log(settings, read_only)
    try:
        retry_of = None
        if retry is not None:
            previous = log.last_run(command="rollback") if retry == "last" else _get_run(log, retry)
            if previous is None or previous.command != "rollback":
                raise ConvmigError("no rollback run to retry in the log" if retry == "last" else f"{retry} is not a rollback run")
            selection = RollbackSelection(tuple(previous.selection.get("stack_ids") or ()), previous.selection.get("run"))
            retry_of = previous.id
        else:
            selection = RollbackSelection(tuple(stack_ids), run)
        if not selection.stack_ids and not selection.run:
            raise UsageError("nothing selected: give STACK_IDs, --run RUN or --retry")
        roots = list(selection.stack_ids) if selection.stack_ids else roots_of_run(log, selection.run)
    finally:
        log.close()
    return list(dict.fromkeys(roots)), selection, retry_of


def _get_run(log: EventLog, run_id: str):
    try:
        return log.find_run(run_id, flag="--retry")
    except RunNotFound as exc:
        raise ConvmigError(str(exc)) from None
    except LookupError as exc:
        raise UsageError(str(exc)) from None


def rollback(settings: Settings, roots: list[str], selection: RollbackSelection,
             retry_of: uuid.UUID | None = None, online: bool = False, on_batch=None, batch: int = 500) -> RunReport:
    """Roll the trees back with the same write-ahead protocol as migrate."""
    runner = Runner(settings, command="rollback", direction="rollback", arguments={"online": online},
                    selection=selection.as_dict(), online=online, retry_of=retry_of)
    with runner:
        work = list(dict.fromkeys([*runner.recover(), *roots]))
        planner = RollbackPlanner(runner.log)
        for i in range(0, len(work), batch):
            part = work[i : i + batch]
            runner.process(part, planner.plan, stacks_of=planner.stacks_of, histories=planner.histories)
            if on_batch:
                on_batch(len(part))
    return runner.report


def plan_only(settings: Settings, roots: list[str]) -> list:
    engine = connect_checked(settings.db_url)
    try:
        log = _open_log(settings, read_only=True)
    except ConvmigError:
        engine.dispose()
        raise
    try:
        with engine.connect() as conn:
            return RollbackPlanner(log).plan(conn, roots)
    finally:
        log.close()
        engine.dispose()


@click.command("rollback")
@stack_ids_argument
@click.option("--run", "run", metavar="RUN", help="Every tree this migrate run migrated.")
@dry_run_option
@yes_option
@online_option
@retry_option("rollback")
@batch_size_option
@format_option
@pass_settings
def cli(settings: Settings, stack_ids, run, dry_run, yes, online, retry, batch_size, fmt) -> None:
    """Put migrated trees back on the legacy engine, exactly as before their
    last migration: every changed column restored, every deleted row
    re-inserted with its id. Refuses a tree convergence has changed since.
    A tree repaired since its migration (migrate --repair-deps) loses the
    repair first; roll back again for the migration. Asks on a terminal;
    otherwise needs --yes (exit 2 without it).

    \b
    Examples:
      convmig rollback --dry-run 0b1c...              # the inverse plan, nothing written
      convmig rollback 0b1c... --yes
      convmig rollback --run 5d6e... --yes            # everything that run migrated
    """
    roots, selection, retry_of = resolve_selection(settings, stack_ids, run, retry, read_only=dry_run)
    if dry_run:
        plans = plan_only(settings, roots)
        if fmt == "json":
            click.echo(dumps({"trees": [plan_json(p) for p in plans]}))
        else:
            for p in plans:
                click.echo(plan_table(p))
        refused = [p for p in plans if p.refusals]
        for p in refused:
            for r in p.refusals:
                click.echo(f"convmig: refused: {r.message}", err=True)
        click.get_current_context().exit(dry_run_exit(refused))
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("rollback changes Heat's database: confirm with --yes when not asked on a terminal")
        settings.announce()
        click.confirm(f"Roll {len(roots)} tree(s) back?", abort=True, err=True)
    else:
        settings.announce()
    progress = Progress(len(roots))
    try:
        report = rollback(settings, roots, selection, retry_of, online, on_batch=progress.advance, batch=batch_size)
    finally:
        progress.close()
    echo_report(report, fmt)
    click.get_current_context().exit(report.exit_code)
