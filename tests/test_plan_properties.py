"""Property tests of the planner over generated templates and rows (hypothesis)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.planning.changes import invert
from migrator.planning.plan import plan_tree

from helpers import templates, single_stack_tree


@settings(max_examples=150, deadline=None)
@given(templates())
def test_requires_and_needed_by_shape(case):
    template, edges, row_names = case
    tree = single_stack_tree(template, row_names)
    plan = plan_tree(tree)
    assert plan.outcome == "migrate"
    rows = {r["id"]: r for r in tree.resources["s1"]}
    final = {rid: dict(r) for rid, r in rows.items()}
    for c in plan.changes:
        if c.table == "resource":
            final[c.pk["id"]].update(c.after)
    name_of = {rid: r["name"] for rid, r in rows.items()}
    id_of = {r["name"]: rid for rid, r in rows.items()}
    requires = {rid: json.loads(r["requires"]) for rid, r in final.items()}
    needed_by = {rid: json.loads(r["needed_by"]) for rid, r in final.items()}
    for rid, req in requires.items():
        assert isinstance(req, list) and req == sorted(set(req), reverse=True)
        assert rid not in req
        assert set(req) <= set(rows)  # same-stack active rows only
        # exactly the template's dependencies that have rows
        assert {name_of[x] for x in req} == {t for t in edges[name_of[rid]] if t in id_of}
        assert all(r["current_template_id"] == 10 for r in final.values())
    inverse = {rid: sorted([o for o, req in requires.items() if rid in req], reverse=True) for rid in rows}
    assert needed_by == inverse
    _assert_acyclic(requires)


def _assert_acyclic(requires: dict[int, list[int]]) -> None:
    state: dict[int, int] = {}

    def visit(n: int) -> None:
        assert state.get(n) != 1, "cycle in requires"
        if state.get(n) == 2:
            return
        state[n] = 1
        for m in requires[n]:
            visit(m)
        state[n] = 2

    for node in requires:
        visit(node)


@settings(max_examples=50, deadline=None)
@given(templates())
def test_inverse_of_plan_restores_every_row(case):
    template, _edges, row_names = case
    tree = single_stack_tree(template, row_names)
    plan = plan_tree(tree)
    rows = {f"resource:{r['id']}": dict(r) for r in tree.resources["s1"]}
    rows["stack:s1"] = dict(tree.root)
    original = json.dumps(rows, default=str, sort_keys=True)
    for change in plan.changes + invert(plan.changes):
        rows[f"{change.table}:{change.pk['id']}"].update(change.after)
    assert json.dumps(rows, default=str, sort_keys=True) == original


@given(st.lists(st.integers(1, 10**9), unique=True))
def test_id_lists_are_written_exactly_as_heat_writes_them(ids):
    """Heat's Json type is json.dumps: the planner's fast formatting must match byte for byte."""
    from migrator.planning.plan import id_list
    from migrator.heat.schema import dump_json

    ids = sorted(ids, reverse=True)
    assert id_list(ids) == dump_json(ids)
