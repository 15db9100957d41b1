"""``migrate --include-failed`` against Heat's real engines (issue 19), on SQLite,
PostgreSQL and MariaDB, with whichever Heat release run.sh selected.

Per database server, once (module-scoped ``failed_world``): Heat's own schema,
then Heat's *legacy* engine makes every FAILED shape of ``heat_driver.FAILED_KINDS``
against the fake cloud, which fails the create of each resource named
``broken`` while they are built and then heals (an operator fixed the cause):

* CREATE_FAILED (root), CREATE_FAILED one level down (root and nested stack);
* UPDATE_FAILED with ``disable_rollback``, its legacy backup stack left empty;
* UPDATE_FAILED after a replacement: the old subnet kept in the backup stack,
  still alive in the cloud and still on its network;
* an update left IN_PROGRESS by a dead engine, then reset with Heat's own
  ``reset_stack_status`` (what heat-manage runs): UPDATE_FAILED.

On copies of that database:

* "conv": ``convmig migrate --include-failed --all``, then Heat's convergence
  engine retries every tree (``update --existing``), updates it and deletes it:
  nothing may be left, no resource row, no live backup stack, no object in the
  cloud, and no delete out of order (the cloud refuses those, as Neutron does);
* "rb": the same migration, ``convmig rollback``, every Heat table byte for byte
  as the legacy engine left it, then the legacy engine deletes every tree.
"""

from __future__ import annotations

import json
import os

import pytest

from .world import assert_delete, assert_update, diff, dump, legacy_world, tree_of

pytestmark = pytest.mark.interop

RELEASE = os.environ.get("CONVMIG_HEAT_RELEASE", "heat")
#: kind -> the state Heat's legacy engine leaves (written by hand from the shapes)
STATES = {"f_create": "CREATE_FAILED", "f_deep": "CREATE_FAILED", "f_update_empty": "UPDATE_FAILED",
          "f_update_backup": "UPDATE_FAILED", "f_reset": "UPDATE_FAILED"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mariadb"])
def failed_world(request, heat_python, tmp_path_factory, interop_report):
    logdir = tmp_path_factory.mktemp(f"failed-{request.param}")
    report = interop_report.setdefault(f"{RELEASE}/{request.param}/failed", {})
    with legacy_world(request.param, heat_python, logdir, report, heat_set="failed") as w:
        w.live_before = w.made["live"]
        for db in ("conv", "rb"):
            w.copy("base", db)
        yield w


def _backups(dumped: dict, owners: set[str]) -> list[dict]:
    return [s for s in dumped["stack"].values() if s["backup"] and s["owner_id"] in owners]


def _all_stacks(dumped: dict, roots) -> set[str]:
    """Every stack under the roots, backups and deleted ones included."""
    out, todo = set(), list(roots)
    while todo:
        sid = todo.pop()
        out.add(sid)
        todo += [s["id"] for s in dumped["stack"].values() if s["owner_id"] == sid]
    return out


def test_failed_shapes_are_what_the_legacy_engine_leaves(failed_world):
    w, base = failed_world, failed_world.base_dump
    assert {k: v["state"] for k, v in w.created.items()} == STATES
    for kind in ("f_deep", "f_reset"):
        (child,) = tree_of(base, w.roots[kind]) - {w.roots[kind]}
        assert base["stack"][(child,)]["status"] == "FAILED"
    assert "manually reset" in base["stack"][(w.roots["f_reset"],)]["status_reason"]
    empty = _backups(base, {w.roots["f_update_empty"]})
    assert len(empty) == 1 and empty[0]["deleted_at"] is None
    assert not [r for r in base["resource"].values() if r["stack_id"] == empty[0]["id"]]
    (full,) = _backups(base, {w.roots["f_update_backup"]})
    held = [r for r in base["resource"].values() if r["stack_id"] == full["id"]]
    assert [r["name"] for r in held] == ["sub"] and str(held[0]["id"]) in w.live_before, "the old subnet is alive"
    # convmig refuses them all without the option, and touches nothing
    w.copy("base", "plain")
    _, out, _ = w.convmig("plain", "migrate", "--all", "--format", "json", expect=(1,))
    assert json.loads(out)["counts"] == {"skipped: failed_state": len(STATES)}
    assert not diff(base, dump(w.urls["plain"]))


def test_failed_trees_migrated_then_retried_updated_and_deleted_by_convergence(failed_world):
    w = failed_world
    roots = list(w.roots.values())
    _, out, _ = w.convmig("conv", "migrate", "--include-failed", "--all", "--format", "json")
    assert json.loads(out)["counts"] == {"migrated": len(STATES)}
    migrated = dump(w.urls["conv"])
    assert not [b for b in _backups(migrated, _all_stacks(migrated, roots)) if b["deleted_at"] is None], \
        "every legacy backup stack soft-deleted"
    (full,) = _backups(w.base_dump, {w.roots["f_update_backup"]})
    (old,) = [r for r in w.base_dump["resource"].values() if r["stack_id"] == full["id"]]
    adopted = migrated["resource"][(old["id"],)]
    assert adopted["stack_id"] == w.roots["f_update_backup"] and adopted["replaced_by"] is not None

    retry = w.heat("converge-retry", "conv", *roots)
    assert retry["errors"] == {}, retry["errors"]
    states = {k: retry["after"][sid][0]["state"] for k, sid in w.roots.items()}
    assert states == {k: "UPDATE_COMPLETE" for k in STATES}, retry["after"]
    assert str(old["id"]) not in retry["live"], "the replaced subnet is deleted by the retry's cleanup"
    update = w.heat("converge-update", "conv", *roots)
    assert_update(update, convergence=True, replacements=True)
    delete = w.heat("converge-delete", "conv", *roots)
    assert_delete(delete)
    assert retry["conflicts"] == update["conflicts"] == delete["conflicts"] == []
    after = dump(w.urls["conv"])
    stacks = _all_stacks(after, roots)
    assert not [r for r in after["resource"].values() if r["stack_id"] in stacks], "no resource row left"
    assert not [s for s in after["stack"].values() if s["id"] in stacks and s["deleted_at"] is None], \
        "no live stack left, backup stacks included"
    assert delete["live"] == {}, f"leaked in the cloud: {delete['live']}"
    w.report["FAILED shapes retried, updated, deleted by convergence"] = len(STATES)


def test_failed_rollback_restores_legacy_byte_for_byte_and_legacy_cleans_up(failed_world):
    w = failed_world
    roots = list(w.roots.values())
    w.convmig("rb", "migrate", "--include-failed", "--all", "--format", "json")
    w.convmig("rb", "rollback", *roots, "--yes")
    differences = diff(w.base_dump, dump(w.urls["rb"]))
    assert not differences, "rollback did not restore Heat's tables:\n" + "\n".join(map(str, differences[:40]))
    delete = w.heat("legacy-delete", "rb", *roots)
    assert_delete(delete)
    assert delete["conflicts"] == [] and delete["live"] == {}, delete["live"]
