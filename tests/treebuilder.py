"""Compatibility only: the in-memory row builders live in ``helpers``; import from there."""

from helpers import hot, resource_row, single_stack_tree, stack_row, template_row  # noqa: F401
