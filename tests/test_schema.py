"""The schema declaration creates Heat's tables and checks a real database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from migrator.heat import schema
from migrator.heat.connection import make_engine
from migrator.errors import ConvmigError


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url, must_exist=False)
    yield eng
    eng.dispose()


def test_created_schema_matches_declaration(engine):
    schema.create_schema(engine)
    assert schema.missing_schema(engine) == ([], [])
    schema.check_schema(engine)  # does not raise
    insp = sa.inspect(engine)
    fks = {fk["name"] for fk in insp.get_foreign_keys("raw_template")}
    assert "raw_tmpl_files_fkey_ref" in fks
    rd_fk = insp.get_foreign_keys("resource_data")[0]
    assert rd_fk["name"] == "fk_resource_id"
    assert rd_fk["options"].get("ondelete", "").upper() == "CASCADE"
    assert {ix["name"] for ix in insp.get_indexes("stack")} >= {"ix_stack_name", "ix_stack_tenant", "ix_stack_owner_id"}
    assert "ix_resource_root_stack_id" in {ix["name"] for ix in insp.get_indexes("resource")}
    assert insp.get_pk_constraint("sync_point")["constrained_columns"] == ["entity_id", "traversal_id", "is_update"]
    cols = {c["name"]: c for c in insp.get_columns("stack")}
    assert cols["raw_template_id"]["nullable"] is False
    assert cols["disable_rollback"]["nullable"] is False
    assert cols["prev_raw_template_id"]["nullable"] is True


def test_json_columns_are_longtext_on_mysql(engine):
    schema.create_schema(engine)
    if engine.dialect.name not in ("mysql", "mariadb"):
        pytest.skip("LONGTEXT is MySQL/MariaDB only")
    with engine.connect() as conn:
        types = dict(
            conn.exec_driver_sql(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = 'resource'"
            ).all()
        )
    assert types["requires"] == "longtext"
    assert types["rsrc_metadata"] == "longtext"
    assert types["status_reason"] == "text"


def test_not_a_heat_database(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    with pytest.raises(ConvmigError, match=r"^not a Heat database: .* no stack, resource, raw_template table"):
        schema.check_schema(engine)


def test_old_schema_names_missing_columns(engine):
    schema.create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE stack DROP COLUMN current_deps")
        conn.exec_driver_sql("DROP TABLE stack_tag")
    with pytest.raises(ConvmigError) as err:
        schema.check_schema(engine)
    assert str(err.value).startswith("Heat schema too old: ")
    assert "stack_tag" in str(err.value) and "stack.current_deps" in str(err.value)


def test_newer_revision_columns_are_optional(engine):
    """2025.1/2025.2 lack sync_point.extra_data and snapshot.action: still a Heat DB."""
    schema.create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE sync_point DROP COLUMN extra_data")
    schema.check_schema(engine)


@pytest.mark.parametrize(
    "text, value",
    [(None, None), ("null", None), ("[4, 1]", [4, 1]), ('{"edges": []}', {"edges": []}), (b"[]", [])],
)
def test_load_json_reads_as_heat(text, value):
    assert schema.load_json(text) == value


def test_dump_json_writes_as_heat():
    assert schema.dump_json(None) == "null"
    assert schema.dump_json([4, 1]) == "[4, 1]"
    assert schema.dump_json({"a": 1}) == '{"a": 1}'
