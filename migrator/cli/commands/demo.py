"""``convmig demo``: a sample legacy Heat database in SQLite, and a walk through
status, migrate, the log and a rollback on it, ending with the migrate run's
change record (``convmig report``) beside the database.

The sample comes from ``migrator.sample.build`` (the same builder the tests and the
benchmarks use), and every step calls the same function its command calls, so
what the demo shows is what convmig does.
"""

from __future__ import annotations

import os

import click

from migrator.heat.connection import make_engine
from migrator.errors import UsageError
from migrator.cli.options import Settings, pass_settings
from migrator.cli.outcome import echo_report
from migrator.sample.build import build_sample
from migrator.planning.selection import Selection
from migrator.cli.commands import log as log_cmd
from migrator.cli.commands import migrate as migrate_cmd
from migrator.cli.commands import report as report_cmd
from migrator.cli.commands import rollback as rollback_cmd
from migrator.cli.commands import status as status_cmd

DEFAULT_PATH = "convmig-demo.sqlite"


def build_demo_db(path: str, roots: int, seed: int, force: bool):
    """Create the sample database file; return its URL and what was built."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"no directory {folder} for the demo database; create it or name another PATH")
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory; name a file for the demo database, e.g. {os.path.join(path, DEFAULT_PATH)}")
    if os.path.exists(path):
        if not force:
            raise UsageError(f"{path} already exists; pass --force to replace it or name another PATH")
        os.remove(path)
    url = f"sqlite:///{os.path.abspath(path)}"
    engine = make_engine(url, must_exist=False)
    try:
        sample = build_sample(engine, roots=roots, seed=seed)
    finally:
        engine.dispose()
    return url, sample


def _step(title: str) -> None:
    click.echo(f"\n== {title}", err=True)


def report_path(db_path: str) -> str:
    """Where the demo writes its change record: beside the database it built."""
    return os.path.splitext(db_path)[0] + "-report.html"


def walk_through(settings: Settings, sample, report_to: str | None = None) -> None:
    """status → migrate --all → log → rollback of one tree → its history → the
    migrate run's change record (``report_to``)."""
    _step("status: which stacks run on which engine, and what blocks the rest")
    click.echo(status_cmd.render_table(status_cmd.status(settings)))
    _step("migrate --all: every legacy tree that can move, planned, logged, then applied")
    report = migrate_cmd.migrate(settings, Selection(all=True))
    echo_report(report, "table")
    _step("log: the audit trail (first events)")
    log_cmd.log(settings.event_store_url, limit=12)
    root = sample.special["updated"]
    _step(f"rollback {root}: back to legacy, exactly as before")
    echo_report(rollback_cmd.rollback(settings, [root], rollback_cmd.RollbackSelection((root,))), "table")
    _step(f"log --stack {root}: that tree's whole history")
    log_cmd.log(settings.event_store_url, stack=root)
    if report_to:
        _step(f"report {report.run_id[:8]}: the migrate run as a change record for a ticket")
        where = os.path.abspath(report_cmd.make_report(settings, report.run_id, report_to))
        click.echo(f"convmig: report of run {report.run_id} written to {where}; open it in a browser", err=True)


@click.command("demo")
@click.argument("path", default=DEFAULT_PATH, metavar="[PATH]")
@click.option("--roots", default=40, show_default=True, type=click.IntRange(min=0), help="How many ordinary root stacks to build (special cases come on top).")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the sample (same seed, same database).")
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@pass_settings
def cli(settings: Settings, path: str, roots: int, seed: int, force: bool) -> None:
    """Build a sample legacy Heat database in SQLite (default ./convmig-demo.sqlite),
    walk through status, migrate, log and rollback on it, and write the migrate
    run's change record beside it (./convmig-demo-report.html).

    \b
    Examples:
      convmig demo
      convmig demo /tmp/heat.sqlite --roots 1000 --force
    """
    url, sample = build_demo_db(path, roots, seed, force)
    click.echo(f"convmig: built a sample Heat database with {len(sample.roots)} root stacks at {path}", err=True)
    walk_through(Settings(db=url, event_store=url), sample, report_path(path))  # the demo's log stays in the demo
    click.echo(f"\nconvmig: explore it yourself: convmig --db {url} status | migrate --dry-run --all --report plan.html | log | report RUN | rollback ID",
               err=True)
