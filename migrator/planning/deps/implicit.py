"""Implicit dependencies: the edges Heat's resource plugins add in ``add_dependencies``.

Mirrors, rule by rule, the ten overrides of openstack-heat 27.0.1 and the loop
that calls them (``Stack._add_implicit_dependencies``):

==================================  ==============================================
plugin                              Heat source (``heat/engine/resources/``)
==================================  ==============================================
``OS::Neutron::Port``               ``openstack/neutron/port.py``
``OS::Nova::Server``                ``openstack/nova/server.py``
``OS::Neutron::Router``,            ``openstack/neutron/router.py``
``OS::Neutron::RouterGateway``
``OS::Neutron::FloatingIP``,        ``openstack/neutron/floatingip.py``
``OS::Neutron::FloatingIPAssociation``,
``OS::Neutron::FloatingIPPortForward``
``OS::Neutron::ExtraRoute``         ``openstack/neutron/extraroute.py``
``OS::Neutron::ExtraRouteSet``      ``openstack/neutron/extrarouteset.py``
``AWS::EC2::VPCGatewayAttachment``  ``aws/ec2/internet_gateway.py``
==================================  ==============================================

Which rule runs is decided by the class Heat instantiates (through registry
aliases, :mod:`registry`); which resources a rule looks at by ``has_interface``;
property values as they read when Heat loads the stored stack
(:mod:`properties`: ``get_resource`` gives a *name*, ``get_attr`` None).

Where the two differ on purpose:

* A rule's read that Heat catches (``except (ValueError, TypeError): continue``)
  skips the pair, as in Heat. A read Heat does *not* catch inside its loop (a
  KeyError from a provider template without that parameter, both a property and
  its deprecated name set, a FloatingIPAssociation's port with unreadable
  fixed_ips) aborts the rest of that resource's loop in Heat, in an order that
  depends on Python's per-process string hashing; here it skips only the pair.
* FloatingIP asks Neutron (``show_network``) for the subnets of a port's network
  when the port has no fixed IPs. Here the stack answers: the subnets of network
  ``N`` are the physical ids of the stack's Subnets whose network was ``N`` when
  they were created (``get_resource`` then gave the target's physical id). A
  subnet made outside the stack is not known, so it matches nothing, as when
  Heat's call fails. Only this reads the rows' physical ids.
"""

from __future__ import annotations

import json
from typing import Callable

from migrator.planning.deps.conditions import _Evaluator
from migrator.planning.deps.dialects import _dialect_of
from migrator.planning.deps.model import TemplateDeps, Undecidable
from migrator.planning.deps.parameters import _environment_parts, _Parameters
from migrator.planning.deps.properties import (
    PLUGIN_SCHEMAS, LoadValues, Properties, PropertyError, Schema, provider_schema)
from migrator.planning.deps.registry import NOT_TYPES, Registry

SUBNET, PORT, ROUTER = "OS::Neutron::Subnet", "OS::Neutron::Port", "OS::Neutron::Router"
IFACE, GATEWAY, ROUTE_TABLE = "OS::Neutron::RouterInterface", "OS::Neutron::RouterGateway", "AWS::EC2::RouteTable"

_EMPTY = Schema({})


class _Stack:
    """One stack as the rules see it: kinds, properties and the growing graph."""

    def __init__(self, template: dict, environment: dict | None, files: dict, deps: TemplateDeps,
                 physical_ids: dict, ident: dict):
        dialect = _dialect_of(template)
        resources = template.get(dialect.resources) or {}
        self.snippets = {n: resources[n] for n in deps.resources}
        self.props_key = dialect.props_key
        self.types = deps.types
        self.names = deps.resources
        self.graph = {n: set(deps.requires.get(n, ())) for n in deps.resources}
        self.physical_ids = physical_ids
        self.used_rows = False
        self._files = files
        self._registry = Registry(environment)
        self._template, self._environment, self._ident, self._dialect = template, environment, ident, dialect
        self._load_values = None
        self._kinds: dict = {}
        self._having: dict = {}
        self._props: dict = {}
        self._provider: dict = {}

    def kind(self, name):
        if name not in self._kinds:
            self._kinds[name] = self._registry.kind(self.types[name], name)
        return self._kinds[name]

    def has(self, name, interface: str) -> bool:
        """``Resource.has_interface``."""
        return self.types[name] == interface or self.kind(name).interface == interface

    def having(self, *interfaces: str) -> list:
        """The resources with any of these interfaces, in template order (cached).

        A rule looks only at these: a pair Heat would skip on a type test costs
        nothing, and a property is read only when some resource can match."""
        key = interfaces
        if key not in self._having:
            self._having[key] = [n for n in self.names if any(self.has(n, i) for i in interfaces)]
        return self._having[key]

    def _values_pair(self) -> tuple:
        """(load-time, creation-time) function values, built on the first property read:
        most stacks with a rule's type never read one."""
        if self._load_values is None:
            d, env = self._dialect, self._environment
            self._param_defaults = _environment_parts(env)[1] if isinstance(env, dict) else {}
            params = _Parameters(d, self._template.get(d.parameters) or {}, env, self._ident)
            ev = _Evaluator(d, self._template, params)
            names = frozenset(self._template.get(d.resources) or {})
            self._load_values = (LoadValues(d, ev, names, self._files),
                                 LoadValues(d, ev, names, self._files, refs=self.physical_ids))
        return self._load_values

    def props(self, name) -> Properties:
        if name not in self._props:
            self._props[name] = Properties(self._schema(name), self._data(name), self._values_pair()[0],
                                           f"resource {name!r}")
        return self._props[name]

    def created_props(self, name) -> Properties:
        """The properties as they resolved when the resource was created (physical ids)."""
        return Properties(self._schema(name), self._data(name), self._values_pair()[1], f"resource {name!r}")

    def _data(self, name):
        return self.snippets[name].get(self.props_key) or {}

    def _schema(self, name) -> Schema:
        kind = self.kind(name)
        if kind.template is not None:
            return self._provider_schema(name, kind.template)
        if kind.plugin in PLUGIN_SCHEMAS:
            return PLUGIN_SCHEMAS[kind.plugin]
        if kind.plugin == "OS::Heat::None":
            return _EMPTY
        raise Undecidable(f"resource {name!r}: a {self.types[name]!r} resolves to {kind.plugin!r}, "
                          "whose properties are not read offline")

    def _provider_schema(self, name, template_name: str) -> Schema:
        if template_name not in self._provider:
            text = self._files.get(template_name)
            if not isinstance(text, str):
                raise Undecidable(f"resource {name!r}: provider template {template_name!r} "
                                  "is not in the stack's stored files")
            self._values_pair()  # sets _param_defaults
            self._provider[template_name] = provider_schema(_parse(text), self._param_defaults)
        return self._provider[template_name]

    def add(self, requirer, required) -> None:
        self.graph[requirer].add(required)


def _parse(text: str) -> dict:
    """``template_format.simple_parse``: JSON, else YAML."""
    try:
        parsed = json.loads(text)
    except ValueError:
        import yaml  # only provider templates need it
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            parsed = None
    return parsed if isinstance(parsed, dict) else {}


def _read(func: Callable):
    """Run one property read: (True, value), or (False, None) where Heat's read raises."""
    try:
        return True, func()
    except PropertyError:
        return False, None


# ------------------------------------------------------------------------ the rules

def _port(st: _Stack, me) -> None:
    """Port: every Subnet on the port's network."""
    for res in st.having(SUBNET):
        ok, pair = _read(lambda: (st.props(res).get("network"), st.props(me)["network"]))
        if ok and pair[0] == pair[1]:
            st.add(me, res)


def _server(st: _Stack, me) -> None:
    """Server: Subnets of its networks; one with no known network; any, when an
    entry of ``networks`` has no network."""
    subnets = st.having(SUBNET)
    if not subnets:
        return
    ok, nets = _read(lambda: st.props(me)["networks"])
    if not ok or not nets:
        return
    for res in subnets:
        ok, subnet_net = _read(lambda: st.props(res).get("network"))
        if not ok:
            continue
        if not subnet_net:
            st.add(me, res)
            continue
        for net in nets:
            net_id = net.get("network")
            if not net_id or net_id == subnet_net:
                st.add(me, res)
                break


def _router(st: _Stack, me) -> None:
    """Router: Subnets on its external gateway's network. An unreadable
    external_gateway_info ends the rule (Heat reads it outside its try)."""
    subnets = st.having(SUBNET)
    if not subnets:
        return
    ok, gateway = _read(lambda: st.props(me)["external_gateway_info"])
    if not ok or not gateway:
        return
    gateway_net = gateway.get("network")
    for res in subnets:
        ok, subnet_net = _read(lambda: st.props(res).get("network"))
        if ok and subnet_net == gateway_net:
            st.add(me, res)


def _router_gateway(st: _Stack, me) -> None:
    """RouterGateway: RouterInterfaces on its router, Subnets on its network."""
    for res in st.having(IFACE, SUBNET):
        if st.has(res, IFACE):
            ok, pair = _read(lambda: (st.props(res)["router"], st.props(me)["router_id"]))
            if ok and pair[0] == pair[1]:
                st.add(me, res)
        if st.has(res, SUBNET):
            ok, pair = _read(lambda: (st.props(res)["network"], st.props(me)["network"]))
            if ok and pair[0] == pair[1]:
                st.add(me, res)


def _floating_ip(st: _Stack, me) -> None:
    """FloatingIP: gateways and routers on its floating network; interfaces on the
    subnet of a port it already depends on."""
    for res in st.having(GATEWAY, IFACE, ROUTER):
        if st.has(res, GATEWAY):
            ok, pair = _read(lambda: (st.props(res).get("network") or st.props(res).get("network_id"),
                                      st.props(me)["floating_network"]))
            if ok and pair[0] == pair[1]:
                st.add(me, res)
        elif st.has(res, IFACE):
            _interface_via_port(st, me, res, _port_on_subnet)
        elif st.has(res, ROUTER):
            ok, pair = _read(lambda: (st.props(res).get("external_gateway_info"), st.props(me)["floating_network"]))
            try:
                if ok and pair[0] and _get(pair[0], "network") == pair[1]:
                    st.add(me, res)
            except _Skip:
                continue


def _get(mapping, key):
    """``dict.get`` on a value that a provider template may have made a string."""
    if not isinstance(mapping, dict):
        raise _Skip
    return mapping.get(key)


class _Skip(Exception):
    """A read Heat does not catch inside its loop: the pair is skipped (module docstring)."""


def _interface_via_port(st: _Stack, me, iface, port_on_subnet) -> None:
    """Add ``me -> iface`` when a port ``me`` depends on is on the interface's subnet."""
    try:
        ok, subnet = _read(lambda: st.props(iface).get("subnet") or st.props(iface).get("subnet_id"))
        if not ok:
            return
        for dep in sorted(st.graph[me]):
            if port_on_subnet(st, dep, subnet):
                st.add(me, iface)
                return
    except _Skip:
        return


def _port_on_subnet(st: _Stack, port, subnet) -> bool:
    """FloatingIP's test: any fixed IP on the subnet; no fixed IPs matches an
    interface without subnet, else asks the port's network's subnets."""
    if not st.has(port, PORT):
        return False
    ok, fixed_ips = _read(lambda: st.props(port).get("fixed_ips"))
    if not ok:
        return False
    if not fixed_ips:
        if subnet is None:
            return True
        ok, network = _read(lambda: st.props(port).get("network") or st.props(port).get("network_id"))
        return bool(ok and network) and subnet in _network_subnets(st, network)
    return any(subnet == (_get(ip, "subnet") or _get(ip, "subnet_id")) for ip in fixed_ips)


def _first_fixed_ip_on_subnet(st: _Stack, port, subnet) -> bool:
    """FloatingIPAssociation's and FloatingIPPortForward's test: Heat's loop
    returns at the first fixed IP, so only that one counts."""
    if not st.has(port, PORT):
        return False
    ok, fixed_ips = _read(lambda: st.props(port).get("fixed_ips"))
    if not ok:
        raise _Skip
    for ip in fixed_ips or []:
        return subnet == (_get(ip, "subnet") or _get(ip, "subnet_id"))
    return False


def _network_subnets(st: _Stack, network) -> set:
    """Neutron's ``show_network(network)['subnets']``, answered from the stack."""
    st.used_rows = True
    found = set()
    for res in st.having(SUBNET):
        pid = st.physical_ids.get(res)
        if pid:
            ok, net = _read(lambda: st.created_props(res).get("network"))
            if ok and net == network:
                found.add(pid)
    return found


def _association(st: _Stack, me) -> None:
    """FloatingIPAssociation / FloatingIPPortForward: interfaces on the subnet of
    the first fixed IP of a port they depend on."""
    for res in st.having(IFACE):
        _interface_via_port(st, me, res, _first_fixed_ip_on_subnet)


def _extra_route(st: _Stack, me) -> None:
    """ExtraRoute: RouterInterfaces and RouterGateways on its router."""
    for res in st.having(IFACE, GATEWAY):
        if st.has(res, IFACE):
            ok, pair = _read(lambda: (st.props(me)["router_id"], st.props(res).get("router")))
        elif st.has(res, GATEWAY):
            ok, pair = _read(lambda: (st.props(me)["router_id"], st.props(res).get("router_id")))
        else:
            continue
        if ok and pair[0] == pair[1]:
            st.add(me, res)


def _extra_route_set(st: _Stack, me) -> None:
    """ExtraRouteSet: RouterInterfaces on its router."""
    for res in st.having(IFACE):
        ok, pair = _read(lambda: (st.props(me)["router"], st.props(res).get("router")))
        if ok and pair[0] == pair[1]:
            st.add(me, res)


def _vpc_gateway_attachment(st: _Stack, me) -> None:
    """VPCGatewayAttachment: every RouteTable of its VPC."""
    for res in st.having(ROUTE_TABLE):
        ok, pair = _read(lambda: (st.props(me)["VpcId"], st.props(res).get("VpcId")))
        if ok and pair[0] == pair[1]:
            st.add(me, res)


RULES = {
    "OS::Neutron::Port": _port,
    "OS::Nova::Server": _server,
    "OS::Neutron::Router": _router,
    "OS::Neutron::RouterGateway": _router_gateway,
    "OS::Neutron::FloatingIP": _floating_ip,
    "OS::Neutron::FloatingIPAssociation": _association,
    "OS::Neutron::FloatingIPPortForward": _association,
    "OS::Neutron::ExtraRoute": _extra_route,
    "OS::Neutron::ExtraRouteSet": _extra_route_set,
    "AWS::EC2::VPCGatewayAttachment": _vpc_gateway_attachment,
}


def needs_implicit(deps: TemplateDeps, environment: dict | None) -> bool:
    """Whether any rule can run: a rule's type in the template, or a registry that
    could alias one. The cheap test that lets other stacks skip all of this."""
    if any(t in RULES for t in deps.types.values()):
        return True
    return isinstance(environment, dict) and _maps_types(environment.get("resource_registry"))


def _maps_types(registry) -> bool:
    """Whether a stored registry maps any type. Heat stores ``{"resources": {}}``
    for every stack, which maps nothing."""
    if not isinstance(registry, dict):
        return False
    for key, value in registry.items():
        if key == "resources" and isinstance(value, dict):
            if any(isinstance(v, dict) and any(isinstance(x, str) and k not in NOT_TYPES for k, x in v.items())
                   for v in value.values()):
                return True
        elif isinstance(value, str):
            return True
    return False


def implicit_dependencies(template: dict, environment: dict | None, files: dict | None, deps: TemplateDeps,
                          physical_ids: dict | None = None, *, stack_name=None, stack_id=None,
                          tenant=None) -> tuple[dict, bool]:
    """The full graph, explicit plus implicit: ({name: frozenset(names)}, used_rows).

    ``deps`` is :func:`template_dependencies` of the same template and environment;
    ``physical_ids`` maps resource names to their rows' physical ids (only the
    FloatingIP rule reads them; ``used_rows`` says whether it did, so a caller may
    share the result between stacks with the same template only when it is False).
    """
    if not needs_implicit(deps, environment):
        return dict(deps.requires), False
    ident = {"stack_name": stack_name, "stack_id": stack_id, "tenant": tenant}
    st = _Stack(template, environment, files or {}, deps, physical_ids or {}, ident)
    for name in deps.resources:
        rule = RULES.get(st.kind(name).plugin)
        if rule is not None:
            rule(st, name)
    return {n: frozenset(st.graph[n]) for n in deps.resources}, st.used_rows
