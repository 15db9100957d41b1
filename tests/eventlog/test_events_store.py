"""The log on SQLite, PostgreSQL and MariaDB: round trips, atomic saves, conflicts, config."""

from __future__ import annotations

import base64
import json
import os
import random
import zlib

import pytest
import sqlalchemy as sa

from events import Unverified, EventLog, EventStoreError, StackBusy, StackHistory
from events.report import verify
from events.store import allow_frozen_time
from helpers import ROW, changes_for, record_migration as migrate, start_run as start

KEY = base64.b64encode(bytes(range(32))).decode()


def _every_event(log: EventLog):
    """A run and a stack history holding every event type, saved."""
    run = start(log)
    history = log.stack_or_new("stk-1", "web")
    history.refused(run.id, reason="UPDATE_IN_PROGRESS; retry later")
    history.planned(run.id, direction="migrate", changes=changes_for("stk-1"), summary={"resources": 4, "when": ROW["created_at"]})
    run.cover(["stk-1"])
    log.save(run, history)
    history.failed(run.id, reason="row stack[stk-1] changed")
    history.planned(run.id, direction="migrate", changes=changes_for("stk-1"), summary={})
    log.save(history)
    history.recovered(run.id, outcome="applied", detail="after-images present")
    history.planned(run.id, direction="rollback", changes=[], summary={})
    history.applied(run.id, summary={"rows": 5})
    history.refused(run.id, reason="already legacy", direction="rollback")
    run.finish("done", {"migrated": 1})
    log.save(run, history)
    return run, history


def test_every_event_type_round_trips(db_url):
    with EventLog.open(db_url, env={}) as log:
        run, history = _every_event(log)
    with EventLog.open(db_url, env={}) as log:  # a fresh connection: nothing from memory
        loaded = log.stack("stk-1")
        loaded_run = log.get_run(run.id)
        stored = log.notifications(after=None, limit=100)
        decoded = [log.decode(n) for n in stored]
    assert loaded.entries == history.entries
    assert loaded.entries[1]["changes"][2]["before"] == ROW  # every value type, exactly
    assert {type(v) for v in loaded.entries[1]["changes"][2]["before"].values()} == {type(v) for v in ROW.values()}
    assert (loaded.head, loaded.version, loaded.state, loaded.stack_name) == (history.head, 9, "rollback_refused", "web")
    assert (loaded_run.command, loaded_run.operator, loaded_run.outcome, loaded_run.covered) == ("migrate", "alice", "done", ["stk-1"])
    assert (loaded_run.arguments, loaded_run.selection, loaded_run.pid, loaded_run.host) == ({"all": True, "dry_run": False}, {"tenant": "t1"}, 4242, "ctl-1")
    assert loaded_run.head == run.head and loaded_run.created_on == run.created_on
    kinds = {type(e).__qualname__ for e in decoded}
    assert kinds == {
        "Run.Started", "Run.Covered", "Run.Finished", "StackHistory.Opened", "StackHistory.Planned",
        "StackHistory.Applied", "StackHistory.Failed", "StackHistory.Refused", "StackHistory.Recovered",
    }  # fmt: skip


def test_batched_read_equals_one_by_one(db_url):
    """``stacks`` (one query per chunk) replays exactly what ``stack`` does, per stack,
    says None for a stack never recorded, and reports a gap in a chain as ``stack`` does."""
    with EventLog.open(db_url, env={}) as log:
        _every_event(log)
        run = start(log)
        for sid in ("stk-2", "stk-3"):
            migrate(log, run, sid, f"name-{sid}")
    with EventLog.open(db_url, env={}) as log:
        batch = log.stacks(["stk-3", "stk-1", "never", "stk-2"])
        assert list(batch) == ["stk-3", "stk-1", "never", "stk-2"]
        assert batch["never"] is None
        for sid in ("stk-1", "stk-2", "stk-3"):
            one = log.stack(sid)
            assert (batch[sid].entries, batch[sid].head, batch[sid].version) == (one.entries, one.head, one.version)
        table = log.table
        victim = batch["stk-2"].id
        with log.app.engine.begin() as conn:  # cut an event out of the middle of a chain
            conn.execute(table.delete().where(table.c.originator_id == victim, table.c.originator_version == 2))
        found = log.stacks(["stk-1", "stk-2"])  # verify before use: the damaged one only is refused
        assert isinstance(found["stk-2"], Unverified) and "v2 missing before v3" in found["stk-2"].problem
        assert found["stk-1"].entries == batch["stk-1"].entries
        with pytest.raises(EventStoreError, match="stack stk-2 does not verify .*convmig log --verify"):
            log.stack("stk-2")


def test_large_event_round_trips(db_url):
    """A template of tens of MB (compressible) and several MB of random bytes, in one event each."""
    rnd = random.Random(4)
    template = json.dumps(
        {"resources": {f"r{i}": {"type": "OS::Nova::Server", "properties": {"name": f"srv-{rnd.random()}"}} for i in range(400_000)}}
    )
    blob = rnd.randbytes(5_000_000)
    assert len(template) > 20_000_000
    with EventLog.open(db_url, env={}) as log:
        run = start(log)
        first = log.stack_or_new("big-1", "big")
        first.planned(run.id, direction="migrate", changes=changes_for("big-1", template_text=template), summary={})
        second = log.stack_or_new("big-2", "blob")
        second.planned(
            run.id, direction="migrate", changes=[{"table": "event", "pk": {"id": 1}, "op": "delete", "before": {"resource_properties": blob}}], summary={}
        )
        log.save(run, first, second)
    with EventLog.open(db_url, env={}) as log:
        assert log.stack("big-1").pending["changes"][1]["before"]["template"] == template
        assert log.stack("big-2").pending["changes"][0]["before"]["resource_properties"] == blob
        sizes = log.query(lambda c: list(c.execute(sa.select(sa.func.max(sa.func.length(log.table.c.state)))).scalars()))
    assert sizes[0] > 4_000_000  # really several MB in one row


def test_a_save_is_atomic_and_a_lost_race_is_stack_busy(event_log):
    run = start(event_log)
    migrate(event_log, run, "s1", "web", outcome="pending")
    mine, theirs = event_log.stack("s1"), event_log.stack("s1")
    theirs.applied(run.id)
    event_log.save(theirs)
    mine.failed(run.id, reason="x")
    other = event_log.stack_or_new("s2", "db")
    other.refused(run.id, reason="y")
    before = event_log.max_position()
    with pytest.raises(StackBusy) as busy:
        event_log.save(other, mine)
    assert busy.value.stack_ids == ["s1"]
    assert event_log.max_position() == before and event_log.stack("s2") is None  # nothing of the save stored
    assert event_log.stack("s1").state == "migrated"


def test_two_new_histories_of_one_stack_conflict(event_log):
    run = start(event_log)
    first, second = event_log.stack_or_new("s1", "web"), event_log.stack_or_new("s1", "web")
    for history in (first, second):
        history.planned(run.id, direction="migrate", changes=[], summary={})
    event_log.save(run, first)
    with pytest.raises(StackBusy):
        event_log.save(second)


def test_pending_stacks_and_last_run(event_log):
    old = start(event_log, command="migrate")
    migrate(event_log, old, "s1", "a", outcome="applied")
    migrate(event_log, old, "s2", "b", outcome="pending")
    migrate(event_log, old, "s3", "c", outcome="failed")
    newer = start(event_log, command="rollback")
    event_log.save(newer)
    assert event_log.stacks_with_pending() == ["s2"]
    assert event_log.last_run().id == newer.id
    assert event_log.last_run("migrate").id == old.id
    assert event_log.last_run("status") is None
    history = event_log.stack("s2")
    history.recovered(newer.id, outcome="not_applied", detail="before-images intact")
    event_log.save(history)
    assert event_log.stacks_with_pending() == []
    assert event_log.stack("s2").state == "interrupted"
    assert event_log.stack("nope") is None and event_log.get_run(newer.id).command == "rollback"


def test_index_rebuilds_from_the_events(event_log):
    run = start(event_log)
    migrate(event_log, run, "s1", "a", outcome="pending")
    before = event_log.index_heads()
    with event_log.app.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM convmig_stacks")
    assert event_log.stacks_with_pending() == []
    assert event_log.rebuild_index() == 2
    assert event_log.index_heads() == before and event_log.stacks_with_pending() == ["s1"]


def test_encrypted_log(db_url, tmp_path):
    with EventLog.open(db_url, env={"CONVMIG_CIPHER_KEY": KEY}) as log:
        migrate(log, start(log), "s1", "web")
        raw = log.notifications(after=None, limit=10)
    assert all(b"web" not in n.state and b"hunter2" not in n.state for n in raw)
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    with EventLog.open(db_url, env={"CONVMIG_CIPHER_KEY_FILE": str(key_file)}) as log:
        assert log.stack("s1").state == "migrated"
    wrong = base64.b64encode(bytes(32)).decode()
    with pytest.raises(EventStoreError, match="wrong CONVMIG_CIPHER_KEY"):
        EventLog.open(db_url, env={"CONVMIG_CIPHER_KEY": wrong})
    with pytest.raises(EventStoreError, match="may be encrypted"):
        EventLog.open(db_url, env={})


def test_bad_keys_are_one_line_errors(sqlite_url, tmp_path):
    with pytest.raises(EventStoreError, match="not base64 of 16, 24 or 32 bytes"):
        EventLog.open(sqlite_url, env={"CONVMIG_CIPHER_KEY": "short"})
    with pytest.raises(EventStoreError, match="cannot read CONVMIG_CIPHER_KEY_FILE"):
        EventLog.open(sqlite_url, env={"CONVMIG_CIPHER_KEY_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    "url",
    ["postgresql://heat:pw@127.0.0.1:1/heat", "mysql://heat:pw@127.0.0.1:1/heat", "sqlite:////nonexistent/dir/heat.db"],
)
def test_unreachable_store_is_one_line_without_password(url):
    with pytest.raises(EventStoreError) as error:
        EventLog.open(url, env={})
    message = str(error.value)
    assert "\n" not in message and "pw" not in message.replace("pwd", "")
    assert message.startswith("event store ")


def test_ambient_library_variables_are_ignored(sqlite_url, monkeypatch):
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.popo")
    monkeypatch.setenv("CONVMIG_SQLALCHEMY_URL", "sqlite:////nonexistent/x.db")
    with EventLog.open(sqlite_url, env={}) as log:
        migrate(log, start(log), "s1", "web")
    assert sa.inspect(sa.create_engine(sqlite_url)).has_table("convmig_events")


def test_frozen_time_events_save(sqlite_url):
    from freezegun import freeze_time

    allow_frozen_time()
    with freeze_time("2024-03-01 12:00:00"), EventLog.open(sqlite_url, env={}) as log:
        run = start(log)
        migrate(log, run, "s1", "web")
        history = log.stack("s1")
    assert history.created_on.isoformat() == "2024-03-01T12:00:00+00:00"
    assert os.path.exists(sqlite_url.split("///", 1)[1])
    assert isinstance(history, StackHistory)


def test_store_failure_during_save_is_one_line(event_log):
    run = start(event_log)
    with event_log.app.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE convmig_runs")
    with pytest.raises(EventStoreError) as error:
        event_log.save(run)
    assert str(error.value).startswith("cannot save to event store ") and "\n" not in str(error.value)
    assert event_log.notifications(after=None, limit=10) == []  # the events rolled back with the index


def test_log_lives_beside_heat_tables(db_url):
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE stack (id VARCHAR(36) PRIMARY KEY, name VARCHAR(255))")
        conn.exec_driver_sql("INSERT INTO stack VALUES ('s1', 'web')")
    with EventLog.open(db_url, env={}) as log:
        migrate(log, start(log), "s1", "web")
    tables = set(sa.inspect(engine).get_table_names())
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, name FROM stack").all()
    engine.dispose()
    assert tables == {"stack", "convmig_events", "convmig_stacks", "convmig_runs"} and rows == [("s1", "web")]


def test_events_package_imports_neither_migrator_nor_rollback():
    import pathlib
    import re

    package = pathlib.Path(__file__).resolve().parents[2] / "events"
    for source in package.glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+(migrator|rollback)\b", source.read_text(), re.M), source


def test_scan_by_aggregate_pages_through_long_and_short_histories(event_log, monkeypatch):
    import events.eventlog

    run = start(event_log)
    for n in range(4):
        migrate(event_log, run, f"s{n}", "x")  # run: 1 + 4 covered events; stacks: 3 events each
    monkeypatch.setattr(events.eventlog, "SCAN_ROWS", 2)
    monkeypatch.setattr(events.eventlog, "SCAN_BYTES", 1)  # one state per fetch
    rows = [(n.originator_id, n.originator_version) for n in event_log.scan_by_aggregate()]
    assert rows == sorted(rows) and len(rows) == len(set(rows)) == 5 + 4 * 3



def test_the_switch_to_wal_waits_for_the_files_other_readers(tmp_path):
    """Switching a file to WAL mode fails with "database is locked" while other
    connections hold it: after the busy timeout, or at once when two switch
    together (SQLite's deadlock rule), as four runs opening one fresh log do.
    ``use_wal``, which opening the log runs first, retries until the reader is
    gone; and gives up when its time runs out."""
    import sqlite3
    import threading

    from events.store import use_wal

    path = tmp_path / "heat.sqlite"
    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    reader.execute("CREATE TABLE heat_table (x)")
    reader.execute("BEGIN")
    reader.execute("SELECT * FROM heat_table").fetchall()  # holds a shared lock
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    with pytest.raises(sa.exc.OperationalError, match="database is locked"):
        with engine.connect() as conn:  # what the library does, once
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    with pytest.raises(sa.exc.OperationalError, match="database is locked"):
        use_wal(engine, wait=0.2)
    release = threading.Timer(0.3, reader.execute, ["COMMIT"])
    release.start()
    try:
        use_wal(engine, wait=30)
    finally:
        release.join()
        reader.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    log = EventLog.open(f"sqlite:///{path}")
    log.save(start(log))
    engine.dispose()


def test_events_are_compressed_at_zlib_level_1_and_level_6_still_reads(sqlite_url):
    """Level 1 is the cheaper write (issue 16); logs written before it used zlib's
    default level 6 and must still read. The zlib header names the level: 78 01 is
    level 1, 78 9c the default."""
    with EventLog.open(sqlite_url, env={}) as log:
        migrate(log, start(log), "s1", "web")
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        states = conn.exec_driver_sql("SELECT id, state FROM convmig_events ORDER BY id").all()
        assert states and {bytes(s[:2]) for _, s in states} == {b"\x78\x01"}
        for row_id, state in states:  # as an older convmig wrote them
            conn.exec_driver_sql("UPDATE convmig_events SET state = ? WHERE id = ?",
                                 (zlib.compress(zlib.decompress(state), 6), row_id))
    engine.dispose()
    with EventLog.open(sqlite_url, env={}) as log:
        assert log.stack("s1").state == "migrated"
        assert verify(log).clean
