"""Which database and which event store a command uses, and where each choice came from.

Heat's database comes from, first to last: ``--db``; an explicit ``--heat-config``
(its ``[database] connection``); ``CONVMIG_DB_URL``; then heat.conf found where Heat's
own services find it. Explicit flags win over the environment, so an operator who names
a config file is never silently overruled by a variable left in the shell.

heat.conf is read with oslo.config, the library Heat itself reads it with, so convmig
sees exactly what heat-engine sees: every ``--config-file`` in order, then every
``*.conf`` of the config directories in name order (``/etc/heat/heat.conf.d`` by
default), later values winning; continuation lines, quoting, and the option names
older releases used (``[DEFAULT] sql_connection``). oslo.config is imported only when a
config file is actually read.

Driver plugins in a URL's query (devstack's ``plugin=dbcounter``) load code convmig
does not ship and change nothing it needs, so they are dropped with a note.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Sequence

from sqlalchemy.engine import make_url

from migrator.errors import UsageError

#: oslo.config's search for heat.conf when no file is named (project heat, prog heat-engine).
PROJECT, PROG = "heat", "heat-engine"


@dataclass(frozen=True)
class HeatConfig:
    """What convmig reads from heat.conf (and its config directories)."""

    files: tuple[str, ...]
    connection: str | None
    convergence_engine: bool | None
    notes: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """The files read, as one string for messages."""
        return ", ".join(self.files)


@dataclass(frozen=True)
class Choice:
    """A URL and, in words, where it came from (for the line a write command prints)."""

    url: str
    source: str
    notes: tuple[str, ...] = field(default=())


def default_config_files() -> list[str]:
    """heat.conf where oslo.config would look for heat-engine (``~/.heat``, ``~``, ``/etc/heat``, ``/etc``)."""
    from oslo_config import cfg

    return cfg.find_config_files(PROJECT, PROG)


def default_config_dirs() -> list[str]:
    """The ``heat.conf.d`` / ``heat-engine.conf.d`` directories oslo.config reads by default."""
    from oslo_config import cfg

    return cfg.find_config_dirs(PROJECT, PROG)


def read_heat_config(files: Sequence[str], dirs: Sequence[str] | None = None) -> HeatConfig:
    """Read ``[database] connection`` and ``convergence_engine`` as oslo.config does.

    ``dirs`` None means oslo.config's default config directories; an explicit list
    replaces them, as ``--config-dir`` does for Heat's services.
    """
    for path in files:
        if not os.path.isfile(path):
            raise UsageError(f"cannot read heat config {path}: no such file; check --heat-config")
    for path in dirs or ():
        if not os.path.isdir(path):
            raise UsageError(f"cannot read heat config directory {path}: no such directory; check --heat-config-dir")
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf.register_opts([
        cfg.StrOpt("connection", secret=True, deprecated_opts=[
            cfg.DeprecatedOpt("sql_connection", group="DEFAULT"),
            cfg.DeprecatedOpt("sql_connection", group="DATABASE"),
            cfg.DeprecatedOpt("connection", group="sql"),
        ]),
    ], group="database")
    conf.register_opt(cfg.StrOpt("convergence_engine"))
    deprecated = _DeprecatedNames()
    try:
        with deprecated:
            conf(args=[], project=PROJECT, prog=PROG, default_config_files=list(files),
                 default_config_dirs=default_config_dirs() if dirs is None else list(dirs),
                 use_env=False, validate_default_values=False)
            connection = conf.database.connection
            raw = conf.convergence_engine
    except cfg.ConfigFileParseError as exc:
        raise UsageError(f"cannot parse heat config {exc.config_file}: {exc.msg}") from None
    except (cfg.Error, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"cannot read heat config {', '.join(files)}: {first}") from None
    read = tuple(conf.config_file or ()) + _dir_files(conf, dirs)
    flag = None if raw is None else raw.strip().lower() in ("1", "true", "yes", "on")
    return HeatConfig(read or tuple(files), connection.strip() if connection else None, flag, deprecated.notes())


class _DeprecatedNames:
    """Catch oslo.config's "option X is deprecated" log lines while reading heat.conf,
    to say them once as convmig notes instead of as stray log output."""

    def __init__(self):
        import logging

        self._logger = logging.getLogger("oslo_config.cfg")
        self._seen: list[str] = []
        outer = self

        class _Catch(logging.Handler):
            def emit(self, record):
                outer._seen.append(record.getMessage().strip())

        self._handler = _Catch(logging.WARNING)

    def __enter__(self):
        self._propagate = self._logger.propagate
        self._logger.propagate = False
        self._logger.addHandler(self._handler)
        return self

    def __exit__(self, *exc):
        self._logger.removeHandler(self._handler)
        self._logger.propagate = self._propagate
        return False

    def notes(self) -> tuple[str, ...]:
        return tuple(f"heat config: {m}" for m in dict.fromkeys(self._seen))


def _dir_files(conf, dirs: Sequence[str] | None) -> tuple[str, ...]:
    """The ``*.conf`` files of the config directories, in the order oslo.config read them."""
    found: list[str] = []
    for directory in (default_config_dirs() if dirs is None else dirs):
        if os.path.isdir(directory):
            found.extend(sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(".conf")))
    return tuple(found)


def choose_database(db: str | None, heat_configs: Sequence[str], heat_config_dirs: Sequence[str] | None
                    ) -> tuple[Choice, HeatConfig | None]:
    """Heat's database URL by precedence, with its source; also heat.conf when one was read."""
    explicit = bool(heat_configs) or heat_config_dirs is not None
    env = os.environ.get("CONVMIG_DB_URL")
    config = _config(heat_configs, heat_config_dirs, required=not (db or env))
    if db:
        return _choice(db, "--db"), config
    if explicit:
        return _from_config(config), config
    if env:
        return _choice(env, "CONVMIG_DB_URL"), config
    if config is not None:
        return _from_config(config), config
    raise UsageError("no database given: pass --db URL, set CONVMIG_DB_URL, or --heat-config FILE")


def _config(files: Sequence[str], dirs: Sequence[str] | None, *, required: bool) -> HeatConfig | None:
    """heat.conf as named, else where Heat finds it. A default file that cannot be read
    only matters when nothing else names the database, so it is then reported."""
    named = bool(files) or dirs is not None
    files = list(files) or default_config_files()
    if not files and dirs is None:
        return None
    try:
        return read_heat_config(files, dirs)
    except UsageError:
        if named or required:
            raise
        return None


def _from_config(config: HeatConfig) -> Choice:
    if not config.connection:
        raise UsageError(f"{config.path or 'heat config'} has no [database] connection; "
                         "pass --db URL or fix the heat config")
    choice = _choice(config.connection, f"[database] connection of {config.path}")
    return Choice(choice.url, choice.source, config.notes + choice.notes)


def choose_event_store(flag: str | None, database: Callable[[], Choice]) -> Choice:
    """``--event-store``, else ``CONVMIG_EVENT_STORE``, else Heat's own database.

    ``database`` is called only in the last case, so ``log --event-store URL`` needs no
    Heat database at all."""
    if flag:
        return _choice(flag, "--event-store")
    env = os.environ.get("CONVMIG_EVENT_STORE")
    if env:
        return _choice(env, "CONVMIG_EVENT_STORE")
    return Choice(database().url, "Heat's database")


def _choice(url: str, source: str) -> Choice:
    """Drop driver plugins from the URL's query, with a note saying so."""
    try:
        parsed = make_url(url)
    except Exception:
        return Choice(url, source)  # the connection layer reports an unparseable URL
    plugins = parsed.query.get("plugin")
    if not plugins:
        return Choice(url, source)
    names = ", ".join([plugins] if isinstance(plugins, str) else plugins)
    cleaned = parsed.difference_update_query(["plugin"]).render_as_string(hide_password=False)
    return Choice(cleaned, source, (f"ignoring SQLAlchemy plugin {names} in the database URL ({source}): "
                                    "it is not needed by convmig",))
