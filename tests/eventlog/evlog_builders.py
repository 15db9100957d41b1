"""Compatibility only: the event log builders live in ``helpers``; import from there."""

from helpers import ROW, changes_for  # noqa: F401
from helpers import log_cli as invoke  # noqa: F401
from helpers import log_group as cli_group  # noqa: F401
from helpers import record_migration as migrate  # noqa: F401
from helpers import start_run as start  # noqa: F401
