"""Opening Heat's database (the URL is chosen in ``migrator.heat.config``).

Whatever goes wrong while connecting becomes one ``ConvmigError`` line that names
the database without its password and says what to do.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from events.secrets import display_url, url_is_clean

from migrator.errors import ConvmigError, UsageError


#: Drivers convmig ships; Heat's own configs often name none or MySQLdb.
_DRIVERS = {"mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql", "postgresql": "postgresql+psycopg"}


def normalise_url(url: str) -> URL:
    """Parse the URL and choose a driver convmig ships when none or another is named."""
    if not url_is_clean(url):
        raise UsageError(f"cannot parse the database URL {safe_url(url)} cleanly: percent-encode @ / ? # in the "
                         "user name and password (@ as %40, / as %2F)")
    try:
        parsed = make_url(url)
    except Exception:
        raise UsageError("cannot parse the database URL; expected e.g. mysql+pymysql://user:pw@host/heat") from None
    backend = parsed.get_backend_name()
    if backend in _DRIVERS and parsed.get_driver_name() not in ("pymysql", "psycopg"):
        parsed = parsed.set(drivername=_DRIVERS[backend])
    return parsed


def safe_url(url: URL | str) -> str:
    """The URL as it may be shown: password masked, and everything between ``://``
    and the host masked when that part does not parse cleanly (``display_url``)."""
    if not isinstance(url, str):
        parsed = url
        url = parsed.render_as_string(hide_password=False)
    else:
        parsed = None

    def render() -> str:
        return (parsed or make_url(url)).render_as_string(hide_password=True)

    try:
        return display_url(url, render)
    except Exception:
        return "<unparseable URL>"


def _connect_args(url: URL) -> dict:
    """Bounded waits (connect, read, write), so an unreachable or silent server
    fails in seconds instead of hanging; a bad CONVMIG_*_TIMEOUT is a usage error."""
    try:
        from events.store import driver_timeouts  # the store's module: imported only to connect

        args = driver_timeouts(url.get_backend_name())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return {k: v for k, v in args.items() if k not in url.query}


def make_engine(url: str | URL, *, must_exist: bool = True) -> Engine:
    """An engine for ``url``; a SQLite file must already exist unless told otherwise
    (SQLAlchemy would otherwise create an empty one, changing the disk on bad input)."""
    parsed = normalise_url(str(url) if isinstance(url, str) else url.render_as_string(hide_password=False))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = parsed.database
        if must_exist and path and path != ":memory:" and not path.startswith("file:") and not os.path.exists(path):
            shown = path.encode("unicode_escape").decode("ascii")  # one line, whatever the config held
            raise UsageError(f"no SQLite database at {shown}; check --db (run 'convmig demo' to make a sample)")
    try:
        engine = sa.create_engine(parsed, connect_args=_connect_args(parsed), pool_pre_ping=False)
    except ModuleNotFoundError as exc:
        raise UsageError(f"no driver for {backend}: {exc.name} is not installed") from None
    except Exception as exc:
        raise UsageError(f"cannot use database URL {safe_url(parsed)}: {exc}") from None
    if backend == "sqlite":
        _sqlite_pragmas(engine)
    return engine


def _sqlite_pragmas(engine: Engine) -> None:
    """A busy timeout, so concurrent runs wait for each other's commits. Foreign
    keys stay off, as under Heat itself (oslo.db's ``sqlite_fk`` defaults to
    False); PostgreSQL and MariaDB enforce them and the tests run there too."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - trivial
        dbapi_conn.execute("PRAGMA busy_timeout=30000")


def describe_db_error(exc: BaseException, url: URL | str) -> str:
    """One line naming the database (no password) and the driver's reason."""
    orig = getattr(exc, "orig", None) or exc
    reason = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    if not isinstance(url, str):
        password = url.password
    else:
        try:
            password = make_url(url).password
        except Exception:
            password = None
    if password:
        reason = reason.replace(str(password), "***")
    return f"cannot use database {safe_url(url)}: {reason}"


def connect_checked(url: str | URL) -> Engine:
    """Open the engine and prove the server answers, turning failures into one line."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise ConvmigError(describe_db_error(exc, engine.url) + "; check host, credentials and that the server runs") from None
    return engine
