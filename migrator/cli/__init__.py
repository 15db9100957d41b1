"""The ``convmig`` command line: a thin layer over ``migrator.cli.commands``.

Each command parses its options and calls one function; every ``ConvmigError``
is caught here, in one place, and printed as one line on stderr with its exit
code. Data goes to stdout, messages and progress to stderr.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager

import click
import sqlalchemy as sa

from events.errors import EventStoreError, NoEventLog
from events.eventlog import reason
from events.secrets import mask_urls, terminal_text

from events.store import timeouts

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
}


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
            click.echo(f"convmig: error: {exc.message}", err=True)
            ctx.exit(exc.exit_code)
        except click.UsageError as exc:  # a bad option value, an unknown option or command
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            click.echo(f"convmig: error: {exc.format_message()} (see '{where} --help')", err=True)
            ctx.exit(exc.exit_code)
        except sa.exc.DBAPIError as exc:  # disk full, connection lost ... outside a run's own handling
            click.echo(f"convmig: error: database: {mask_urls(reason(exc))}", err=True)
            ctx.exit(EXIT_FAILED)
        except KeyboardInterrupt:
            click.echo("convmig: interrupted; nothing half-done (every change is one transaction)", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except EventStoreError as exc:  # a damaged, missing or unreachable log read anywhere: one line
            click.echo(f"convmig: error: {exc}", err=True)
            ctx.exit(EXIT_NO_LOG if isinstance(exc, NoEventLog) else EXIT_FAILED)


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
    """
    try:
        timeouts()  # validated before anything connects: a bad value is a usage error, not a hang
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    ctx.obj = Settings(db=db, heat_config=heat_config, event_store=event_store,
                       heat_config_dir=heat_config_dir or None)
