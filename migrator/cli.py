"""The ``convmig`` command line: a thin layer over ``migrator.commands``.

Each command parses its options and calls one function; every ``ConvmigError``
is caught here, in one place, and printed as one line on stderr with its exit
code. Data goes to stdout, messages and progress to stderr.
"""

from __future__ import annotations

import click

from .errors import ConvmigError
from .options import Settings


class ConvmigGroup(click.Group):
    """A click group that turns ``ConvmigError`` into one stderr line and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConvmigError as exc:
            click.echo(f"convmig: error: {exc.message}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=ConvmigGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help="Heat's database URL (else CONVMIG_DB_URL, else heat.conf).")
@click.option(
    "--heat-config",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Read [database] connection from this heat.conf (default /etc/heat/heat.conf when present).",
)
@click.option(
    "--event-store",
    metavar="URL",
    help="Where the event log lives (else CONVMIG_EVENT_STORE, else Heat's own database).",
)
@click.version_option(package_name="convmig", prog_name="convmig")
@click.pass_context
def main(ctx: click.Context, db: str | None, heat_config: str | None, event_store: str | None) -> None:
    """Migrate OpenStack Heat stacks from the legacy engine to convergence,
    offline, with an append-only event log.

    \b
    Examples:
      convmig demo                                  # sample database, walk-through
      convmig --db mysql+pymysql://heat:PW@db/heat status
      convmig --heat-config /etc/heat/heat.conf migrate --dry-run --all
      convmig log --stack 0b1c... --changes
    """
    ctx.obj = Settings(db=db, heat_config=heat_config, event_store=event_store)


def _register() -> None:
    """Attach each command module's click command to the group."""
    from .commands import demo, log, migrate, rollback, status, verify

    for module in (status, migrate, rollback, log, verify, demo):
        main.add_command(module.cli)


_register()

