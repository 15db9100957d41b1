"""The product's central promises, each with a test that fails when it breaks.

Every test here was checked by planting the bug it names in the product (see
docs/TESTING.md, "Planted bugs"): the write-ahead rule, locks released on
error, every recovery verdict, the dry run writing nothing, the selection
options, the retry link, the compare-and-swap columns, rollback's membership
check and what pruning deletes. Expected values are written out by hand from
the reference (heat-convergence.md) and the sample's documented shapes, not
computed by the code under test.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa

from events import EventLog, EventStoreError
from events.domain import StackHistory
from migrator.heat import schema
from migrator.heat.connection import make_engine

from helpers import cli, cli_json, convmig, dump, dump_all, tree_rows


def _rows(url, query):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
    finally:
        engine.dispose()


def _execute(url, statement):
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(statement)
    finally:
        engine.dispose()


def converged(url, ids) -> dict[str, bool]:
    st = schema.stack
    return {r["id"]: bool(r["convergence"]) for r in _rows(url, sa.select(st.c.id, st.c.convergence).where(st.c.id.in_(ids)))}


def locks(url) -> list[dict]:
    return _rows(url, sa.select(schema.stack_lock))


def history(url, stack_id) -> list[str]:
    """The kinds of the tree's log entries, oldest first (read through the events API)."""
    log = EventLog.open(url)
    try:
        hist = log.stack(stack_id)
        return [e["kind"] for e in hist.entries] if hist else []
    finally:
        log.close()


# --------------------------------------------------------------------------- write-ahead and locks


def test_event_log_failing_mid_run_stops_before_heat_is_touched(make_sample, monkeypatch):
    """The store fails while the second batch's plans are recorded: that batch's
    trees (and every later one) stay byte-identical, the first batch is
    migrated and logged, and no stack lock of the run is left behind."""
    url, sample = make_sample(6, 61, specials=False)
    roots = sorted(sample.roots)  # --all pages legacy roots by id
    untouched = {r: tree_rows(url, r) for r in roots[2:]}
    real = EventLog.save
    plan_saves = []

    def failing_save(self, *aggregates):
        if any(isinstance(a, StackHistory) and a.pending for a in aggregates if a is not None):
            plan_saves.append(1)
            if len(plan_saves) == 2:
                raise EventStoreError("disk I/O error (planted)")
        return real(self, *aggregates)

    monkeypatch.setattr(EventLog, "save", failing_save)
    result = cli("--db", url, "migrate", "--all", "--batch-size", "2")
    monkeypatch.undo()
    assert result.exit_code == 1
    assert "event log write failed" in result.stderr and "planted" in result.stderr
    assert locks(url) == []  # right after the failing run, before anything re-runs
    assert converged(url, roots) == {r: r in roots[:2] for r in roots}
    for r in roots[2:]:
        assert tree_rows(url, r) == untouched[r], r
    for r in roots[:2]:
        assert history(url, r) == ["planned", "applied"], r
    for r in roots[2:]:
        assert history(url, r) == [], r  # nothing recorded, nothing applied


def test_locks_are_released_after_a_drifted_tree(make_sample, monkeypatch):
    """A tree refused for drift in the first batch is unlocked before the next
    batch starts (Heat may act on it while a long run goes on), and the run
    leaves no lock."""
    import migrator.execution.runner as runner

    url, sample = make_sample(2, 7, specials=False)
    first, second = sorted(sample.roots)
    real = runner.Runner._record_plans
    held = []

    def heat_acts(self, *args):
        held.append(sorted(r["stack_id"] for r in locks(url)))
        histories = real(self, *args)
        _execute(url, schema.stack.update().where(schema.stack.c.id == first).values(status="FAILED"))
        return histories

    monkeypatch.setattr(runner.Runner, "_record_plans", heat_acts)
    result = cli("--db", url, "migrate", first, second, "--batch-size", "1")
    assert result.exit_code == 1 and "changed since it was planned" in result.stderr
    members = {r: [s["id"] for s in tree_rows(url, r)["stacks"]] for r in (first, second)}
    assert held == [sorted(members[first]), sorted(members[second])]
    assert locks(url) == []


def test_locks_are_released_when_the_database_write_fails(make_sample, monkeypatch):
    """A tree whose write fails (the batch, then the tree alone) leaves no lock."""
    import migrator.execution.apply as apply

    url, sample = make_sample(2, 7, specials=False)

    def broken_write(conn, changes):
        raise sa.exc.OperationalError("UPDATE stack", {}, Exception("server has gone away (planted)"))

    monkeypatch.setattr(apply, "write", broken_write)
    result = cli("--db", url, "migrate", *sample.roots)
    assert result.exit_code == 1 and "planted" in result.stderr
    assert locks(url) == []
    assert converged(url, sample.roots) == {r: False for r in sample.roots}


# --------------------------------------------------------------------------- recovery verdicts


def _kill(url, point, *selection):
    killed = convmig(url, "migrate", *selection, "--batch-size", "1", failpoint=point)
    assert killed.returncode == -9, killed.stderr


@pytest.mark.parametrize("rerun", ["named", "all"])
def test_recovery_not_applied_takes_the_tree_up_again(make_sample, rerun):
    """Killed after its plan was recorded: the next run, whatever it names,
    judges the plan not applied and migrates the tree."""
    url, sample = make_sample(3, 17, specials=False)
    first, other = sorted(sample.roots)[0], sorted(sample.roots)[-1]
    _kill(url, "after-record:1", first)
    again = convmig(url, "migrate", *([other] if rerun == "named" else ["--all"]), "--format", "json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert [(r["root_id"], r["kind"]) for r in report["recovered"]] == [(first, "not_applied")]
    assert report["counts"]["migrated"] == (2 if rerun == "named" else 3)
    assert converged(url, [first, other]) == {first: True, other: True}
    assert history(url, first) == ["planned", "recovered", "planned", "applied"]


@pytest.mark.parametrize("rerun", ["named", "all"])
def test_recovery_applied_is_not_migrated_twice(make_sample, rerun):
    url, sample = make_sample(3, 17, specials=False)
    first, other = sorted(sample.roots)[0], sorted(sample.roots)[-1]
    _kill(url, "after-apply:1", first)
    migrated = dump(url)
    again = convmig(url, "migrate", *([other] if rerun == "named" else ["--all"]), "--format", "json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert [(r["root_id"], r["kind"]) for r in report["recovered"]] == [(first, "applied")]
    assert report["counts"]["migrated"] == (1 if rerun == "named" else 2)
    assert history(url, first) == ["planned", "recovered"]
    assert tree_rows(url, first)["stacks"] == [s for s in migrated["stack"] if s["id"] == first]


@pytest.mark.parametrize("rerun", ["named", "all"])
def test_recovery_drifted_leaves_the_tree_alone(make_sample, rerun):
    """Killed after recording; then Heat acts on the root (the status and the
    updated_at stamp change): the plan matches neither image, the verdict is
    drifted, and the tree is not taken up on the strength of the old plan."""
    url, sample = make_sample(3, 17, specials=False)
    first, other = sorted(sample.roots)[0], sorted(sample.roots)[-1]
    _kill(url, "after-record:1", first)
    _execute(url, schema.stack.update().where(schema.stack.c.id == first)
             .values(status="FAILED", action="UPDATE", updated_at=datetime(2030, 1, 1)))
    acted = tree_rows(url, first)
    again = convmig(url, "migrate", *([other] if rerun == "named" else ["--all"]), "--format", "json")
    report = json.loads(again.stdout)
    [verdict] = report["recovered"]
    assert (verdict["root_id"], verdict["kind"]) == (first, "drifted")
    assert "matches neither the recorded before- nor after-image" in verdict["reason"]
    assert tree_rows(url, first) == acted  # refused as UPDATE_FAILED by --all, not named otherwise
    assert history(url, first)[:2] == ["planned", "recovered"]
    assert "applied" not in history(url, first)
    log = EventLog.open(url)
    try:
        assert log.stack(first).entries[1]["outcome"] == "drifted"
    finally:
        log.close()


# --------------------------------------------------------------------------- dry run, selection, retry


def test_dry_run_leaves_an_existing_log_byte_identical(sample_db, tmp_path):
    url, sample = sample_db
    store = tmp_path / "events.sqlite"
    assert cli("--db", url, "--event-store", f"sqlite:///{store}", "migrate", sample.special["updated"]).exit_code == 0
    before = store.read_bytes()
    result = cli("--db", url, "--event-store", f"sqlite:///{store}", "migrate", "--dry-run", "--all")
    assert result.exit_code == 1  # the sample's refused trees
    assert store.read_bytes() == before


def test_dry_run_writes_nothing_to_a_log_in_heats_database(sample_db):
    """The default log lives in Heat's database: every table, Heat's and the log's, unchanged."""
    url, sample = sample_db
    assert cli("--db", url, "migrate", sample.special["updated"]).exit_code == 0
    before = dump_all(url)
    assert cli("--db", url, "migrate", "--dry-run", "--all").exit_code == 1
    assert dump_all(url) == before


def _legacy_roots(url, tenant=None) -> list[str]:
    """Legacy roots as the reference defines them, by a query written here."""
    st = schema.stack
    q = sa.select(st.c.id).where(st.c.owner_id.is_(None), st.c.deleted_at.is_(None),
                                 sa.or_(st.c.convergence.is_(None), st.c.convergence == sa.false()))
    if tenant:
        q = q.where(st.c.tenant == tenant)
    return sorted(r["id"] for r in _rows(url, q))


def test_tenant_takes_only_that_projects_trees(make_sample):
    url, _sample = make_sample(9, 23, specials=False)
    tenants = sorted({r["tenant"] for r in _rows(url, sa.select(schema.stack.c.tenant))})
    assert len(tenants) >= 2  # else the test proves nothing
    mine, everyone = _legacy_roots(url, tenants[0]), _legacy_roots(url)
    result, report = cli_json("--db", url, "migrate", "--all", "--tenant", tenants[0])
    assert result.exit_code == 0, result.stderr
    assert report["counts"] == {"migrated": len(mine)}
    assert _legacy_roots(url) == sorted(set(everyone) - set(mine))


@pytest.mark.parametrize("limit", [1, 4])
def test_limit_takes_at_most_that_many_trees(make_sample, limit):
    url, _sample = make_sample(6, 23, specials=False)
    everyone = _legacy_roots(url)
    result, report = cli_json("--db", url, "migrate", "--all", "--limit", str(limit), "--batch-size", "3")
    assert result.exit_code == 0, result.stderr
    assert report["counts"] == {"migrated": limit}
    assert len(_legacy_roots(url)) == len(everyone) - limit


def test_retry_is_linked_to_the_run_it_continues(make_sample):
    url, sample = make_sample(3, 17, specials=False)
    _kill(url, "after-apply:1", "--all")
    log = EventLog.open(url)
    try:
        killed = log.last_run(command="migrate")
    finally:
        log.close()
    again = convmig(url, "migrate", "--retry", "--format", "json")
    assert again.returncode == 0, again.stderr
    log = EventLog.open(url)
    try:
        retry = log.get_run(uuid.UUID(json.loads(again.stdout)["run_id"]))
    finally:
        log.close()
    assert retry.id != killed.id and retry.retry_of == killed.id


# --------------------------------------------------------------------------- compare-and-swap

#: Columns Heat writes when it acts on a stack or a resource (an update stamps
#: updated_at and sets action/status, stores a new template, replaces rows;
#: reference §1.6 and §4), each with a value Heat could write: every one must
#: make a planned tree drift. Written by hand, not read from STACK_IMAGE.
HEAT_WRITES = [
    ("stack", "action", "CHECK"),
    ("stack", "status", "IN_PROGRESS"),
    ("stack", "updated_at", datetime(2030, 1, 1, 0, 0, 1)),  # a Heat action that only re-stamps the stack
    ("stack", "name", "renamed-by-heat"),
    ("stack", "raw_template_id", "PREV"),  # a new template stored by an update
    ("stack", "prev_raw_template_id", None),
    ("stack", "deleted_at", datetime(2030, 1, 1)),
    ("stack", "convergence", True),
    ("stack", "current_traversal", "0" * 36),
    ("stack", "backup", True),
    ("resource", "action", "CHECK"),
    ("resource", "status", "FAILED"),
    ("resource", "updated_at", datetime(2030, 1, 1, 0, 0, 1)),
    ("resource", "name", "renamed"),
    ("resource", "requires", "[999999]"),
    ("resource", "needed_by", "[999999]"),
    ("resource", "current_template_id", "CURRENT"),
    ("resource", "replaced_by", 999999),
    ("resource", "replaces", 999999),
]


@pytest.mark.parametrize("table, column, value", HEAT_WRITES, ids=[f"{t}.{c}" for t, c, _ in HEAT_WRITES])
def test_heat_writing_any_compared_column_refuses_the_tree(make_sample, monkeypatch, table, column, value):
    """A Heat-like writer changes one column of the root stack (or of one of its
    resources) after the plan is recorded: the tree is refused as drift and
    nothing of it is written."""
    import migrator.execution.runner as runner

    url, sample = make_sample(2, 29, specials=False)
    root = next(r for r in sample.roots if _stack(url, r)["prev_raw_template_id"])
    st = _stack(url, root)
    value = {"PREV": st["prev_raw_template_id"], "CURRENT": st["raw_template_id"]}.get(value, value)
    target = schema.stack.c.id == root if table == "stack" else schema.resource.c.id == _first_resource(url, root)
    real = runner.Runner._record_plans
    acted = {}

    def heat_like_writer(self, *args):
        histories = real(self, *args)
        _execute(url, schema.metadata.tables[table].update().where(target).values({column: value}))
        acted["rows"] = tree_rows(url, root)
        return histories

    monkeypatch.setattr(runner.Runner, "_record_plans", heat_like_writer)
    result, report = cli_json("--db", url, "migrate", root)
    assert result.exit_code == 1, result.stderr
    assert [p["kind"] for p in report["problems"]] == ["drift"]
    assert f".{column}:" in report["problems"][0]["reason"]
    assert tree_rows(url, root) == acted["rows"]


def _stack(url, sid) -> dict:
    return _rows(url, sa.select(schema.stack).where(schema.stack.c.id == sid))[0]


def _first_resource(url, sid) -> int:
    r = schema.resource
    return min(x["id"] for x in _rows(url, sa.select(r.c.id).where(r.c.stack_id == sid)))


# --------------------------------------------------------------------------- rollback and pruning


def test_rollback_refuses_a_tree_convergence_added_a_nested_stack_to(sample_db):
    url, sample = sample_db
    root = sample.special["deep_nested"]
    assert cli("--db", url, "migrate", root).exit_code == 0
    parent = _stack(url, root)
    child = {**parent, "id": "c0ffee00-0000-4000-8000-000000000001", "name": "added-by-convergence",
             "owner_id": root, "nested_depth": 1, "parent_resource_name": "added", "prev_raw_template_id": None}
    _execute(url, schema.stack.insert().values(child))
    before = dump(url)
    result = cli("--db", url, "rollback", root, "--yes")
    assert result.exit_code == 1
    assert f"stack[id={child['id']}]: expected no nested stack, found a nested stack created since" in result.stderr
    assert dump(url) == before


def _resources(url, root) -> list[dict]:
    r = schema.resource
    return _rows(url, sa.select(r).where(r.c.stack_id == root).order_by(r.c.id))


def test_prune_deletes_exactly_the_stale_and_the_losing_duplicate_row(sample_db):
    """The sample documents its oddities: ``legacy_lb`` is the stale row, and of the
    two ``server`` rows the older CREATE_FAILED one loses. Those go (with their
    resource_data and properties data); every other row and every properties
    data row another resource still uses stays."""
    url, sample = sample_db
    stale, dup = sample.special["stale_row"], sample.special["duplicate_rows"]
    rows = {r["id"]: r for root in (stale, dup) for r in _resources(url, root)}
    doomed = {r["id"] for r in rows.values() if r["name"] == "legacy_lb"} | {
        r["id"] for r in rows.values() if r["name"] == "server" and (r["action"], r["status"]) == ("CREATE", "FAILED")}
    assert len(doomed) == 2
    kept = next(r for r in rows.values() if r["id"] not in doomed and r["rsrc_prop_data_id"] and r["stack_id"] == stale)
    stale_row = next(r for r in rows.values() if r["name"] == "legacy_lb")
    own_props = stale_row["rsrc_prop_data_id"]
    # the losing duplicate shares its properties data with a row that stays
    loser = next(rows[i] for i in doomed if i != stale_row["id"])
    _execute(url, schema.resource.update().where(schema.resource.c.id == loser["id"])
             .values(rsrc_prop_data_id=kept["rsrc_prop_data_id"]))
    rpd = schema.resource_properties_data
    props_before = {r["id"] for r in _rows(url, sa.select(rpd.c.id))}
    result = cli("--db", url, "migrate", "--prune-orphans", stale, dup)
    assert result.exit_code == 0, result.stderr
    left = {r["id"] for root in (stale, dup) for r in _resources(url, root)}
    assert left == set(rows) - doomed
    assert {r["id"] for r in _rows(url, sa.select(rpd.c.id))} == props_before - {own_props}
