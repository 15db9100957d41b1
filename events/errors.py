"""The two exceptions the rest of convmig catches from the event log."""

from __future__ import annotations


class EventStoreError(Exception):
    """The event log cannot be used: one line an operator can act on.

    Unreachable store, a column that would truncate events, a non-strict
    MySQL ``sql_mode``, a wrong cipher key, an event too large to send ...
    """


class NoEventLog(EventStoreError):
    """A read-only command found no convmig log where it looked (and created none)."""


class StackBusy(Exception):
    """``save()`` lost an optimistic-concurrency race for these stacks.

    Another process recorded an event for the same stack history first, so
    nothing of this save was stored. Reload the histories before retrying.
    """

    def __init__(self, stack_ids: list[str]):
        self.stack_ids = list(stack_ids)
        names = ", ".join(self.stack_ids) or "(unknown)"
        super().__init__(f"stack busy: another convmig process recorded events for {names} first; nothing was saved")


class Unverified:
    """A history whose hash chain does not verify: what it is and the first problem.

    Handed out in place of the aggregate (never raised by batch reads), so one
    damaged history refuses one tree and the others go on. Nothing read from
    it may be acted on: no plan, no recovery, no write to Heat.
    """

    def __init__(self, label: str, problem: str):
        self.label = label
        self.problem = problem

    @property
    def message(self) -> str:
        return f"the recorded history of {self.label} does not verify ({self.problem}): nothing of it is used; run: convmig log --verify"

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"Unverified({self.label!r}, {self.problem!r})"


class HistoryUnverified(EventStoreError):
    """Raised where one history was asked for and it does not verify."""

    def __init__(self, unverified: Unverified):
        self.unverified = unverified
        super().__init__(unverified.message)
