"""Catalogue, class "reads are read-only" (issue 15): ``log``, ``verify``, ``status``,
``migrate --dry-run`` and ``rollback --dry-run`` create or alter no table and no file;
with no log they say so (one line, exit 4); SQLite's journal mode is left as found;
a SELECT-only role can audit the log. On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import hashlib
import os

import pytest
import sqlalchemy as sa

from migrator.heat.connection import make_engine

from helpers import cli, dump
from helpers import read_only_user as _read_only_user

NO_LOG = 4


def tables(url: str) -> set[str]:
    engine = make_engine(url, must_exist=False)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def one_line(result, code: int, *words: str) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and all(w in lines[0] for w in words), lines
    return lines[0]


@pytest.fixture
def sample(make_sample):
    return make_sample(roots=3, seed=21)


READS = {
    "log": ("log",),
    "log --verify": ("log", "--verify"),
    "log --stack": ("log", "--stack", "x"),
    "rollback --dry-run": ("rollback", "--dry-run", "no-such-stack"),
}


@pytest.mark.parametrize("command", sorted(READS))
def test_read_without_a_log_says_so_and_creates_nothing(sample, command):
    url, _ = sample
    before_tables, before = tables(url), dump(url)
    result = cli("--db", url, *READS[command])
    one_line(result, NO_LOG, "no event log")
    assert tables(url) == before_tables and not any(t.startswith("convmig_") for t in tables(url))
    assert dump(url) == before


def test_verify_without_a_log_checks_edges_and_creates_nothing(sample):
    # a cloud migrated by Heat's own tool has no convmig log: verify still checks the
    # dependency edges of its convergence trees (tests/test_repair.py damages one)
    url, _ = sample
    before_tables, before = tables(url), dump(url)
    result = cli("--db", url, "verify", "--all")
    note, count = result.stderr.splitlines()
    assert result.exit_code == 0 and "no event log" in note and "dependency edges of convergence trees only" in note
    assert count == "convmig: 1 of 1 tree(s) verified"  # the sample's one convergence tree
    assert tables(url) == before_tables and dump(url) == before


@pytest.mark.parametrize("command", [("status",), ("migrate", "--dry-run", "--all")])
def test_status_and_dry_run_create_nothing(sample, command):
    url, _ = sample
    before_tables, before = tables(url), dump(url)
    cli("--db", url, *command)
    assert tables(url) == before_tables and dump(url) == before


def test_log_of_a_non_heat_database_creates_nothing(db_url):
    """A database convmig never used (an empty one): nothing gains a table."""
    make_engine(db_url, must_exist=False).dispose()
    before = tables(db_url)
    one_line(cli("--db", db_url, "log", "--verify"), NO_LOG, "no event log")
    assert tables(db_url) == before


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_zero_byte_sqlite_file_stays_zero_bytes(tmp_path):
    path = tmp_path / "empty.sqlite"
    path.touch()
    result = cli("--db", f"sqlite:///{path}", "--event-store", f"sqlite:///{path}", "log")
    one_line(result, NO_LOG, "no event log")
    assert path.stat().st_size == 0 and sorted(os.listdir(tmp_path)) == ["empty.sqlite"]


def test_missing_sqlite_event_store_is_not_created(tmp_path, sqlite_url):
    store = tmp_path / "nothere.sqlite"
    result = cli("--db", sqlite_url, "--event-store", f"sqlite:///{store}", "log", "--verify")
    one_line(result, NO_LOG, "no event log", "does not exist")
    assert not store.exists()


def _sqlite_with_log(make_sample, mode: str):
    url, sample = make_sample(roots=3, seed=22)
    if not url.startswith("sqlite"):
        pytest.skip("SQLite files only")
    assert cli("--db", url, "migrate", "--all").exit_code in (0, 1)
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql(f"PRAGMA journal_mode={mode}")
    engine.dispose()
    return url, sa.engine.make_url(url).database


def _journal(path) -> str:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    finally:
        engine.dispose()


@pytest.mark.parametrize("mode", ["delete", "wal"])  # the only modes a file keeps
def test_sqlite_journal_mode_is_left_as_found(make_sample, mode):
    url, path = _sqlite_with_log(make_sample, mode)
    assert cli("--db", url, "migrate", "--all").exit_code in (0, 1)  # a write command too
    assert _journal(path) == mode
    assert cli("--db", url, "log", "--verify").exit_code == 0
    assert _journal(path) == mode


def test_log_verify_writes_not_a_byte(make_sample):
    """A SQLite file audited read-only (mode=ro): not a byte changes, no -wal/-shm appear."""
    url, path = _sqlite_with_log(make_sample, "delete")
    before, files = _digest(path), sorted(os.listdir(os.path.dirname(path)))
    for args in (("log", "--verify"), ("log",), ("verify", "--all"), ("rollback", "--dry-run", "--run", "0000")):
        cli("--db", url, *args)
    assert _digest(path) == before and sorted(os.listdir(os.path.dirname(path))) == files


def test_select_only_role_can_audit(make_sample, request):
    url, _ = make_sample(roots=2, seed=23)
    dialect = sa.engine.make_url(url).get_backend_name()
    if dialect == "sqlite":
        pytest.skip("roles exist on servers only; SQLite read-only access is test_log_verify_writes_not_a_byte")
    assert cli("--db", url, "migrate", "--all").exit_code in (0, 1)
    ro_url = _read_only_user(url, dialect, request)
    result = cli("--db", ro_url, "log", "--verify")
    assert result.exit_code == 0, result.stderr
    assert "verified clean" in result.stderr
    assert cli("--db", ro_url, "log").exit_code == 0
