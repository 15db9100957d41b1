"""``convmig report RUN``: one self-contained HTML page recording what a run did,
to attach to a change ticket; and the file writing ``migrate --dry-run --report``
shares with it.

The facts come from the event log alone (``events.runrecord``). Heat's database
is read only to tell explicit from implicit dependency edges (the templates the
plans were made from); when it cannot be read the page says the kinds are unknown.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import IO, Iterator

import click

from events import EventLog, EventStoreError
from events.runrecord import gather

from migrator import __version__
from migrator.errors import ConvmigError, UsageError
from migrator.execution.runner import operator_name
from migrator.cli.options import Settings, pass_settings
from migrator.heat.connection import connect_checked, safe_url
from migrator.report import build, kinds, render


def default_path(run_id: str) -> str:
    return f"convmig-report-{run_id[:8]}.html"


@contextmanager
def output(path: str) -> Iterator[IO[str]]:
    """The file to write the page to ("-": stdout). Written beside its final name and
    renamed at the end, so a failure never leaves half a page under that name."""
    if path == "-":
        yield sys.stdout
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"-o {path}: directory {folder} does not exist; create it or name another file")
    fd, tmp = tempfile.mkstemp(prefix=".convmig-report-", suffix=".html", dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # as an ordinary new file, not mkstemp's 0600
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yield out
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class EdgeReader:
    """Per chunk of a run's trees, the explicit-edge reader over the templates their
    plans were made from, read from Heat's database (two queries a chunk). When the
    database cannot be read the kinds are unknown, and ``notes`` says why."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = None
        self.database: str | None = None
        self.notes: list[str] = []
        self._memo: dict = {}

    def __call__(self, chunk):
        wanted = kinds.template_ids(c for t in chunk if t.plan for c in t.plan.get("changes", ()))
        if not wanted or self.notes:
            return lambda _sid: None
        try:
            if self.engine is None:
                url = self.settings.db_url
                self.engine = connect_checked(url)
                self.database = safe_url(url)
            return kinds.load(self.engine, wanted, memo=self._memo)
        except ConvmigError as exc:
            self.notes.append(f"edge kinds unknown: Heat's database cannot be read ({exc.message})")
        except Exception as exc:  # noqa: BLE001 - the report stands without the kinds
            self.notes.append(f"edge kinds unknown: reading the templates failed ({type(exc).__name__})")
        return lambda _sid: None

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


class DryRunRecorder:
    """What ``migrate --dry-run --report FILE`` writes: the plans as they stream by
    (``add`` per tree, ``batch`` per batch), then the page (``write``)."""

    def __init__(self, settings: Settings, selection, command: str = "migrate --dry-run"):
        self.settings, self.selection, self.command = settings, selection, command
        self._memo: dict = {}  # template readings shared by every tree, as planning shares them
        self.collected = build.DryRunReport(self._reader)
        self._began = datetime.now(timezone.utc)

    def _reader(self, tree):
        if tree is None:
            return lambda _sid: None
        return kinds.ExplicitEdges({s["id"]: s for s in tree.stacks}, tree.templates, memo=self._memo)

    def add(self, plan, tree) -> None:
        self.collected.add(plan, tree)

    def batch(self) -> None:
        now = datetime.now(timezone.utc)
        self.collected.batch(self._began, now)
        self._began = now

    def facts(self) -> list:
        options = ", ".join(f"{k}={v}" for k, v in self.selection.as_dict().items())
        return [
            build.Fact("Command", f"convmig {self.command}"),
            build.Fact("Selection", options),
            build.Fact("Operator", operator_name()),
            build.Fact("Host", f"{socket.gethostname()} (pid {os.getpid()})"),
            build.Fact("convmig version", __version__),
            build.Fact("Planned", build.when(self.collected.started)),
            build.Fact("Heat database", safe_url(self.settings.db_url)),
            build.Fact("Event store", "not used: a dry run records nothing"),
        ]

    def write(self, path: str) -> None:
        page = self.collected.report(self.facts())
        with output(path) as out:
            render.write(page, out)


def make_report(settings: Settings, run_key: str, path: str | None) -> str:
    """Write the report of run ``run_key``; return where it went."""
    reader = EdgeReader(settings)
    builder = build.RunReport(reader)
    try:
        with EventLog.open(settings.event_store_url) as log:
            record = gather(log, run_key, on_trees=builder.trees)
    except LookupError as exc:
        raise ConvmigError(f"{exc}; convmig log lists runs") from None
    except EventStoreError as exc:
        raise ConvmigError(str(exc)) from None
    finally:
        reader.close()
    page = builder.report(record, database=reader.database)
    page.notes += reader.notes
    path = path or default_path(str(record.run.id))
    with output(path) as out:
        render.write(page, out)
    return path


@click.command("report")
@click.argument("run_id", metavar="RUN_ID")
@click.option("-o", "--output", "path", metavar="FILE",
              help="Where to write the page ('-': stdout; default ./convmig-report-<run>.html).")
@pass_settings
def cli(settings: Settings, run_id: str, path: str | None) -> None:
    """Write a self-contained HTML change record of one run: who ran what, when and
    where; outcome counts; a timeline of the batches; per tree its outcome, why it
    was skipped, its row changes (secrets as digests) and its dependency graph; and
    the verification of every history the run touched. RUN_ID may be a unique
    prefix (at least 4 characters) of the run id, as convmig log shows it.

    \b
    Examples:
      convmig report 8602d4e1                       # ./convmig-report-8602d4e1.html
      convmig report 8602d4e1 -o change-4711.html
      convmig migrate --dry-run --all --report planned.html   # before the window
    """
    where = make_report(settings, run_id, path)
    if where != "-":
        click.echo(f"convmig: report written to {os.path.abspath(where)}", err=True)
