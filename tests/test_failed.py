"""FAILED trees and legacy backup stacks in the planner (issue 19), on in-memory
trees; expected values written by hand from Heat's code (``Stack.delete(backup=True)``,
``Stack._compute_convg_dependencies``, ``Resource.delete_convergence``)."""

from __future__ import annotations

from datetime import datetime

import pytest

from migrator.planning.changes import UPDATE, invert
from migrator.planning.plan import analyse, plan_tree, precheck
from migrator.planning.selection import Selection
from migrator.errors import UsageError

from helpers import hot, resource_row, single_stack_tree, stack_row, template_row

TWO = hot({"A": {"type": "OS::Heat::None"}, "B": {"type": "OS::Heat::None", "depends_on": "A"}})
NOW = datetime(2025, 5, 1, 12, 0, 0)


def _plan(tree, **kw):
    return plan_tree(tree, analyse(tree, include_failed=True), new_traversal=lambda: "t", now=lambda: NOW, **kw)


def _with_backup(rows=(), status="FAILED", action="UPDATE"):
    """web (s1), UPDATE_FAILED, rows A=1, B=2; its backup web* (b1, template 20) holding ``rows``."""
    tree = single_stack_tree(TWO, ["A", "B"], status=status)
    tree.root["action"] = action
    backup = stack_row("b1", "web*", 20, owner="s1", backup=True, status="IN_PROGRESS")
    tree.backups = {"s1": [backup]}
    tree.backup_resources = {"b1": list(rows)}
    tree.templates[20] = template_row(20, TWO)
    return tree


@pytest.mark.parametrize("action", ["CREATE", "UPDATE", "DELETE", "SUSPEND", "RESUME", "ROLLBACK", "CHECK"])
def test_failed_of_any_action_is_taken_with_include_failed_only(action):
    tree = single_stack_tree(TWO, ["A", "B"], status="FAILED")
    tree.root["action"] = action
    assert plan_tree(tree).refusals[0].kind == "failed_state"
    assert "--include-failed" in plan_tree(tree).refusals[0].message
    plan = _plan(tree)
    assert plan.outcome == "migrate"
    (st,) = [c for c in plan.changes if c.table == "stack"]
    assert st.after == {"convergence": True, "current_traversal": "t"}  # prev_raw_template_id was NULL already
    assert "action" not in st.after and "status" not in st.after  # the state stays for convergence to retry


def test_in_progress_stays_refused_with_the_reset_hint():
    tree = single_stack_tree(TWO, ["A"], status="IN_PROGRESS")
    plan = _plan(tree)
    assert plan.refusals[0].kind == "in_progress" and plan.retryable
    assert f"heat-manage reset_stack_status {tree.root['id']}" in plan.refusals[0].message
    assert precheck([tree.root], include_failed=True).kind == "in_progress"
    nested = stack_row("c", "child", 10, owner="s1", status="FAILED", action="CREATE")
    assert precheck([stack_row("s1", "web", 10), nested]).kind == "failed_state"
    assert precheck([stack_row("s1", "web", 10), nested], include_failed=True) is None


def test_failed_target_template_is_deleted_with_its_whole_row():
    """prev_raw_template_id of an UPDATE_FAILED stack is the failed target: deleted
    as Heat's migration does, its whole row in the before-image (so the log keeps it)."""
    tree = single_stack_tree(TWO, ["A", "B"], status="FAILED")
    tree.root.update(action="UPDATE", prev_raw_template_id=30)
    tree.templates[30] = template_row(30, hot({"A": {"type": "OS::Heat::TestResource"}}))
    tree.template_refs = {30: 0}
    plan = _plan(tree)
    (gone,) = [c for c in plan.changes if c.table == "raw_template"]
    assert gone.op == "delete" and gone.before == tree.templates[30]
    assert '"OS::Heat::TestResource"' in gone.before["template"]


def test_empty_backup_is_soft_deleted_as_the_legacy_engine_leaves_it():
    tree = _with_backup()
    plan = _plan(tree)
    soft = [c for c in plan.changes if c.table == "stack" and c.pk == {"id": "b1"}]
    assert len(soft) == 1 and soft[0].op == UPDATE
    assert soft[0].after == {"action": "DELETE", "status": "COMPLETE",
                             "status_reason": "Stack DELETE completed successfully",
                             "updated_at": NOW, "deleted_at": NOW}
    assert soft[0].before["status"] == "IN_PROGRESS" and soft[0].before["deleted_at"] is None
    assert ("b1", "web*") not in plan.stacks  # never locked, never counted as a member
    assert any("soft-delete the empty legacy backup stack web* (b1)" in n for n in plan.notes)


def test_backup_row_is_adopted_as_a_replaced_row():
    old_b = resource_row(7, "b1", "B")
    old_b["nova_instance"], old_b["requires"] = "phys-old", "[99]"
    tree = _with_backup([old_b])
    tree.resources["s1"][1]["nova_instance"] = "phys-new"
    plan = _plan(tree)
    res = {c.pk["id"]: c for c in plan.changes if c.table == "resource"}
    assert len([c for c in plan.changes if c.table == "resource" and c.pk["id"] == 2]) == 1  # one change per row
    assert res[7].after == {"stack_id": "s1", "replaced_by": 2, "current_template_id": 20, "requires": "[1]"}
    assert res[2].after["replaces"] == 7 and res[2].after["requires"] == "[1]"
    assert res[7].before["stack_id"] == "b1" and res[7].before["replaced_by"] is None
    assert plan.kept_resources == {"s1": [1, 2, 7]}
    # foreign keys: the backup is soft-deleted before, restored after (inverse), the row moves
    order = [(c.table, c.pk["id"]) for c in plan.changes]
    assert order.index(("stack", "b1")) < order.index(("resource", 7))
    undo = invert(plan.changes)
    back = {c.pk["id"]: c for c in undo if c.table == "resource"}
    assert back[7].after == {"stack_id": "b1", "replaced_by": None, "current_template_id": None, "requires": "[99]"}
    assert back[2].after["replaces"] is None


@pytest.mark.parametrize("case, why", [
    ("no_current", "the stack has no current resource of that name"),
    ("twice", "a second backup row of that name"),
    ("same_physical", "deleting it would delete the live resource"),
    ("already_replacing", "already replaces row 5"),
])
def test_backup_rows_that_cannot_be_placed_refuse_the_tree(case, why):
    rows = [resource_row(7, "b1", "B")]
    tree = _with_backup(rows)
    if case == "no_current":
        rows[0]["name"] = "GONE"
    elif case == "twice":
        tree.backup_resources["b1"].append(resource_row(8, "b1", "B"))
    elif case == "same_physical":
        rows[0]["nova_instance"] = tree.resources["s1"][1]["nova_instance"] = "phys"
    else:
        tree.resources["s1"][1]["replaces"] = 5
    plan = _plan(tree)
    assert plan.outcome == "refused" and plan.changes == []
    assert plan.refusals[0].kind == "backup_rows"
    assert "web* (b1)" in plan.refusals[0].message and why in plan.refusals[0].message


def test_backup_owning_stacks_refuses():
    tree = _with_backup()
    tree.backup_children = {"b1": [stack_row("n1", "web*-sub", 20, owner="b1")]}
    plan = _plan(tree)
    assert plan.refusals[0].kind == "backup_rows" and "web*-sub (n1)" in plan.refusals[0].message


def test_backup_of_a_nested_stack():
    root = stack_row("r", "root", 1, status="FAILED", action="UPDATE")
    child = stack_row("c", "child", 2, owner="r", status="FAILED", action="UPDATE")
    bkp = stack_row("cb", "child*", 3, owner="c", backup=True, status="IN_PROGRESS")
    from migrator.heat.tree import Tree
    old = resource_row(9, "cb", "A")
    tree = Tree(root=root, stacks=[root, child], resources={"r": [], "c": [resource_row(4, "c", "A")]},
                templates={1: template_row(1, hot({})), 2: template_row(2, TWO), 3: template_row(3, TWO)},
                backups={"c": [bkp]}, backup_resources={"cb": [old]})
    plan = _plan(tree)
    res = {c.pk["id"]: c for c in plan.changes if c.table == "resource"}
    assert res[9].after["stack_id"] == "c" and res[9].after["replaced_by"] == 4 and res[9].after["current_template_id"] == 3
    assert plan.kept_resources["c"] == [4, 9]


def test_selection_records_include_failed_for_retry():
    sel = Selection(("a",), include_failed=True).validate()
    assert Selection.from_dict(sel.as_dict()).include_failed is True
    assert Selection.from_dict({"stack_ids": ["a"]}).include_failed is False  # runs recorded before issue 19
    with pytest.raises(UsageError):
        Selection(all=True, repair=True, include_failed=True).validate()
