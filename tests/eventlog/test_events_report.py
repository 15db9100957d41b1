"""``convmig log``: the report's exact output under frozen time, formats, filters, paging, changes."""

from __future__ import annotations

import csv
import io
import itertools
import json
from uuid import UUID

import pytest
from freezegun import freeze_time

import events.domain
from events import EventLog, StackBusy
from helpers import changes_for, log_cli as invoke, record_migration as migrate, start_run as start

EXPECTED_TABLE = """\
pos    time (UTC)           run       operator    command    stack          event             summary
-----  -------------------  --------  ----------  ---------  -------------  ----------------  ------------------------------------------------------------
1      2024-03-01 12:00:00  00000001  alice       migrate                   run-started       migrate all=true dry_run=false; selection tenant=t1
2      2024-03-01 12:00:00  00000001  alice       migrate                   run-covered       1 stack: stack-a
3      2024-03-01 12:00:00                                   web (stack-a)  opened            history of web opened
4      2024-03-01 12:00:00  00000001  alice       migrate    web (stack-a)  planned           5 row changes (raw_template delete 1, resource update 1, ...
5      2024-03-01 12:05:00  00000001  alice       migrate    web (stack-a)  applied           rows=5
6      2024-03-01 12:10:00  00000001  alice       migrate                   run-covered       1 stack: stack-b
7      2024-03-01 12:10:00                                   db (stack-b)   opened            history of db opened
8      2024-03-01 12:10:00  00000001  alice       migrate    db (stack-b)   planned           5 row changes (raw_template delete 1, resource update 1, ...
9      2024-03-01 12:15:00  00000001  alice       migrate    db (stack-b)   failed            row stack[stack-b] changed since it was planned
10     2024-03-01 12:20:00  00000001  alice       migrate                   run-finished      partial migrated=1 failed=1
11     2024-03-01 12:30:00  00000002  bob         rollback                  run-started       rollback all=true dry_run=false; selection tenant=t1
12     2024-03-01 12:30:00  00000002  bob         rollback   web (stack-a)  rollback-planned  0 row changes; resources=4
"""


@pytest.fixture
def fixed_ids(monkeypatch):
    """Run ids 00000001-0000-..., 00000002-0000-... so the report is reproducible."""
    counter = itertools.count(1)
    monkeypatch.setattr(events.domain, "uuid4", lambda: UUID(int=next(counter) << 96))


@pytest.fixture
def history_log(db_url, fixed_ids):
    """A small history recorded under a frozen clock that moves five minutes per step."""
    with freeze_time("2024-03-01 12:00:00") as clock, EventLog.open(db_url, env={}) as log:
        run = start(log)
        migrate(log, run, "stack-a", "web", outcome="pending")
        clock.tick(300)
        history = log.stack("stack-a")
        history.applied(run.id, summary={"rows": 5})
        log.save(history)
        clock.tick(300)
        migrate(log, run, "stack-b", "db", outcome="pending")
        clock.tick(300)
        failed = log.stack("stack-b")
        failed.failed(run.id, reason="row stack[stack-b] changed since it was planned")
        log.save(failed)
        clock.tick(300)
        run.finish("partial", {"migrated": 1, "failed": 1})
        log.save(run)
        clock.tick(600)
        back = start(log, command="rollback", operator="bob")
        history = log.stack("stack-a")
        history.planned(back.id, direction="rollback", changes=[], summary={"resources": 4})
        log.save(back, history)
    return db_url


def test_report_table_is_exact_under_frozen_time(history_log):
    result = invoke(history_log)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == EXPECTED_TABLE


def test_json_and_csv_parse_back_to_the_same_records(history_log):
    as_json = json.loads(invoke(history_log, "--format", "json").stdout)
    as_csv = list(csv.DictReader(io.StringIO(invoke(history_log, "--format", "csv").stdout)))
    assert [{**r, "position": int(r["position"])} for r in as_csv] == as_json
    assert len(as_json) == 12
    assert as_json[4] == {
        "position": 5,
        "time": "2024-03-01T12:05:00.000000Z",
        "run": "00000001-0000-0000-0000-000000000000",
        "operator": "alice",
        "command": "migrate",
        "stack_name": "web",
        "stack_id": "stack-a",
        "event": "applied",
        "summary": "rows=5",
    }


def test_filters(history_log):
    def positions(*args):
        result = invoke(history_log, "--format", "json", *args)
        assert result.exit_code == 0, result.stderr
        return [r["position"] for r in json.loads(result.stdout)]

    assert positions("--stack", "web") == positions("--stack", "stack-a") == [3, 4, 5, 12]
    assert positions("--run", "00000002") == positions("--run", "00000002-0000-0000-0000-000000000000") == [11, 12]
    assert positions("--event", "planned") == [4, 8, 12]
    assert positions("--event", "rollback-planned,failed") == [9, 12]
    assert positions("--since", "2024-03-01T12:10:00Z", "--until", "2024-03-01T12:15:00") == [6, 7, 8, 9]
    assert positions("--since", "2024-03-02") == []
    assert positions("--stack", "db", "--event", "failed", "--until", "2024-03-01") == [9]


def test_paging_by_position(history_log):
    first = invoke(history_log, "--limit", "5", "--format", "json")
    assert [r["position"] for r in json.loads(first.stdout)] == [1, 2, 3, 4, 5]
    assert first.stderr == "convmig: more events: repeat with --after 5\n"
    rest = invoke(history_log, "--after", "5", "--limit", "100", "--format", "json")
    assert [r["position"] for r in json.loads(rest.stdout)] == list(range(6, 13)) and rest.stderr == ""


def test_paging_never_assumes_dense_positions(db_url):
    """A lost race burns an id on PostgreSQL and MariaDB; pages still cover every event once."""
    with EventLog.open(db_url, env={}) as log:
        run = start(log)
        for n in range(7):
            migrate(log, run, f"s{n}", f"n{n}", outcome="pending")
            stale, fresh = log.stack(f"s{n}"), log.stack(f"s{n}")
            fresh.applied(run.id)
            log.save(fresh)
            stale.failed(run.id, reason="lost")
            with pytest.raises(StackBusy):
                log.save(stale)
        total = len(log.notifications(after=None, limit=10_000))
        if not db_url.startswith("sqlite"):
            assert log.max_position() > total  # the burnt ids really are gaps
    seen, after = [], None
    while True:
        args = ["--limit", "4", "--format", "json"] + (["--after", str(after)] if after is not None else [])
        result = invoke(db_url, *args)
        page = [r["position"] for r in json.loads(result.stdout)]
        seen += page
        if "--after" not in result.stderr:
            break
        after = int(result.stderr.rsplit(" ", 1)[1])
    assert seen == sorted(set(seen)) and len(seen) == total == 7 * 4 + 1


def test_changes_mask_secrets_unless_asked(history_log):
    result = invoke(history_log, "--stack", "web", "--changes", "--format", "json")
    rows = json.loads(result.stdout)
    assert result.exit_code == 0 and "--show-secrets" in result.stderr
    by_column = {(r["table"], r["column"]): r for r in rows}
    assert by_column[("stack", "convergence")]["before"] == "false" and by_column[("stack", "convergence")]["after"] == "true"
    assert by_column[("stack", "convergence")]["outcome"] == "applied" and by_column[("stack", "convergence")]["run"].startswith("00000001")
    assert by_column[("raw_template", "environment")]["before"].startswith("sha256:")
    assert by_column[("raw_template", "environment")]["after"] == ""
    assert by_column[("user_creds", "password")]["after"].startswith("sha256:")
    assert by_column[("resource", "pickle")]["after"] == "\\x0001"
    assert "hunter2" not in result.stdout and "s3cret" not in result.stdout
    shown = invoke(history_log, "--stack", "stack-a", "--changes", "--show-secrets", "--format", "csv").stdout
    assert "hunter2" in shown and "s3cret" in shown
    table = invoke(history_log, "--stack", "web", "--changes")
    assert "hunter2" not in table.stdout and "sha256:" in table.stdout


def test_user_errors_go_to_stderr_with_exit_codes(history_log):
    unknown = invoke(history_log, "--stack", "nope")
    assert (unknown.exit_code, unknown.stdout) == (1, "")
    assert unknown.stderr == "convmig: error: no events recorded for stack nope\n"
    assert invoke(history_log, "--changes").exit_code == 2
    assert invoke(history_log, "--verify", "--stack", "web").exit_code == 2
    bad_time = invoke(history_log, "--since", "yesterday-ish")
    assert bad_time.exit_code == 2 and "cannot read time" in bad_time.stderr and bad_time.stdout == ""
    assert invoke(history_log, "--event", "exploded").exit_code == 2
    missing = invoke(history_log, "--run", "ffff").stderr
    assert missing.startswith("convmig: error: no run ffff in the event log ") and missing.count("\n") == 1


def test_unreachable_store_is_one_stderr_line():
    result = invoke("postgresql://heat:pw@127.0.0.1:1/heat")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("convmig: error: event store postgresql+psycopg://heat:***@127.0.0.1:1/heat")
    assert result.stderr.count("\n") == 1


def test_help_has_examples():
    result = invoke("sqlite://", "--help")
    assert result.exit_code == 0 and "Examples:" in result.stdout and "--verify" in result.stdout


def test_first_page_of_a_big_log(sqlite_url):
    """Page one of 5,000 events is one page of a hundred; how fast it comes is a
    budget in bench/budgets.py (and bench_eventlog.py measures a million)."""
    with EventLog.open(sqlite_url, env={}) as log:
        run = start(log)
        log.save(run)
        for batch in range(20):
            histories = []
            for n in range(250):
                history = log.stack_or_new(f"s{batch}-{n}", "x")
                history.planned(run.id, direction="migrate", changes=changes_for("s"), summary={})
                histories.append(history)
            log.save(*histories)
    result = invoke(sqlite_url, "--limit", "100")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 102
