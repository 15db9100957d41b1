"""Builders and fixtures shared by the event log tests (not a test module).

Deliberately not a ``conftest.py``: the top-level tests import their
``conftest`` by module name, and a second one here would shadow it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from events import EventLog, Run
from events.store import allow_frozen_time

allow_frozen_time()  # events created under freezegun must save (notes §9)

#: One value of every type a Heat row image may hold.
ROW = {
    "id": 5,
    "name": "web-server",
    "convergence": False,
    "requires": None,
    "created_at": datetime(2023, 5, 4, 3, 2, 1, 123456),
    "updated_at": datetime(2023, 5, 4, 3, 2, 1, tzinfo=timezone.utc),
    "day": date(2023, 5, 4),
    "at": time(3, 2, 1),
    "duration": timedelta(days=1, seconds=2, microseconds=3),
    "pickle": b"\x80\x04\x95\x00\xff",
    "amount": Decimal("12.50"),
    "ratio": 0.25,
    "unicode": "häßlich ☃",
}


@pytest.fixture
def event_log(db_url):
    """An EventLog in a private empty database, on sqlite, postgresql and mariadb in turn."""
    log = EventLog.open(db_url, env={})
    yield log
    log.close()


def changes_for(stack_id: str, template_text: str = '{"heat_template_version": "2018-08-31"}') -> list[dict]:
    """A plan's worth of row changes: an update, a delete with a whole row, an insert."""
    return [
        {
            "table": "stack",
            "pk": {"id": stack_id},
            "op": "update",
            "before": {"id": stack_id, "convergence": False, "current_traversal": None, "prev_raw_template_id": 7},
            "after": {"convergence": True, "current_traversal": "7f0c", "prev_raw_template_id": None},
        },
        {
            "table": "raw_template",
            "pk": {"id": 7},
            "op": "delete",
            "before": {"id": 7, "template": template_text, "environment": '{"parameters": {"db_password": "hunter2"}}', "files_id": None},
            "after": None,
        },
        {"table": "resource", "pk": {"id": 5}, "op": "update", "before": dict(ROW), "after": {"requires": "[4, 3]", "pickle": b"\x00\x01"}},
        {"table": "user_creds", "pk": {"id": 3}, "op": "update", "before": {"id": 3, "password": "s3cret"}, "after": {"password": "n3w"}},
        {"table": "sync_point", "pk": {"entity_id": "5", "traversal_id": "7f0c", "is_update": True}, "op": "insert", "before": None, "after": {"entity_id": "5", "atomic_key": 0}},
    ]


def start(log: EventLog, command: str = "migrate", operator: str = "alice") -> Run:
    return log.start_run(
        command=command,
        arguments={"all": True, "dry_run": False},
        selection={"tenant": "t1"},
        operator=operator,
        host="ctl-1",
        pid=4242,
        version="0.1.0",
    )


def migrate(log: EventLog, run: Run, stack_id: str, name: str, outcome: str = "applied", **planned) -> None:
    """Record one stack's plan and its outcome, as the migrator does (two saves)."""
    history = log.stack_or_new(stack_id, name)
    history.planned(run.id, direction="migrate", changes=planned.get("changes", changes_for(stack_id)), summary={"resources": 4})
    run.cover([stack_id])
    log.save(run, history)
    if outcome == "applied":
        history.applied(run.id, summary={"rows": 5})
    elif outcome == "failed":
        history.failed(run.id, reason=f"row stack[{stack_id}] changed since it was planned")
    elif outcome == "pending":
        return
    log.save(history)



def cli_group():
    """A ``convmig``-like group with only ``log`` (the lead registers it on the real one)."""
    import click

    from migrator.cli import ConvmigGroup
    from migrator.cli.commands.log import cli as log_cli
    from migrator.cli.options import Settings

    @click.group(cls=ConvmigGroup)
    @click.option("--event-store", metavar="URL")
    @click.pass_context
    def group(ctx, event_store):
        ctx.obj = Settings(event_store=event_store)

    group.add_command(log_cli)
    return group


def invoke(url: str, *args: str):
    """Run ``convmig --event-store URL log ARGS``; stdout and stderr stay apart."""
    from click.testing import CliRunner

    return CliRunner().invoke(cli_group(), ["--event-store", url, "log", *args], catch_exceptions=False)
