"""Heat's database schema, declared once with SQLAlchemy Core.

This is the single description of the Heat tables convmig reads or writes. It
creates sample databases (``metadata.create_all``) and checks a real one
(``check_schema``), so the two can never disagree.

Faithful to Heat's models and alembic chain at its latest revision
(``c6214ca60943`` → ``d2db381e3324`` sync_point.extra_data →
``97b2a986f922`` snapshot.action): names, types, nullability, keys, foreign key
names and indexes. Heat's ``Json`` and ``List`` columns are TEXT (LONGTEXT on
MySQL/MariaDB); they are declared here as raw text so that a before-image keeps
the exact stored bytes (``[4,1]`` and ``[4, 1]`` stay distinct, as do SQL NULL
and the text ``null``), and ``load_json`` / ``dump_json`` read and write them the
way Heat does.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
    inspect,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Engine

from migrator.errors import ConvmigError

#: Heat's ``LongText``: TEXT, LONGTEXT on MySQL and MariaDB.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

#: Heat's ``PickleType`` column (legacy ``event.resource_properties``): a BLOB.
PickleBlob = LargeBinary().with_variant(mysql.BLOB(), "mysql", "mariadb")

metadata = MetaData()


def _json(name: str) -> Column:
    """A Heat ``Json``/``List`` column: raw text here, decoded with ``load_json``."""
    return Column(name, LongText, nullable=True, info={"json": True})


def _timestamps() -> list[Column]:
    """``HeatBase`` adds these two to every table."""
    return [Column("created_at", DateTime, nullable=True), Column("updated_at", DateTime, nullable=True)]


raw_template_files = Table(
    "raw_template_files",
    metadata,
    Column("id", Integer, nullable=False),
    _json("files"),
    *_timestamps(),
    PrimaryKeyConstraint("id"),
    mysql_engine="InnoDB",
)

resource_properties_data = Table(
    "resource_properties_data",
    metadata,
    Column("id", Integer, nullable=False),
    _json("data"),
    Column("encrypted", Boolean, nullable=True),
    *_timestamps(),
    PrimaryKeyConstraint("id"),
    mysql_engine="InnoDB",
)

service = Table(
    "service",
    metadata,
    Column("id", String(36), nullable=False),
    Column("engine_id", String(36), nullable=False),
    Column("host", String(255), nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("binary", String(255), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("report_interval", Integer, nullable=False),
    *_timestamps(),
    Column("deleted_at", DateTime, nullable=True),
    PrimaryKeyConstraint("id"),
    mysql_engine="InnoDB",
)

user_creds = Table(
    "user_creds",
    metadata,
    Column("id", Integer, nullable=False),
    *_timestamps(),
    Column("username", String(255)),
    Column("password", String(255)),
    Column("region_name", String(255)),
    Column("decrypt_method", String(64)),
    Column("tenant", String(1024)),
    Column("auth_url", Text),
    Column("tenant_id", String(256)),
    Column("trust_id", String(255)),
    Column("trustor_user_id", String(64)),
    PrimaryKeyConstraint("id"),
    mysql_engine="InnoDB",
)

raw_template = Table(
    "raw_template",
    metadata,
    Column("id", Integer, nullable=False),
    *_timestamps(),
    _json("template"),
    _json("files"),
    _json("environment"),
    Column("files_id", Integer, nullable=True),
    ForeignKeyConstraint(["files_id"], ["raw_template_files.id"], name="raw_tmpl_files_fkey_ref"),
    PrimaryKeyConstraint("id"),
    mysql_engine="InnoDB",
)

stack = Table(
    "stack",
    metadata,
    Column("id", String(36), nullable=False),
    *_timestamps(),
    Column("deleted_at", DateTime, nullable=True),
    Column("name", String(255)),
    Column("raw_template_id", Integer, nullable=False),
    Column("prev_raw_template_id", Integer, nullable=True),
    Column("user_creds_id", Integer, nullable=True),
    Column("username", String(256)),
    Column("owner_id", String(36)),
    Column("action", String(255)),
    Column("status", String(255)),
    Column("status_reason", Text),
    Column("timeout", Integer),
    Column("tenant", String(256)),
    Column("disable_rollback", Boolean, nullable=False),
    Column("stack_user_project_id", String(64)),
    Column("backup", Boolean),
    Column("nested_depth", Integer),
    Column("convergence", Boolean),
    Column("current_traversal", String(36)),
    _json("current_deps"),
    Column("parent_resource_name", String(255)),
    ForeignKeyConstraint(["prev_raw_template_id"], ["raw_template.id"]),
    ForeignKeyConstraint(["raw_template_id"], ["raw_template.id"]),
    ForeignKeyConstraint(["user_creds_id"], ["user_creds.id"]),
    PrimaryKeyConstraint("id"),
    Index("ix_stack_name", "name", mysql_length=255),
    Index("ix_stack_tenant", "tenant", mysql_length=255),
    Index("ix_stack_owner_id", "owner_id"),
)

event = Table(
    "event",
    metadata,
    Column("id", Integer, nullable=False),
    Column("uuid", String(36)),
    Column("stack_id", String(36), nullable=False),
    *_timestamps(),
    Column("resource_action", String(255)),
    Column("resource_status", String(255)),
    Column("resource_name", String(255)),
    Column("physical_resource_id", String(255)),
    Column("resource_status_reason", String(255)),
    Column("resource_type", String(255)),
    Column("resource_properties", PickleBlob),
    Column("rsrc_prop_data_id", Integer),
    ForeignKeyConstraint(["rsrc_prop_data_id"], ["resource_properties_data.id"], name="ev_rsrc_prop_data_ref"),
    ForeignKeyConstraint(["stack_id"], ["stack.id"]),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("uuid"),
    mysql_engine="InnoDB",
)

resource = Table(
    "resource",
    metadata,
    Column("id", Integer, nullable=False),
    Column("uuid", String(36)),
    Column("nova_instance", String(255)),
    Column("name", String(255)),
    *_timestamps(),
    Column("action", String(255)),
    Column("status", String(255)),
    Column("status_reason", Text),
    Column("stack_id", String(36), nullable=False),
    _json("rsrc_metadata"),
    _json("properties_data"),
    Column("engine_id", String(36)),
    Column("atomic_key", Integer),
    _json("needed_by"),
    _json("requires"),
    Column("replaces", Integer),
    Column("replaced_by", Integer),
    Column("current_template_id", Integer),
    Column("properties_data_encrypted", Boolean),
    Column("root_stack_id", String(36)),
    Column("rsrc_prop_data_id", Integer),
    Column("attr_data_id", Integer),
    ForeignKeyConstraint(["attr_data_id"], ["resource_properties_data.id"], name="rsrc_attr_data_ref"),
    ForeignKeyConstraint(["current_template_id"], ["raw_template.id"]),
    ForeignKeyConstraint(["rsrc_prop_data_id"], ["resource_properties_data.id"], name="rsrc_rsrc_prop_data_ref"),
    ForeignKeyConstraint(["stack_id"], ["stack.id"]),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("uuid"),
    Index("ix_resource_root_stack_id", "root_stack_id"),
    mysql_engine="InnoDB",
)

snapshot = Table(
    "snapshot",
    metadata,
    Column("id", String(36), nullable=False),
    Column("stack_id", String(36), nullable=False),
    Column("name", String(255)),
    *_timestamps(),
    Column("status", String(255)),
    Column("status_reason", String(255)),
    _json("data"),
    Column("tenant", String(64), nullable=False),
    Column("action", String(255), nullable=True, info={"since": "97b2a986f922"}),
    ForeignKeyConstraint(["stack_id"], ["stack.id"]),
    PrimaryKeyConstraint("id"),
    Index("ix_snapshot_tenant", "tenant"),
    mysql_engine="InnoDB",
)

stack_lock = Table(
    "stack_lock",
    metadata,
    Column("stack_id", String(36), nullable=False),
    *_timestamps(),
    Column("engine_id", String(36)),
    ForeignKeyConstraint(["stack_id"], ["stack.id"]),
    PrimaryKeyConstraint("stack_id"),
    mysql_engine="InnoDB",
)

stack_tag = Table(
    "stack_tag",
    metadata,
    Column("id", Integer, nullable=False),
    *_timestamps(),
    Column("tag", Unicode(80)),
    Column("stack_id", String(36), nullable=False),
    ForeignKeyConstraint(["stack_id"], ["stack.id"]),
    PrimaryKeyConstraint("id"),
    mysql_engine="InnoDB",
)

sync_point = Table(
    "sync_point",
    metadata,
    Column("entity_id", String(36), nullable=False),
    Column("traversal_id", String(36), nullable=False),
    Column("is_update", Boolean, nullable=False),
    Column("atomic_key", Integer, nullable=False),
    Column("stack_id", String(36), nullable=False),
    _json("input_data"),
    *_timestamps(),
    Column("extra_data", LongText, nullable=True, info={"json": True, "since": "d2db381e3324"}),
    ForeignKeyConstraint(["stack_id"], ["stack.id"]),
    PrimaryKeyConstraint("entity_id", "traversal_id", "is_update"),
)

resource_data = Table(
    "resource_data",
    metadata,
    Column("id", Integer, nullable=False),
    *_timestamps(),
    Column("key", String(255)),
    Column("value", Text),
    Column("redact", Boolean),
    Column("decrypt_method", String(64)),
    Column("resource_id", Integer, nullable=False),
    ForeignKeyConstraint(["resource_id"], ["resource.id"], name="fk_resource_id", ondelete="CASCADE"),
    PrimaryKeyConstraint("id"),
    mysql_engine="InnoDB",
)

#: Tables whose absence means the database is not Heat's at all.
CORE_TABLES = ("stack", "resource", "raw_template")

#: Every Heat table convmig declares, in an order that satisfies foreign keys.
HEAT_TABLES = tuple(metadata.sorted_tables)


# --------------------------------------------------------------------------- JSON


def state_name(action, status) -> str:
    """A stack's state as Heat shows it (``CREATE_COMPLETE``); a NULL part is named as such,
    never printed as ``None``."""
    return f"{action or 'NULL-action'}_{status or 'NULL-status'}" if (action or status) else "no state (action and status NULL)"


def load_json(text: str | bytes | None) -> Any:
    """Decode a Heat Json/List column as Heat does: SQL NULL and ``null`` are None."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text)


def dump_json(value: Any) -> str:
    """Encode as Heat's ``Json`` type does (jsonutils.dumps: default separators,
    None becomes the text ``null``), so Heat reads back exactly what it wrote."""
    return json.dumps(value)


def json_columns(table: Table) -> list[str]:
    """Names of the columns Heat stores as JSON text."""
    return [c.name for c in table.columns if c.info.get("json")]


# --------------------------------------------------------------------------- checks


def required_columns(table: Table) -> set[str]:
    """Columns a Heat database must have: all but those added by revisions
    newer than the 2023 squash (they are absent on 2025.1 and 2025.2)."""
    return {c.name for c in table.columns if "since" not in c.info}


def create_schema(bind: Engine | Connection) -> None:
    """Create every declared Heat table (sample and test databases)."""
    metadata.create_all(bind)


def missing_schema(bind: Engine | Connection) -> tuple[list[str], list[str]]:
    """Reflect the database: (missing tables, missing ``table.column``)."""
    insp = inspect(bind)
    present = set(insp.get_table_names())
    missing_tables = [t.name for t in HEAT_TABLES if t.name not in present]
    missing_cols = []
    for table in HEAT_TABLES:
        if table.name not in present:
            continue
        have = {c["name"] for c in insp.get_columns(table.name)}
        missing_cols += [f"{table.name}.{c}" for c in sorted(required_columns(table) - have)]
    return missing_tables, missing_cols


def check_schema(bind: Engine | Connection, where: str = "the database") -> None:
    """Refuse, in one line, a database that is not Heat's or whose schema is too old."""
    missing_tables, missing_cols = missing_schema(bind)
    if any(name in missing_tables for name in CORE_TABLES):
        raise ConvmigError(
            f"not a Heat database: {where} has no {', '.join(t for t in CORE_TABLES if t in missing_tables)} "
            "table; point --db or --heat-config at Heat's database"
        )
    if missing_tables or missing_cols:
        what = ", ".join(missing_tables + missing_cols)
        raise ConvmigError(
            f"Heat schema too old: {where} lacks {what}; run 'heat-manage db_sync' with a current Heat first"
        )
