"""Fault injection: the database connection cut mid-transaction, the event store
taken away between plan and apply, a full disk. After each, a re-run reaches
the state of an undisturbed run, `verify` passes and the log verifies clean."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest
import sqlalchemy as sa

from migrator.heat.connection import make_engine
from migrator.sample.build import build_sample

from helpers import MYSQL_ADMIN_URL, PG_ADMIN_URL, _require, comparable, convmig, make_db_url, start, wait_for


def run(url, *args, event_store=None):
    """(exit code, stdout, stderr) of convmig in its own process."""
    done = convmig(url, *args, event_store=event_store)
    return done.returncode, done.stdout, done.stderr


def sample_pair(backend, tmp_path, roots=6):
    """Two identical sample databases: one for an undisturbed run, one to hurt."""
    urls = []
    for name in ("ref", "hurt"):
        (tmp_path / name).mkdir()
        url, drop = make_db_url(backend, tmp_path / name)
        engine = make_engine(url, must_exist=False)
        build_sample(engine, roots=roots, seed=61)
        engine.dispose()
        urls.append((url, drop))
    return urls


def settled(url, event_store=None):
    """Re-run, then check the invariants and the log."""
    code, _out, err = run(url, "migrate", "--all", event_store=event_store)
    assert code == 1, err  # the sample's refused trees, as in an undisturbed run
    code, _out, err = run(url, "verify", "--all", event_store=event_store)
    assert code == 0, err
    code, _out, err = run(url, "log", "--verify", event_store=event_store)
    assert code == 0, err


def _kill_transaction(url, backend):
    """Cut the connection that holds an open transaction on this test's database
    (and only there: other suites may share the server)."""
    if backend == "postgresql":
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            killed = conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND state = 'idle in transaction' AND application_name = :a"),
                {"a": sa.engine.make_url(url).query["application_name"]}).all()
    else:
        admin = sa.create_engine(MYSQL_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            ids = conn.execute(sa.text(
                "SELECT t.trx_mysql_thread_id FROM information_schema.innodb_trx t "
                "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id WHERE p.db = :d"),
                {"d": sa.engine.make_url(url).database}).scalars().all()
            for i in ids:
                conn.exec_driver_sql(f"KILL {int(i)}")
            killed = ids
    admin.dispose()
    assert killed, "no open transaction to cut"


def _tagged(url, backend):
    """On PostgreSQL, name the connections so the test can find exactly them."""
    if backend != "postgresql":
        return url
    parsed = sa.engine.make_url(url)
    return parsed.update_query_dict({"application_name": f"convmig-fault-{uuid.uuid4().hex[:8]}"}).render_as_string(
        hide_password=False)


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgresql),
                                     pytest.param("mariadb", marks=pytest.mark.mariadb)])
def test_connection_cut_mid_transaction(backend, tmp_path):
    _require(PG_ADMIN_URL if backend == "postgresql" else MYSQL_ADMIN_URL, backend)
    (ref, drop_ref), (url, drop) = sample_pair(backend, tmp_path)
    try:
        run(ref, "migrate", "--all")
        expected = comparable(ref)
        marker = tmp_path / "at-failpoint"
        hurt = _tagged(url, backend)
        proc = start(hurt, "migrate", "--all", failpoint="before-commit:1:pause", marker=marker)
        wait_for(marker, proc)
        _kill_transaction(hurt, backend)
        marker.unlink()
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err  # the batch's trees, then each tree alone; refused specials
        assert "Traceback" not in err
        settled(url)
        assert comparable(url) == expected
    finally:
        drop_ref()
        drop()


@pytest.mark.postgresql
def test_event_store_unreachable_between_plan_and_apply(tmp_path):
    _require(PG_ADMIN_URL, "PostgreSQL")
    (ref, drop_ref), (url, drop) = sample_pair("sqlite", tmp_path)
    store_db = f"convmig_es_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {store_db}")
    store = sa.engine.make_url(PG_ADMIN_URL).set(database=store_db).render_as_string(hide_password=False)
    try:
        run(ref, "migrate", "--all")
        expected = comparable(ref)
        marker = tmp_path / "at-failpoint"
        proc = start(url, "migrate", "--all", failpoint="after-record:1:pause", marker=marker, event_store=store)
        wait_for(marker, proc)
        with admin.connect() as conn:  # the store goes away: no new connections, current ones cut
            conn.exec_driver_sql(f"ALTER DATABASE {store_db} ALLOW_CONNECTIONS false")
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                         {"d": store_db})
        marker.unlink()
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1
        assert "event log" in err and "Traceback" not in err
        with admin.connect() as conn:
            conn.exec_driver_sql(f"ALTER DATABASE {store_db} ALLOW_CONNECTIONS true")
        code, out, err = run(url, "migrate", "--all", "--format", "json", event_store=store)
        # the plans were recorded and the batch written before the store went: only
        # the outcomes are missing, so every open plan is found applied
        recovered = json.loads(out)["recovered"]
        assert recovered and {r["kind"] for r in recovered} == {"applied"}, (out, err)
        settled(url, event_store=store)
        assert comparable(url) == expected
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"ALTER DATABASE {store_db} ALLOW_CONNECTIONS true")
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                         {"d": store_db})
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {store_db}")
        admin.dispose()
        drop_ref()
        drop()


def test_disk_full_then_space_freed(tmp_path):
    """SQLite on a tiny tmpfs: the run fails cleanly, and after space is freed
    a re-run ends where an undisturbed run ends."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    (ref, drop_ref), (spare, drop_spare) = sample_pair("sqlite", tmp_path)
    db_file = sa.engine.make_url(spare).database
    size_kb = os.path.getsize(db_file) // 1024
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb + 64}k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): the disk-full case runs where it can")
    try:
        shutil.copy(db_file, mount / "heat.sqlite")
        url = f"sqlite:///{mount / 'heat.sqlite'}"
        code, _out, err = run(url, "migrate", "--all")
        assert code == 1
        assert ("full" in err or "disk I/O" in err) and "Traceback" not in err, err
        subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
        run(ref, "migrate", "--all")
        settled(url)
        assert comparable(url) == comparable(ref)
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
        drop_ref()
        drop_spare()
