"""Driver noise kept off the operator's terminal.

The database drivers log through Python's ``logging``; convmig configures no
handler, so Python's last-resort handler prints their warnings raw on stderr.
psycopg, for one, warns "error ignored terminating <psycopg.Pipeline ...>:
pipeline aborted" whenever a pipelined ``executemany`` fails, e.g. a stack-lock
insert another convmig process won (issue 15: four concurrent ``migrate --all``
on PostgreSQL). That error is raised as well, and convmig handles it and says
what it means in its own one line; the driver's copy is noise, and it names
connection details. While a command runs, the drivers' loggers go nowhere.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

#: Loggers of the libraries between convmig and a database.
DRIVER_LOGGERS = ("psycopg", "pymysql", "MySQLdb", "sqlalchemy", "eventsourcing")


@contextmanager
def driver_logs_silenced():
    """Route the drivers' log records to nowhere for the duration, then restore."""
    saved = []
    for name in DRIVER_LOGGERS:
        logger = logging.getLogger(name)
        handler = logging.NullHandler()
        saved.append((logger, handler, logger.propagate))
        logger.addHandler(handler)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, handler, propagate in saved:
            logger.removeHandler(handler)
            logger.propagate = propagate
