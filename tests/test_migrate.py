"""`convmig migrate` on sample databases: the invariants of a migrated tree
(reference, end of heat-convergence.md), untouched refusals, no leftover lock,
idempotence."""

from __future__ import annotations

import json

import sqlalchemy as sa

from migrator.heat import schema
from migrator.heat.connection import make_engine
from migrator.sample.build import build_sample
from migrator.heat.tree import ACTIVE

from helpers import cli, cli_json, dump, tree_members, tree_rows

#: The dependencies of every template the sample writes, by its description,
#: written out by hand from the catalogue (migrator/sample/catalogue.py) and
#: the reference's rules (§3.2: get_resource, get_attr, depends_on, CFN Ref and
#: Fn::GetAtt, in properties and metadata; only the taken branch of ``if``;
#: disabled resources dropped). Not computed by the planner's dependency code.
def _tiers():
    t = {"net": set(), "subnet": {"net"}, "pool": {"server0", "server1", "server2"}}
    for i in range(3):
        t.update({f"port{i}": {"net", "subnet"}, f"server{i}": {f"port{i}"}, f"vol{i}": set(),
                  f"attach{i}": {f"server{i}", f"vol{i}"}})
    return t


AWS = {"SecurityGroup": set(), "WaitHandle": set(), "Instance": {"WaitHandle", "SecurityGroup"},
       "WaitCondition": {"Instance", "WaitHandle"}, "DataVolume": {"Instance"}, "MountPoint": {"Instance", "DataVolume"}}
EXPECTED_REQUIRES = {
    "Web server with its own network, volume and floating IP": {
        "net": set(), "subnet": {"net"}, "router": set(), "router_iface": {"router", "subnet"},
        "port": {"net", "subnet"}, "server": {"port"}, "volume": set(), "attach": {"server", "volume"},
        "fip": {"router_iface", "port"}},
    "Generated application configuration with a wait condition": {
        "seed": set(), "left": {"seed"}, "right": {"seed"}, "joined": {"left", "right"},
        "config": {"left", "right", "joined"}, "handle": set(), "notify": {"config", "handle"},  # metadata
        "wait": {"notify", "handle"}},
    "Four-node cluster with a generated inventory": {
        "sg": set(), **{f"node{i}": {"sg"} for i in range(4)}, "inventory": {f"node{i}" for i in range(4)},
        "status": {"inventory", "node0"}},
    ("Production or development database, chosen by a condition", "prod"): {
        "base": set(), "prod_db": {"base"}, "selector": {"prod_db"}, "audit": set(), "tail": {"selector"}},
    ("Production or development database, chosen by a condition", "dev"): {
        "base": set(), "dev_db": {"base"}, "selector": {"dev_db"}, "audit": {"base"}, "tail": {"selector", "dev_db"}},
    ("WordPress-style instance with a data volume and an optional EIP", "true"): {
        **AWS, "IPAddress": set(), "IPAssoc": {"Instance", "IPAddress"}},
    ("WordPress-style instance with a data volume and an optional EIP", "false"): AWS,
    "Server configured by a software deployment": {
        "Password": set(), "Config": {"Password"}, "Server": {"Password"},  # a Ref in Metadata
        "Deployment": {"Password", "Config", "Server"}, "Done": {"Deployment", "Server"}},
    "A group of generated keys": {"keys": set(), "group": set(), "collect": {"group"}, "marker": {"group", "keys"}},
    "Application and database from provider templates": {"sg": set(), "app": {"sg"}, "db": set(), "lb": {"app", "db"}},
    "Three-server application tier": _tiers(),
    "Deeply nested deployment": {"net": set(), "tier": {"net"}, "endpoint": {"tier"}},
    "A tier of identical members (ResourceGroup of member.yaml)": {"sg": set(), "members": {"sg"}, "summary": {"members"}},
    "One member of a tier": {"port": set(), "server": {"port"}},
    "One application server behind its own port": {"port": set(), "server": {"port"}, "address": {"server"}},
    "Database server booted from its own volume": {"volume": set(), "server": {"volume"}},
}
#: Edges Heat's resource plugins add (reference §3.3), read by hand from Heat's rules:
#: a Server whose networks entry names no network needs every subnet; a FloatingIP the
#: router whose gateway network is its floating_network. Required, as Heat writes them.
IMPLICIT = {
    "Web server with its own network, volume and floating IP": {"server": {"subnet"}, "fip": {"router"}},
    "Three-server application tier": {f"server{i}": {"subnet"} for i in range(3)},
}


def expected_requires(template: dict, environment: dict | None) -> tuple[dict, dict]:
    """(explicit dependencies by resource name, implicit ones allowed) for a sample template."""
    description = template.get("description") or template.get("Description")
    params = (environment or {}).get("parameters") or {}
    if description is None:  # a ResourceGroup's nested stack: members "0".."n-1", independent
        return {name: set() for name in template["resources"]}, {}
    key = {"Production or development database, chosen by a condition": (description, params.get("env_type", "prod")),
           "WordPress-style instance with a data volume and an optional EIP": (description, params.get("EnableEIP", "true")),
           }.get(description, description)
    assert key in EXPECTED_REQUIRES, f"no hand-written dependencies for template {key!r}: add them"
    return EXPECTED_REQUIRES[key], IMPLICIT.get(description, {})


REFUSED = ("failed_root", "in_progress_root", "nested_in_progress", "stale_row", "duplicate_rows", "encrypted_condition")


def _migrated_roots(url):
    engine = make_engine(url)
    with engine.connect() as conn:
        ids = list(conn.execute(sa.select(schema.stack.c.id).where(
            schema.stack.c.owner_id.is_(None), schema.stack.c.convergence == sa.true(),
            schema.stack.c.deleted_at.is_(None))).scalars())
    engine.dispose()
    return ids


def test_migrate_all_invariants(sample_db):
    url, sample = sample_db
    before = dump(url)
    untouched = {case: tree_rows(url, sample.special[case]) for case in REFUSED}
    locks_before = before["stack_lock"]
    result, report = cli_json("--db", url, "migrate", "--all")
    assert result.exit_code == 1  # FAILED and stale trees need the operator
    assert report["counts"]["migrated"] >= 10
    for case in REFUSED:  # invariant 18 / DESIGN 3: refused trees untouched byte for byte
        assert tree_rows(url, sample.special[case]) == untouched[case], case
    after = dump(url)
    assert after["stack_lock"] == locks_before  # no lock of ours outlives the run
    _check_invariants(url, before, after, sample)


def _check_invariants(url, before, after, sample):
    old_stacks = {s["id"]: s for s in before["stack"]}
    new_stacks = {s["id"]: s for s in after["stack"]}
    old_res = {r["id"]: r for r in before["resource"]}
    templates_after = {t["id"]: t for t in after["raw_template"]}
    files_after = {f["id"] for f in after["raw_template_files"]}
    files_rows = {f["id"]: f for f in after["raw_template_files"]}
    traversals = []
    engine = make_engine(url)
    with engine.connect() as conn:
        members = tree_members(conn, [s for s in _migrated_roots(url)])
        active = {r.id: r for r in conn.execute(sa.select(schema.resource).where(ACTIVE))}
    engine.dispose()
    for root, ids in members.items():
        was_converged = old_stacks[root]["convergence"]
        for sid in ids:
            old, new = old_stacks[sid], new_stacks[sid]
            assert new["convergence"]  # 1
            if was_converged or old["convergence"]:
                assert new == old  # left alone
                continue
            assert new["current_traversal"] and len(new["current_traversal"]) == 36  # 2
            assert new["current_traversal"] != old["current_traversal"]
            traversals.append(new["current_traversal"])
            assert new["prev_raw_template_id"] is None  # 3
            if old["prev_raw_template_id"]:
                assert old["prev_raw_template_id"] not in templates_after
            assert new["raw_template_id"] == old["raw_template_id"] and new["raw_template_id"] in templates_after  # 5
            for col in ("action", "status", "status_reason", "owner_id", "name", "tenant", "user_creds_id",
                        "nested_depth", "parent_resource_name", "disable_rollback", "timeout", "updated_at"):
                assert new[col] == old[col], col  # 13
            assert new["current_deps"] == old["current_deps"]  # 14
            tmpl = json.loads(templates_after[new["raw_template_id"]]["template"])
            env = json.loads(templates_after[new["raw_template_id"]]["environment"] or "null")
            explicit, implicit = expected_requires(tmpl, env)
            everything = [r for r in active.values() if r.stack_id == sid]
            rows = [r for r in everything if r.replaced_by is None]
            for r in everything:  # a legacy backup stack's row, adopted as a replaced row (issue 19)
                if r.replaced_by is not None:
                    o = old_res[r.id]
                    assert old_stacks[o["stack_id"]]["backup"] and old_stacks[o["stack_id"]]["owner_id"] == sid
                    assert new_stacks[o["stack_id"]]["deleted_at"] is not None  # the backup is soft-deleted
                    assert active[r.replaced_by].replaces == r.id and active[r.replaced_by].name == r.name
                    assert r.current_template_id == old_stacks[o["stack_id"]]["raw_template_id"]
            ids_by_name = {r.name: r.id for r in rows}
            assert sorted(ids_by_name) == sorted(r.name for r in rows)  # 9: one row per name
            assert set(ids_by_name) <= set(explicit)
            for r in rows:
                assert r.current_template_id == new["raw_template_id"]  # 6
                req = json.loads(r.requires)
                assert isinstance(req, list) and req == sorted(set(req), reverse=True)  # 7
                assert r.id not in req  # 8
                must = {ids_by_name[d] for d in explicit[r.name] if d in ids_by_name}
                must |= {ids_by_name[d] for d in implicit.get(r.name, ()) if d in ids_by_name}
                assert set(req) == must, (tmpl.get("description"), r.name, req, must)
                assert isinstance(json.loads(r.needed_by), list)  # 10
                assert r.engine_id is None  # 11
                o = old_res[r.id]
                for col in ("action", "status", "nova_instance", "uuid", "rsrc_prop_data_id", "attr_data_id",
                            "root_stack_id", "replaced_by"):
                    assert getattr(r, col) == o[col], col  # 13
                assert r.replaces == o["replaces"] or active[r.replaces].replaced_by == r.id
    assert len(traversals) == len(set(traversals))  # 2: distinct
    used_files = {t["files_id"] for t in after["raw_template"] if t["files_id"]}
    orphaned = {f["id"] for f in before["raw_template_files"]} & files_after - used_files
    assert not orphaned - {f["id"] for f in before["raw_template_files"]
                           if f["id"] not in {t["files_id"] for t in before["raw_template"]}}  # 4
    assert not after["sync_point"]  # 15


def test_second_migrate_changes_nothing(sample_db):
    url, sample = sample_db
    cli("--db", url, "migrate", "--all")
    first = dump(url)
    result, report = cli_json("--db", url, "migrate", "--all")
    assert "migrated" not in report["counts"]
    assert dump(url) == first  # 17: no new traversal, no row change
    again = cli("--db", url, "migrate", sample.special["updated"])
    assert again.exit_code == 0 and "already done" in again.stdout


def test_prune_orphans_migrates_stale_and_duplicates(sample_db):
    url, sample = sample_db
    result, report = cli_json("--db", url, "migrate", "--prune-orphans",
                              sample.special["stale_row"], sample.special["duplicate_rows"])
    assert result.exit_code == 0, result.stderr
    assert report["counts"] == {"migrated": 2}


def test_live_engine_refuses_unless_online(db_url):
    engine = make_engine(db_url, must_exist=False)
    sample = build_sample(engine, roots=2, seed=5, live_engine=True)
    engine.dispose()
    before = dump(db_url)
    result = cli("--db", db_url, "migrate", "--all")
    assert result.exit_code == 1
    assert "heat-engine is running" in result.stderr and "--online" in result.stderr
    assert dump(db_url) == before
    result = cli("--db", db_url, "migrate", "--online", sample.special["updated"])
    assert result.exit_code == 0, result.stderr


def test_tree_locked_by_live_engine_is_skipped(sample_db):
    url, sample = sample_db
    root = sample.special["updated"]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(schema.service.insert().values(
            id="svc-live", engine_id="eng-live", host="h", hostname="h", binary="heat-engine", topic="engine",
            report_interval=60, created_at=sa.func.now(), updated_at=None))
        from migrator.heat.engines import utcnow
        conn.execute(schema.service.update().where(schema.service.c.id == "svc-live").values(updated_at=utcnow()))
        conn.execute(schema.stack_lock.insert().values(stack_id=root, engine_id="eng-live"))
    engine.dispose()
    before = tree_rows(url, root)
    result = cli("--db", url, "migrate", "--online", root)
    assert result.exit_code == 3
    assert "is locked by engine eng-live" in result.stderr and "(alive)" in result.stderr
    assert tree_rows(url, root) == before
