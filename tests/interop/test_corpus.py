"""convmig against Heat on a realistic networking corpus (issue 14), on SQLite,
PostgreSQL and MariaDB, with whichever Heat release run.sh selected.

Per database server, once (module-scoped ``corpus``): Heat's own schema, then
Heat's *legacy* engine creates every tree of ``corpus.py`` (networks, subnets,
routers, gateways, ports, servers, floating IPs, extra routes, an AWS VPC, an
Octavia load balancer, groups of servers, software deployments, registry
aliases, a provider template typed as a Neutron resource, a Magnum-like cluster
with a yaql condition) against the fake cloud of ``fake_cloud.py``, which fails
a delete, as Neutron does with 409 Conflict, while anything that Heat's own
graph says needs the resource still exists. That database is copied; on the
copies:

* "conv" / "heat": ``convmig migrate --all`` / Heat's own ``Stack.migrate_to_convergence``;
  their ``requires`` must be equal for every resource, and a convergence DELETE
  straight after either must succeed for every tree;
* "conv_upd" / "heat_upd": the same migrations, then a convergence UPDATE, then a DELETE;
* "planted": Heat's migration with the ``requires`` of one tree emptied, so its
  delete order is wrong: the fake cloud must refuse it (the harness's own check).

The runs on Heat's own migration are the oracle: they show that the corpus and
the fake cloud are sound, so a failure on convmig's copies is convmig's.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict

import pytest
import sqlalchemy as sa

from .world import assert_delete, assert_update, dump, legacy_world, tree_of

pytestmark = pytest.mark.interop

RELEASE = os.environ.get("CONVMIG_HEAT_RELEASE", "heat")
KINDS = ("net_tenant", "net_gateway", "aws_vpc", "lb_web", "registry", "magnum")
#: a tree whose delete order the planted check breaks (it holds ports on subnets)
PLANTED = "net_tenant"


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mariadb"])
def corpus(request, heat_python, tmp_path_factory, interop_report):
    logdir = tmp_path_factory.mktemp(f"corpus-{request.param}")
    report = interop_report.setdefault(f"{RELEASE}/{request.param}/corpus", {})
    with legacy_world(request.param, heat_python, logdir, report, heat_set="corpus") as w:
        w.cloud_needs, w.release = w.made["cloud"]["needs"], w.made["heat"]
        for db in ("conv", "heat", "conv_upd", "heat_upd", "planted"):
            w.copy("base", db)
        w.conv_runs = {}
        for db in ("conv", "conv_upd"):
            _, out, _ = w.convmig(db, "migrate", "--all", "--format", "json", expect=(0, 1))
            w.conv_runs[db] = json.loads(out)
        w.heat_run = w.heat("heat-migrate", "heat", *w.roots.values())["results"]
        for db in ("heat_upd", "planted"):
            w.heat("heat-migrate", db, *w.roots.values())
        w.conv_dump, w.heat_dump = dump(w.urls["conv"]), dump(w.urls["heat"])
        yield w


def requires_by_name(dumped: dict, roots: list[str]) -> dict[tuple[str, str], list[str]]:
    """(stack name, resource name) -> the names of the resources it requires, for
    every live resource of these trees (ids differ between copies; names do not)."""
    stacks = {s["id"]: s["name"] for s in dumped["stack"].values()}
    ids = set().union(*(tree_of(dumped, r) for r in roots))
    rows = {r["id"]: r for r in dumped["resource"].values() if r["stack_id"] in ids}
    return {(stacks[r["stack_id"]], r["name"]): sorted(rows[t]["name"] for t in json.loads(r["requires"] or "[]"))
            for r in rows.values()}


# --------------------------------------------------------------------------- the corpus itself


def test_corpus_is_legacy_and_heats_plugins_saw_its_implicit_dependencies(corpus):
    """Every tree CREATE_COMPLETE on the legacy engine, and Heat's own graph (as the
    fake cloud learned it) holds the implicit edges the corpus is there for."""
    assert {k: v["state"] for k, v in corpus.created.items()} == {k: "CREATE_COMPLETE" for k in KINDS}
    assert not any(s["convergence"] for s in corpus.base_dump["stack"].values())
    needs = corpus.cloud_needs

    def needed_by(stack: str, name: str, typ: str) -> set[str]:
        return set(needs.get(f"interop-{stack}/{name} ({typ})", []))

    expected = {  # (tree, required, its type) -> dependants Heat's plugins add (written by hand)
        ("net_tenant", "sub_b", "OS::Neutron::Subnet"): {"port_fixed", "port_any", "vm_net", "vm_port"},
        ("net_tenant", "router", "OS::Neutron::Router"): {"fip_port", "fip_free"},
        ("net_tenant", "ri_a", "OS::Neutron::RouterInterface"): {"fip_port"},
        ("net_gateway", "ri1", "OS::Neutron::RouterInterface"): {"gw", "route", "routes"},
        ("net_gateway", "ri2", "OS::Neutron::RouterInterface"): {"gw", "route", "routes", "forward"},
        ("net_gateway", "gw", "OS::Neutron::RouterGateway"): {"fip", "fip_pf", "route"},
        ("aws_vpc", "Routes", "AWS::EC2::RouteTable"): {"Attach"},
        ("registry", "sub", "Corp::Subnet"): {"vm", "port"},
    }
    for (tree, name, typ), dependants in expected.items():
        got = {d.split("/", 1)[1].split(" ", 1)[0] for d in needed_by(tree, name, typ)}
        assert dependants <= got, (tree, name, sorted(got))


def test_both_migrate_every_tree(corpus):
    heat = corpus.heat_run
    assert {k: heat[sid]["result"] for k, sid in corpus.roots.items()} == {k: "migrated" for k in KINDS}, heat
    run = corpus.conv_runs["conv"]
    problems = [f"{p['kind']}: {p.get('root_id')}" for p in run.get("problems", [])]
    assert run["counts"] == {"migrated": len(KINDS)}, (run["counts"], problems)


def test_requires_equal_heats_own_migration_for_every_resource(corpus):
    """Heat's ``Stack.migrate_to_convergence`` is the oracle, resource by resource."""
    roots = list(corpus.roots.values())
    heat = requires_by_name(corpus.heat_dump, roots)
    conv = requires_by_name(corpus.conv_dump, roots)
    assert set(heat) == set(conv)
    missing, extra = defaultdict(list), defaultdict(list)
    for key in sorted(heat):
        for t in sorted(set(heat[key]) - set(conv[key])):
            missing[key[0]].append(f"{key[1]}->{t}")
        for t in sorted(set(conv[key]) - set(heat[key])):
            extra[key[0]].append(f"{key[1]}->{t}")
    equal = sum(1 for k in heat if heat[k] == conv[k])
    corpus.report["requires equal to Heat's"] = f"{equal} of {len(heat)} resources"
    corpus.report["edges missing"] = sum(len(v) for v in missing.values())
    assert sum(len(v) for v in heat.values()) >= 100, "the corpus must exercise many edges"
    assert not missing and not extra, (
        f"{equal} of {len(heat)} resources equal; convmig lacks " + json.dumps(missing, indent=1)
        + "\nand adds " + json.dumps(extra, indent=1))


# --------------------------------------------------------------------------- the engine on each result


def _deleted(corpus, db: str) -> dict:
    result = corpus.heat("converge-delete", db, *corpus.roots.values())
    return result


def test_harness_heats_own_migration_then_delete_succeeds(corpus):
    """The oracle's run: with Heat's own ``requires`` every tree deletes, and the
    fake cloud refused nothing (so the corpus and the cloud are sound)."""
    result = _deleted(corpus, "heat")
    assert result["conflicts"] == []
    assert_delete(result)


def test_harness_catches_a_wrong_delete_order(corpus):
    """The planted bug: Heat's migration with one tree's ``requires`` emptied; the
    convergence delete then removes subnets while ports are on them, and the fake
    cloud must refuse that as Neutron does."""
    ids = tree_of(corpus.base_dump, corpus.roots[PLANTED])
    engine = sa.create_engine(corpus.urls["planted"])
    try:
        with engine.begin() as conn:
            res = sa.table("resource", sa.column("stack_id"), sa.column("requires"))
            conn.execute(sa.update(res).where(res.c.stack_id.in_(ids)).values(requires="[]"))
    finally:
        engine.dispose()
    result = corpus.heat("converge-delete", "planted", corpus.roots[PLANTED])
    root = result["after"][corpus.roots[PLANTED]][0]
    assert root["state"] == "DELETE_FAILED" and "409 Conflict" in root["reason"], root
    assert any("is still in use by" in c for c in result["conflicts"])


def test_convergence_delete_right_after_convmigs_migration(corpus):
    result = _deleted(corpus, "conv")
    corpus.report["delete after migration: 409s"] = len(result["conflicts"])
    assert result["conflicts"] == [], "\n".join(result["conflicts"])
    assert_delete(result)


def test_harness_heats_own_migration_update_then_delete(corpus):
    update = corpus.heat("converge-update", "heat_upd", *corpus.roots.values())
    assert_update(update, convergence=True, replacements=True)
    delete = _deleted(corpus, "heat_upd")
    assert update["conflicts"] == delete["conflicts"] == []
    assert_delete(delete)


def test_convergence_update_then_delete_after_convmigs_migration(corpus):
    update = corpus.heat("converge-update", "conv_upd", *corpus.roots.values())
    assert_update(update, convergence=True, replacements=True)
    delete = _deleted(corpus, "conv_upd")
    corpus.report["update then delete: 409s"] = len(delete["conflicts"])
    assert delete["conflicts"] == [], "\n".join(delete["conflicts"])
    assert_delete(delete)
