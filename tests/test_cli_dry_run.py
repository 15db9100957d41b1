"""`convmig migrate --dry-run` on sample databases: plans and refusals, nothing written."""

from __future__ import annotations

import json

import pytest

from helpers import cli, dump_all

pytestmark = pytest.mark.sample(10, 7)


EXPECTED_REFUSALS = {
    "failed_root": "failed_state",
    "in_progress_root": "in_progress",
    "nested_in_progress": "in_progress",
    "stale_row": "stale_rows",
    "duplicate_rows": "duplicate_rows",
    "encrypted_condition": "undecidable",
}


def test_dry_run_all_plans_and_writes_nothing(sample_db):
    url, sample = sample_db
    before = dump_all(url)
    result = cli("--db", url, "migrate", "--dry-run", "--all", "--format", "json")
    assert result.exit_code == 1  # some trees need the operator
    assert dump_all(url) == before
    report = json.loads(result.stdout)
    trees = {t["root_id"]: t for t in report["trees"]}
    for case, kind in EXPECTED_REFUSALS.items():
        tree = trees[sample.special[case]]
        assert tree["outcome"] == "refused", case
        assert tree["refusals"][0]["kind"] == kind, case
        assert tree["refusals"][0]["message"] in result.stderr
    for case in ("updated", "deep_nested", "resource_group", "provider_template", "cfn", "conditions",
                 "old_rows", "missing_row", "failed_resource", "backup_parent", "deleted_complete_rows",
                 "legacy_root_with_convergence_child", "shared_files"):
        assert trees[sample.special[case]]["outcome"] == "migrate", case
    assert sample.special["convergence_root"] not in trees  # --all takes legacy roots only
    assert sample.special["soft_deleted"] not in trees
    # never a secret: every environment a plan shows is a digest (the updated tree deletes one)
    environments = [c["before"]["environment"] for t in trees.values() for c in t["changes"] if c["table"] == "raw_template"]
    assert environments and all(e is None or e.startswith("sha256:") for e in environments)


def test_dry_run_special_shapes(sample_db):
    url, sample = sample_db
    ids = [sample.special[k] for k in ("updated", "deep_nested", "backup_parent", "legacy_root_with_convergence_child")]
    result = cli("--db", url, "migrate", "--dry-run", *ids, "--format", "json")
    assert result.exit_code == 0, result.stderr
    trees = {t["root_id"]: t for t in json.loads(result.stdout)["trees"]}
    updated = trees[sample.special["updated"]]
    deleted = {c["table"] for c in updated["changes"] if c["op"] == "delete"}
    assert "raw_template" in deleted
    deep = trees[sample.special["deep_nested"]]
    assert len({c["pk"]["id"] for c in deep["changes"] if c["table"] == "stack"}) >= 4  # root + 3 levels
    backup = trees[sample.special["backup_parent"]]
    assert not any(s["name"].endswith("*") for s in backup["stacks"])
    mixed = trees[sample.special["legacy_root_with_convergence_child"]]
    stack_changes = [c for c in mixed["changes"] if c["table"] == "stack"]
    assert len(stack_changes) == 1  # only the legacy root; the convergence child is left alone
    for change in updated["changes"]:
        if change["table"] == "raw_template":
            assert change["before"]["environment"].startswith("sha256:")


def test_dry_run_ids_refusals_and_prune(sample_db):
    url, sample = sample_db
    result = cli("--db", url, "migrate", "--dry-run", "no-such-id", sample.special["soft_deleted"])
    assert result.exit_code == 1
    assert "stack no-such-id not found" in result.stderr
    assert "is deleted" in result.stderr
    result = cli("--db", url, "migrate", "--dry-run", "--prune-orphans",
                 sample.special["stale_row"], sample.special["duplicate_rows"], "--format", "json")
    assert result.exit_code == 0, result.stderr
    for tree in json.loads(result.stdout)["trees"]:
        assert any(c["table"] == "resource" and c["op"] == "delete" for c in tree["changes"])


def test_already_converged_is_nothing_to_do(sample_db):
    url, sample = sample_db
    result = cli("--db", url, "migrate", "--dry-run", sample.special["convergence_root"])
    assert result.exit_code == 0
    assert "already done" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["migrate", "--dry-run"], "nothing selected"),
    (["migrate", "--dry-run", "--all", "abc"], "not both"),
    (["migrate", "--dry-run", "abc", "--tenant", "x"], "--tenant and --limit go with --all"),
    (["migrate", "--dry-run", "--all", "--limit", "0"], "--limit must be at least 1"),
])
def test_conflicting_options(sample_db, args, message):
    url, _ = sample_db
    result = cli("--db", url, *args)
    assert result.exit_code == 2
    assert message in result.stderr and result.stdout == ""
