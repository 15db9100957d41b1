"""Finding a dependency cycle deterministically, to name it in a refusal."""

from __future__ import annotations

_IN_PROGRESS = object()
_END = object()

# ----------------------------------------------------------------------------- cycles

def _order(name):
    """A total order over resource names of mixed types (YAML keys may be numbers)."""
    return (type(name).__name__, str(name))


def find_cycle(requires: dict[str, frozenset[str]]) -> list[str] | None:
    """A dependency cycle as ``[a, b, ..., a]`` (a requires b, ...), or None.

    Deterministic: nodes and their requirements are visited in sorted order, so the
    same graph always reports the same cycle. A self-reference is ``[a, a]``.
    Iterative, so deep chains cannot hit Python's recursion limit.
    """
    state: dict = {}
    for root in sorted(requires, key=_order):
        if root in state:
            continue
        path = [root]
        stack = [iter(sorted(requires.get(root, ()), key=_order))]
        state[root] = _IN_PROGRESS
        while stack:
            nxt = next(stack[-1], _END)
            if nxt is _END:
                state[path.pop()] = True
                stack.pop()
            elif state.get(nxt) is _IN_PROGRESS:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = _IN_PROGRESS
                path.append(nxt)
                stack.append(iter(sorted(requires.get(nxt, ()), key=_order)))
    return None
