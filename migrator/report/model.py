"""What a change record shows, as plain data: the page template's only input.

Everything here is text or numbers ready to show; escaping is the template's
job (Jinja2 autoescaping for the page, ``tojson`` for the data a tree's graph
and row changes are drawn from when it is opened). Keeping the model free of
HTML lets the tests check the facts of a report without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: How an outcome is coloured: done, needs a later run, needs the operator, nothing to do.
TONES = ("ok", "warn", "bad", "none")


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass
class TreeView:
    """One tree: what happened to it, and (drawn when opened) its graph and row changes."""

    stack_id: str
    name: str
    outcome: str
    tone: str
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    batch: int | None = None
    #: rollback runs: what the rollback put back, one line each
    restored: list[str] = field(default_factory=list)
    #: JSON text of {"graph": Graph.payload(), "image": "after"|"before",
    #: "changes": [[table, key, op, [[column, before, after], ...]], ...]}: kept as
    #: text (a few KB) rather than as objects, so 10,000 trees fit in little memory
    payload: str | None = None
    nodes: int = 0
    edges: dict[str, int] = field(default_factory=dict)
    changes: int = 0


@dataclass(frozen=True)
class BatchView:
    """One bar of the timeline: where it starts and how long it is, in percent of the run."""

    number: int
    trees: int
    start: str
    seconds: float
    left: float
    width: float
    outcomes: str


@dataclass(frozen=True)
class ChainView:
    kind: str
    id: str
    name: str
    version: int
    head: str
    findings: list[str]


@dataclass
class Report:
    title: str
    dry_run: bool
    facts: list[Fact]
    counts: list[tuple[str, int]]
    trees: list[TreeView]
    timeline: list[BatchView] = field(default_factory=list)
    #: None for a dry run (nothing recorded, nothing to verify)
    chains: list[ChainView] | None = None
    notes: list[str] = field(default_factory=list)
    generated: str = ""

    @property
    def verified(self) -> bool:
        return self.chains is not None and not any(c.findings for c in self.chains)

    @property
    def broken_chains(self) -> list[ChainView]:
        return [c for c in self.chains or [] if c.findings]

    @property
    def edge_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for t in self.trees:
            for kind, n in t.edges.items():
                totals[kind] = totals.get(kind, 0) + n
        return totals
