"""How a run's outcome is told: problems first, grouped by reason, the summary last.

A cloud-wide run can refuse hundreds of trees; one line each would push the counts
and the run id off the screen. So the refusals are grouped by reason (a count, the
first few stacks, the first tree's full reason and a hint that works), on stderr,
and the summary table and the run id come last, on stdout. Every tree is still in
``--format json`` and in ``convmig log``.
"""

from __future__ import annotations

from collections import defaultdict

import click

from migrator.cli.render import dumps, summary_table
from migrator.execution.runner import RunReport, TreeResult

#: Groups of at most this many trees are printed tree by tree.
EACH = 3
#: Stacks named per group.
NAMED = 3


def report_json(report: RunReport) -> dict:
    return {
        "run_id": report.run_id,
        "outcome": report.outcome,
        "headline": report.headline(),
        "counts": dict(report.counts),
        "problems": [p.as_dict() for p in report.problems],
        "recovered": [r.as_dict() for r in report.recovered],
        "done_by_other_runs": [r.as_dict() for r in report.done_by_others],
    }


def echo_report(report: RunReport, fmt: str) -> None:
    """Recoveries and problems on stderr, then the summary (table or JSON) on stdout."""
    for r in report.recovered:
        click.echo(f"convmig: recovered {r.root_id}: {r.kind}: {r.reason}", err=True)
    for line in done_elsewhere_lines(report.done_by_others):
        click.echo(line, err=True)
    for line in problem_lines(report.problems):
        click.echo(line, err=True)
    if fmt == "json":
        click.echo(dumps(report_json(report)))
        return
    click.echo(summary_table(report.counts) if report.counts else "nothing to do")
    click.echo(f"run {report.run_id}: {report.headline()}")


def problem_lines(problems: list[TreeResult]) -> list[str]:
    """One line per problem while there are few of a kind; beyond that one line per kind."""
    groups: dict[tuple[str, str | None], list[TreeResult]] = defaultdict(list)
    for p in problems:
        groups[(p.outcome, p.kind)].append(p)
    lines = []
    for (outcome, kind), members in groups.items():
        if len(members) <= EACH:
            lines += [f"convmig: {outcome}: {p.reason}" for p in members]
            continue
        names = ", ".join(p.name or p.root_id for p in members[:NAMED])
        lines.append(f"convmig: {outcome} ({kind}): {len(members)} trees, e.g. {names} and "
                     f"{len(members) - NAMED} more; the first: {members[0].reason}")
    return lines


def done_elsewhere_lines(done: list[TreeResult]) -> list[str]:
    """Trees another run had already done, one note per run: with several runs at
    once, a tree a sibling took is that sibling's work, said as such (not drift,
    not a problem)."""
    by_run: dict[str, list[TreeResult]] = defaultdict(list)
    for r in done:
        by_run[r.by_run].append(r)
    lines = []
    for run, members in by_run.items():
        if len(members) == 1:
            lines.append(f"convmig: note: {members[0].reason}")
            continue
        names = ", ".join(p.name or p.root_id for p in members[:NAMED])
        more = f" and {len(members) - NAMED} more" if len(members) > NAMED else ""
        lines.append(f"convmig: note: {len(members)} trees {members[0].kind} by run {run[:8]}, e.g. {names}{more}: nothing to do")
    return lines
