"""Heat's implicit plugin dependencies (``deps.implicit``): one test per rule and per quirk.

Every expected edge is written out by hand from the ten ``add_dependencies``
overrides of openstack-heat 27.0.1; tests/interop/test_implicit_oracle.py checks
the same module against Heat's own ``migrate_to_convergence``.
"""

from __future__ import annotations

import json

import pytest

from migrator.planning.deps import TemplateError, Undecidable, find_cycle, stack_dependencies, template_dependencies
from migrator.planning.plan import analyse, plan_tree
from migrator.heat.tree import Tree

from helpers import hot, resource_row, stack_row, template_row

NET = {"type": "OS::Neutron::Net"}
GR_NET = {"get_resource": "net"}


def gr(name):
    return {"get_resource": name}


def subnet(network, **props):
    return {"type": "OS::Neutron::Subnet", "properties": {"network": network, **props}}


def port(network, **props):
    return {"type": "OS::Neutron::Port", "properties": {"network": network, **props}}


def iface(router, subnet_name=None, **props):
    p = {"router": gr(router), **props}
    if subnet_name is not None:
        p["subnet"] = gr(subnet_name)
    return {"type": "OS::Neutron::RouterInterface", "properties": p}


def server(networks=None):
    props = {"image": "i", "flavor": "f"}
    if networks is not None:
        props["networks"] = networks
    return {"type": "OS::Nova::Server", "properties": props}


def implicit(resources, environment=None, files=None, physical=None, template=None):
    """The implicit edges alone: {name: sorted targets} for resources that gained any."""
    template = template or hot(resources)
    rows = [{"id": i, "name": n, "nova_instance": (physical or {}).get(n)} for i, n in enumerate(resources, 1)]
    full = stack_dependencies(template, environment, files, rows)
    explicit = template_dependencies(template, environment)
    extra = {n: sorted(full.requires[n] - explicit.requires[n]) for n in full.resources}
    return {n: v for n, v in extra.items() if v}


# ------------------------------------------------------------------------- Port


def test_port_depends_on_subnets_of_its_network():
    res = {"net": NET, "net2": NET, "sub": subnet(GR_NET), "sub2": subnet(gr("net2")),
           "p": port(GR_NET)}
    assert implicit(res) == {"p": ["sub"]}


def test_get_resource_reads_as_the_name_not_the_physical_id():
    """At load time Heat's StackDefinition has no resource data: get_resource gives
    the target's name, so a literal equal to the name matches and the id does not."""
    res = {"net": NET, "sub": subnet(GR_NET), "by_name": port("net"), "by_id": port("net-uuid")}
    assert implicit(res, physical={"net": "net-uuid"}) == {"by_name": ["sub"]}


def test_port_and_subnet_deprecated_network_id():
    res = {"net": NET, "sub": {"type": "OS::Neutron::Subnet", "properties": {"network_id": GR_NET}},
           "p": {"type": "OS::Neutron::Port", "properties": {"network_id": GR_NET}}}
    assert implicit(res) == {"p": ["sub"]}


def test_get_attr_reads_as_none_so_two_attribute_networks_match():
    """get_attr is None at load time; a null string property is '' in Heat."""
    attr = {"get_attr": ["net", "name"]}
    res = {"net": NET, "sub": subnet(attr), "p": port(attr), "q": port(GR_NET)}
    assert implicit(res) == {"p": ["sub"]}


def test_port_without_network_is_skipped():
    """network is required: reading it fails, Heat skips the pair."""
    res = {"net": NET, "sub": subnet(None), "p": {"type": "OS::Neutron::Port", "properties": {}}}
    assert implicit(res) == {}


def test_parameters_and_string_functions_resolve():
    res = {"net": NET, "sub": subnet({"get_param": "n"}),
           "p": port({"str_replace": {"template": "ext-X", "params": {"X": "net"}}}),
           "q": port({"list_join": ["-", ["ext", gr("net")]]})}
    template = hot(res, parameters={"n": {"type": "string"}})
    assert implicit(res, {"parameters": {"n": "ext-net"}}, template=template) == {"p": ["sub"], "q": ["sub"]}


def test_yaql_in_a_compared_property_runs_as_in_heat():
    # the port's network is "ext-net" by a yaql expression over a parameter; worked out by hand
    res = {"net": NET, "sub": subnet({"get_param": "n"}),
           "p": port({"yaql": {"expression": '$.data.prefix + "-net"', "data": {"prefix": {"get_param": "pre"}}}})}
    template = hot(res, version="2017-09-01", parameters={"n": {"type": "string"}, "pre": {"type": "string"}})
    assert implicit(res, {"parameters": {"n": "ext-net", "pre": "ext"}}, template=template) == {"p": ["sub"]}
    assert implicit(res, {"parameters": {"n": "ext-net", "pre": "int"}}, template=template) == {}


def test_numbers_and_booleans_read_as_strings():
    """A string property's int or bool value is str()-ed by Property.get_value."""
    res = {"sub": subnet("42"), "sub_b": subnet("True"), "p": port({"get_param": "n"}), "q": port(True)}
    template = hot(res, parameters={"n": {"type": "number", "default": 42}})
    assert implicit(res, template=template) == {"p": ["sub"], "q": ["sub_b"]}


# ----------------------------------------------------------------------- Server


def test_server_on_a_network_and_subnets_of_unknown_network():
    """Subnets on the server's network, plus any subnet whose network is unknown."""
    res = {"net": NET, "net2": NET, "sub": subnet(GR_NET), "sub2": subnet(gr("net2")),
           "sub_attr": subnet({"get_attr": ["net", "name"]}), "s": server([{"network": GR_NET}])}
    assert implicit(res) == {"s": ["sub", "sub_attr"]}


def test_server_entry_without_network_needs_every_subnet():
    res = {"net": NET, "net2": NET, "sub": subnet(GR_NET), "sub2": subnet(gr("net2")),
           "s": server([{"port": "existing-port"}])}
    assert implicit(res) == {"s": ["sub", "sub2"]}


def test_server_deprecated_uuid_and_no_networks():
    res = {"net": NET, "net2": NET, "sub": subnet(GR_NET), "sub2": subnet(gr("net2")),
           "old": server([{"uuid": gr("net2")}]), "none": server(), "empty": server([])}
    assert implicit(res) == {"old": ["sub2"]}


# ----------------------------------------------------------------------- Router


def test_router_depends_on_subnets_of_its_gateway_network():
    res = {"ext": NET, "sub": subnet(gr("ext")), "other": subnet("elsewhere"),
           "r": {"type": "OS::Neutron::Router", "properties": {"external_gateway_info": {"network": gr("ext")}}},
           "bare": {"type": "OS::Neutron::Router"}}
    assert implicit(res) == {"r": ["sub"]}


def test_router_gateway_interfaces_on_its_router_and_subnets_on_its_network():
    res = {"net": NET, "sub": subnet(GR_NET), "router": {"type": "OS::Neutron::Router"},
           "router2": {"type": "OS::Neutron::Router"},
           "i": iface("router", "sub"),
           "i_old": {"type": "OS::Neutron::RouterInterface", "properties": {"router_id": gr("router"), "subnet_id": gr("sub")}},
           "i2": iface("router2", "sub"),
           "gw": {"type": "OS::Neutron::RouterGateway", "properties": {"router_id": gr("router"), "network_id": GR_NET}}}
    assert implicit(res) == {"gw": ["i", "i_old", "sub"]}


# ------------------------------------------------------------------- FloatingIP


def _fip_stack():
    return {"ext": NET, "net": NET, "sub": subnet(GR_NET), "sub2": subnet(GR_NET),
            "router": {"type": "OS::Neutron::Router", "properties": {"external_gateway_info": {"network": gr("ext")}}},
            "router2": {"type": "OS::Neutron::Router"},
            "gw": {"type": "OS::Neutron::RouterGateway", "properties": {"router_id": gr("router2"), "network": gr("ext")}},
            "i": iface("router", "sub"), "i2": iface("router", "sub2"),
            "port": port(GR_NET, fixed_ips=[{"subnet": gr("sub")}])}


def test_floating_ip_gateway_router_and_interface_of_its_port():
    res = _fip_stack() | {
        "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": gr("ext"), "port_id": gr("port")}}}
    edges = implicit(res)
    assert edges["fip"] == ["gw", "i", "router"]


def test_floating_ip_deprecated_floating_network_id():
    res = _fip_stack() | {"fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network_id": gr("ext")}}}
    assert implicit(res)["fip"] == ["gw", "router"]


def test_floating_ip_port_without_fixed_ips_matches_interface_without_subnet():
    res = {"net": NET, "router": {"type": "OS::Neutron::Router"}, "sub": subnet(GR_NET),
           "i_sub": iface("router", "sub"), "i_port": iface("router", port="some-port"),
           "port": port(GR_NET),
           "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": "public", "port_id": gr("port")}}}
    assert implicit(res)["fip"] == ["i_port"]


def test_floating_ip_asks_the_stack_for_the_subnets_of_a_ports_network():
    """Heat asks Neutron show_network(port network); offline the stack answers:
    its subnets created on that network, by physical id."""
    res = {"net": NET, "net2": NET, "router": {"type": "OS::Neutron::Router"}, "sub": subnet(GR_NET),
           "sub2": subnet(gr("net2")),
           "i_lit": {"type": "OS::Neutron::RouterInterface", "properties": {"router": gr("router"), "subnet": "sub-uuid"}},
           "i_lit2": {"type": "OS::Neutron::RouterInterface", "properties": {"router": gr("router"), "subnet": "sub2-uuid"}},
           "i_name": iface("router", "sub"),
           "port": port("net-uuid"),
           "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": "public", "port_id": gr("port")}}}
    physical = {"net": "net-uuid", "sub": "sub-uuid", "net2": "net2-uuid", "sub2": "sub2-uuid"}
    assert implicit(res, physical=physical)["fip"] == ["i_lit"]
    # a subnet row without a physical id is not on any network Neutron knows
    assert "fip" not in implicit(res, physical={"net": "net-uuid"})


def test_floating_ip_reading_the_rows_is_not_shared_between_stacks():
    res = {"net": NET, "router": {"type": "OS::Neutron::Router"}, "sub": subnet(GR_NET),
           "i_lit": {"type": "OS::Neutron::RouterInterface", "properties": {"router": gr("router"), "subnet": "sub-uuid"}},
           "port": port("net-uuid"),
           "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": "public", "port_id": gr("port")}}}
    template = hot(res)
    names = list(res)
    trees = []
    for n, (sid, pids) in enumerate((("a", {"net": "net-uuid", "sub": "sub-uuid"}), ("b", {}))):
        st = stack_row(sid, sid, 10)
        rows = [resource_row(100 * n + i + 1, sid, name) for i, name in enumerate(names)]
        for r in rows:
            r["nova_instance"] = pids.get(r["name"])
        trees.append(Tree(root=st, stacks=[st], resources={sid: rows}, templates={10: template_row(10, template)}))
    memo: dict = {}
    first, second = (analyse(t, memo) for t in trees)
    assert "i_lit" in first.stacks[0].deps.requires["fip"]
    assert "i_lit" not in second.stacks[0].deps.requires["fip"]


# ----------------------------------------------- FloatingIPAssociation / PortForward


def _assoc_stack(kind: str, props: dict):
    return {"net": NET, "sub": subnet(GR_NET), "sub2": subnet(GR_NET), "router": {"type": "OS::Neutron::Router"},
            "i": iface("router", "sub"), "i2": iface("router", "sub2"),
            "i_none": iface("router", port="p"),
            "port": port(GR_NET, fixed_ips=[{"subnet": gr("sub2")}, {"subnet": gr("sub")}]),
            "port_ip": port(GR_NET, fixed_ips=[{"ip_address": "10.0.0.5"}]),
            "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": "public"}},
            "x": {"type": kind, "properties": props}}


def test_association_looks_at_the_first_fixed_ip_only():
    res = _assoc_stack("OS::Neutron::FloatingIPAssociation", {"floatingip_id": gr("fip"), "port_id": gr("port")})
    assert implicit(res)["x"] == ["i2"]


def test_association_fixed_ip_without_subnet_matches_interface_without_subnet():
    res = _assoc_stack("OS::Neutron::FloatingIPAssociation", {"floatingip_id": gr("fip"), "port_id": gr("port_ip")})
    assert implicit(res)["x"] == ["i_none"]


def test_port_forward_looks_at_the_first_fixed_ip_only():
    res = _assoc_stack("OS::Neutron::FloatingIPPortForward", {
        "floatingip": gr("fip"), "internal_port": gr("port"), "internal_port_number": 80,
        "external_port": 8080, "protocol": "tcp", "internal_ip_address": "10.0.0.4"})
    assert implicit(res)["x"] == ["i2"]


# ------------------------------------------------------------ extra routes, VPC


def _route_stack(extra: dict):
    return {"net": NET, "sub": subnet(GR_NET), "router": {"type": "OS::Neutron::Router"},
            "router2": {"type": "OS::Neutron::Router"}, "i": iface("router", "sub"), "i2": iface("router2", "sub"),
            "gw": {"type": "OS::Neutron::RouterGateway", "properties": {"router_id": gr("router"), "network": "public"}},
            "gw2": {"type": "OS::Neutron::RouterGateway", "properties": {"router_id": gr("router2"), "network": "public"}},
            **extra}


def test_extra_route_interfaces_and_gateways_of_its_router():
    res = _route_stack({"route": {"type": "OS::Neutron::ExtraRoute", "properties": {
        "router_id": gr("router"), "destination": "10.1.0.0/24", "nexthop": "10.0.0.1"}}})
    assert implicit(res)["route"] == ["gw", "i"]


def test_extra_route_set_interfaces_of_its_router_only():
    res = _route_stack({"routes": {"type": "OS::Neutron::ExtraRouteSet", "properties": {"router": gr("router"), "routes": []}}})
    assert implicit(res)["routes"] == ["i"]


def test_vpc_gateway_attachment_route_tables_of_its_vpc():
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
        "VPC": {"Type": "AWS::EC2::VPC"}, "VPC2": {"Type": "AWS::EC2::VPC"},
        "RT": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "VPC"}}},
        "RT2": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "VPC2"}}},
        "IGW": {"Type": "AWS::EC2::InternetGateway"},
        "Att": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {"VpcId": {"Ref": "VPC"}, "InternetGatewayId": {"Ref": "IGW"}}}}}
    assert implicit(template["Resources"], template=template) == {"Att": ["RT"]}


# ------------------------------------------------------------------- registry

PROVIDER_SUBNET = "heat_template_version: 2018-08-31\nparameters:\n  network: {type: string}\nresources: {}\n"


def test_registry_alias_runs_the_plugin_rule_and_has_the_interface():
    res = {"net": NET, "sub": {"type": "My::Subnet", "properties": {"network": GR_NET}},
           "p": {"type": "My::Port", "properties": {"network": GR_NET}}}
    env = {"resource_registry": {"My::Subnet": "OS::Neutron::Subnet", "My::Port": "OS::Neutron::Port"}}
    assert implicit(res, env) == {"p": ["sub"]}
    assert implicit(res) == {}


def test_registry_glob_and_per_resource_aliases():
    res = {"net": NET, "sub": {"type": "Net::Subnet", "properties": {"network": GR_NET}},
           "sub2": {"type": "Any::Thing", "properties": {"network": GR_NET}}, "p": port(GR_NET)}
    env = {"resource_registry": {"Net::*": "OS::Neutron::*", "resources": {"sub2": {"Any::Thing": "OS::Neutron::Subnet"}}}}
    assert implicit(res, env) == {"p": ["sub", "sub2"]}


def test_provider_template_registered_as_subnet_is_a_subnet_with_its_parameters():
    res = {"net": NET, "sub": {"type": "OS::Neutron::Subnet", "properties": {"network": GR_NET}}, "p": port(GR_NET)}
    env = {"resource_registry": {"OS::Neutron::Subnet": "subnet.yaml"}}
    assert implicit(res, env, {"subnet.yaml": PROVIDER_SUBNET}) == {"p": ["sub"]}


def test_provider_parameter_without_default_is_a_required_property():
    """An absent property whose parameter has no default cannot be read (skipped);
    with a default it reads None, an unknown network the server waits for."""
    with_default = PROVIDER_SUBNET.replace("{type: string}", "{type: string, default: n}")
    res = {"net": NET, "sub": {"type": "OS::Neutron::Subnet"}, "s": server([{"network": GR_NET}])}
    env = {"resource_registry": {"OS::Neutron::Subnet": "subnet.yaml"}}
    assert implicit(res, env, {"subnet.yaml": PROVIDER_SUBNET}) == {}
    assert implicit(res, env, {"subnet.yaml": with_default}) == {"s": ["sub"]}


def test_provider_template_under_another_name_is_not_a_subnet():
    res = {"net": NET, "sub": {"type": "My::Net::Subnet", "properties": {"network": GR_NET}}, "p": port(GR_NET)}
    env = {"resource_registry": {"My::Net::Subnet": "subnet.yaml"}}
    assert implicit(res, env, {"subnet.yaml": PROVIDER_SUBNET}) == {}


def test_provider_template_registered_as_port_runs_no_port_rule():
    """A TemplateResource's add_dependencies adds nothing, whatever it is registered as."""
    provider = "heat_template_version: 2018-08-31\nparameters:\n  network: {type: string}\nresources: {}\n"
    res = {"net": NET, "sub": subnet(GR_NET), "p": port(GR_NET)}
    env = {"resource_registry": {"OS::Neutron::Port": "port.yaml"}}
    assert implicit(res, env, {"port.yaml": provider}) == {}


def test_subnet_mapped_to_none_keeps_the_interface_but_has_no_network():
    res = {"net": NET, "sub": subnet(GR_NET), "p": port(GR_NET),
           "s": server([{"network": GR_NET}])}
    env = {"resource_registry": {"OS::Neutron::Subnet": "OS::Heat::None"}}
    assert implicit(res, env) == {"s": ["sub"]}  # network None: "unknown", so the server waits


def test_missing_provider_template_is_undecidable_only_when_read():
    res = {"net": NET, "sub": {"type": "OS::Neutron::Subnet", "properties": {"network": GR_NET}}, "p": port(GR_NET)}
    env = {"resource_registry": {"OS::Neutron::Subnet": "subnet.yaml"}}
    with pytest.raises(Undecidable, match="subnet.yaml"):
        implicit(res, env, {})


# ------------------------------------------------------------ the whole graph


def test_unevaluated_function_is_undecidable_only_where_a_rule_reads_it():
    res = {"net": NET, "sub": subnet({"digest": ["sha512", "x"]}), "p": port(GR_NET)}
    with pytest.raises(Undecidable, match="digest"):
        implicit(res, template=hot(res, version="2018-08-31"))
    other = {"net": NET, "sub": subnet(GR_NET, name={"digest": ["sha512", "x"]}), "p": port(GR_NET)}
    assert implicit(other) == {"p": ["sub"]}


def test_stack_without_rule_types_pays_nothing(monkeypatch):
    """No rule's type and no registry: the rules are not even set up."""
    import migrator.planning.deps.full as full

    def boom(*args, **kwargs):
        raise AssertionError("implicit rules ran")
    monkeypatch.setattr(full, "implicit_dependencies", boom)
    template = hot({"a": {"type": "OS::Heat::None"}, "b": {"type": "OS::Heat::Value", "depends_on": "a"}})
    stored = {"resource_registry": {"resources": {"a": {"hooks": "pre-create"}}}, "parameters": {}}
    assert stack_dependencies(template, stored, None, []) == template_dependencies(template)
    with pytest.raises(AssertionError):
        stack_dependencies(hot({"p": port("n")}), None, None, [])
    with pytest.raises(AssertionError):
        stack_dependencies(template, {"resource_registry": {"resources": {"a": {"X": "OS::Neutron::Port"}}}}, None, [])


def test_implicit_edge_closing_a_cycle_is_refused_with_the_names():
    res = {"net": NET, "sub": dict(subnet(GR_NET), depends_on=["p"]), "p": port(GR_NET)}
    template = hot(res)
    assert find_cycle(template_dependencies(template).requires) is None
    st = stack_row("s1", "web", 10)
    rows = [resource_row(i + 1, "s1", n) for i, n in enumerate(res)]
    tree = Tree(root=st, stacks=[st], resources={"s1": rows}, templates={10: template_row(10, template)})
    plan = plan_tree(tree)
    assert [r.kind for r in plan.refusals] == ["cycle"]
    assert "p" in plan.refusals[0].message and "sub" in plan.refusals[0].message


def test_planner_writes_implicit_edges_as_row_ids():
    res = {"net": NET, "sub": subnet(GR_NET), "p": port(GR_NET)}
    st = stack_row("s1", "web", 10)
    rows = [resource_row(i + 1, "s1", n) for i, n in enumerate(res)]  # net 1, sub 2, p 3
    tree = Tree(root=st, stacks=[st], resources={"s1": rows}, templates={10: template_row(10, hot(res))})
    changes = {c.pk["id"]: c.after for c in plan_tree(tree).changes if c.table == "resource"}
    assert json.loads(changes[3]["requires"]) == [2, 1]


def test_provider_files_come_from_the_trees_files_rows():
    res = {"net": NET, "sub": {"type": "OS::Neutron::Subnet", "properties": {"network": GR_NET}}, "p": port(GR_NET)}
    env = {"resource_registry": {"OS::Neutron::Subnet": "subnet.yaml"}}
    st = stack_row("s1", "web", 10)
    rows = [resource_row(i + 1, "s1", n) for i, n in enumerate(res)]
    tree = Tree(root=st, stacks=[st], resources={"s1": rows}, templates={10: template_row(10, hot(res), env, files_id=7)},
                stack_files={7: {"id": 7, "files": json.dumps({"subnet.yaml": PROVIDER_SUBNET})}})
    analysis = analyse(tree)
    assert not analysis.refusals
    assert "sub" in analysis.stacks[0].deps.requires["p"]


def test_a_registry_loop_is_a_template_error():
    res = {"p": {"type": "A::B", "properties": {"network": "x"}}}
    with pytest.raises(TemplateError, match="loop"):
        implicit(res, {"resource_registry": {"A::B": "C::D", "C::D": "A::B"}})


def test_corrupt_files_map_is_refused_naming_the_template():
    res = {"net": NET, "sub": {"type": "OS::Neutron::Subnet", "properties": {"network": GR_NET}}, "p": port(GR_NET)}
    env = {"resource_registry": {"OS::Neutron::Subnet": "subnet.yaml"}}
    st = stack_row("s1", "web", 10)
    rows = [resource_row(i + 1, "s1", n) for i, n in enumerate(res)]
    tree = Tree(root=st, stacks=[st], resources={"s1": rows}, templates={10: template_row(10, hot(res), env, files_id=7)},
                stack_files={7: {"id": 7, "files": "{not json"}})
    plan = plan_tree(tree)
    assert [r.kind for r in plan.refusals] == ["bad_template"]
    assert "files of raw_template 10" in plan.refusals[0].message


def test_tree_loads_the_files_of_templates_that_may_need_them(sqlite_url):
    """Provider templates live in raw_template_files: the loader reads the rows of
    current templates that name a template file, and only those."""
    import sqlalchemy as sa

    from migrator.heat.connection import make_engine
    from migrator.heat.tree import legacy_root_ids, load_trees
    from migrator.sample.build import build_sample

    engine = make_engine(sqlite_url, must_exist=False)
    try:
        build_sample(engine, roots=12, seed=3, specials=False)
        with engine.connect() as conn:
            trees, _ = load_trees(conn, legacy_root_ids(conn))
    finally:
        engine.dispose()
    hinted_somewhere = False
    for tree in trees:
        wanted, others = set(), set()
        for st in tree.stacks:
            row = tree.templates[st["raw_template_id"]]
            if row["files_id"] is None:
                continue
            hinted = any(h in row["template"] + (row["environment"] or "") for h in (".yaml", ".template", "get_file"))
            (wanted if hinted else others).add(row["files_id"])
        assert set(tree.stack_files) == wanted
        hinted_somewhere |= bool(wanted)
    assert hinted_somewhere


def test_only_templates_naming_a_file_load_their_files():
    from migrator.heat.tree import _may_need_files

    def row(template, environment="{}", files_id=4):
        return {"template": json.dumps(template), "environment": environment, "files_id": files_id}
    plain = hot({"a": {"type": "OS::Heat::None"}})
    assert not _may_need_files(row(plain))
    assert not _may_need_files(row(hot({"a": {"type": "x.yaml"}}), files_id=None))
    assert _may_need_files(row(hot({"a": {"type": "x.yaml"}})))
    assert _may_need_files(row(plain, json.dumps({"resource_registry": {"A::B": "b.template"}})))
    assert _may_need_files(row(hot({"a": {"type": "OS::Heat::Value", "properties": {"value": {"get_file": "f"}}}})))
