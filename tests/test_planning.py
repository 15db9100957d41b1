"""Planning a batch: the template readings shared within it change no plan."""

from __future__ import annotations

from itertools import count

from migrator.heat.connection import make_engine
from migrator.planning.plan import analyse, plan_tree
from migrator.planning.batch import plan_roots
from migrator.sample.build import build_sample
from migrator.heat.tree import legacy_root_ids, load_trees


def _traversals():
    numbers = count()
    return lambda: f"t-{next(numbers)}"


def test_batch_plans_equal_tree_by_tree_plans(sqlite_url):
    """On the sample with every special case (conditions, pseudo parameters,
    bad templates, shared templates), planning a batch with shared readings
    gives every tree the plan, refusals and notes it gets when planned alone."""
    engine = make_engine(sqlite_url, must_exist=False)
    try:
        build_sample(engine, roots=80, seed=7)
        with engine.connect() as conn:
            roots = legacy_root_ids(conn, limit=10_000)
            batch = plan_roots(conn, roots, new_traversal=_traversals())
            trees, _ = load_trees(conn, roots)
    finally:
        engine.dispose()
    memo: dict = {}
    analysed = sum(len(analyse(t, memo).stacks) for t in trees)
    assert len(memo) < analysed  # the sample repeats templates, so readings are shared
    alone_traversal = _traversals()
    alone = {t.root_id: plan_tree(t, analyse(t), new_traversal=alone_traversal) for t in trees}
    assert len(alone) > 50
    for tree, plan in batch:
        if tree is None:
            continue
        expected = alone[tree.root_id]
        assert (plan.outcome, plan.changes, plan.refusals, plan.notes) == (
            expected.outcome, expected.changes, expected.refusals, expected.notes), tree.root_id
