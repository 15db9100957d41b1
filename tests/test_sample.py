"""The sample-database builder: determinism, shape, special cases, speed.

Read-only shape tests share one sample per backend (built once per module);
tests that build their own use the ``db_url`` fixture. Everything runs on
SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from helpers import BACKENDS, dump, make_db_url
from migrator.heat import schema
from migrator.heat.connection import make_engine
from migrator.sample.build import (
    ENCRYPT_METHOD,
    PROVIDER_FILES,
    SPECIAL_CASES,
    STACK_STATES,
    Sample,
    build_sample,
)

ROOTS = 50
NOW = datetime(2026, 1, 15, 12, 0, 0)


# --------------------------------------------------------------------------- helpers


class View:
    """The sample's rows, indexed the ways the assertions need."""

    def __init__(self, engine, sample: Sample):
        self.sample = sample
        with engine.connect() as conn:
            self.stacks = {r.id: r._asdict() for r in conn.execute(sa.select(schema.stack))}
            self.resources = [r._asdict() for r in conn.execute(sa.select(schema.resource).order_by(schema.resource.c.id))]
            self.templates = {r.id: r._asdict() for r in conn.execute(sa.select(schema.raw_template))}
            self.files = {r.id: r._asdict() for r in conn.execute(sa.select(schema.raw_template_files))}
            self.locks = {r.stack_id: r._asdict() for r in conn.execute(sa.select(schema.stack_lock))}
            self.creds = {r.id: r._asdict() for r in conn.execute(sa.select(schema.user_creds))}
            self.services = [r._asdict() for r in conn.execute(sa.select(schema.service))]
            self.rpd = {r.id: r._asdict() for r in conn.execute(sa.select(schema.resource_properties_data))}
            self.data = [r._asdict() for r in conn.execute(sa.select(schema.resource_data))]
            self.events = [r._asdict() for r in conn.execute(sa.select(schema.event))]
            self.tags = [r._asdict() for r in conn.execute(sa.select(schema.stack_tag))]
            self.counts = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in schema.HEAT_TABLES}
        self.children = defaultdict(list)
        for s in self.stacks.values():
            if s["owner_id"]:
                self.children[s["owner_id"]].append(s)
        self.by_stack = defaultdict(list)
        for r in self.resources:
            self.by_stack[r["stack_id"]].append(r)

    def root_of(self, stack_id: str) -> str:
        while self.stacks[stack_id]["owner_id"]:
            stack_id = self.stacks[stack_id]["owner_id"]
        return stack_id

    def tree(self, root_id: str, *, backups: bool = True, deleted: bool = True) -> list[dict]:
        """The root and every stack reached through owner_id (depth first)."""
        out = [self.stacks[root_id]]
        for child in self.children[root_id]:
            if (child["backup"] and not backups) or (child["deleted_at"] and not deleted):
                continue
            out += self.tree(child["id"], backups=backups, deleted=deleted)
        return out

    def template(self, stack_id: str) -> dict:
        return json.loads(self.templates[self.stacks[stack_id]["raw_template_id"]]["template"])

    def environment(self, stack_id: str) -> dict:
        return json.loads(self.templates[self.stacks[stack_id]["raw_template_id"]]["environment"])

    def rows(self, stack_id: str) -> list[dict]:
        return self.by_stack[stack_id]

    def active(self, stack_id: str) -> list[dict]:
        return [r for r in self.rows(stack_id) if (r["action"], r["status"]) != ("DELETE", "COMPLETE")]

    def special(self, key: str) -> dict:
        return self.stacks[self.sample.special[key]]


def template_resources(t: dict) -> dict:
    return t.get("resources") or t.get("Resources") or {}


@pytest.fixture(scope="module", params=BACKENDS)
def built(request, tmp_path_factory):
    """One sample per backend, shared by the read-only tests of this module."""
    url, drop = make_db_url(request.param, tmp_path_factory.mktemp("sample"))
    engine = make_engine(url, must_exist=False)
    sample = build_sample(engine, ROOTS, seed=3, now=NOW)
    yield engine, sample, View(engine, sample)
    engine.dispose()
    drop()


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_database_on_every_backend(db_url, tmp_path):
    """The seed alone decides every row, and the backend does not change them."""
    engine = make_engine(db_url, must_exist=False)
    build_sample(engine, 20, seed=11, now=NOW)
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.sqlite'}", must_exist=False)
    build_sample(reference, 20, seed=11, now=NOW)
    other = make_engine(f"sqlite:///{tmp_path / 'other-seed.sqlite'}", must_exist=False)
    build_sample(other, 20, seed=12, now=NOW)
    assert dump(engine) == dump(reference)
    assert dump(other) != dump(reference)
    engine.dispose()


def test_sample_describes_what_it_wrote(built):
    _, sample, v = built
    assert set(sample.special) == set(SPECIAL_CASES)
    assert len(sample.roots) == ROOTS + len(SPECIAL_CASES) == len(set(sample.roots))
    assert set(sample.special.values()) <= set(sample.roots)
    for table, n in v.counts.items():
        assert sample.counts.get(table, 0) == n, table
    # every root stack (not a backup) is listed, and nothing else is
    roots = {s["id"] for s in v.stacks.values() if s["owner_id"] is None}
    assert roots == set(sample.roots)


# --------------------------------------------------------------------------- legacy shape


def test_every_state_a_legacy_cloud_has(built):
    _, sample, v = built
    legacy_roots = [v.stacks[r] for r in sample.roots if not v.stacks[r]["convergence"]]
    states = Counter((s["action"], s["status"]) for s in legacy_roots)
    for state in STACK_STATES:
        assert states[state] >= 1, state
    complete = sum(n for (a, st), n in states.items() if st == "COMPLETE" and a != "DELETE")
    assert complete > len(legacy_roots) / 2  # most roots are migratable
    # a running action holds its stack's lock; nothing else does
    for s in v.stacks.values():
        assert (s["id"] in v.locks) == (s["status"] == "IN_PROGRESS" and not s["backup"]), s["name"]


def test_legacy_rows_look_like_legacy_heat_wrote_them(built):
    _, sample, v = built
    convergence_stacks = {s["id"] for s in v.stacks.values() if s["convergence"]}
    old = {s["id"] for s in v.tree(sample.special["old_rows"])}
    for s in v.stacks.values():
        if s["convergence"]:
            continue
        assert s["current_traversal"] is None
        assert s["current_deps"] == "null"
        assert s["backup"] in (False, True) and s["disable_rollback"] in (False, True)
        assert s["tenant"] and s["username"]
        if s["owner_id"] and not s["backup"]:
            assert s["disable_rollback"] is True
    for r in v.resources:
        if r["stack_id"] in convergence_stacks:
            continue
        assert r["engine_id"] is None and r["current_template_id"] is None
        assert r["uuid"] and r["replaces"] is None and r["replaced_by"] is None
        if r["stack_id"] in old:
            assert r["requires"] is None and r["needed_by"] is None
            assert r["rsrc_prop_data_id"] is None and isinstance(json.loads(r["properties_data"]), dict)
        else:
            assert r["requires"] == "[]" and r["needed_by"] == "[]"
            assert r["properties_data"] == "null"
            assert r["rsrc_prop_data_id"] in v.rpd
        if r["attr_data_id"] is not None:
            assert r["attr_data_id"] in v.rpd and r["atomic_key"] >= 1
    assert any(r["attr_data_id"] for r in v.resources)
    assert any(d["redact"] and d["decrypt_method"] == ENCRYPT_METHOD for d in v.data)
    assert any(not d["redact"] for d in v.data)
    assert v.events and all(e["uuid"] and e["stack_id"] in v.stacks for e in v.events)


def test_json_columns_hold_heat_formatted_json(built):
    engine, _, _ = built
    with engine.connect() as conn:
        for t in schema.HEAT_TABLES:
            for col in schema.json_columns(t):
                for (text,) in conn.execute(sa.select(t.c[col])):
                    if text is None:
                        continue
                    assert json.dumps(json.loads(text)) == text, (t.name, col, text[:80])


def test_nesting_owner_links_and_root_stack_id(built):
    _, sample, v = built
    depths = Counter()
    for s in v.stacks.values():
        if not s["owner_id"]:
            assert s["nested_depth"] == 0 and s["parent_resource_name"] is None
            continue
        parent = v.stacks[s["owner_id"]]
        if s["backup"]:
            assert s["nested_depth"] == parent["nested_depth"]
            continue
        assert s["nested_depth"] == parent["nested_depth"] + 1
        assert s["user_creds_id"] == parent["user_creds_id"] or parent["deleted_at"]
        depths[s["nested_depth"]] += 1
        holders = [r for r in v.rows(parent["id"]) if r["name"] == s["parent_resource_name"]]
        if s["deleted_at"]:
            continue
        assert [r["nova_instance"] for r in holders] == [s["id"]], s["name"]
    assert set(depths) == {1, 2, 3}
    for r in v.resources:
        assert r["root_stack_id"] == v.root_of(r["stack_id"])
    assert len(v.resources) / len(sample.roots) > 7  # about ten per root, nested included


def test_templates_files_and_credentials(built):
    _, sample, v = built
    versions = Counter()
    for t in v.templates.values():
        tmpl = json.loads(t["template"])
        versions[tmpl.get("heat_template_version") or tmpl.get("AWSTemplateFormatVersion")
                 or tmpl.get("HeatTemplateFormatVersion")] += 1
        env = json.loads(t["environment"])
        assert {"parameters", "parameter_defaults", "resource_registry", "encrypted_param_names",
                "event_sinks"} <= set(env)
        assert t["files"] is None
        assert t["files_id"] is None or t["files_id"] in v.files
    for version in ("2015-10-15", "2016-10-14", "2018-08-31", "wallaby", "2010-09-09", "2012-12-12"):
        assert versions[version], version
    for stack_id in sample.roots:
        s = v.stacks[stack_id]
        if s["deleted_at"]:
            assert s["user_creds_id"] is None
            continue
        creds = v.creds[s["user_creds_id"]]
        assert creds["tenant_id"] == s["tenant"]
        assert creds["password"] or creds["trust_id"]
    with_password = [c for c in v.creds.values() if c["password"]]
    assert with_password and all(c["password"].startswith("gAAAAA") for c in with_password)
    assert len({s["tenant"] for s in v.stacks.values()}) == 3
    assert v.tags and all(t["stack_id"] in sample.roots and t["tag"] for t in v.tags)


def test_provider_files_parse_to_the_stored_templates():
    yaml = pytest.importorskip("yaml")

    def norm(x):
        if isinstance(x, dict):
            return {k: norm(val) for k, val in x.items()}
        if isinstance(x, list):
            return [norm(val) for val in x]
        return x.isoformat() if hasattr(x, "isoformat") else x

    for name, (text, parsed) in PROVIDER_FILES.items():
        assert norm(yaml.safe_load(text)) == parsed, name


def test_engines_are_stale_unless_live_engine(built, db_url):
    _, _, v = built
    heartbeats = [s for s in v.services if s["deleted_at"] is None]
    assert heartbeats and all(NOW - s["updated_at"] > timedelta(seconds=2 * s["report_interval"]) for s in heartbeats)
    engine = make_engine(db_url, must_exist=False)
    build_sample(engine, 3, now=NOW, live_engine=True, specials=False)
    with engine.connect() as conn:
        services = conn.execute(sa.select(schema.service).where(schema.service.c.deleted_at.is_(None))).all()
    fresh = [s for s in services if NOW - s.updated_at <= timedelta(seconds=2 * s.report_interval)]
    assert len(fresh) == 1
    engine.dispose()


# --------------------------------------------------------------------------- special cases


def test_failed_and_in_progress_roots(built):
    _, _, v = built
    failed = v.special("failed_root")
    assert (failed["action"], failed["status"]) == ("CREATE", "FAILED")
    assert any(r["status"] == "FAILED" for r in v.rows(failed["id"])) or any(
        s["status"] == "FAILED" for s in v.tree(failed["id"])[1:])
    running = v.special("in_progress_root")
    assert running["status"] == "IN_PROGRESS" and running["id"] in v.locks
    root = v.special("nested_in_progress")
    assert root["status"] == "COMPLETE" and root["id"] not in v.locks
    busy = [s for s in v.tree(root["id"])[1:] if s["status"] == "IN_PROGRESS"]
    assert busy and all(s["id"] in v.locks for s in busy)


def test_backup_and_soft_deleted_stacks(built):
    _, _, v = built
    parent = v.special("backup_parent")
    assert parent["status"] == "COMPLETE"
    backups = [s for s in v.children[parent["id"]] if s["backup"]]
    assert len(backups) == 1
    assert backups[0]["name"] == parent["name"] + "*" and backups[0]["backup"] is True
    assert v.rows(backups[0]["id"])
    deleted = v.special("soft_deleted")
    tree = v.tree(deleted["id"])
    assert len(tree) > 1 and all(s["deleted_at"] is not None for s in tree)
    assert all((s["action"], s["status"]) == ("DELETE", "COMPLETE") for s in tree)
    assert not any(v.rows(s["id"]) for s in tree)
    # a live root whose removed nested stack stayed behind, soft-deleted
    updated = v.special("updated")
    assert any(s["deleted_at"] for s in v.children[updated["id"]])


def test_rows_the_template_does_not_explain(built):
    _, _, v = built
    root = v.special("deleted_complete_rows")
    names = set(template_resources(v.template(root["id"])))
    gone = [r for r in v.rows(root["id"]) if (r["action"], r["status"]) == ("DELETE", "COMPLETE")]
    assert {r["name"] in names for r in gone} == {True, False}
    active_names = Counter(r["name"] for r in v.active(root["id"]))
    assert all(n == 1 for n in active_names.values())

    root = v.special("stale_row")
    names = set(template_resources(v.template(root["id"])))
    stale = [r for r in v.active(root["id"]) if r["name"] not in names]
    assert len(stale) == 1 and stale[0]["status"] == "COMPLETE"

    root = v.special("duplicate_rows")
    by_name = defaultdict(list)
    for r in v.active(root["id"]):
        by_name[r["name"]].append(r)
    dups = [rows for rows in by_name.values() if len(rows) > 1]
    assert len(dups) == 1 and {r["status"] for r in dups[0]} == {"FAILED", "COMPLETE"}
    assert root["status"] == "COMPLETE"

    root = v.special("missing_row")
    names = set(template_resources(v.template(root["id"])))
    assert names - {r["name"] for r in v.rows(root["id"])} == {"volume"}

    root = v.special("failed_resource")
    assert root["status"] == "COMPLETE"
    assert [(r["action"], r["status"]) for r in v.rows(root["id"]) if r["status"] != "COMPLETE"] == [("CHECK", "FAILED")]


def test_updated_stacks_keep_a_prev_template_sharing_files(built):
    _, sample, v = built
    root = v.special("updated")
    assert root["action"] == "UPDATE" and root["updated_at"] is not None
    cur, prev = v.templates[root["raw_template_id"]], v.templates[root["prev_raw_template_id"]]
    assert cur["files_id"] is not None and cur["files_id"] == prev["files_id"] and cur["files_id"] in v.files
    assert cur["template"] == prev["template"]  # update_task stores a copy of the new template
    # shared_files: one files row used by templates of several stacks in one tree
    tree = v.tree(sample.special["shared_files"], deleted=False)
    users = defaultdict(set)
    for s in tree:
        for tid in (s["raw_template_id"], s["prev_raw_template_id"]):
            if tid is not None and v.templates[tid]["files_id"] is not None:
                users[v.templates[tid]["files_id"]].add(s["id"])
    assert any(len(stacks) >= 2 for stacks in users.values())
    # every prev template of a legacy stack exists
    for s in v.stacks.values():
        if s["prev_raw_template_id"] is not None:
            assert s["prev_raw_template_id"] in v.templates


def test_nested_kinds(built):
    _, _, v = built
    deep = v.tree(v.sample.special["deep_nested"])
    assert max(s["nested_depth"] for s in deep) == 3

    root = v.special("resource_group")
    assert template_resources(v.template(root["id"]))["group"]["type"] == "OS::Heat::ResourceGroup"
    (child,) = v.children[root["id"]]
    assert child["parent_resource_name"] == "group"
    assert sorted(r["name"] for r in v.rows(child["id"])) == ["0", "1", "2", "3"]
    assert sorted(template_resources(v.template(child["id"]))) == ["0", "1", "2", "3"]

    root = v.special("provider_template")
    assert template_resources(v.template(root["id"]))["app"]["type"] == "server.yaml"
    files = json.loads(v.files[v.templates[root["raw_template_id"]]["files_id"]]["files"])
    assert files["server.yaml"] == PROVIDER_FILES["server.yaml"][0]
    app = next(s for s in v.children[root["id"]] if s["parent_resource_name"] == "app")
    assert v.template(app["id"]) == PROVIDER_FILES["server.yaml"][1]
    assert v.environment(app["id"])["parameters"]["name"] == "app"
    assert v.environment(root["id"])["resource_registry"]["My::DB"] == "db.yaml"


def test_template_dialects_and_conditions(built):
    _, _, v = built
    cfn = v.template(v.sample.special["cfn"])
    assert cfn["AWSTemplateFormatVersion"] == "2010-09-09"
    text = json.dumps(cfn)
    assert '"Fn::GetAtt"' in text and '"Fn::Join"' in text and '"DependsOn": "Instance"' in text

    root = v.special("conditions")
    t = v.template(root["id"])
    assert "conditions" in t
    rows = {r["name"] for r in v.rows(root["id"])}
    assert "dev_db" not in rows and "prod_db" in rows  # disabled by its condition: no row
    assert t["resources"]["audit"]["properties"]["value"]["if"][1] == {"get_resource": "base"}

    root = v.special("encrypted_condition")
    t, env = v.template(root["id"]), v.environment(root["id"])
    hidden = [p for p, d in t["parameters"].items() if d.get("hidden")]
    assert hidden and set(hidden) <= set(env["encrypted_param_names"])
    method, token = env["parameters"][hidden[0]]
    assert method == ENCRYPT_METHOD and token.startswith("gAAAAA")
    assert hidden[0] in json.dumps(t["conditions"])


def test_convergence_stacks(built):
    _, _, v = built
    root = v.special("convergence_root")
    for s in v.tree(root["id"]):
        assert s["convergence"] is True and len(s["current_traversal"]) == 36 and s["prev_raw_template_id"] is None
        edges = json.loads(s["current_deps"])["edges"]
        ids = {r["id"] for r in v.rows(s["id"])}
        assert {e[0][0] for e in edges} == ids
        for r in v.rows(s["id"]):
            assert r["current_template_id"] == s["raw_template_id"]
            requires = json.loads(r["requires"])
            assert requires == sorted(requires, reverse=True) and set(requires) <= ids - {r["id"]}
    lb = next(r for r in v.rows(root["id"]) if r["name"] == "lb")
    by_name = {r["name"]: r["id"] for r in v.rows(root["id"])}
    assert json.loads(lb["requires"]) == sorted([by_name["app"], by_name["db"]], reverse=True)

    mixed = v.special("legacy_root_with_convergence_child")
    assert mixed["convergence"] is False
    assert any(s["convergence"] for s in v.tree(mixed["id"])[1:])


# --------------------------------------------------------------------------- writing


def test_sequences_and_ids_continue_after_the_sample(db_url):
    """Heat (and convmig) insert without ids after the build; a second build
    into the same database continues the ids instead of colliding."""
    engine = make_engine(db_url, must_exist=False)
    first = build_sample(engine, 5, seed=1, specials=False)
    second = build_sample(engine, 5, seed=2, create=False, specials=False)
    with engine.begin() as conn:
        for t in (schema.raw_template_files, schema.resource_properties_data, schema.user_creds):
            before = conn.execute(sa.select(sa.func.max(t.c.id))).scalar()
            conn.execute(t.insert().values(created_at=NOW))
            assert conn.execute(sa.select(sa.func.max(t.c.id))).scalar() == before + 1, t.name
        n = conn.execute(sa.select(sa.func.count()).select_from(schema.resource)).scalar()
    assert n == first.counts["resource"] + second.counts["resource"]
    engine.dispose()


def test_without_specials_every_tree_is_ordinary_and_complete(db_url):
    engine = make_engine(db_url, must_exist=False)
    sample = build_sample(engine, 40, seed=5, specials=False)
    v = View(engine, sample)
    assert sample.special == {} and len(sample.roots) == 40
    assert v.counts["stack_lock"] == 0
    for s in v.stacks.values():
        assert s["status"] == "COMPLETE" and not s["convergence"] and not s["backup"] and s["deleted_at"] is None
    for r in v.resources:
        assert r["status"] == "COMPLETE" and r["requires"] == "[]"
    engine.dispose()


def test_build_spans_more_than_one_chunk(tmp_path):
    """1,200 roots, more than one chunk of the builder's writes; how fast that
    is is a budget in bench/budgets.py, not a pass/fail test."""
    engine = make_engine(f"sqlite:///{tmp_path / 'bench.sqlite'}", must_exist=False)
    sample = build_sample(engine, 1200, specials=False)
    assert len(sample.roots) == 1200 and sample.counts["resource"] > 8000
