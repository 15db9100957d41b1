"""convmig against OpenStack Heat's real engine (issue 9), on SQLite, PostgreSQL and MariaDB.

Per database server, once (module-scoped ``world``):

1. Heat's own schema migrations create the database (``db_sync``), and Heat's
   *legacy* engine creates the fixture stacks (``heat_driver.py create``, which
   documents each): every dependency form (HOT and CFN, conditions and ``if``),
   provider templates through the files map, a ResourceGroup, nesting three
   levels deep, a stack updated once (so it has a previous raw template), one
   whose update failed and was rolled back, one CHECK_COMPLETE, a legacy tree
   holding a convergence child, and three that must not migrate as they are:
   CREATE_FAILED, a nested stack left UPDATE_IN_PROGRESS, and stale plus
   duplicate resource rows (which Heat's migration crashes on).
2. That database ("base") is copied five times:
   * "conv":   ``convmig migrate --all``;
   * "heat":   Heat's own ``Stack.migrate_to_convergence`` for every root, as
               ``EngineService.migrate_convergence_1`` does (minus its broken line);
   * "direct": ``convmig migrate --all``, then a convergence delete right away;
   * "rb":     ``convmig migrate --all``, ``convmig rollback``, then the legacy engine;
   * "prune":  ``convmig migrate --prune-orphans`` of the stale stack, rollback, again,
               then the convergence engine.

The tests compare "conv" with "heat" over every Heat table, column by column
(each difference must be one listed in ``WHY`` and be exactly that), drive Heat's
convergence engine through an update and a delete of every migrated tree, check
that a delete right after the migration honours the ``requires`` convmig wrote,
and that after a rollback every Heat table is the legacy one again, byte for
byte, and the legacy engine updates and deletes the stacks.

Heat runs in its own virtual environment (openstack-heat pulls SQLAlchemy 2.1,
convmig needs <2.1): ``heat_driver.py`` runs there, convmig from this
environment as ``python -m migrator``; both only as subprocesses.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
import sqlalchemy as sa

from .world import active_rows, assert_delete, assert_update, diff, dump, is_uuid, legacy_world, tree_of

pytestmark = pytest.mark.interop

MIGRATABLE = ("deps_hot", "deps_cfn", "nested", "updated", "rolledback", "checked", "mixed")
#: kind -> convmig's refusal; Heat refuses the first two (ActionNotComplete) and
#: crashes on the third (KeyError) after converting some of its rows.
REFUSED = {"failed": "failed_state", "inprogress": "in_progress", "stale": "stale_rows"}

#: (table, column) -> why convmig's value may differ from Heat's; the check that a
#: difference is exactly that one is in test_columns_match_heats_own_migration.
WHY = {
    ("stack", "current_traversal"):
        "both write a fresh random uuid4 per migrated stack (Heat: uuidutils.generate_uuid), so the values "
        "cannot be equal; checked: both are new 36-character UUIDs",
    ("resource", "current_template_id|requires"):
        "stack with a resource row not in its template and a duplicate row (left by releases before Story "
        "2004071): Heat's migration raises KeyError part-way and, with no transaction since 2024.1, leaves the "
        "rows it reached converted while the stack stays legacy; convmig refuses the tree and leaves it as it was "
        "(--prune-orphans migrates it, see test_prune_orphans_rollback_and_convergence)",
    ("resource", "needed_by"):
        "convmig writes the inverse of requires (descending ids); Heat leaves the column as it was ('[]' on rows "
        "written by modern Heat). Convergence has not read needed_by since 2018 (reference §3.4) and writes [] "
        "on every resource it stores at its first traversal, so both are valid; checked: Heat's value is the old one, convmig's is exactly the inverse of the requires both wrote",
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mariadb"])
def world(request, heat_python, tmp_path_factory, interop_report):
    logdir = tmp_path_factory.mktemp(f"interop-{request.param}")
    with legacy_world(request.param, heat_python, logdir, interop_report.setdefault(request.param, {})) as w:
        w.migrated_roots = [w.roots[k] for k in MIGRATABLE]
        for db in ("conv", "heat", "direct", "rb", "prune"):
            w.copy("base", db)
        # convmig exits 1: two trees are refused for a reason an operator must fix.
        _, out, _ = w.convmig("conv", "migrate", "--all", "--format", "json", expect=(1,))
        w.conv_run = json.loads(out)
        w.heat_run = w.heat("heat-migrate", "heat", *w.roots.values())["results"]
        w.conv_dump = dump(w.urls["conv"])
        w.heat_dump = dump(w.urls["heat"])
        yield w


# --------------------------------------------------------------------------- the tests


def test_legacy_fixture_is_what_the_suite_needs(world):
    """Heat's legacy engine produced the cases the comparison relies on."""
    c = world.created
    states = {k: v["state"] for k, v in c.items()}
    assert states == {
        "deps_hot": "CREATE_COMPLETE", "deps_cfn": "CREATE_COMPLETE", "nested": "CREATE_COMPLETE",
        "updated": "UPDATE_COMPLETE", "rolledback": "ROLLBACK_COMPLETE", "failed": "CREATE_FAILED",
        "inprogress": "CREATE_COMPLETE", "checked": "CHECK_COMPLETE", "stale": "CREATE_COMPLETE",
        "mixed": "UPDATE_COMPLETE",
    }, c
    stacks = world.base_dump["stack"]
    mixed = tree_of(world.base_dump, world.roots["mixed"])
    assert sorted(bool(stacks[(sid,)]["convergence"]) for sid in mixed) == [False, False, True], \
        "the mixed tree: legacy root and child, one convergence child"
    assert not any(s["convergence"] for s in stacks.values() if s["id"] not in mixed), "the rest is legacy"
    assert max(s["nested_depth"] or 0 for s in stacks.values()) == 3
    updated_tree = tree_of(world.base_dump, world.roots["updated"])
    assert len(updated_tree) == 2 and all(stacks[(sid,)]["prev_raw_template_id"] for sid in updated_tree), \
        "the updated stack and its nested stack keep a previous raw template"
    inprogress_child = tree_of(world.base_dump, world.roots["inprogress"]) - {world.roots["inprogress"]}
    assert [stacks[(sid,)]["status"] for sid in inprogress_child] == ["IN_PROGRESS"]
    hot = {r["name"] for r in world.base_dump["resource"].values() if r["stack_id"] == world.roots["deps_hot"]}
    assert "g" in hot and "h" not in hot, "conditions: g enabled by the stored environment, h disabled"
    stale_rows = sorted(r["name"] for r in world.base_dump["resource"].values() if r["stack_id"] == world.roots["stale"])
    assert stale_rows == ["a", "b", "b", "c", "retired"]
    assert len(world.base_dump["stack_tag"]) == 2


def test_both_migrate_and_refuse_the_same_trees(world):
    heat = world.heat_run
    conv = world.conv_run
    assert {k for k, sid in world.roots.items() if heat[sid]["result"] == "migrated"} == set(MIGRATABLE), heat
    for kind in ("failed", "inprogress"):
        assert heat[world.roots[kind]]["error"] == "ActionNotComplete", heat[world.roots[kind]]
    assert heat[world.roots["stale"]]["error"] == "KeyError", heat[world.roots["stale"]]
    assert conv["counts"] == {"migrated": len(MIGRATABLE), "skipped: failed_state": 1, "skipped: in_progress": 1,
                              "skipped: stale_rows": 1}, conv
    assert {p["root_id"]: p["kind"] for p in conv["problems"]} == {world.roots[k]: v for k, v in REFUSED.items()}
    # Both leave the trees they refuse exactly as they were (Heat's crash on the
    # stale stack is checked in test_columns_match_heats_own_migration).
    for kind in ("failed", "inprogress"):
        ids = tree_of(world.base_dump, world.roots[kind])
        for dumped in (world.conv_dump, world.heat_dump):
            for table in ("stack", "resource"):
                col = "id" if table == "stack" else "stack_id"
                rows = {k: v for k, v in dumped[table].items() if v[col] in ids}
                assert rows == {k: v for k, v in world.base_dump[table].items() if v[col] in ids}


def test_columns_match_heats_own_migration(world):
    """Column by column over every Heat table (stack, resource, raw_template,
    raw_template_files, and all the others, which neither may touch): each
    difference between convmig's result and Heat's must be a documented one."""
    base, conv, heat = world.base_dump, world.conv_dump, world.heat_dump
    migrated = set().union(*(tree_of(base, r) for r in world.migrated_roots))
    crashed = tree_of(base, world.roots["stale"])
    conv_active = {r["id"]: r for r in active_rows(conv, migrated)}
    inverse: dict[int, list[int]] = defaultdict(list)
    for r in conv_active.values():
        for target in json.loads(r["requires"]):
            inverse[target].append(r["id"])

    explained: dict[tuple, int] = defaultdict(int)
    unexplained = []
    for table, key, col, cv, hv in diff(conv, heat):
        before = base.get(table, {}).get(key, {}).get(col) if col else None
        ok = False
        if (table, col) == ("stack", "current_traversal"):
            ok = key[0] in migrated and is_uuid(cv) and is_uuid(hv) and before not in (cv, hv)
        elif (table, col) == ("resource", "needed_by"):
            want = json.dumps(sorted(inverse[key[0]], reverse=True))
            ok = key[0] in conv_active and hv == before and cv == want
        elif table == "resource" and col in ("current_template_id", "requires"):
            ok = conv[table][key]["stack_id"] in crashed and cv == before
            col = "current_template_id|requires" if ok else col
        if ok:
            explained[(table, col)] += 1
        else:
            unexplained.append(f"{table} {list(key)} {col or '(whole row)'}: before={before!r} convmig={cv!r} heat={hv!r}")
    assert set(explained) <= set(WHY)
    world.report["differences"] = {f"{t}.{c}": n for (t, c), n in explained.items()}
    assert not unexplained, "convmig differs from Heat's own migration:\n" + "\n".join(unexplained)
    for sid in crashed:  # Heat's crash left the stack itself legacy, convmig did not touch it
        assert heat["stack"][(sid,)] == conv["stack"][(sid,)] == base["stack"][(sid,)]
    # A child that was already convergence is skipped by both, rows and all.
    already = [sid for sid in migrated if base["stack"][(sid,)]["convergence"]]
    assert len(already) == 1
    for dumped in (conv, heat):
        assert dumped["stack"][(already[0],)] == base["stack"][(already[0],)]
        assert [r for r in dumped["resource"].values() if r["stack_id"] == already[0]] == \
            [r for r in base["resource"].values() if r["stack_id"] == already[0]]

    # What both must have written (reference §1.6), checked on convmig's copy.
    for sid in migrated:
        s = conv["stack"][(sid,)]
        assert s["convergence"] and s["prev_raw_template_id"] is None
    for r in conv_active.values():
        assert r["current_template_id"] == conv["stack"][(r["stack_id"],)]["raw_template_id"]
    requires_written = sum(1 for r in conv_active.values() if json.loads(r["requires"]))
    assert requires_written >= 20, "the fixture must exercise many dependency edges"
    gone = {base["stack"][(sid,)]["prev_raw_template_id"] for sid in migrated} - {None}
    assert gone and not gone & {k[0] for k in conv["raw_template"]}, "previous raw templates deleted"
    # Their raw_template_files rows: deleted when orphaned, kept when the current
    # template shares them (Heat's legacy update reuses an unchanged files map).
    prev_files = {base["raw_template"][(t,)]["files_id"] for t in gone} - {None}
    shared = {f for f in prev_files if any(t["files_id"] == f for t in conv["raw_template"].values())}
    assert shared and prev_files - shared, "the fixture covers a shared and an orphaned files row"
    assert not (prev_files - shared) & {k[0] for k in conv["raw_template_files"]}
    assert shared <= {k[0] for k in conv["raw_template_files"]}
    assert not conv["stack_lock"] and not heat["stack_lock"]


def test_each_accepts_the_others_result(world):
    """Heat sees convmig's trees as already converted; convmig sees Heat's as done,
    and ``convmig verify`` finds in Heat's result every dependency edge convmig
    computes (it has no convmig log, so only the edges are checked)."""
    again = world.heat("heat-migrate", "conv", *world.migrated_roots)["results"]
    assert {v["result"] for v in again.values()} == {"already convergence"}, again
    _, out, _ = world.convmig("heat", "migrate", "--dry-run", "--format", "json", *world.migrated_roots)
    plans = json.loads(out)["trees"]
    assert {p["root_id"]: p["outcome"] for p in plans} == {r: "noop" for r in world.migrated_roots}, plans

    _, out, _ = world.convmig("conv", "verify", "--all", "--format", "json")
    assert {v["root_id"]: v["violations"] for v in json.loads(out)} == {r: [] for r in world.migrated_roots}
    # Heat's own result, with no convmig log: verify checks its dependency edges, and
    # every edge convmig computes (explicit and implicit) is there
    _, out, _ = world.convmig("heat", "verify", "--format", "json", *world.migrated_roots, expect=(0,))
    assert {v["root_id"]: v["violations"] for v in json.loads(out)} == {r: [] for r in world.migrated_roots}


def test_convergence_engine_updates_and_deletes_migrated_stacks(world):
    update = world.heat("converge-update", "conv", *world.migrated_roots)
    assert_update(update, convergence=True)
    delete = world.heat("converge-delete", "conv", *world.migrated_roots)
    assert_delete(delete)


def test_convergence_delete_right_after_migration_follows_convmigs_requires(world):
    """A delete straight after the migration orders its cleanups by the
    ``requires`` convmig wrote: a resource is gone before what it requires goes."""
    world.convmig("direct", "migrate", "--all", "--format", "json", expect=(1,))
    migrated_dump = dump(world.urls["direct"])
    stacks = set().union(*(tree_of(migrated_dump, r) for r in world.migrated_roots))
    rows = {r["id"]: r for r in active_rows(migrated_dump, stacks)}
    delete = world.heat("converge-delete", "direct", *world.migrated_roots)
    assert_delete(delete)

    engine = sa.create_engine(world.urls["direct"])
    try:
        with engine.connect() as conn:
            events = conn.execute(sa.text(
                "SELECT id, stack_id, resource_name, resource_status FROM event "
                "WHERE resource_action = 'DELETE' ORDER BY id")).all()
    finally:
        engine.dispose()
    first = {}
    for e in events:
        first.setdefault((e.stack_id, e.resource_name, e.resource_status), e.id)
    checked = []
    for r in rows.values():
        for target in json.loads(r["requires"]):
            t = rows[target]
            done = first.get((r["stack_id"], r["name"], "COMPLETE"))
            started = first.get((t["stack_id"], t["name"], "IN_PROGRESS"))
            assert done is not None and started is not None, (r["name"], t["name"])
            assert done < started, f"{t['name']} started deleting before {r['name']}, which requires it, was gone"
            checked.append((r["name"], t["name"]))
    assert len(checked) >= 20
    world.report["delete order pairs checked"] = len(checked)


def test_rollback_restores_legacy_and_the_legacy_engine_works(world):
    world.convmig("rb", "migrate", "--all", "--format", "json", expect=(1,))
    world.convmig("rb", "rollback", *world.migrated_roots, "--yes")
    restored = dump(world.urls["rb"])
    differences = diff(world.base_dump, restored)
    assert not differences, "rollback did not restore Heat's tables:\n" + "\n".join(map(str, differences[:40]))

    update = world.heat("legacy-update", "rb", *world.migrated_roots)
    assert_update(update, convergence=False)
    delete = world.heat("legacy-delete", "rb", *world.migrated_roots)
    assert_delete(delete)


def test_prune_orphans_rollback_and_convergence(world):
    """The stack Heat crashes on: ``--prune-orphans`` deletes the stale row and the
    losing duplicate (keeping the row Heat's convergence engine would choose),
    rollback puts both back byte for byte, and after pruning again the
    convergence engine updates and deletes the stack."""
    stale = world.roots["stale"]
    rows = {r["id"]: r for r in world.base_dump["resource"].values() if r["stack_id"] == stale}
    keep_b = next(i for i, r in rows.items() if r["name"] == "b" and r["status"] == "COMPLETE")
    world.convmig("prune", "migrate", "--prune-orphans", "--format", "json", stale)
    after = {r["id"]: r for r in dump(world.urls["prune"])["resource"].values() if r["stack_id"] == stale}
    assert sorted((r["name"], i) for i, r in after.items()) == sorted(
        (r["name"], i) for i, r in rows.items() if r["name"] in ("a", "c") or i == keep_b)

    world.convmig("prune", "rollback", stale, "--yes")
    differences = diff(world.base_dump, dump(world.urls["prune"]))
    assert not differences, "rollback did not restore the pruned rows:\n" + "\n".join(map(str, differences[:40]))

    world.convmig("prune", "migrate", "--prune-orphans", "--format", "json", stale)
    assert_update(world.heat("converge-update", "prune", stale), convergence=True)
    assert_delete(world.heat("converge-delete", "prune", stale))
