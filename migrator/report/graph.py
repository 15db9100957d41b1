"""A tree's dependency graph as the plan wrote it: resources as nodes, ``requires`` as edges.

The graph comes from the recorded row images alone (a migration's after-images,
a rollback's before-images: the ``requires`` it took away), so a report of a
run needs nothing but the log to draw it. Each stack of the tree is a group;
a nested stack's group sits under its parent's. Within a group, nodes are laid
out in layers by ``graphlib``: a resource sits one layer right of the
rightmost resource it requires, so edges point right to left.

What an edge is (``kind``) is the template's business, not the plan's: an edge
the stored template names (``depends_on``, ``get_resource``, ``get_attr``…) is
"explicit", any other edge the plan wrote is "implicit" (a plugin's), and
without a readable template it is "unknown". ``kinds`` supplies that reading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Callable, Iterable

EXPLICIT, IMPLICIT, UNKNOWN = "explicit", "implicit", "unknown"
EDGE_KINDS = (EXPLICIT, IMPLICIT, UNKNOWN)

#: stack id -> {resource name: names it explicitly requires}, or None when unknown
ExplicitOf = Callable[[str], "dict[str, frozenset[str]] | None"]


@dataclass(frozen=True)
class Node:
    id: int
    name: str
    group: int  # index into Graph.groups
    layer: int = 0
    row: int = 0


@dataclass(frozen=True)
class Edge:
    """``source`` requires ``target`` (indexes into Graph.nodes)."""

    source: int
    target: int
    kind: str


@dataclass(frozen=True)
class Group:
    stack_id: str
    name: str
    depth: int


@dataclass
class Graph:
    groups: list[Group] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    cyclic: bool = False

    def payload(self) -> dict:
        """The compact form the page's script draws from (lists, not objects: 10,000 trees)."""
        return {
            "groups": [[g.stack_id, g.name, g.depth] for g in self.groups],
            "nodes": [[n.id, n.name, n.group, n.layer, n.row] for n in self.nodes],
            "edges": [[e.source, e.target, e.kind[0]] for e in self.edges],
        }

    def kinds(self) -> dict[str, int]:
        counts = dict.fromkeys(EDGE_KINDS, 0)
        for e in self.edges:
            counts[e.kind] += 1
        return counts


def requires_ids(value) -> list[int]:
    """The ids of a stored ``requires`` (JSON text, or already a list); unreadable = none."""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, int) and not isinstance(v, bool)]


def from_changes(changes: Iterable[dict], stacks: list[tuple[str, str | None]], *, image: str = "after",
                 explicit_of: ExplicitOf = lambda _sid: None) -> Graph:
    """The graph of one tree from its plan's row changes (dicts as the log stores them).

    ``stacks``: (id, name) of the tree's stacks, root first. ``image`` picks the
    ``requires`` drawn: "after" (what a migration or repair wrote) or "before"
    (what a rollback took away). Resource rows the plan did not touch are known
    only by id, when another row requires them.
    """
    changes = list(changes)
    resources = {c["pk"]["id"]: c for c in changes if c["table"] == "resource" and c["op"] == "update"}
    groups, group_of = _groups(changes, stacks, resources)
    requires = {rid: requires_ids(_image(c, image).get("requires")) for rid, c in resources.items()}
    ids = list(dict.fromkeys([*sorted(resources), *(t for ts in requires.values() for t in ts)]))
    names = {rid: str((resources[rid]["before"] or {}).get("name") or f"id {rid}") if rid in resources else f"id {rid}" for rid in ids}
    node_group = {rid: group_of.get(_image(resources[rid], "before").get("stack_id"), 0) if rid in resources else None for rid in ids}
    for rid in ids:  # a row known only as a target sits with the first row that requires it
        if node_group[rid] is None:
            node_group[rid] = next((node_group[s] for s, ts in requires.items() if rid in ts), 0)
    layers, cyclic = _layers({rid: requires.get(rid, []) for rid in ids})
    nodes = _placed(ids, names, node_group, layers)
    index = {n.id: i for i, n in enumerate(nodes)}
    edges = []
    for rid in sorted(requires):
        stack_id = groups[node_group[rid]].stack_id if groups else ""
        explicit = explicit_of(stack_id)
        for target in requires[rid]:
            edges.append(Edge(index[rid], index[target], _kind(explicit, names[rid], names[target])))
    return Graph(groups, nodes, edges, cyclic)


def _image(change: dict, which: str) -> dict:
    """A row's columns as the chosen side shows them (an update's after-image holds
    only what changed, so the before-image fills in the rest)."""
    before = change.get("before") or {}
    return {**before, **(change.get("after") or {})} if which == "after" else before


def _groups(changes: list[dict], stacks: list[tuple[str, str | None]], resources: dict) -> tuple[list[Group], dict]:
    """One group per stack (the given order, then any stack only the rows name), each
    with its nesting depth from the recorded ``owner_id``."""
    images = {c["pk"]["id"]: (c.get("before") or {}) for c in changes if c["table"] == "stack" and c["op"] == "update"}
    order = [sid for sid, _ in stacks] + sorted({str(_image(c, "before").get("stack_id")) for c in resources.values()})
    order = list(dict.fromkeys(o for o in order if o and o != "None"))
    named = {sid: name for sid, name in stacks}
    groups = []
    for sid in order:
        name = named.get(sid) or images.get(sid, {}).get("name") or f"stack {sid}"
        groups.append(Group(sid, str(name), _depth(sid, images)))
    return groups, {g.stack_id: i for i, g in enumerate(groups)}


def _depth(stack_id: str, images: dict) -> int:
    depth, seen = 0, {stack_id}
    owner = images.get(stack_id, {}).get("owner_id")
    while owner and owner not in seen:
        depth, seen = depth + 1, seen | {owner}
        owner = images.get(owner, {}).get("owner_id")
    return depth


def _layers(requires: dict[int, list[int]]) -> tuple[dict[int, int], bool]:
    """Layer of each node: 0 for one that requires nothing, else one more than the
    highest layer it requires. A cycle (which Heat refuses) puts everything on layer 0."""
    sorter = TopologicalSorter({n: [t for t in ts if t != n] for n, ts in requires.items()})
    try:
        order = list(sorter.static_order())
    except CycleError:
        return dict.fromkeys(requires, 0), True
    layer: dict[int, int] = {}
    for n in order:
        layer[n] = 1 + max((layer[t] for t in requires.get(n, ()) if t != n), default=-1)
    return layer, False


def _placed(ids: list[int], names: dict, group: dict, layers: dict) -> list[Node]:
    """Nodes with their group, layer and row in the layer (rows ordered by name)."""
    rows: dict[tuple[int, int], int] = {}
    nodes = []
    for rid in sorted(ids, key=lambda r: (group[r], layers[r], names[r], r)):
        key = (group[rid], layers[rid])
        rows[key] = rows.get(key, -1) + 1
        nodes.append(Node(rid, names[rid], group[rid], layers[rid], rows[key]))
    return nodes


def _kind(explicit: dict[str, frozenset[str]] | None, source: str, target: str) -> str:
    if explicit is None:
        return UNKNOWN
    return EXPLICIT if target in explicit.get(source, ()) else IMPLICIT
