"""`convmig status`, `convmig demo` and the bad-input paths, through the CLI."""

from __future__ import annotations

import json

import pytest
from helpers import cli


pytestmark = pytest.mark.sample(12, 3)


def test_status_json_counts_and_blocked(sample_db):
    url, sample = sample_db
    result = cli("--db", url, "status", "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    engines = {r["engine"] for r in report["counts"]}
    assert engines == {"legacy", "convergence"}
    roots = sum(r["roots"] for r in report["counts"])
    assert roots == len(sample.roots) - 1  # the soft-deleted root is not counted
    blocked = {b["root_id"]: [r["message"] for r in b["reasons"]] for b in report["blocked"]}
    assert sample.special["failed_root"] in blocked
    assert sample.special["nested_in_progress"] in blocked
    assert any("nested stack" in r and "IN_PROGRESS" in r for r in blocked[sample.special["nested_in_progress"]])
    assert sample.special["convergence_root"] not in blocked
    assert result.stderr == ""


def test_status_names_every_tree_migrate_refuses(sample_db):
    url, _sample = sample_db
    status = json.loads(cli("--db", url, "status", "--format", "json").stdout)
    blocked = {b["root_id"]: {r["kind"] for r in b["reasons"]} for b in status["blocked"]}
    migrated = cli("--db", url, "migrate", "--all", "--format", "json")
    refused = {p["root_id"]: p["kind"] for p in json.loads(migrated.stdout)["problems"]}
    assert set(blocked) == set(refused)
    assert all(refused[r] in blocked[r] for r in refused)
    assert {"stale_rows", "duplicate_rows", "undecidable", "failed_state", "in_progress"} <= set().union(*blocked.values())


def test_status_table_groups_reasons_and_fits_100_columns(sample_db):
    url, _sample = sample_db
    table = cli("--db", url, "status").stdout
    assert max(len(line) for line in table.splitlines()) <= 100
    assert "rows not in the template" in table and "value unknown offline" in table


def test_status_table_and_tenant_filter(sample_db):
    url, _ = sample_db
    result = cli("--db", url, "status", "--tenant", "no-such-tenant")
    assert result.exit_code == 3  # a tenant that matches nothing is a warning, not success
    assert "(no stacks)" in result.stdout
    assert result.stderr == ("convmig: warning: no stack of tenant no-such-tenant: "
                             "check the project id (openstack project list)\n")


def test_status_warns_about_legacy_default(sample_db, tmp_path):
    url, _ = sample_db
    conf = tmp_path / "heat.conf"
    conf.write_text(f"[DEFAULT]\nconvergence_engine = false\n[database]\nconnection = {url}\n")
    result = cli("--heat-config", str(conf), "status")
    assert result.exit_code == 0
    assert "convergence_engine = false" in result.stderr
    assert "legacy" in result.stdout


def test_demo_builds_and_shows_status(tmp_path):
    path = tmp_path / "demo.sqlite"
    result = cli("demo", str(path), "--roots", "5")
    assert result.exit_code == 0, result.stderr
    assert path.exists()
    assert "built a sample Heat database" in result.stderr
    assert "root stacks" in result.stdout
    again = cli("demo", str(path))
    assert again.exit_code == 2 and "already exists" in again.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["status"], "no database given"),
        (["--db", "sqlite:////nonexistent/heat.sqlite", "status"], "no SQLite database at"),
        (["--db", "not a url", "status"], "cannot parse the database URL"),
        (["--heat-config", "/nonexistent/heat.conf", "status"], "cannot read heat config"),
    ],
)
def test_bad_input_one_line(args, message):
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_heat_conf_without_connection(tmp_path):
    conf = tmp_path / "heat.conf"
    conf.write_text("[DEFAULT]\ndebug = true\n")
    result = cli("--heat-config", str(conf), "status")
    assert result.exit_code == 2
    assert "has no [database] connection" in result.stderr


def test_not_a_heat_database(tmp_path):
    import sqlite3

    path = tmp_path / "other.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE customers (id INTEGER)").connection.commit()
    result = cli("--db", f"sqlite:///{path}", "status")
    assert result.exit_code == 1
    assert result.stderr.startswith("convmig: error: not a Heat database")


def test_wrong_password_never_echoed():
    url = "mysql+pymysql://root:Sup3rSecretPw@127.0.0.1:3306/test"
    result = cli("--db", url, "status")
    assert result.exit_code == 1
    assert "Sup3rSecretPw" not in result.stderr + result.stdout
    assert "***" in result.stderr


def test_unreachable_host_is_bounded():
    result = cli("--db", "postgresql://heat@127.0.0.1:1/heat", "status")
    assert result.exit_code == 1
    assert "cannot use database postgresql+psycopg://heat@127.0.0.1:1/heat" in result.stderr
