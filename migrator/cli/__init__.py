"""The ``convmig`` command line: a thin layer over ``migrator.cli.commands``.

Each command parses its options and calls one function; every ``ConvmigError``
is caught here, in one place, and printed as one line on stderr with its exit
code. Data goes to stdout, messages and progress to stderr.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager

import click

from events.errors import EventStoreError, NoEventLog
from events.secrets import mask_urls, terminal_text

from events.timeouts import timeouts

from migrator.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_LOG, ConvmigError, UsageError
from migrator.cli.options import Settings
from migrator.cli.quiet import driver_logs_silenced


@contextmanager
def terminal_safe_echo():
    """Every line convmig prints passes ``terminal_text`` while a command runs.

    Stack, resource and template names come from Heat's database, where anyone
    who can create a stack chose them; an escape sequence in one (OSC, cursor
    moves, a title change) would act on the operator's terminal. Filtering at
    the one function all output goes through covers every table, message and
    format, including those added later. (JSON already escapes C0 controls.)"""
    original = click.echo

    def echo(message=None, file=None, nl=True, err=False, color=None):
        if isinstance(message, str):
            message = terminal_text(message)
        return original(message, file=file, nl=nl, err=err, color=color)

    click.echo = echo
    try:
        yield
    finally:
        click.echo = original


#: Command name -> the module whose ``cli`` it is (imported only when that command runs).
COMMANDS = {
    "status": "migrator.cli.commands.status",
    "migrate": "migrator.cli.commands.migrate",
    "rollback": "migrator.cli.commands.rollback",
    "log": "migrator.cli.commands.log",
    "verify": "migrator.cli.commands.verify",
    "demo": "migrator.cli.commands.demo",
    "report": "migrator.cli.commands.report",
}

#: Command name -> its short help, so ``convmig --help`` lists the commands
#: without importing them (tests/test_startup.py checks each against the command's own).
SHORT_HELP = {
    "status": "How many stacks run on each engine, by state, and which legacy roots cannot be migrated now and why.",
    "migrate": "Migrate stack trees (a root and all its nested stacks) to convergence.",
    "rollback": "Put migrated trees back on the legacy engine, exactly as before their last migration: "
                "every changed column restored, every deleted row re-inserted with its id.",
    "log": "The audit report: who changed which stack, when, from what to what.",
    "verify": "Check migrated trees against the invariants of a correct migration (convergence flags, "
              "traversal ids, no previous template, current_template_id, requires/needed_by, no leftover "
              "locks) and the log against the database.",
    "demo": "Build a sample legacy Heat database in SQLite (default ./convmig-demo.sqlite), walk through "
            "status, migrate, log and rollback on it, and write the migrate run's change record beside it "
            "(./convmig-demo-report.html).",
    "report": "Write a self-contained HTML change record of one run: who ran what, when and where; outcome "
              "counts; a timeline of the batches; per tree its outcome, why it was skipped, its row changes "
              "(secrets as digests) and its dependency graph; and the verification of every history the run "
              "touched.",
}


def _is_database_error(exc: Exception) -> bool:
    """A SQLAlchemy driver error (checked without importing SQLAlchemy: a command that
    raised one has loaded it already)."""
    import sys

    sa_exc = sys.modules.get("sqlalchemy.exc")
    return sa_exc is not None and isinstance(exc, sa_exc.DBAPIError)


def one_line(message: str) -> str:
    """An error is one line: a newline inside a value (a database name read from a
    heat.conf continuation line, a driver's multi-line text) is shown escaped."""
    return message.strip().replace("\r", "\\r").replace("\n", "\\n")


class ConvmigGroup(click.Group):
    """A click group that turns ``ConvmigError`` into one stderr line and an exit code.

    Commands are imported when first asked for (click's "lazily loading
    subcommands" pattern): every command pays the interpreter start-up, and
    ``convmig log`` should not also import the sample builder or the planner.
    """

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help`` from ``SHORT_HELP``: listing a command must
        not import it (that would import the planner, the event store, SQLAlchemy)."""
        names = self.list_commands(ctx)
        if any(n not in SHORT_HELP and n not in self.commands for n in names):
            return super().format_commands(ctx, formatter)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            cmd = self.commands.get(name)
            if cmd is not None and cmd.hidden:
                continue
            text = cmd.get_short_help_str(limit) if cmd is not None else click.Command(name, help=SHORT_HELP[name]).get_short_help_str(limit)
            rows.append((name, text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            self.add_command(importlib.import_module(self.lazy_commands[cmd_name]).cli, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context):
        with terminal_safe_echo(), driver_logs_silenced():
            return self._invoke(ctx)

    def _invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConvmigError as exc:
            click.echo(f"convmig: error: {one_line(exc.message)}", err=True)
            ctx.exit(exc.exit_code)
        except click.UsageError as exc:  # a bad option value, an unknown option or command
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            click.echo(f"convmig: error: {one_line(exc.format_message())} (see '{where} --help')", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("convmig: interrupted; nothing half-done (every change is one transaction)", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except EventStoreError as exc:  # a damaged, missing or unreachable log read anywhere: one line
            click.echo(f"convmig: error: {one_line(str(exc))}", err=True)
            ctx.exit(EXIT_NO_LOG if isinstance(exc, NoEventLog) else EXIT_FAILED)
        except Exception as exc:
            if not _is_database_error(exc):
                raise
            # disk full, connection lost ... outside a run's own handling
            from events.eventlog import reason

            click.echo(f"convmig: error: database: {one_line(mask_urls(reason(exc)))}", err=True)
            ctx.exit(EXIT_FAILED)


@click.group(cls=ConvmigGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help="Heat's database URL (else CONVMIG_DB_URL, else heat.conf).")
@click.option(
    "--heat-config",
    metavar="FILE",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Read [database] connection from this heat.conf, as heat-engine's --config-file "
         "(repeatable, later wins; default: where Heat finds heat.conf, e.g. /etc/heat/heat.conf).",
)
@click.option(
    "--heat-config-dir",
    metavar="DIR",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Also read DIR/*.conf in name order, as heat-engine's --config-dir "
         "(repeatable; default: /etc/heat/heat.conf.d and the other directories Heat reads).",
)
@click.option(
    "--event-store",
    metavar="URL",
    help="Where the event log lives (else CONVMIG_EVENT_STORE, else Heat's own database).",
)
@click.version_option(package_name="convmig", prog_name="convmig")
@click.pass_context
def main(ctx: click.Context, db: str | None, heat_config: tuple[str, ...], heat_config_dir: tuple[str, ...],
         event_store: str | None) -> None:
    """Migrate OpenStack Heat stacks from the legacy engine to convergence,
    offline, with an append-only event log.

    \b
    Examples:
      convmig demo                                  # sample database, walk-through
      convmig --db mysql+pymysql://heat:PW@db/heat status
      convmig --heat-config /etc/heat/heat.conf migrate --dry-run --all
      convmig log --stack 0b1c... --changes
      convmig report 8602d4e1 -o change-4711.html   # a run's change record
    """
    try:
        timeouts()  # validated before anything connects: a bad value is a usage error, not a hang
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    ctx.obj = Settings(db=db, heat_config=heat_config, event_store=event_store,
                       heat_config_dir=heat_config_dir or None)
