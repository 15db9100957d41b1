"""Kept so older imports work; the helpers live in ``helpers``."""

from helpers import *  # noqa: F401,F403
from helpers import cli, cli_json, dump, tree_members, tree_rows  # noqa: F401
