"""The words and codes around a run (issue: the operator's day), through the CLI.

Outcome words that tell the truth, problems grouped with the summary last, run ids
by prefix, retries that may widen, confirmation for rollback, which database a
write command is about to change, and heat.conf read as oslo.config reads it.
stdout and stderr are asserted apart.
"""

from __future__ import annotations

import json

import pytest

from migrator.cli import options
from migrator.cli.outcome import problem_lines
from migrator.execution.runner import RunReport, TreeResult

from helpers import cli, dump


@pytest.fixture
def sample_db(make_sample):
    return make_sample(3, 13)


# ------------------------------------------------------------------ outcome words


def test_a_run_that_only_refused_trees_is_done_with_refusals_not_failed(sample_db):
    url, _sample = sample_db
    result = cli("--db", url, "migrate", "--all")
    assert result.exit_code == 1  # refusals that need the operator (FAILED stacks, stale rows)
    last = result.stdout.rstrip().splitlines()[-1]
    assert last.startswith("run ") and ": done, " in last and last.endswith(" refused")
    assert "failed" not in last
    lines = result.stdout.rstrip().splitlines()
    assert lines[0].startswith("outcome")  # the summary table comes after every problem line
    run_id = last.split()[1].rstrip(":")
    log = json.loads(cli("--db", url, "log", "--run", run_id[:8], "--format", "json").stdout)
    (finished,) = [e for e in log if e["event"] == "run-finished"]
    assert finished["summary"].startswith("partial ")  # the log's word: trees were refused, none failed


def _problems(n, kind="stale_rows", outcome="skipped"):
    return [TreeResult(f"id-{i}", f"web-{i}", outcome, kind, f"stack web-{i} (id-{i}) has stale rows", False)
            for i in range(n)]


def test_few_problems_print_one_line_each():
    assert problem_lines(_problems(3)) == [f"convmig: skipped: stack web-{i} (id-{i}) has stale rows" for i in range(3)]


def test_many_problems_of_a_kind_print_one_grouped_line():
    lines = problem_lines(_problems(250) + _problems(1, kind="locked"))
    assert lines == [
        "convmig: skipped (stale_rows): 250 trees, e.g. web-0, web-1, web-2 and 247 more; "
        "the first: stack web-0 (id-0) has stale rows",
        "convmig: skipped: stack web-0 (id-0) has stale rows",
    ]


@pytest.mark.parametrize("results, headline, outcome", [
    ([], "done", "done"),
    ([TreeResult("a", "a", "migrated")], "done", "done"),
    (_problems(7), "done, 7 refused", "partial"),
    (_problems(7) + _problems(2, kind="drift", outcome="failed"), "failed: 2 failed, 7 refused", "failed"),
])
def test_headline_and_recorded_outcome(results, headline, outcome):
    report = RunReport("run")
    for r in results:
        report.add(r)
    assert (report.headline(), report.outcome) == (headline, outcome)


# ------------------------------------------------------------------ run ids and retries


def _last_run_id(result) -> str:
    return result.stdout.rstrip().splitlines()[-1].split()[1].rstrip(":")


def test_rollback_run_and_retry_take_a_run_id_prefix(sample_db):
    url, sample = sample_db
    root = sample.special["updated"]
    migrated = cli("--db", url, "migrate", root)
    assert migrated.exit_code == 0, migrated.stderr
    run_id = _last_run_id(migrated)
    back = cli("--db", url, "rollback", "--run", run_id[:8], "--yes")
    assert back.exit_code == 0, back.stderr
    assert "rolled back" in back.stdout
    again = cli("--db", url, "migrate", "--retry", run_id[:6])
    assert again.exit_code == 0, again.stderr
    assert "migrated" in again.stdout


def test_a_retry_may_add_prune_orphans(sample_db):
    url, sample = sample_db
    root = sample.special["stale_row"]
    first = cli("--db", url, "migrate", root)
    assert first.exit_code == 1 and "--retry --prune-orphans" in first.stderr
    retried = cli("--db", url, "migrate", "--retry", "--prune-orphans")
    assert retried.exit_code == 0, retried.stderr
    assert "migrated" in retried.stdout


def test_a_retry_may_not_change_the_selection(sample_db):
    url, sample = sample_db
    cli("--db", url, "migrate", sample.special["updated"])
    result = cli("--db", url, "migrate", "--retry", "--all")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "only --prune-orphans, --include-failed and --online may widen it" in result.stderr


# ------------------------------------------------------------------ confirmation and provenance


def test_rollback_without_yes_off_a_terminal_is_refused_and_changes_nothing(sample_db):
    url, sample = sample_db
    root = sample.special["updated"]
    assert cli("--db", url, "migrate", root).exit_code == 0
    before = dump(url)
    result = cli("--db", url, "rollback", root)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("convmig: error: rollback changes Heat's database: "
                             "confirm with --yes when not asked on a terminal\n")
    assert dump(url) == before


def test_a_write_command_says_which_database_on_a_terminal(sample_db, monkeypatch):
    url, sample = sample_db
    monkeypatch.setattr(options, "interactive", lambda: True)
    result = cli("--db", url, "migrate", sample.special["updated"])
    assert result.exit_code == 0
    assert result.stderr.splitlines()[:2] == [f"convmig: database {url} (from --db)", "convmig: event log in Heat's database"]


def test_the_run_records_which_database_and_where_it_came_from(sample_db):
    url, sample = sample_db
    result = cli("--db", url, "migrate", sample.special["updated"])
    assert result.stderr == ""  # not a terminal: nothing announced, but recorded
    log = json.loads(cli("--db", url, "log", "--event", "run-started", "--format", "json").stdout)
    assert f"database={url} database_from=--db event_store={url} event_store_from=Heat's database" \
        in log[-1]["summary"]


# ------------------------------------------------------------------ heat.conf as oslo.config reads it


def _conf(path, text):
    path.write_text(text)
    return str(path)


def test_heat_conf_d_is_read_in_name_order_later_wins(sample_db, tmp_path):
    url, _ = sample_db
    main = _conf(tmp_path / "heat.conf", "[database]\nconnection = sqlite:////nonexistent/first.sqlite\n")
    confd = tmp_path / "heat.conf.d"
    confd.mkdir()
    _conf(confd / "10-db.conf", "[database]\nconnection = sqlite:////nonexistent/second.sqlite\n")
    _conf(confd / "20-db.conf", f"[database]\nconnection = {url}\n")
    result = cli("--heat-config", main, "--heat-config-dir", str(confd), "status")
    assert result.exit_code == 0, result.stderr


def test_repeated_heat_config_later_file_wins_and_beats_the_environment(sample_db, tmp_path):
    url, _ = sample_db
    first = _conf(tmp_path / "a.conf", "[database]\nconnection = sqlite:////nonexistent/a.sqlite\n")
    second = _conf(tmp_path / "b.conf", f"[database]\nconnection = {url}\n")
    result = cli("--heat-config", first, "--heat-config", second, "--heat-config-dir", str(tmp_path / "none"),
                 "status", env={"CONVMIG_DB_URL": "sqlite:////nonexistent/env.sqlite"})
    assert result.exit_code == 2 and "heat config directory" in result.stderr  # a named dir must exist
    result = cli("--heat-config", first, "--heat-config", second, "status",
                 env={"CONVMIG_DB_URL": "sqlite:////nonexistent/env.sqlite"})
    assert result.exit_code == 0, result.stderr


DEPRECATED = ('convmig: note: heat config: Option "sql_connection" from group "DEFAULT" is deprecated. '
              'Use option "connection" from group "database".\n')


def test_deprecated_sql_connection_is_read_with_a_note(sample_db, tmp_path):
    url, _ = sample_db
    conf = _conf(tmp_path / "old.conf", f"[DEFAULT]\nsql_connection = {url}\n")
    result = cli("--heat-config", conf, "status")
    assert result.exit_code == 0
    assert result.stderr == DEPRECATED


def test_a_continuation_line_is_joined_as_heat_joins_it(sample_db, tmp_path):
    # oslo.config (so heat-engine) joins a continuation line with a newline: a URL split
    # over two lines is not the database, for Heat or convmig; the error stays one line
    url, _ = sample_db
    head, tail = url[: len(url) - 5], url[len(url) - 5:]
    conf = _conf(tmp_path / "split.conf", f"[DEFAULT]\nsql_connection = {head}\n  {tail}\n")
    result = cli("--heat-config", conf, "status")
    assert result.exit_code in (1, 2) and result.stdout == ""
    note, error = result.stderr.splitlines()  # the error stays one line, whatever the driver says
    assert note + "\n" == DEPRECATED
    assert error.startswith("convmig: error: ") and "Traceback" not in error
    if url.startswith("sqlite"):
        assert error == f"convmig: error: no SQLite database at {head[len('sqlite:///'):]}\\n{tail}; check --db " \
                        "(run 'convmig demo' to make a sample)"


def test_a_driver_plugin_in_the_url_is_dropped_with_a_note(sample_db):
    url, _ = sample_db
    from sqlalchemy.engine import make_url

    with_plugin = make_url(url).update_query_dict({"plugin": "dbcounter"}).render_as_string(hide_password=False)
    result = cli("--db", with_plugin, "status")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ("convmig: note: ignoring SQLAlchemy plugin dbcounter in the database URL (--db): "
                             "it is not needed by convmig\n")


def test_a_missing_run_hints_at_another_event_store(sample_db):
    url, _ = sample_db
    result = cli("--db", url, "rollback", "--run", "0000000000", "--yes")
    assert result.exit_code == 1 and result.stdout == ""
    assert "no run 0000000000 in the event log" in result.stderr and "--event-store" in result.stderr


def test_migrate_for_a_tenant_with_no_stack_warns_and_exits_3(sample_db):
    url, _ = sample_db
    before = dump(url)
    for extra in ((), ("--dry-run",)):
        result = cli("--db", url, "migrate", "--all", "--tenant", "no-such-project", *extra)
        assert (result.exit_code, result.stdout) == (3, "")
        assert result.stderr == ("convmig: warning: no legacy root stack of tenant no-such-project: check the project "
                                 "id (convmig status --tenant lists its stacks)\n")
    assert dump(url) == before


def test_the_dry_run_shows_only_columns_that_change(sample_db):
    url, _ = sample_db
    plans = json.loads(cli("--db", url, "migrate", "--dry-run", "--all", "--format", "json").stdout)["trees"]
    changes = [c for p in plans for c in p["changes"] if c["op"] == "update"]
    assert changes
    for change in changes:
        assert all(change["before"].get(col) != value for col, value in change["after"].items()), change
    table = cli("--db", url, "migrate", "--dry-run", "--all").stdout
    assert "NULL → NULL" not in table and "NULL -> NULL" not in table


def test_a_nested_stack_whose_parent_is_gone_is_named_as_orphaned(sample_db):
    import sqlalchemy as sa

    from migrator.heat import schema
    from migrator.heat.connection import make_engine

    url, sample = sample_db
    engine = make_engine(url)
    with engine.begin() as conn:
        child = conn.execute(sa.select(schema.stack.c.id).where(schema.stack.c.owner_id == sample.special["updated"])
                             .limit(1)).scalar()
        if child is None:
            child = conn.execute(sa.select(schema.stack.c.id).where(schema.stack.c.owner_id.is_not(None)).limit(1)).scalar()
        conn.execute(schema.stack.update().where(schema.stack.c.id == child).values(owner_id="gone-parent-id"))
    engine.dispose()
    before = dump(url)
    result = cli("--db", url, "migrate", child)
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert f"({child}) is nested, but its parent stack gone-parent-id no longer exists" in line
    assert "migrate its root stack" not in line
    assert dump(url, exclude=("stack_lock",)) == {k: v for k, v in before.items() if k != "stack_lock"}


def test_a_stack_without_action_and_status_is_named_without_python_words(sample_db):
    from migrator.heat import schema
    from migrator.heat.connection import make_engine

    url, sample = sample_db
    root = sample.special["updated"]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(schema.stack.update().where(schema.stack.c.id == root).values(action=None, status=None))
    engine.dispose()
    result = cli("--db", url, "migrate", root)
    assert result.exit_code == 1
    assert "None" not in result.stderr and "no state (action and status NULL)" in result.stderr
    status = cli("--db", url, "status")
    assert "None" not in status.stdout


def test_a_tree_refused_for_two_reasons_names_both(sample_db):
    import uuid as uuidlib

    import sqlalchemy as sa

    from migrator.heat import schema
    from migrator.heat.connection import make_engine

    url, sample = sample_db
    root = sample.special["stale_row"]
    engine = make_engine(url)
    with engine.begin() as conn:  # a second row of one enabled name, on top of the stale row
        rows = conn.execute(sa.select(schema.resource).where(schema.resource.c.stack_id == root)
                            .order_by(schema.resource.c.id)).mappings().all()
        copy = {k: v for k, v in dict(rows[0]).items() if k != "id"}
        copy["uuid"] = str(uuidlib.uuid4())
        conn.execute(schema.resource.insert().values(**copy))
    engine.dispose()
    result = cli("--db", url, "migrate", root, "--format", "json")
    assert result.exit_code == 1
    (problem,) = json.loads(result.stdout)["problems"]
    first, second = problem["reason"].split("; re-run with --prune-orphans (or: convmig migrate --retry "
                                             "--prune-orphans) to delete them; ")
    assert "has resource rows not in its template" in first
    assert second.startswith(f"stack stale-row ({root}) has duplicate resource rows: {rows[0]['name']}")
