"""Database fixtures: every test gets its own clean database on each backend.

SQLite always runs. PostgreSQL (a fresh schema per test) and MariaDB (a fresh
database per test) run when their servers answer; on a laptop without them the
tests skip with the reason, and in CI (``CI`` set) they fail instead, so a dead
server can never turn the suite green.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("CONVMIG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN_URL = os.environ.get("CONVMIG_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")

_reachable: dict[str, str | None] = {}


def _probe(url: str) -> str | None:
    """None when the server answers, else the reason (cached per session)."""
    if url not in _reachable:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            _reachable[url] = None
        except Exception as exc:  # noqa: BLE001 - any failure means unreachable
            _reachable[url] = str(getattr(exc, "orig", exc)).splitlines()[0]
        finally:
            engine.dispose()
    return _reachable[url]


def _require(url: str, name: str) -> None:
    reason = _probe(url)
    if reason is None:
        return
    message = f"{name} at {sa.engine.make_url(url).render_as_string(hide_password=True)} unreachable: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI requires every database server)")
    pytest.skip(message)


def _sqlite_url(tmp_path) -> tuple[str, callable]:
    path = tmp_path / "heat.sqlite"
    return f"sqlite:///{path}", lambda: None


def _pg_url() -> tuple[str, callable]:
    _require(PG_ADMIN_URL, "PostgreSQL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.engine.make_url(PG_ADMIN_URL).update_query_dict({"options": f"-csearch_path={schema}"})

    def drop():
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def _mysql_url() -> tuple[str, callable]:
    _require(MYSQL_ADMIN_URL, "MariaDB")
    name = f"convmig_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(MYSQL_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    url = sa.engine.make_url(MYSQL_ADMIN_URL).set(database=name)

    def drop():
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
]


def make_db_url(backend: str, tmp_path) -> tuple[str, callable]:
    """A URL of an empty database on ``backend`` and the function that drops it."""
    if backend == "sqlite":
        return _sqlite_url(tmp_path)
    if backend == "postgresql":
        return _pg_url()
    return _mysql_url()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """An empty, private database on each backend in turn."""
    url, drop = make_db_url(request.param, tmp_path)
    yield url
    drop()


@pytest.fixture
def sqlite_url(tmp_path):
    """An empty private SQLite database (for tests that need just one backend)."""
    url, _ = _sqlite_url(tmp_path)
    return url


@pytest.fixture
def make_sample(db_url):
    """Build a sample Heat database in this test's database: (url, Sample)."""
    from migrator.heat.connection import make_engine
    from migrator.sample.build import build_sample

    def build(roots: int, seed: int, **options):
        engine = make_engine(db_url, must_exist=False)
        try:
            return db_url, build_sample(engine, roots=roots, seed=seed, **options)
        finally:
            engine.dispose()

    return build


@pytest.fixture
def sample_db(make_sample):
    """A sample Heat database with every special case: (url, Sample)."""
    return make_sample(8, 11)
