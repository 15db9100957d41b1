"""``convmig log``: the audit report of the event log, and its integrity check.

A thin layer over ``events.report``: ``log()`` opens the store, asks the report
for one page (or a stack's column changes, or a verification), and writes data
to stdout and messages to stderr. ``cli`` only parses options.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

import click

from events import EventLog, EventStoreError, NoEventLog
from events import report

from migrator.errors import EXIT_FAILED, EXIT_NO_LOG, EXIT_OK, ConvmigError, UsageError
from migrator.cli.options import Settings, pass_settings


def log(
    store_url: str,
    *,
    stack: str | None = None,
    run: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    events: Sequence[str] = (),
    changes: bool = False,
    failed_template: bool = False,
    show_secrets: bool = False,
    fmt: str = "table",
    after: int | None = None,
    limit: int = report.DEFAULT_LIMIT,
    verify: bool = False,
) -> int:
    """Print the report for the event log at ``store_url``; return the exit code."""
    _check_usage(stack=stack, run=run, since=since, until=until, events=events, changes=changes or failed_template,
                 show_secrets=show_secrets, after=after, verify=verify)
    filters = report.Filters(stack=stack, run=run, since=since, until=until, events=tuple(events), after=after, limit=limit)
    try:
        with EventLog.open(store_url, read_only=True) as event_log:
            if verify:
                return _verify(event_log, fmt)
            if failed_template:
                return _failed_template(event_log, filters)
            if changes:
                return _changes(event_log, filters, fmt, show_secrets)
            return _page(event_log, filters, fmt)
    except NoEventLog as exc:
        raise ConvmigError(str(exc), EXIT_NO_LOG) from None
    except EventStoreError as exc:
        raise ConvmigError(str(exc)) from None
    except report.ReportError as exc:
        raise ConvmigError(str(exc)) from None


def _check_usage(*, stack, run, since, until, events, changes, show_secrets, after, verify) -> None:
    if verify and any([stack, run, since, until, events, changes, after is not None]):
        raise UsageError("--verify checks the whole log and takes no filters")
    if changes and not stack:
        raise UsageError("--changes needs --stack STACK_ID")
    if show_secrets and not changes:
        raise UsageError("--show-secrets only applies to --changes")


def _page(event_log: EventLog, filters: report.Filters, fmt: str) -> int:
    page = report.page(event_log, filters)
    click.echo(report.render_page(page.records, fmt), nl=False)
    if not page.records:
        click.echo("convmig: no matching events", err=True)
    if page.next_after is not None:
        click.echo(f"convmig: more events: repeat with --after {page.next_after}", err=True)
    return EXIT_OK


def _changes(event_log: EventLog, filters: report.Filters, fmt: str, show_secrets: bool) -> int:
    rows = report.changes(event_log, filters, show_secrets=show_secrets)
    click.echo(report.render_changes(rows, fmt), nl=False)
    if not rows:
        click.echo("convmig: no recorded row changes for this stack", err=True)
    elif not show_secrets:
        click.echo("convmig: secret columns (environments, passwords, ...) shown as sha256 digests; --show-secrets to reveal", err=True)
    return EXIT_OK


def _failed_template(event_log: EventLog, filters: report.Filters) -> int:
    """The root stack's previous raw template that a migration deleted: for a legacy
    UPDATE_FAILED stack, the user's failed target template (issue 19), printed as
    stored so that ``openstack stack update -t`` can retry exactly that change."""
    rows = [r for r in report.changes(event_log, filters) if r["direction"] == "migrate"]
    found = None
    for position in dict.fromkeys(r["position"] for r in rows):
        plan = [r for r in rows if r["position"] == position]
        root = next((r for r in plan if r["table"] == "stack" and r["column"] == "prev_raw_template_id"), None)
        if root is None or root["before"] == "NULL":
            continue
        found = next((r["before"] for r in plan if r["table"] == "raw_template" and r["op"] == "delete"
                      and r["key"] == f"id={root['before']}" and r["column"] == "template"), found)
    if found is None:
        raise ConvmigError(f"no migration of stack {filters.stack} in the log deleted a previous template "
                           "(only a stack whose legacy update failed or was interrupted has one)")
    click.echo(found)
    return EXIT_OK


def _verify(event_log: EventLog, fmt: str) -> int:
    result = report.verify(event_log)
    click.echo(report.render_verification(result, fmt), nl=False)
    chains = f"{len(result.heads)} chains, {result.events} events"
    if result.clean:
        click.echo(f"convmig: log verified clean ({chains}); keep the heads above elsewhere to detect cut-off events", err=True)
        return EXIT_OK
    kinds = sorted({f["finding"] for f in result.findings})
    click.echo(f"convmig: {len(result.findings)} findings ({', '.join(kinds)}) in {chains}", err=True)
    return EXIT_FAILED


class _Time(click.ParamType):
    """ISO 8601 (UTC when no zone) or a relative age such as 2h or 7d."""

    name = "TIME"

    def __init__(self, end_of_day: bool = False):
        self.end_of_day = end_of_day

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            return report.parse_time(value, end_of_day=self.end_of_day)
        except report.ReportError as exc:
            self.fail(str(exc), param, ctx)


def _split_events(ctx, param, values) -> tuple[str, ...]:
    names = tuple(n.strip().lower() for v in values for n in v.split(",") if n.strip())
    unknown = [n for n in names if n not in report.event_names()]
    if unknown:
        raise click.BadParameter(f"unknown event {unknown[0]!r}; one of: {', '.join(report.event_names())}")
    return names


@click.command("log")
@click.option("--stack", metavar="STACK", help="Only this stack (Heat stack id or exact name).")
@click.option("--run", metavar="RUN", help="Only this run (its id, or its first characters as shown in the table).")
@click.option("--since", type=_Time(), metavar="TIME", help="Events at or after TIME (2024-03-01, 2024-03-01T12:00Z, or 2h/7d ago).")
@click.option("--until", type=_Time(end_of_day=True), metavar="TIME", help="Events at or before TIME (a bare date includes that day).")
@click.option("--event", "events", multiple=True, callback=_split_events, metavar="NAME", help="Only these events (repeatable or comma-separated), e.g. planned,failed.")
@click.option("--changes", is_flag=True, help="Show one stack's column-level changes (before -> after); needs --stack.")
@click.option("--failed-template", is_flag=True,
              help="With --stack: print the previous template a migration deleted (for an UPDATE_FAILED stack, the "
                   "failed target template) to retry that update: openstack stack update -t FILE.")
@click.option("--show-secrets", is_flag=True, help="With --changes: show environments and password columns instead of digests.")
@click.option("--format", "fmt", type=click.Choice(report.FORMATS), default="table", show_default=True, help="Output format on stdout.")
@click.option("--after", type=click.IntRange(min=0), metavar="POSITION", help="Start after this log position (from the previous page's hint).")
@click.option("--limit", type=click.IntRange(min=1), default=report.DEFAULT_LIMIT, show_default=True, metavar="N", help="Events per page.")
@click.option("--verify", is_flag=True, help="Recompute every hash chain; report edited, deleted or reordered events; exit 1 on any finding.")
@pass_settings
@click.pass_context
def cli(ctx: click.Context, settings: Settings, **options) -> None:
    """The audit report: who changed which stack, when, from what to what.

    Reads the event log (Heat's database, or --event-store). Data goes to
    stdout; hints such as the next page's position go to stderr. Event
    names: run-started, run-covered, run-skipped, run-finished, opened, planned, applied,
    failed, refused, recovered; rollback-planned, rolled-back,
    rollback-failed, rollback-refused, rollback-recovered; and repair-planned,
    repaired, repair-failed, repair-refused, repair-recovered.

    \b
    Examples:
      convmig log                                   # first 100 events
      convmig log --after 1200 --limit 500          # the next page
      convmig log --stack 0b1c... --since 7d --event planned,applied
      convmig log --run 3f2a9c1e --format json | jq .
      convmig log --stack web-prod --changes        # column-level before -> after
      convmig log --stack web-prod --failed-template > target.json   # then: openstack stack update -t target.json
      convmig log --verify > heads-$(date +%F).txt  # check chains, keep the heads
    """
    code = log(settings.event_store_url, **options)
    if code:
        ctx.exit(code)
