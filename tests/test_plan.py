"""Unit tests of the planner on in-memory trees (no database)."""

from __future__ import annotations

import json

from migrator.planning.changes import DELETE, UPDATE, invert
from migrator.planning.plan import analyse, plan_tree
from migrator.heat.tree import PruneDetails, Tree

from helpers import hot, resource_row, single_stack_tree, stack_row, template_row

FIVE = hot({
    "A": {"type": "OS::Heat::None"},
    "B": {"type": "OS::Heat::None"},
    "C": {"type": "OS::Heat::None", "depends_on": ["A", "B"]},
    "D": {"type": "OS::Heat::None", "properties": {"x": {"get_attr": ["C", "show"]}}},
    "E": {"type": "OS::Heat::None", "properties": {"x": {"get_resource": "C"}}},
})


def _by_id(plan, table):
    return {c.pk["id"]: c for c in plan.changes if c.table == table}


def test_five_resource_template_matches_heat_example():
    """Reference §1.6: C requires [A, B] ids descending, D and E require C."""
    tree = single_stack_tree(FIVE, ["A", "B", "C", "D", "E"])
    plan = plan_tree(tree, new_traversal=lambda: "trav-1")
    assert plan.outcome == "migrate"
    res = _by_id(plan, "resource")
    assert res[3].after["requires"] == "[2, 1]"
    assert res[4].after["requires"] == "[3]"
    assert res[5].after["requires"] == "[3]"
    assert "requires" not in res[1].after  # already "[]"
    assert res[3].after["needed_by"] == "[5, 4]"
    assert res[1].after["needed_by"] == "[3]"
    assert all(c.after["current_template_id"] == 10 for c in res.values())
    (st,) = [c for c in plan.changes if c.table == "stack"]
    assert st.after == {"convergence": True, "current_traversal": "trav-1"}  # prev_raw_template_id was NULL already
    assert st.before["convergence"] is False


def test_converged_root_is_noop():
    tree = single_stack_tree(FIVE, ["A"])
    tree.root["convergence"] = True
    plan = plan_tree(tree)
    assert plan.outcome == "noop" and plan.changes == []


def test_failed_and_in_progress_are_refused_with_names():
    failed = plan_tree(single_stack_tree(FIVE, ["A"], status="FAILED"))
    assert failed.refusals[0].kind == "failed_state"
    assert "web (s1)" in failed.refusals[0].message and "CREATE_FAILED" in failed.refusals[0].message
    busy = plan_tree(single_stack_tree(FIVE, ["A"], status="IN_PROGRESS"))
    assert busy.retryable and busy.refusals[0].kind == "in_progress"


def test_nested_in_progress_refuses_root_even_if_convergence_child():
    root = stack_row("r", "root", 1)
    child = stack_row("c", "child", 2, owner="r", status="IN_PROGRESS", convergence=True)
    tree = Tree(root=root, stacks=[root, child], resources={"r": [], "c": []},
                templates={1: template_row(1, hot({})), 2: template_row(2, hot({}))})
    plan = plan_tree(tree)
    assert plan.outcome == "refused"
    assert "nested stack child (c)" in plan.refusals[0].message


def test_convergence_child_is_left_alone():
    root = stack_row("r", "root", 1)
    child = stack_row("c", "child", 2, owner="r", convergence=True)
    tree = Tree(root=root, stacks=[root, child], resources={"r": [], "c": []},
                templates={1: template_row(1, hot({})), 2: template_row(2, hot({}))})
    plan = plan_tree(tree)
    assert [c.pk["id"] for c in plan.changes if c.table == "stack"] == ["r"]


def test_stale_and_duplicate_rows_refused_then_pruned():
    tree = single_stack_tree(FIVE, ["A", "B", "C", "D", "E"], extra_rows=[
        resource_row(6, "s1", "OLD", attr_data_id=70),
        resource_row(7, "s1", "A", status="FAILED"),
    ])
    plan = plan_tree(tree)
    kinds = {r.kind for r in plan.refusals}
    assert kinds == {"stale_rows", "duplicate_rows"}
    assert "--prune-orphans" in plan.refusals[0].message
    tree.prune = PruneDetails(
        resource_data={6: [{"id": 90, "resource_id": 6, "key": "k", "value": "v"}]},
        properties={70: {"id": 70, "data": "{}"}},
        properties_refs={},
    )
    pruned = plan_tree(tree, prune=True)
    assert pruned.outcome == "migrate"
    deletes = [(c.table, c.pk["id"]) for c in pruned.changes if c.op == DELETE]
    assert deletes == [("resource_data", 90), ("resource", 6), ("resource", 7), ("resource_properties_data", 70)]
    # the COMPLETE row A (id 1) is kept, not the FAILED duplicate
    assert _by_id(pruned, "resource")[3].after["requires"] == "[2, 1]"


def test_prev_template_and_orphaned_files_deleted():
    tree = single_stack_tree(FIVE, ["A"])
    tree.root["prev_raw_template_id"] = 9
    tree.templates[9] = template_row(9, FIVE, files_id=5)
    tree.templates[10]["files_id"] = 6
    tree.files = {5: {"id": 5, "files": "{}"}}
    tree.files_refs = {5: {9}}
    tree.template_refs = {9: 0}
    plan = plan_tree(tree)
    deletes = [(c.table, c.pk["id"]) for c in plan.changes if c.op == DELETE]
    assert deletes == [("raw_template", 9), ("raw_template_files", 5)]
    tree.files_refs = {5: {9, 10}}  # shared with the current template: kept
    plan = plan_tree(tree)
    assert [(c.table, c.pk["id"]) for c in plan.changes if c.op == DELETE] == [("raw_template", 9)]


def test_prev_template_referenced_elsewhere_is_kept():
    tree = single_stack_tree(FIVE, ["A"])
    tree.root["prev_raw_template_id"] = 9
    tree.templates[9] = template_row(9, FIVE)
    tree.template_refs = {9: 1}
    plan = plan_tree(tree)
    assert not [c for c in plan.changes if c.op == DELETE]
    assert any("still referenced" in n for n in plan.notes)


def test_cycle_refused():
    cyc = hot({"A": {"type": "T", "depends_on": "B"}, "B": {"type": "T", "depends_on": "A"}})
    plan = plan_tree(single_stack_tree(cyc, ["A", "B"]))
    assert plan.refusals[0].kind == "cycle"


def test_missing_reference_refused():
    bad = hot({"A": {"type": "T", "properties": {"x": {"get_resource": "NOPE"}}}})
    plan = plan_tree(single_stack_tree(bad, ["A"]))
    assert plan.refusals[0].kind == "bad_template"


def test_corrupt_template_json_refused():
    tree = single_stack_tree(FIVE, ["A"])
    tree.templates[10]["template"] = "{not json"
    plan = plan_tree(tree)
    assert plan.refusals[0].kind == "bad_template" and "not valid JSON" in plan.refusals[0].message


def test_old_rows_with_null_requires_get_lists():
    tree = single_stack_tree(FIVE, ["A", "B"])
    for r in tree.resources["s1"]:
        r["requires"] = None
        r["needed_by"] = None
    plan = plan_tree(tree)
    for c in _by_id(plan, "resource").values():
        assert json.loads(c.after["requires"]) == [] and json.loads(c.after["needed_by"]) == []


def test_inverse_restores_before_images():
    tree = single_stack_tree(FIVE, ["A", "B", "C", "D", "E"])
    plan = plan_tree(tree)
    undo = invert(plan.changes)
    assert [c.op for c in undo] == [UPDATE] * len(undo)
    for change, back in zip(reversed(plan.changes), undo):
        assert back.after == {k: change.before[k] for k in change.after}


def test_planning_is_pure():
    tree = single_stack_tree(FIVE, ["A", "B", "C"])
    snapshot = json.dumps([tree.root, tree.resources], default=str, sort_keys=True)
    analyse(tree)
    plan_tree(tree)
    assert json.dumps([tree.root, tree.resources], default=str, sort_keys=True) == snapshot


# -- template readings shared within a batch ------------------------------------

NAMED = hot(
    {"A": {"type": "OS::Heat::None"}, "B": {"type": "OS::Heat::None", "condition": "is_web"}},
    conditions={"is_web": {"equals": [{"get_param": "OS::stack_name"}, "web"]}},
)


def _twin(template, sid, name, tmpl_id, first_row):
    """A one-stack tree whose template text equals another tree's."""
    st = stack_row(sid, name, tmpl_id)
    rows = [resource_row(first_row, sid, "A"), resource_row(first_row + 1, sid, "B")]
    return Tree(root=st, stacks=[st], resources={sid: rows}, templates={tmpl_id: template_row(tmpl_id, template)})


def test_one_template_text_is_read_once_per_batch():
    """Stacks stored with the same template and environment share one reading,
    and their plans are those each would get alone."""
    memo: dict = {}
    trees = [_twin(FIVE, f"s{i}", "web", 10 + i, 10 * i) for i in range(3)]
    analyses = [analyse(t, memo) for t in trees]
    assert len(memo) == 1
    assert analyses[0].stacks[0].deps is analyses[2].stacks[0].deps
    for tree, shared in zip(trees, analyses):
        alone = plan_tree(tree, new_traversal=lambda: "t")
        assert plan_tree(tree, shared, new_traversal=lambda: "t").changes == alone.changes


def test_a_reading_the_stack_name_decided_is_not_shared():
    """A condition on OS::stack_name gives two stacks of one template text
    different resources: "db" must not reuse what "web" read."""
    memo: dict = {}
    web, db = _twin(NAMED, "s1", "web", 10, 1), _twin(NAMED, "s2", "db", 11, 3)
    assert analyse(web, memo).stacks[0].deps.resources == ("A", "B")
    db_analysis = analyse(db, memo)
    assert memo == {}
    assert db_analysis.stacks[0].deps.resources == ("A",)
    assert [r.kind for r in db_analysis.refusals] == ["stale_rows"]


def test_refusals_are_not_shared_and_name_each_stack():
    """A broken template refuses every stack stored with it, each by its own name."""
    memo: dict = {}
    bad = hot({"A": {"type": "T", "properties": {"x": {"get_resource": "NOPE"}}}})
    one, two = _twin(bad, "s1", "web", 10, 1), _twin(bad, "s2", "db", 11, 3)
    messages = [analyse(t, memo).refusals[0].message for t in (one, two)]
    assert memo == {}
    assert "db (s2)" in messages[1] and "web (s1)" in messages[0]
