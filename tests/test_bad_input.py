"""The bad-input catalogue: each case gives one clear line on stderr, the
documented exit code, and leaves every database untouched."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from migrator.heat import schema
from migrator.heat.connection import make_engine
from migrator.sample.build import build_sample

from helpers import cli, dump, read_only_user

RUN_ID = str(uuid.UUID(int=7))


pytestmark = pytest.mark.sample(3, 13)


def _sql(url, *statements, params=None):
    engine = make_engine(url)
    with engine.begin() as conn:
        for s in statements:
            conn.execute(sa.text(s), params or {})
    engine.dispose()


def _template_of(url, stack_id):
    engine = make_engine(url)
    with engine.connect() as conn:
        tid = conn.execute(sa.select(schema.stack.c.raw_template_id).where(schema.stack.c.id == stack_id)).scalar()
        text = conn.execute(sa.select(schema.raw_template.c.template).where(schema.raw_template.c.id == tid)).scalar()
    engine.dispose()
    return tid, json.loads(text)


def _set_template(url, tid, template):
    text = template if isinstance(template, str) else json.dumps(template)
    _sql(url, "UPDATE raw_template SET template = :t WHERE id = :i", params={"t": text, "i": tid})


def assert_one_line(result, code, *needles):
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert len(lines) == 1, result.stderr
    for n in needles:
        assert n in lines[0], lines[0]


# ----------------------------------------------------------------- stack ids


@pytest.mark.parametrize("case, code, needle", [
    ("unknown", 1, "not found"),
    ("malformed", 1, "not found"),
    ("nested", 1, "is nested: migrate its root stack"),
    ("soft_deleted", 1, "is deleted"),
    ("backup", 1, "is nested"),
    ("failed", 1, "CREATE_FAILED: fix or update it first"),
    ("in_progress", 3, "wait for it to finish and re-run"),
])
def test_stack_id_cases(sample_db, case, code, needle):
    url, sample = sample_db
    engine = make_engine(url)
    with engine.connect() as conn:
        nested = conn.execute(sa.select(schema.stack.c.id).where(schema.stack.c.owner_id == sample.special["deep_nested"])).scalar()
        backup = conn.execute(sa.select(schema.stack.c.id).where(schema.stack.c.backup == sa.true())).scalar()
    engine.dispose()
    stack_id = {"unknown": str(uuid.uuid4()), "malformed": "'; DROP TABLE stack; --", "nested": nested,
                "soft_deleted": sample.special["soft_deleted"], "backup": backup,
                "failed": sample.special["failed_root"], "in_progress": sample.special["in_progress_root"]}[case]
    before = dump(url)
    assert_one_line(cli("--db", url, "migrate", stack_id), code, needle)
    assert dump(url) == before


# ----------------------------------------------------------------- options


@pytest.mark.parametrize("args, needle", [
    (["migrate"], "nothing selected"),
    (["migrate", "--all", "x"], "not both"),
    (["migrate", "x", "--tenant", "t"], "--tenant and --limit go with --all"),
    (["migrate", "--all", "--limit", "0"], "--limit must be at least 1"),
    (["migrate", "--retry", "--all"], "--retry takes the selection"),
    (["migrate", "--retry", "--dry-run"], "cannot be combined with --dry-run"),
    (["migrate", "--retry", "not-a-run"], "not a run id"),
    (["rollback", "x", "--run", RUN_ID], "not both"),
    (["rollback", "--yes"], "nothing selected"),
    (["rollback", "--run", "nope", "--yes"], "not a run id"),
    (["log", "--changes"], "--changes needs --stack"),
    (["verify"], "STACK_IDs or --all"),
])
def test_conflicting_or_missing_options(sample_db, args, needle):
    url, _ = sample_db
    before = dump(url)
    assert_one_line(cli("--db", url, *args), 2, needle)
    assert dump(url) == before


def test_retry_with_no_run(sample_db):
    url, _ = sample_db
    assert_one_line(cli("--db", url, "migrate", "--retry"), 1, "no migrate run to retry")
    assert_one_line(cli("--db", url, "rollback", "--retry", "--yes"), 1, "no rollback run to retry")


def test_rollback_of_run_not_in_log(sample_db):
    url, _ = sample_db
    assert_one_line(cli("--db", url, "rollback", "--run", RUN_ID, "--yes"), 1, f"no run {RUN_ID} in the event log", "--event-store")


# ----------------------------------------------------------------- templates


def test_corrupt_template_json(sample_db):
    url, sample = sample_db
    root = sample.special["updated"]
    tid, _ = _template_of(url, root)
    _set_template(url, tid, '{"heat_template_version": "2018-08-31", "resources": {')
    before = dump(url)
    assert_one_line(cli("--db", url, "migrate", root), 1, "is not valid JSON")
    assert dump(url) == before


def test_template_references_missing_resource(sample_db):
    url, sample = sample_db
    root = sample.special["missing_row"]
    tid, tmpl = _template_of(url, root)
    res = tmpl.get("resources") or tmpl["Resources"]
    first = next(iter(res))
    res[first]["depends_on" if "resources" in tmpl else "DependsOn"] = "no_such_resource"
    _set_template(url, tid, tmpl)
    before = dump(url)
    assert_one_line(cli("--db", url, "migrate", root), 1, "no_such_resource")
    assert dump(url) == before


def test_dependency_cycle(sample_db):
    url, sample = sample_db
    root = sample.special["missing_row"]
    tid, tmpl = _template_of(url, root)
    tmpl["resources"] = {"a": {"type": "OS::Heat::None", "depends_on": "b"},
                         "b": {"type": "OS::Heat::None", "depends_on": ["a"]}}
    _set_template(url, tid, tmpl)
    _sql(url, "DELETE FROM resource_data WHERE resource_id IN (SELECT id FROM resource WHERE stack_id = :s)", params={"s": root})
    before = dump(url)
    result = cli("--db", url, "migrate", root)
    assert result.exit_code == 1 and "dependency cycle" in result.stderr
    assert dump(url) == before


def test_encrypted_parameter_decides_condition(sample_db):
    url, sample = sample_db
    before = dump(url)
    assert_one_line(cli("--db", url, "migrate", sample.special["encrypted_condition"]), 1, "is encrypted")
    assert dump(url) == before


# ----------------------------------------------------------------- databases


def test_non_heat_database(tmp_path):
    import sqlite3

    path = tmp_path / "x.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (id INTEGER)").connection.commit()
    assert_one_line(cli("--db", f"sqlite:///{path}", "migrate", "--all"), 1, "not a Heat database")


def test_older_heat_schema(sample_db):
    url, _ = sample_db
    _sql(url, "ALTER TABLE stack DROP COLUMN current_deps")
    before = dump(url, exclude=("stack",))
    assert_one_line(cli("--db", url, "migrate", "--all"), 1, "Heat schema too old", "stack.current_deps")
    assert dump(url, exclude=("stack",)) == before


def test_unreachable_host_bounded():
    result = cli("--db", "mysql+pymysql://heat@127.0.0.1:9/heat", "migrate", "--all")
    assert_one_line(result, 1, "cannot use database mysql+pymysql://heat@127.0.0.1:9/heat")


def test_wrong_password_never_echoed(sample_db):
    result = cli("--db", "postgresql://nosuchuser:Hunter2Secret@127.0.0.1:5432/test", "status")
    assert result.exit_code == 1
    assert "Hunter2Secret" not in result.stdout + result.stderr


def test_event_store_unreachable_touches_nothing(sample_db):
    url, _ = sample_db
    before = dump(url)
    result = cli("--db", url, "--event-store", "postgresql://x@127.0.0.1:9/x", "migrate", "--all")
    assert_one_line(result, 1, "event log unavailable, nothing was changed")
    assert dump(url) == before


def test_read_only_database_user(db_url, request):
    engine = make_engine(db_url, must_exist=False)
    sample = build_sample(engine, roots=2, seed=13)
    dialect = engine.dialect.name
    engine.dispose()
    if dialect == "sqlite":
        # a read-only connection (root ignores file modes, so chmod proves nothing as root)
        ro_url = f"sqlite:///file:{sa.engine.make_url(db_url).database}?mode=ro&uri=true"
    else:
        ro_url = read_only_user(db_url, dialect, request)
    before = dump(db_url)
    result = cli("--db", ro_url, "migrate", sample.special["updated"])
    assert result.exit_code == 1
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and any(w in lines[0] for w in ("denied", "permission", "read-only", "readonly")), result.stderr
    assert dump(db_url) == before


def test_tampered_log_is_reported(sample_db):
    url, sample = sample_db
    assert cli("--db", url, "migrate", sample.special["updated"]).exit_code == 0
    engine = make_engine(url)
    with engine.begin() as conn:
        first = conn.execute(sa.text("SELECT MAX(id) FROM convmig_events")).scalar()
        conn.execute(sa.text("DELETE FROM convmig_events WHERE id = :i"), {"i": first - 1})
    engine.dispose()
    result = cli("--db", url, "log", "--verify")
    assert result.exit_code == 1
    assert "findings" in result.stderr


def test_rollback_never_migrated(sample_db):
    url, sample = sample_db
    before = dump(url)
    assert_one_line(cli("--db", url, "rollback", sample.special["convergence_root"], "--yes"), 1,
                    "was not migrated by convmig")
    assert dump(url) == before


def test_live_engine_refused(db_url):
    engine = make_engine(db_url, must_exist=False)
    build_sample(engine, roots=1, seed=2, live_engine=True)
    engine.dispose()
    before = dump(db_url)
    assert_one_line(cli("--db", db_url, "migrate", "--all"), 1, "heat-engine is running", "--online")
    assert dump(db_url) == before
