"""Compatibility only: the helpers live in ``helpers``; import from there."""

from helpers import cli, cli_json, dump, tree_members, tree_rows  # noqa: F401
