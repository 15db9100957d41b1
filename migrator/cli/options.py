"""Command-line options defined once and shared by every command.

The global options (``--db``, ``--heat-config``, ``--event-store``) live on the
``convmig`` group and are resolved lazily into a ``Settings`` object, so that a
command which needs no database (``--help``) never opens one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import click

from migrator.heat.connection import HeatConfig, resolve_url


@dataclass
class Settings:
    """What the global options said; the database URL is resolved on first use."""

    db: str | None = None
    heat_config: str | None = None
    event_store: str | None = None

    @cached_property
    def resolved(self) -> tuple[str, HeatConfig | None]:
        return resolve_url(self.db, self.heat_config)

    @property
    def db_url(self) -> str:
        return self.resolved[0]

    @property
    def heat_conf(self) -> HeatConfig | None:
        return self.resolved[1]

    @property
    def event_store_url(self) -> str:
        """The event store: ``--event-store``/``CONVMIG_EVENT_STORE``, else Heat's database."""
        return self.event_store or os.environ.get("CONVMIG_EVENT_STORE") or self.db_url


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
