"""No message shows a secret: every path that prints row values shows template
environments, passwords and secret resource data as digests.

Each test plants a real hidden parameter (a password in plain text, as a
legacy stack's environment stores it) in the previous raw template of the
sample's updated tree (the row a migration deletes, so its whole image is
compared), makes that row change where the path needs it, and looks for the
password everywhere the operator could read it: stdout, stderr, the JSON
report, the log's events and ``log --changes``. Each test also checks that
the message still names the column and shows the digests, so a test cannot
pass because the message lost its content.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from events.chain import value_digest
from migrator.execution import apply
from migrator.heat import schema
from migrator.heat.connection import make_engine
from migrator.planning.changes import DELETE, UPDATE, RowChange

from helpers import cli, cli_json, convmig

OLD = "hunter2-Old-7f3a9c"  # the hidden parameter's value when planned
NEW = "hunter2-New-2b8e1d"  # and after "Heat" re-stored the environment


def plant(url: str, root: str, password: str) -> tuple[int, str]:
    """Store ``password`` as the hidden ``db_password`` parameter in the
    environment of ``root``'s previous raw template: (template id, environment)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            tid = conn.execute(sa.select(schema.stack.c.prev_raw_template_id).where(schema.stack.c.id == root)).scalar()
            if tid is None:  # a rollback re-inserted it: find it by the stack's old id in the log's image
                raise AssertionError(f"stack {root} has no previous raw template")
            return tid, _store(conn, tid, password)
    finally:
        engine.dispose()


def _store(conn, tid: int, password: str) -> str:
    env = json.loads(conn.execute(sa.select(schema.raw_template.c.environment)
                                  .where(schema.raw_template.c.id == tid)).scalar() or "{}")
    env.setdefault("parameters", {})["db_password"] = password
    text = json.dumps(env, sort_keys=True)
    conn.execute(schema.raw_template.update().where(schema.raw_template.c.id == tid).values(environment=text))
    return text


def restore_password(url: str, tid: int, password: str) -> str:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            return _store(conn, tid, password)
    finally:
        engine.dispose()


def log_text(url: str, root: str) -> str:
    """Everything ``convmig log`` shows about the tree: events (JSON and table) and changes."""
    parts = [cli("--db", url, "log", "--format", fmt, "--limit", "100000").stdout for fmt in ("json", "table")]
    parts += [cli("--db", url, "log", "--stack", root, "--changes", "--format", fmt).stdout for fmt in ("json", "table")]
    return "\n".join(parts)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert OLD not in text and NEW not in text, text


# ------------------------------------------------------------ drift at apply


@pytest.mark.parametrize("path", ["batch", "one tree at a time"])
def test_drift_refusal_shows_digests_not_the_password(sample_db, monkeypatch, path):
    """The row the migration deletes changes between plan and apply: the refusal
    names raw_template.environment and its digests, on every output."""
    import migrator.execution.runner as runner

    url, sample = sample_db
    root = sample.special["updated"]
    tid, old_env = plant(url, root, OLD)
    real = runner.Runner._record_plans
    new_env = {}

    def heat_restores_the_environment(self, *args):
        histories = real(self, *args)
        new_env["text"] = restore_password(url, tid, NEW)
        return histories

    monkeypatch.setattr(runner.Runner, "_record_plans", heat_restores_the_environment)
    if path != "batch":  # the batch write fails, so each tree is applied (and compared) on its own
        monkeypatch.setattr(runner, "apply_many", _fail_batch)
    result, report = cli_json("--db", url, "migrate", root)
    assert result.exit_code == 1, result.stderr
    [problem] = report["problems"]
    assert problem["kind"] == "drift"
    where = f"raw_template[id={tid}].environment: expected {value_digest(old_env)!r}, found {value_digest(new_env['text'])!r}"
    assert where in problem["reason"] and where in result.stderr
    events = json.loads(cli("--db", url, "log", "--stack", root, "--format", "json").stdout)
    failed = [e for e in events if e["event"] == "failed"]
    assert failed and all(where in json.dumps(e) for e in failed)
    assert_no_secret(result.stdout, result.stderr, log_text(url, root))


def _fail_batch(conn, plans):
    raise ValueError("plans disagree on the order of their steps; apply them one by one")


# ------------------------------------------------------------ recovery verdict


def test_recovered_drifted_verdict_shows_digests_not_the_password(sample_db):
    """A rollback dies after its commit; the re-inserted template's environment is
    then changed: the next run judges the tree drifted, and says so by digest."""
    url, sample = sample_db
    root = sample.special["updated"]
    tid, _ = plant(url, root, OLD)
    assert convmig(url, "migrate", root).returncode == 0
    killed = convmig(url, "rollback", root, "--yes", failpoint="after-apply")
    assert killed.returncode == -9, killed.stderr
    old_env = _environment(url, tid)
    assert OLD in old_env  # the rollback re-inserted the row with the password
    new_env = restore_password(url, tid, NEW)
    again = convmig(url, "rollback", root, "--yes", "--format", "json")
    report = json.loads(again.stdout)
    [verdict] = report["recovered"]
    assert verdict["kind"] == "drifted", verdict
    where = f"raw_template[id={tid}].environment: expected {value_digest(old_env)!r}, found {value_digest(new_env)!r}"
    assert where in verdict["reason"] and where in again.stderr
    recovered = [e for e in json.loads(cli("--db", url, "log", "--stack", root, "--format", "json").stdout)
                 if e["event"].endswith("recovered")]
    assert recovered and where in json.dumps(recovered)
    assert_no_secret(again.stdout, again.stderr, log_text(url, root))


def _environment(url: str, tid: int) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(schema.raw_template.c.environment)
                                .where(schema.raw_template.c.id == tid)).scalar()
    finally:
        engine.dispose()


# ------------------------------------------------------------ plans


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_dry_run_plan_shows_digests_not_the_password(sample_db, fmt):
    url, sample = sample_db
    root = sample.special["updated"]
    tid, env = plant(url, root, OLD)
    result = cli("--db", url, "migrate", "--dry-run", root, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert_no_secret(result.stdout, result.stderr)
    if fmt == "json":
        [tree] = json.loads(result.stdout)["trees"]
        [deleted] = [c for c in tree["changes"] if c["table"] == "raw_template" and c["pk"]["id"] == tid]
        assert deleted["op"] == "delete" and deleted["before"]["environment"] == value_digest(env)


# ------------------------------------------------------------ the rule, column by column

SECRET_CELLS = [
    ("raw_template", "environment", {}),
    ("raw_template", "files", {}),
    ("resource", "properties_data", {}),
    ("resource_properties_data", "data", {}),
    ("resource_data", "value", {"redact": True}),
    ("resource_data", "value", {}),  # flag unknown (an update's image): secret
    ("user_creds", "password", {}),
    ("user_creds", "trust_id", {}),
]


@pytest.mark.parametrize("table, column, flags", SECRET_CELLS)
def test_every_secret_column_is_a_digest_in_drift_messages(table, column, flags):
    """compare() (rollback refusals and the executor) and Drift describe a
    changed secret column by digest, whichever table holds it."""
    change = RowChange(table, {"id": 1}, DELETE, {"id": 1, column: OLD, **flags}, None)
    current = {table: {1: {"id": 1, column: NEW, **flags}}}
    [diff] = apply.compare([change], current)
    message = str(apply.Drift([diff]))
    assert f"{table}[id=1].{column}: expected {value_digest(OLD)!r}, found {value_digest(NEW)!r}" == message
    assert_no_secret(message, diff.describe())


def test_non_secret_columns_and_unredacted_resource_data_stay_readable():
    """The rule hides secrets only: an operator still reads an ordinary drift."""
    changes = [RowChange("resource", {"id": 1}, UPDATE, {"status": "COMPLETE"}, {"requires": "[]"}),
               RowChange("resource_data", {"id": 2}, DELETE, {"id": 2, "value": "vol-1", "redact": False}, None)]
    current = {"resource": {1: {"id": 1, "status": "FAILED"}},
               "resource_data": {2: {"id": 2, "value": "vol-2", "redact": False}}}
    assert [d.describe() for d in apply.compare(changes, current)] == [
        "resource[id=1].status: expected 'COMPLETE', found 'FAILED'",
        "resource_data[id=2].value: expected 'vol-1', found 'vol-2'",
    ]
