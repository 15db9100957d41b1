"""The suite's fixtures: every test gets its own clean database on each backend.

The helpers they use live in ``helpers`` (the one shared module); the names
tests used to import from here (``make_db_url``, ``_require``, the admin URLs,
``BACKENDS``) are re-exported so older imports keep working, but test modules
import them from ``helpers``.
"""

from __future__ import annotations

import pytest

from events import EventLog
from events.store import allow_frozen_time
from helpers import (  # noqa: F401 - re-exported for older imports
    BACKENDS,
    IN_CI,
    MYSQL_ADMIN_URL,
    PG_ADMIN_URL,
    _probe,
    _require,
    _sqlite_url,
    make_db_url,
)



@pytest.fixture(autouse=True, scope="session")
def _frozen_time_events():
    """Events created under freezegun must save (eventsourcing notes §9)."""
    allow_frozen_time()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """An empty, private database on each backend in turn."""
    url, drop = make_db_url(request.param, tmp_path)
    yield url
    drop()


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Each backend's name in turn (for tests that make several databases)."""
    return request.param


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
def sample_db(make_sample, request):
    """A sample Heat database: (url, Sample). Eight roots with every special case,
    unless the module or test says otherwise with
    ``@pytest.mark.sample(roots, seed, specials=...)``."""
    marker = request.node.get_closest_marker("sample")
    if marker is None:
        return make_sample(8, 11)
    return make_sample(*marker.args, **marker.kwargs)


@pytest.fixture
def event_log(db_url):
    """An EventLog in a private empty database, on sqlite, postgresql and mariadb in turn."""
    log = EventLog.open(db_url, env={})
    yield log
    log.close()
