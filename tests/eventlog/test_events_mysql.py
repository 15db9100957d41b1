"""MySQL/MariaDB: events are never truncated, and a store that could truncate is refused."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from events import EventLog, EventStoreError
from events.store import MIN_MAX_ALLOWED_PACKET, check_mysql
from helpers import start_run as start

#: Every test here runs on MariaDB only (the shared fixture, narrowed).
pytestmark = pytest.mark.parametrize("db_url", [pytest.param("mariadb", marks=pytest.mark.mariadb)], indirect=True)

#: The table as eventsourcing-sqlalchemy creates it by default (state BLOB).
LIBRARY_DDL = """CREATE TABLE convmig_events (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  originator_id BINARY(16) NOT NULL,
  originator_version BIGINT NOT NULL,
  topic TEXT NOT NULL,
  state {state} NOT NULL,
  UNIQUE KEY convmig_events_aggregate_idx (originator_id, originator_version)
)"""


@pytest.fixture
def mysql_url(db_url):
    return db_url


def _execute(url: str, sql: str) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.exec_driver_sql(sql)
            return result.fetchall() if result.returns_rows else []
    finally:
        engine.dispose()


def test_created_table_holds_longblob(mysql_url):
    EventLog.open(mysql_url, env={}).close()
    ddl = _execute(mysql_url, "SHOW CREATE TABLE convmig_events")[0][1]
    assert "`state` longblob NOT NULL" in ddl


@pytest.mark.parametrize("column", ["BLOB", "MEDIUMBLOB"])
def test_existing_small_column_is_refused_until_altered(mysql_url, column):
    _execute(mysql_url, LIBRARY_DDL.format(state=column))
    with pytest.raises(EventStoreError, match=f"convmig_events.state is {column}.*ALTER TABLE convmig_events MODIFY state LONGBLOB"):
        EventLog.open(mysql_url, env={})
    _execute(mysql_url, "ALTER TABLE convmig_events MODIFY state LONGBLOB NOT NULL")
    EventLog.open(mysql_url, env={}).close()


def test_non_strict_sql_mode_is_refused(mysql_url):
    url = sa.engine.make_url(mysql_url).update_query_dict({"init_command": "SET SESSION sql_mode='NO_ENGINE_SUBSTITUTION'"})
    with pytest.raises(EventStoreError, match="sql_mode is not strict") as error:
        EventLog.open(url.render_as_string(hide_password=False), env={})
    assert "\n" not in str(error.value)


def test_small_max_allowed_packet_is_refused(mysql_url):
    class Conn:
        def __init__(self, mode, packet):
            self.row = (mode, packet)

        def exec_driver_sql(self, sql):
            return self

        def one(self):
            return self.row

    with pytest.raises(EventStoreError, match="max_allowed_packet is 4194304 bytes, too small"):
        check_mysql(Conn("STRICT_TRANS_TABLES", 4 * 1024 * 1024))
    assert check_mysql(Conn("TRADITIONAL", MIN_MAX_ALLOWED_PACKET)) == MIN_MAX_ALLOWED_PACKET


def test_event_too_large_for_the_packet_fails_clearly_and_stores_nothing(mysql_url):
    with EventLog.open(mysql_url, env={}) as log:
        run = start(log)
        log.save(run)
        before = log.max_position()
        history = log.stack_or_new("s1", "huge")
        history.planned(
            run.id, direction="migrate", changes=[{"table": "event", "pk": {"id": 1}, "op": "delete", "before": {"blob": os.urandom(12_000_000)}}], summary={}
        )
        with pytest.raises(EventStoreError, match="max_allowed_packet"):
            log.save(history)
        assert log.max_position() == before and log.stack("s1") is None


def test_several_large_events_in_one_save_are_split_into_packets(mysql_url):
    """Each fits a packet, together they do not: the save still succeeds, atomically."""
    with EventLog.open(mysql_url, env={}) as log:
        run = start(log)
        histories = []
        for n in range(3):
            history = log.stack_or_new(f"s{n}", "big")
            history.planned(
                run.id, direction="migrate", changes=[{"table": "event", "pk": {"id": n}, "op": "delete", "before": {"blob": os.urandom(4_500_000)}}], summary={}
            )
            histories.append(history)
        log.save(run, *histories)
        assert [log.stack(f"s{n}").state for n in range(3)] == ["planned"] * 3
