"""Command-line options defined once and shared by every command.

The global options (``--db``, ``--heat-config``, ``--event-store``) live on the
``convmig`` group and are resolved lazily into a ``Settings`` object, so that a
command which needs no database (``--help``) never opens one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import sys

import click

if TYPE_CHECKING:  # imported when first resolved: ``convmig --help`` needs no SQLAlchemy
    from migrator.heat.config import Choice, HeatConfig


@dataclass
class Settings:
    """What the global options said; the database URL is resolved on first use."""

    db: str | None = None
    heat_config: tuple[str, ...] | str | None = ()
    event_store: str | None = None
    heat_config_dir: tuple[str, ...] | None = None

    @cached_property
    def resolved(self) -> tuple[Choice, HeatConfig | None]:
        from migrator.heat.config import choose_database

        configs = (self.heat_config,) if isinstance(self.heat_config, str) else tuple(self.heat_config or ())
        choice, config = choose_database(self.db, configs, self.heat_config_dir)
        for note in choice.notes:
            click.echo(f"convmig: note: {note}", err=True)
        return choice, config

    @property
    def database(self) -> Choice:
        return self.resolved[0]

    @property
    def db_url(self) -> str:
        return self.database.url

    @property
    def heat_conf(self) -> HeatConfig | None:
        return self.resolved[1]

    @cached_property
    def event_store_choice(self) -> Choice:
        from migrator.heat.config import choose_event_store

        choice = choose_event_store(self.event_store, lambda: self.database)
        if choice.source != "Heat's database":
            for note in choice.notes:
                click.echo(f"convmig: note: {note}", err=True)
        return choice

    @property
    def event_store_url(self) -> str:
        """The event store: ``--event-store``/``CONVMIG_EVENT_STORE``, else Heat's database."""
        return self.event_store_choice.url

    def provenance(self) -> dict:
        """Which database and event store (masked), and where each came from: kept with
        the run in the log, so a script's run says it as well as a terminal's."""
        from migrator.heat.connection import safe_url  # imported late: --help stays light

        store = self.event_store_choice
        return {"database": safe_url(self.db_url), "database_from": self.database.source,
                "event_store": safe_url(store.url), "event_store_from": store.source}

    def announce(self) -> None:
        """Before a write, on a terminal: say on stderr which database and event store,
        and where each came from (stderr of a script keeps to the lines that need reading;
        the run's log entry holds the same, see ``provenance``)."""
        if not interactive():
            return
        from migrator.heat.connection import safe_url

        click.echo(f"convmig: database {safe_url(self.db_url)} (from {self.database.source})", err=True)
        store = self.event_store_choice
        where = "Heat's database" if store.source == "Heat's database" else f"{safe_url(store.url)} (from {store.source})"
        click.echo(f"convmig: event log in {where}", err=True)


def interactive() -> bool:
    """Is an operator watching stderr (a terminal)?"""
    return sys.stderr.isatty()


pass_settings = click.make_pass_decorator(Settings, ensure=True)

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format on stdout (json for scripts: convmig ... --format json | jq).",
)

tenant_option = click.option("--tenant", metavar="PROJECT_ID", help="Only stacks of this tenant (project).")

dry_run_option = click.option("--dry-run", is_flag=True, help="Plan and print; change nothing.")

yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")

stack_ids_argument = click.argument("stack_ids", nargs=-1, metavar="[STACK_ID]...")

batch_size_option = click.option(
    "--batch-size",
    type=click.IntRange(1, 10000),
    default=500,
    show_default=True,
    help="Trees per batch: one log write and one database transaction each.",
)

online_option = click.option(
    "--online", is_flag=True, help="Work even though a heat-engine looks alive (stack locks still apply)."
)


def retry_option(command: str):
    """``--retry [RUN]``: continue the last (or the named) run of ``command``."""
    return click.option(
        "--retry", is_flag=False, flag_value="last", default=None, metavar="[RUN]",
        help=f"Continue the last (or the named) {command} run, with its selection and options.",
    )
