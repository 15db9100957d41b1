"""The executor on real databases: compare-and-swap, batching, inverse round trip."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from migrator.heat import schema
from migrator.execution.apply import Drift, apply_changes
from migrator.planning.changes import DELETE, UPDATE, RowChange, invert
from migrator.heat.connection import make_engine

from helpers import dump


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url, must_exist=False)
    schema.create_schema(eng)
    with eng.begin() as conn:
        conn.execute(schema.raw_template_files.insert(), [{"id": 5, "files": "{}"}])
        conn.execute(schema.raw_template.insert(), [
            {"id": 1, "template": '{"heat_template_version": "2018-08-31"}', "environment": "{}", "files_id": None},
            {"id": 2, "template": "{}", "environment": '{"parameters": {"pw": "s3cret"}}', "files_id": 5,
             "created_at": datetime(2024, 5, 1, 12, 0, 1)},
        ])
        conn.execute(schema.stack.insert(), [{
            "id": "s1", "name": "web", "raw_template_id": 1, "prev_raw_template_id": 2, "disable_rollback": True,
            "convergence": False, "backup": False, "current_deps": "null", "action": "UPDATE", "status": "COMPLETE",
        }])
        conn.execute(schema.resource.insert(), [
            {"id": i, "name": f"r{i}", "stack_id": "s1", "requires": "[]", "needed_by": "[]", "action": "CREATE",
             "status": "COMPLETE"} for i in (1, 2, 3)
        ])
    yield eng
    eng.dispose()


def _read(conn, table, key):
    return dict(conn.execute(sa.select(table).where(list(table.primary_key.columns)[0] == key)).mappings().one())


def _plan(conn):
    st = _read(conn, schema.stack, "s1")
    changes = [RowChange("stack", {"id": "s1"}, UPDATE, st,
                         {"convergence": True, "current_traversal": "t-1", "prev_raw_template_id": None})]
    for i in (1, 2, 3):
        changes.append(RowChange("resource", {"id": i}, UPDATE, _read(conn, schema.resource, i),
                                 {"current_template_id": 1, "requires": "[1]" if i > 1 else "[]"}))
    changes.append(RowChange("raw_template", {"id": 2}, DELETE, _read(conn, schema.raw_template, 2), None))
    changes.append(RowChange("raw_template_files", {"id": 5}, DELETE, _read(conn, schema.raw_template_files, 5), None))
    return changes


@pytest.mark.parametrize("rows_per_statement", [None, 2])
def test_apply_then_inverse_restores_everything(engine, monkeypatch, rows_per_statement):
    """Each row gets its own values and the inverse restores every table; updates
    go as SQL text to the driver (MySQL and MariaDB's CASE form, executemany
    elsewhere), and with two rows per statement the three resource updates span
    two CASE statements."""
    if rows_per_statement:
        import migrator.execution.apply as apply_module

        monkeypatch.setattr(apply_module, "CASE_ROWS", rows_per_statement)
    with engine.connect() as conn:
        before = dump(conn)
        changes = _plan(conn)
    with engine.begin() as conn:
        apply_changes(conn, changes)
    with engine.connect() as conn:
        st = _read(conn, schema.stack, "s1")
        assert st["convergence"] is True and st["prev_raw_template_id"] is None and st["current_traversal"] == "t-1"
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.raw_template)).scalar() == 1
        rows = {r["id"]: (r["current_template_id"], r["requires"]) for r in dump(conn)["resource"]}
        assert rows == {1: (1, "[]"), 2: (1, "[1]"), 3: (1, "[1]")}
    with engine.begin() as conn:
        apply_changes(conn, invert(changes))
    with engine.connect() as conn:
        assert dump(conn) == before


def test_drift_refuses_and_writes_nothing(engine):
    with engine.connect() as conn:
        changes = _plan(conn)
    with engine.begin() as conn:  # Heat acts on a resource after planning
        conn.execute(schema.resource.update().where(schema.resource.c.id == 3).values(status="FAILED"))
    with engine.connect() as conn:
        before = dump(conn)
    with pytest.raises(Drift) as err:
        with engine.begin() as conn:
            apply_changes(conn, changes)
    assert "resource[id=3].status: expected 'COMPLETE', found 'FAILED'" in str(err.value)
    with engine.connect() as conn:
        assert dump(conn) == before


def test_reinsert_keeps_sequences_ahead(engine):
    with engine.connect() as conn:
        changes = _plan(conn)
    with engine.begin() as conn:
        apply_changes(conn, changes)
    with engine.begin() as conn:
        apply_changes(conn, invert(changes))
    with engine.begin() as conn:  # Heat's next insert without an explicit id must not collide
        conn.execute(schema.raw_template.insert().values(template="{}"))
        ids = sorted(conn.execute(sa.select(schema.raw_template.c.id)).scalars())
    assert len(ids) == 3 and ids[-1] > 2


def test_drift_lists_every_difference_and_counts_the_rest(engine):
    with engine.connect() as conn:
        changes = _plan(conn)
    with engine.begin() as conn:
        conn.execute(schema.resource.update().where(schema.resource.c.id.in_([1, 2, 3])).values(status="FAILED"))
    with pytest.raises(Drift) as err:
        with engine.begin() as conn:
            apply_changes(conn, changes)
    assert [(d.where, d.column) for d in err.value.differences] == [
        ("resource[id=1]", "status"), ("resource[id=2]", "status"), ("resource[id=3]", "status")]
    assert str(err.value) == "resource[id=1].status: expected 'COMPLETE', found 'FAILED' (and 2 more)"


def test_rows_are_read_under_lock_before_they_are_written(engine):
    """The compare-and-swap reads every row it will write with SELECT ... FOR
    UPDATE, so Heat cannot change one between the comparison and the write
    (SQLite has no row locks: its writer lock covers the transaction)."""
    statements = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with engine.connect() as conn:
        changes = _plan(conn)
    statements.clear()
    with engine.begin() as conn:
        apply_changes(conn, changes)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert reads
    locked = [s for s in reads if "FOR UPDATE" in s.upper()]
    assert locked == ([] if engine.dialect.name == "sqlite" else reads)


def test_same_tells_null_from_false_and_ignores_driver_noise():
    from datetime import timezone

    from migrator.execution.apply import same

    assert not same(None, False) and not same(False, None) and same(None, None)
    assert same(True, 1) and same(0, False) and not same(True, 0)
    assert same(datetime(2024, 1, 1, 12), datetime(2024, 1, 1, 12, tzinfo=timezone.utc))
    assert not same(datetime(2024, 1, 1, 12), "2024-01-01 12:00:00")


def test_two_differences_say_one_more(engine):
    with engine.connect() as conn:
        changes = _plan(conn)
    with engine.begin() as conn:
        conn.execute(schema.resource.update().where(schema.resource.c.id.in_([2, 3])).values(status="FAILED"))
    with pytest.raises(Drift) as err:
        with engine.begin() as conn:
            apply_changes(conn, changes)
    assert str(err.value) == "resource[id=2].status: expected 'COMPLETE', found 'FAILED' (and 1 more)"
