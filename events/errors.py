"""The two exceptions the rest of convmig catches from the event log."""

from __future__ import annotations


class EventStoreError(Exception):
    """The event log cannot be used: one line an operator can act on.

    Unreachable store, a column that would truncate events, a non-strict
    MySQL ``sql_mode``, a wrong cipher key, an event too large to send ...
    """


class StackBusy(Exception):
    """``save()`` lost an optimistic-concurrency race for these stacks.

    Another process recorded an event for the same stack history first, so
    nothing of this save was stored. Reload the histories before retrying.
    """

    def __init__(self, stack_ids: list[str]):
        self.stack_ids = list(stack_ids)
        names = ", ".join(self.stack_ids) or "(unknown)"
        super().__init__(f"stack busy: another convmig process recorded events for {names} first; nothing was saved")
