"""The cloud behind Heat, stubbed at the narrowest boundary (runs inside Heat's venv).

What is fake: the resource plugins' *action handlers* (``handle_create``,
``check_create_complete``, ``handle_update``, ``handle_delete``, ...), their
attribute look-ups (``_resolve_attribute``, ``_show_resource``), the plugin-specific
part of ``validate`` that asks services (flavors, quotas, extensions), custom
constraints (``nova.flavor``, ``neutron.network``, ...: they ask services too) and
the client plugins (name-to-id finders answer the value they were given; Neutron
answers ``show_network`` from the objects this cloud holds).

What stays Heat's own: template parsing, functions, conditions, properties and
their schema, translation rules (deprecated names), ``Resource.validate``,
``add_dependencies`` of every plugin, both engines, the database.

The cloud remembers, in a JSON file next to the database, which resources exist
(by resource row id) and which resources *need* each one: Heat's own dependency
graph of every stack, read once the legacy engine has created it (and again after
each update). A stubbed delete FAILS, as Neutron's 409 Conflict fails a subnet
delete while a port is on it, when anything that needs the resource still exists.
It fails at once (Heat would retry a real Conflict a few times, which could hide
an ordering error that happens to resolve itself), and a delete takes one extra
poll to finish, as real ones do, so a wrong order cannot slip through by timing.
"""

from __future__ import annotations

import json
import os
import threading
import uuid

#: the namespaces whose types Heat implements itself (kept real)
REAL_PREFIXES = ("OS::Heat::", "AWS::CloudFormation::", "AWS::AutoScaling::", "AWS::IAM::", "AWS::RDS::",
                 "AWS::ElasticLoadBalancing::", "AWS::CloudWatch::", "OS::Aodh::", "OS::Zaqar::")


class CloudConflict(Exception):
    """What Neutron answers with 409: the object is still in use."""


class Cloud:
    """Which resource rows exist in the cloud and which rows need each of them."""

    def __init__(self, path: str | None):
        self.path = path
        self.lock = threading.Lock()
        self.live: set[int] = set()
        self.needs: dict[int, set[int]] = {}
        self.names: dict[int, str] = {}
        self.subnets: dict[str, set[str]] = {}  # network physical id -> subnet physical ids
        self.conflicts: list[str] = []
        self.failing: set[str] = set()  # resource names whose create fails, on request (issue 19's FAILED shapes)
        if path and os.path.exists(path):
            with open(path) as f:
                data = json.load(f)
            self.live = set(data["live"])
            self.needs = {int(k): set(v) for k, v in data["needs"].items()}
            self.names = {int(k): v for k, v in data["names"].items()}
            self.subnets = {k: set(v) for k, v in data["subnets"].items()}
            self.conflicts = data.get("conflicts", [])
            self.failing = set(data.get("failing", []))

    def save(self) -> None:
        if not self.path:
            return
        with self.lock:
            data = {"live": sorted(self.live), "needs": {k: sorted(v) for k, v in self.needs.items()},
                    "names": self.names, "subnets": {k: sorted(v) for k, v in self.subnets.items()},
                    "conflicts": self.conflicts, "failing": sorted(self.failing)}
        with open(self.path, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)

    # -- Heat's graph ----------------------------------------------------------
    def learn_graph(self, stack) -> None:
        """Record, for every resource of ``stack`` that has a row, the rows that
        need it, from the graph Heat itself computes for the stack (explicit and
        implicit dependencies alike)."""
        graph = stack.dependencies.graph()
        with self.lock:
            for rsrc, required in graph.items():
                if getattr(rsrc, "id", None) is None:
                    continue
                self.names[rsrc.id] = f"{stack.name}/{rsrc.name} ({rsrc.type()})"
                for target in required:
                    if getattr(target, "id", None) is not None:
                        self.needs.setdefault(target.id, set()).add(rsrc.id)

    # -- the life of an object -------------------------------------------------
    def state(self, rsrc, action: str, status: str) -> None:
        if rsrc.id is None:
            return
        with self.lock:
            if (action, status) == ("DELETE", "COMPLETE"):
                self.live.discard(rsrc.id)
            elif status == "COMPLETE" and action in ("CREATE", "UPDATE", "ADOPT", "CHECK", "RESUME"):
                self.live.add(rsrc.id)
            self.names.setdefault(rsrc.id, f"{rsrc.stack.name}/{rsrc.name} ({rsrc.type()})")

    def delete(self, rsrc) -> None:
        """Refuse while anything that needs ``rsrc`` exists (Neutron's 409)."""
        with self.lock:
            users = sorted(u for u in self.needs.get(rsrc.id, ()) if u in self.live and u != rsrc.id)
            if users:
                msg = (f"409 Conflict: {self.names.get(rsrc.id, rsrc.name)} is still in use by "
                       + ", ".join(self.names.get(u, str(u)) for u in users))
                self.conflicts.append(msg)
                raise CloudConflict(msg)


CLOUD: Cloud | None = None


def fake_id(rsrc) -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------- the stubs


class CloudFailure(Exception):
    """What a service answers when it cannot create the object (a 500)."""


def _handle_create(self):
    if self.name in CLOUD.failing:
        raise CloudFailure(f"500: the cloud failed to create {self.name} (interop fixture)")
    self.resource_id_set(fake_id(self))
    if self.has_interface("OS::Neutron::Subnet"):
        try:
            net = self.properties.get("network") or self.properties.get("network_id")
        except (ValueError, TypeError):
            net = None
        if net:
            with CLOUD.lock:
                CLOUD.subnets.setdefault(net, set()).add(self.resource_id)
    return None


def _complete(self, *args, **kwargs):
    return True


def _handle_update(self, *args, **kwargs):
    return None


def _handle_delete(self):
    CLOUD.delete(self)
    return {"polls": 0}


def _check_delete_complete(self, token=None, *args, **kwargs):
    """A real delete is asynchronous: done at the second poll."""
    if isinstance(token, dict):
        token["polls"] += 1
        return token["polls"] >= 2
    return True


def _resolve_attribute(self, name):
    values = {
        "first_address": "10.0.0.10", "floating_ip_address": "172.24.4.10", "fixed_ip_address": "10.0.0.11",
        "vip_address": "10.0.0.100", "mac_address": "fa:16:3e:00:00:01", "cidr": "10.0.0.0/24",
        "fixed_ips": [{"ip_address": "10.0.0.12", "subnet_id": "fake-subnet"}],
        "networks": {"fake-net": ["10.0.0.10"]}, "addresses": {}, "show": {}, "name": f"{self.name}-name",
        "network_id": "fake-net", "port_id": "fake-port", "vip_port_id": "fake-vip-port",
    }
    return values.get(name, f"{name}-of-{self.resource_id}")


def _show_resource(self):
    return {}


def _validate(self):
    """Heat's generic validation (template, properties schema, constraints);
    the plugin's own checks against services (flavor, quotas, extensions) skipped."""
    from heat.engine import resource

    return resource.Resource.validate(self)


STUBS = {
    "handle_create": _handle_create, "check_create_complete": _complete,
    "handle_update": _handle_update, "check_update_complete": _complete,
    "handle_delete": _handle_delete, "check_delete_complete": _check_delete_complete,
    "handle_check": _handle_update, "_resolve_attribute": _resolve_attribute,
    "_show_resource": _show_resource, "validate": _validate,
}


def _stub_resources() -> list[str]:
    from heat.engine import environment, resources

    # The registry itself, not get_types(): that one hides HIDDEN types such as
    # OS::Neutron::RouterGateway, which stacks still hold and Heat still loads.
    registry = resources.global_env().registry._registry
    stubbed = []
    for name, info in sorted(registry.items()):
        if name.startswith(REAL_PREFIXES) or not isinstance(info, environment.ClassResourceInfo):
            continue
        cls = info.value
        for attr, fn in STUBS.items():
            setattr(cls, attr, fn)
        stubbed.append(name)
    return stubbed


class FakeNeutron:
    """The one Neutron call Heat makes outside the action handlers:
    FloatingIP.add_dependencies asks for the subnets of a port's network."""

    def show_network(self, net_id):
        """As Neutron: a network this cloud holds, else 404 (Heat asks with
        whatever the port's ``network`` property resolves to when the stack is
        loaded, which can be a resource name)."""
        with CLOUD.lock:
            if net_id not in CLOUD.subnets:
                raise RuntimeError(f"404 Not Found: network {net_id} could not be found (fake cloud)")
            return {"network": {"id": net_id, "subnets": sorted(CLOUD.subnets[net_id])}}

    def __getattr__(self, name):
        raise RuntimeError(f"fake cloud: Neutron call {name} is not stubbed")


class NoClient:
    def __init__(self, service):
        self.service = service

    def __getattr__(self, name):
        raise RuntimeError(f"fake cloud: {self.service} call {name} is not stubbed")


def _stub_clients() -> None:
    """Finders answer the value they were given (a name stays a name, as in a
    cloud where the name is the id); every other client call fails loudly."""
    import importlib

    from heat.engine.clients import client_plugin

    def identity(self, *args, **kwargs):
        return args[-1] if args else next(iter(kwargs.values()))

    def by_name(self, resource, name_or_id, *args, **kwargs):
        return name_or_id

    def _create(self, version=None):
        if type(self).__name__.startswith("Neutron"):
            return FakeNeutron()
        return NoClient(type(self).__name__)

    def _create_any(self, *args, **kwargs):
        return _create(self)

    for mod in ("neutron", "nova", "glance", "octavia", "cinder", "openstacksdk", "magnum", "swift", "designate"):
        try:
            m = importlib.import_module(f"heat.engine.clients.os.{mod}")
        except ImportError:
            continue
        for obj in vars(m).values():
            if isinstance(obj, type) and issubclass(obj, client_plugin.ClientPlugin):
                obj._create = _create_any  # Keystone stays Heat's own fake (keystone_backend)
                for finder in ("find_flavor_by_name_or_id", "find_image_by_name_or_id", "get_pool", "get_listener",
                               "get_loadbalancer", "get_flavor", "find_network_port", "find_network_ip",
                               "get_flavor_id", "get_image_id", "get_qos_policy_id", "get_project_id", "get_user_id"):
                    if hasattr(obj, finder):
                        setattr(obj, finder, identity)
                for finder in ("find_resourceid_by_name_or_id", "resolve_ext_resource"):
                    if hasattr(obj, finder):
                        setattr(obj, finder, by_name)
                for yes in ("has_extension", "is_version_supported"):
                    if hasattr(obj, yes):
                        setattr(obj, yes, lambda self, *a, **k: True)


def _stub_constraints() -> None:
    from heat.engine import constraints

    constraints.BaseCustomConstraint.validate = lambda self, value, context, template=None: True


def _stub_service_catalog() -> None:
    """Every service is in the catalog (Heat asks Keystone, and on 2023.1 also
    Neutron's extension list, before it accepts a resource type)."""
    from heat.engine import resource

    resource.Resource._validate_service_availability = classmethod(lambda cls, context, resource_type: None)


def _track_states() -> None:
    from heat.engine import resource

    original = resource.Resource.state_set

    def state_set(self, action, status, *args, **kwargs):
        result = original(self, action, status, *args, **kwargs)
        CLOUD.state(self, action, status)
        return result

    resource.Resource.state_set = state_set


def install(path: str | None) -> Cloud:
    """Stub the cloud for this process; its state lives in ``path``."""
    global CLOUD
    CLOUD = Cloud(path)
    _stub_clients()
    _stub_constraints()
    _stub_service_catalog()
    _stub_resources()
    _track_states()
    return CLOUD
