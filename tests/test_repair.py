"""`convmig verify` finds convergence trees whose requires lack edges; `migrate
--repair-deps` adds them with the write-ahead log, and `rollback` takes the repair back.

The damaged trees are made the way an earlier tool leaves them: a tree on convergence
whose stored ``requires`` lacks an edge its template implies. The missing edge is
written out by hand here (the ids are read from the database, never computed by the
planner), so the tests do not trust the function under test.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from migrator.heat import schema
from migrator.heat.connection import make_engine

from helpers import cli, cli_json, dump, tree_rows


def _rows(url: str, stack_id: str) -> dict[str, dict]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(schema.resource).where(schema.resource.c.stack_id == stack_id)).mappings()
            return {r["name"]: dict(r) for r in rows}
    finally:
        engine.dispose()


def _set_requires(url: str, rid: int, requires: list[int]) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(schema.resource.update().where(schema.resource.c.id == rid).values(requires=json.dumps(requires)))
    finally:
        engine.dispose()


def _an_edge(url: str, stack_id: str) -> tuple[dict, dict]:
    """A resource that requires another (requirer row, required row)."""
    rows = _rows(url, stack_id)
    by_id = {r["id"]: r for r in rows.values()}
    for row in sorted(rows.values(), key=lambda r: r["id"]):
        needed = [by_id[i] for i in json.loads(row["requires"]) if i in by_id]
        if needed:
            return row, needed[0]
    raise AssertionError(f"stack {stack_id} has no resource that requires another")


@pytest.fixture
def damaged(make_sample):
    """The sample's convergence root (made on convergence, not by convmig) with one
    edge taken out of a resource's requires."""
    url, sample = make_sample(2, 5)
    root = sample.special["convergence_root"]
    requirer, required = _an_edge(url, root)
    kept = [i for i in json.loads(requirer["requires"]) if i != required["id"]]
    _set_requires(url, requirer["id"], kept)
    return url, root, requirer, required, kept


def test_verify_names_the_resource_and_the_missing_target(damaged):
    url, root, requirer, required, _kept = damaged
    result, verdicts = cli_json("--db", url, "verify", root)
    assert result.exit_code == 1
    (verdict,) = verdicts
    assert not verdict["ok"]
    expected = (f"resource {requirer['name']} (id {requirer['id']}): requires lacks "
                f"{required['name']} (id {required['id']}); convmig migrate --repair-deps {root} adds them")
    assert any(v.endswith(expected) for v in verdict["violations"]), verdict["violations"]
    all_result, all_verdicts = cli_json("--db", url, "verify", "--all")  # --all reaches trees convmig never touched
    assert all_result.exit_code == 1
    assert [v["root_id"] for v in all_verdicts if not v["ok"]] == [root]


def test_dry_run_shows_the_repair_and_writes_nothing(damaged):
    url, root, requirer, required, kept = damaged
    before = dump(url)
    result, plans = cli_json("--db", url, "migrate", "--repair-deps", "--dry-run", root)
    assert result.exit_code == 0, result.stderr
    (plan,) = plans["trees"]
    assert plan["outcome"] == "repair"
    (change,) = plan["changes"]
    assert change["pk"] == {"id": requirer["id"]}
    assert json.loads(change["after"]["requires"]) == sorted(kept + [required["id"]], reverse=True)
    assert dump(url) == before


def test_repair_adds_the_edge_and_rollback_takes_it_back(damaged):
    url, root, requirer, required, kept = damaged
    damaged_rows = tree_rows(url, root)
    result = cli("--db", url, "migrate", "--repair-deps", root)
    assert result.exit_code == 0, result.stderr
    assert "repaired" in result.stdout
    row = _rows(url, root)[requirer["name"]]
    assert json.loads(row["requires"]) == sorted(kept + [required["id"]], reverse=True)
    assert cli("--db", url, "verify", root).exit_code == 0

    events = cli("--db", url, "log", "--stack", root).stdout
    assert "repair-planned" in events and "repaired" in events

    back = cli("--db", url, "rollback", root, "--yes")
    assert back.exit_code == 0, back.stderr
    assert tree_rows(url, root) == damaged_rows  # byte for byte as before the repair
    again = cli("--db", url, "rollback", root, "--yes")
    assert (again.exit_code, again.stderr) == (0, "") and "already done" in again.stdout


def _without_one_edge(real):
    """``template_dependencies`` as an earlier release computed it: one edge fewer
    (the first requirer's first target, by name), as if its plugin rule was missing."""
    dropped = {}

    def older(*args, **kwargs):
        deps = real(*args, **kwargs)
        requirer = next((n for n in sorted(deps.requires) if deps.requires[n]), None)
        if requirer is None:
            return deps
        target = sorted(deps.requires[requirer])[0]
        dropped.setdefault("edge", (requirer, target))
        requires = {**deps.requires, requirer: deps.requires[requirer] - {target}}
        return type(deps)(deps.resources, deps.disabled, requires, deps.types, deps.uses_identity)

    return older, dropped


def test_rollback_after_migrate_and_repair_undoes_the_repair_first(make_sample, monkeypatch):
    from migrator.planning import plan as planner

    url, sample = make_sample(2, 5)
    root = sample.special["updated"]
    legacy = tree_rows(url, root)
    older, dropped = _without_one_edge(planner.template_dependencies)
    with monkeypatch.context() as patch:  # an earlier convmig, missing one edge
        patch.setattr(planner, "template_dependencies", older)
        assert cli("--db", url, "migrate", root).exit_code == 0
    migrated = tree_rows(url, root)
    requirer, target = dropped["edge"]
    rows = _rows(url, root)
    assert rows[target]["id"] not in json.loads(rows[requirer]["requires"])
    verdict = cli("--db", url, "verify", root)
    assert verdict.exit_code == 1
    assert f"resource {requirer} (id {rows[requirer]['id']}): requires lacks {target} (id {rows[target]['id']})" in verdict.stderr

    assert cli("--db", url, "migrate", "--repair-deps", root).exit_code == 0
    rows = _rows(url, root)
    assert rows[target]["id"] in json.loads(rows[requirer]["requires"])
    assert cli("--db", url, "verify", root).exit_code == 0
    assert cli("--db", url, "rollback", root, "--yes").exit_code == 0
    assert tree_rows(url, root) == migrated  # first rollback: the repair
    assert cli("--db", url, "rollback", root, "--yes").exit_code == 0
    assert tree_rows(url, root) == legacy  # second rollback: the migration


def test_intact_trees_are_already_done_and_legacy_trees_are_refused(make_sample):
    url, sample = make_sample(2, 5)
    before = dump(url)
    result = cli("--db", url, "migrate", "--repair-deps", "--all")
    assert result.exit_code == 0, result.stderr
    assert "already done" in result.stdout and "repaired" not in result.stdout
    legacy = sample.roots[0]
    refused = cli("--db", url, "migrate", "--repair-deps", legacy)
    assert refused.exit_code == 1
    assert refused.stderr.strip().endswith(
        "is on the legacy engine: migrate it (that writes every dependency) instead of repairing it")
    assert legacy in refused.stderr
    after = dump(url, exclude=("stack_lock",))
    assert after == {k: v for k, v in before.items() if k != "stack_lock"}


def test_repair_and_prune_do_not_go_together(make_sample):
    url, _sample = make_sample(1, 5)
    result = cli("--db", url, "migrate", "--repair-deps", "--prune-orphans", "--all")
    assert result.exit_code == 2
    assert "--repair-deps" in result.stderr and "Traceback" not in result.stderr


def test_retry_keeps_the_repair_selection(damaged):
    url, root, requirer, required, kept = damaged
    engine = make_engine(url)
    with engine.begin() as conn:  # a traversal in progress: the repair must wait
        conn.execute(schema.stack.update().where(schema.stack.c.id == root).values(status="IN_PROGRESS"))
    first = cli("--db", url, "migrate", "--repair-deps", root)
    assert first.exit_code == 3 and "IN_PROGRESS" in first.stderr
    with engine.begin() as conn:
        conn.execute(schema.stack.update().where(schema.stack.c.id == root).values(status="COMPLETE"))
    engine.dispose()
    retried = cli("--db", url, "migrate", "--retry")
    assert retried.exit_code == 0, retried.stderr
    assert json.loads(_rows(url, root)[requirer["name"]]["requires"]) == sorted(kept + [required["id"]], reverse=True)


def _web_root(url: str, sample) -> str:
    """A root of the sample's "web" kind (network, subnet, router, port, server, floating IP)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = dict(conn.execute(sa.select(schema.stack.c.id, schema.stack.c.name)
                                      .where(schema.stack.c.id.in_(sample.roots))).all())
    finally:
        engine.dispose()
    return next(i for i in sample.roots if (names.get(i) or "").startswith("web-"))  # the first one


def test_a_tree_migrated_without_implicit_edges_is_found_repaired_and_rolled_back(make_sample, monkeypatch):
    from migrator.planning import plan as planner

    url, sample = make_sample(8, 1)  # seed 1 builds one COMPLETE "web" tree
    root = _web_root(url, sample)
    legacy = tree_rows(url, root)
    with monkeypatch.context() as patch:  # an earlier convmig, without the plugins' implicit edges
        patch.setattr(planner, "needs_implicit", lambda *args: False)
        assert cli("--db", url, "migrate", root).exit_code == 0
    without = tree_rows(url, root)
    rows = _rows(url, root)
    ids = {name: row["id"] for name, row in rows.items()}
    # Heat's add_dependencies, read by hand (reference §3.3): a Server with a networks entry
    # that names no network needs every subnet; a FloatingIP needs the Router whose gateway
    # network is its floating_network. (The Port's edge to the subnet of its network is
    # explicit here too: its fixed_ips name the subnet, so it is not missing.)
    missing = {("server", "subnet"), ("fip", "router")}
    found = cli("--db", url, "verify", root)
    assert found.exit_code == 1
    for requirer, target in missing:
        assert (f"resource {requirer} (id {ids[requirer]}): requires lacks {target} (id {ids[target]})"
                in found.stderr), found.stderr
    assert found.stderr.count("requires lacks") == len(missing)

    assert cli("--db", url, "migrate", "--repair-deps", root).exit_code == 0
    repaired = _rows(url, root)
    for requirer, target in missing:
        assert ids[target] in json.loads(repaired[requirer]["requires"])
    assert cli("--db", url, "verify", root).exit_code == 0

    assert cli("--db", url, "rollback", root, "--yes").exit_code == 0
    assert tree_rows(url, root) == without  # the repair undone, byte for byte
    assert cli("--db", url, "rollback", root, "--yes").exit_code == 0
    assert tree_rows(url, root) == legacy
