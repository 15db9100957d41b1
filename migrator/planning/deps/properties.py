"""Property values as Heat reads them while it loads a stored legacy stack.

Mirrors, for the few properties the implicit-dependency rules compare
(openstack-heat 27.0.1):

* ``heat/engine/function.py`` ``resolve`` and the function classes of
  ``hot/functions.py`` / ``cfn/functions.py``, as they evaluate when
  ``Stack.load`` builds the stack for ``migrate_to_convergence``: the
  ``StackDefinition`` then holds no resource data (``cache_data`` is None), so
  ``get_resource`` / ``Ref`` give the target's *name* (``ResourceProxy.FnGetRefId``)
  and ``get_attr`` / ``Fn::GetAtt`` give None (the proxy's action is INIT, so
  ``GetAtt._result_ready`` is false). Checked against Heat itself: a Port whose
  ``network`` is ``{get_resource: net}`` matches a Subnet whose ``network`` is the
  literal ``net``, not one whose ``network`` is the net's physical id.
* ``heat/engine/properties.py`` ``Properties._get_property_value``,
  ``_resolve_user_value`` and ``Property.get_value``: typing (a null string is
  ``''``, an absent one None, ints and booleans become strings), maps and lists
  of maps with every sub-key filled in, required keys, defaults.
* ``heat/engine/translation.py`` ``REPLACE`` rules (deprecated names such as
  ``network_id`` -> ``network``, ``fixed_ips.subnet_id`` -> ``fixed_ips.subnet``).
  ``RESOLVE`` rules do nothing at load time (``Resource.__init__`` reparses with
  ``client_resolve=False``), so a name stays a name.

Errors: :class:`PropertyError` where Heat raises while reading the property
(its ValueError/TypeError, or a KeyError for a property a provider template does
not declare); :class:`Undecidable` where the value needs a function this module
does not evaluate offline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from migrator.planning.deps.conditions import _OMIT, _Evaluator, _is_seq, _single_key
from migrator.planning.deps.dialects import _Dialect
from migrator.planning.deps.expressions import evaluate
from migrator.planning.deps.model import Undecidable


class PropertyError(Exception):
    """Heat fails to read the property (a ValueError, TypeError or KeyError there)."""


# ----------------------------------------------------------------------- schemas

@dataclass(frozen=True)
class Prop:
    """One property schema: ``properties.Schema`` reduced to what reading needs."""

    type: str                      # "string", "number", "integer", "boolean", "map", "list", "any"
    required: bool = False
    default: object = None
    schema: "dict | Prop | None" = None   # map: {key: Prop}; list: the item Prop
    allow_conversion: bool = False


@dataclass(frozen=True)
class Replace:
    """A REPLACE translation rule: ``path`` takes its value from ``source``.

    ``source`` is a top-level property (``value_path``) or, when ``in_item``, a
    key of the same list item (``value_name``).
    """

    path: tuple[str, ...]
    source: str
    in_item: bool = False


@dataclass(frozen=True)
class Schema:
    """A resource type's properties schema and translation rules."""

    props: dict
    rules: tuple = field(default_factory=tuple)

    def rule_for(self, path: tuple):
        return next((r for r in self.rules if r.path == path), None)

    def replaced(self, path: tuple) -> bool:
        """Whether a rule takes this (deprecated) property's value elsewhere."""
        return any((r.path[:-1] + (r.source,) if r.in_item else (r.source,)) == path for r in self.rules)


S, B = Prop("string"), Prop("boolean")
REQ_S = Prop("string", required=True)


def _map(**keys) -> Prop:
    return Prop("map", schema=keys)


def _list_of(item: Prop) -> Prop:
    return Prop("list", schema=item)


#: Schemas of the plugins whose properties the rules read (from the plugins'
#: ``properties_schema`` and ``translation_rules`` in Heat 27.0.1).
PLUGIN_SCHEMAS = {
    "OS::Neutron::Port": Schema(
        {"network": REQ_S, "network_id": S,
         "fixed_ips": _list_of(_map(subnet_id=S, subnet=S, ip_address=S))},
        (Replace(("network",), "network_id"), Replace(("fixed_ips", "subnet"), "subnet_id", True))),
    "OS::Neutron::Subnet": Schema({"network": REQ_S, "network_id": S}, (Replace(("network",), "network_id"),)),
    "OS::Nova::Server": Schema(
        {"networks": _list_of(_map(
            uuid=S, network=S, allocate_network=S, fixed_ip=S, port=S, subnet=S, floating_ip=S, tag=S,
            port_extra_properties=_map(**{
                "value_specs": Prop("map", default={}), "admin_state_up": Prop("boolean", default=True),
                "mac_address": S, "allowed_address_pairs": _list_of(_map(mac_address=S, ip_address=REQ_S)),
                "binding:vnic_type": Prop("string", default="normal"), "port_security_enabled": B,
                "qos_policy": S, "propagate_uplink_status": B, "no_fixed_ips": Prop("boolean", default=False)})))},
        (Replace(("networks", "network"), "uuid", True),)),
    "OS::Neutron::Router": Schema(
        {"external_gateway_info": _map(network=REQ_S, enable_snat=B,
                                       external_fixed_ips=_list_of(_map(ip_address=S, subnet=S)))}),
    "OS::Neutron::RouterGateway": Schema({"router_id": REQ_S, "network": S, "network_id": S},
                                         (Replace(("network",), "network_id"),)),
    "OS::Neutron::RouterInterface": Schema(
        {"router": REQ_S, "router_id": S, "subnet": S, "subnet_id": S, "port": S, "port_id": S},
        (Replace(("port",), "port_id"), Replace(("router",), "router_id"), Replace(("subnet",), "subnet_id"))),
    "OS::Neutron::FloatingIP": Schema({"floating_network": REQ_S, "floating_network_id": S},
                                      (Replace(("floating_network",), "floating_network_id"),)),
    "OS::Neutron::ExtraRoute": Schema({"router_id": REQ_S}),
    "OS::Neutron::ExtraRouteSet": Schema({"router": REQ_S}),
    "AWS::EC2::VPCGatewayAttachment": Schema({"VpcId": REQ_S}),
    "AWS::EC2::RouteTable": Schema({"VpcId": REQ_S}),
}

_PARAM_PROP_TYPES = {"string": "string", "String": "string", "number": "number", "Number": "number",
                     "comma_delimited_list": "list", "CommaDelimitedList": "list",
                     "json": "map", "Json": "map", "boolean": "boolean", "Boolean": "boolean"}


def provider_schema(template: dict, param_defaults: dict) -> Schema:
    """A provider template's facade properties (``Properties.schema_from_params``).

    Every parameter becomes a property with no default of its own, required when
    neither the template nor the environment's parameter_defaults give one.
    """
    section = "parameters" if "heat_template_version" in template else "Parameters"
    params = template.get(section) or {}
    props = {}
    for name, schema in (params.items() if isinstance(params, dict) else ()):
        if not isinstance(schema, dict):
            continue
        kind = _PARAM_PROP_TYPES.get(schema.get("type", schema.get("Type")), "map")
        default = param_defaults.get(name, schema.get("default", schema.get("Default")))
        props[name] = Prop(kind, required=default is None, allow_conversion=kind in ("map", "list"))
    return Schema(props)


# ------------------------------------------------------------------- function values

class LoadValues:
    """``function.resolve`` at load time, for the property snippets the rules read."""

    def __init__(self, dialect: _Dialect, evaluator: _Evaluator, names: frozenset, files: dict,
                 refs: dict | None = None):
        self._d = dialect
        self._refs = refs
        self._ev = evaluator
        self._names = names
        self._files = files
        self._fns = {k: h for k, h in (
            (dialect.get_resource, self._get_resource), (dialect.get_attr, self._get_attr),
            (dialect.cfn_getatt, self._get_attr), (dialect.ref, self._ref), (dialect.if_fn, self._if),
            ("get_param", self._get_param), (dialect.find_in_map, self._find_in_map),
            ("get_file", self._get_file), ("str_replace", self._str_replace),
            ("str_replace_strict", self._str_replace), ("str_replace_vstrict", self._str_replace),
            ("list_join", self._join), ("Fn::Join", self._join), ("Fn::Select", self._select),
            ("Fn::Base64", self._base64), ("yaql", self._yaql)) if k and k in dialect.functions}

    def resolve(self, node, where: str):
        """The value of a snippet; ``_OMIT`` for a false two-argument ``if``."""
        if isinstance(node, dict):
            fn = _single_key(node)
            if fn is not None and fn in self._d.functions:
                handler = self._fns.get(fn)
                if handler is None:
                    raise Undecidable(f"{where}: its value needs {fn!r}, which is not evaluated offline")
                return handler(fn, node[fn], where)
            items = ((k, self.resolve(v, where)) for k, v in node.items())
            return {k: v for k, v in items if v is not _OMIT}
        if _is_seq(node):
            return [v for v in (self.resolve(x, where) for x in node) if v is not _OMIT]
        return node

    def _get_resource(self, fn, args, where):
        """``ResourceProxy.FnGetRefId`` with no resource data: the resource's name.

        With ``refs`` (the values at creation time) the target row's physical id."""
        return self._reference(self.resolve(args, where))

    def _reference(self, name):
        if self._refs is not None and isinstance(name, str) and self._refs.get(name):
            return self._refs[name]
        return name

    def _get_attr(self, fn, args, where):
        """No resource data at load time: every attribute is None."""
        self.resolve(args, where)
        return None

    def _ref(self, fn, args, where):
        """CFN Ref: a resource's name, else the parameter's value."""
        if isinstance(args, str) and args in self._names:
            return self._reference(args)
        return self._ev.param(self.resolve(args, where), where)

    def _if(self, fn, args, where):
        counts = (2, 3) if self._d.if_nullable else (3,)
        if not _is_seq(args) or len(args) not in counts:
            raise PropertyError(f"{where}: bad arguments to {fn}")
        cond = args[0]
        if self._ev.truth(self._ev.condition(cond, f"{where} {fn}"), f"{where} {fn}", cond):
            return self.resolve(args[1], where)
        return self.resolve(args[2], where) if len(args) == 3 else _OMIT

    def _get_param(self, fn, args, where):
        return self._ev.get_param(self.resolve(args, where), fn, where)

    def _find_in_map(self, fn, args, where):
        values = self.resolve(args, where)
        if not _is_seq(values) or len(values) != 3:
            raise PropertyError(f"{where}: {fn} takes [mapping, key, value]")
        return self._ev.find_in_map(values, where)

    def _yaql(self, fn, args, where):
        """yaql as Heat runs it (``expressions``), over the resolved expression and data."""
        if not isinstance(args, dict) or "expression" not in args:
            raise PropertyError(f"{where}: bad arguments to {fn}")
        return evaluate(self.resolve(args["expression"], where), self.resolve(args.get("data", {}), where), where)

    def _get_file(self, fn, args, where):
        name = self.resolve(args, where)
        if not isinstance(name, str) or name not in self._files:
            raise Undecidable(f"{where}: get_file names a file that is not in the stack's stored files")
        return self._files[name]

    def _str_replace(self, fn, args, where):
        """``Replace.result``: longest placeholder first, None as ''; maps/lists need JSON."""
        args = self.resolve(args, where)
        if not isinstance(args, dict) or "params" not in args or "template" not in args:
            raise PropertyError(f"{where}: bad arguments to {fn}")
        template, mapping = args["template"], args["params"]
        if not isinstance(template, str) or not isinstance(mapping, dict):
            raise PropertyError(f"{where}: bad arguments to {fn}")
        if fn != "str_replace" or any(not isinstance(v, (str, int, float, bool, type(None))) for v in mapping.values()):
            raise Undecidable(f"{where}: its value needs {fn!r} with these arguments, not evaluated offline")
        keys = sorted(sorted(mapping), key=len, reverse=True)

        def replace(strings, keys):
            if not keys:
                return strings
            key, rest = keys[0], keys[1:]
            if not isinstance(key, str):
                raise PropertyError(f"{where}: {fn} placeholders must be strings")
            value = "" if mapping[key] is None else str(mapping[key])
            return [value.join(replace(s.split(key), rest)) for s in strings]
        return replace([template], keys)[0]

    def _join(self, fn, args, where):
        """list_join / Fn::Join of strings (None counts as '')."""
        args = self.resolve(args, where)
        if not _is_seq(args) or len(args) != 2 or not isinstance(args[0], str) or not _is_seq(args[1]):
            raise Undecidable(f"{where}: its value needs {fn!r} with these arguments, not evaluated offline")
        items = args[1]
        if not all(isinstance(s, (str, type(None))) for s in items):
            raise Undecidable(f"{where}: its value needs {fn!r} with these arguments, not evaluated offline")
        return args[0].join("" if s is None else s for s in items)

    def _select(self, fn, args, where):
        """Fn::Select [index, list-or-map]: a miss is '' in Heat."""
        args = self.resolve(args, where)
        if not _is_seq(args) or len(args) != 2:
            raise PropertyError(f"{where}: bad arguments to {fn}")
        index, collection = args
        try:
            if isinstance(collection, dict):
                return collection.get(index, "")
            if _is_seq(collection):
                return collection[int(index)] if 0 <= int(index) < len(collection) else ""
        except (ValueError, TypeError):
            raise PropertyError(f"{where}: bad index to {fn}") from None
        if collection is None:
            return ""
        raise PropertyError(f"{where}: {fn} selects from a list or a map")

    def _base64(self, fn, args, where):
        return self.resolve(args, where)


# ----------------------------------------------------------------------- reading

class Properties:
    """One resource's properties, read as ``Properties.__getitem__`` reads them.

    ``data`` is the raw snippet of the resource's properties section; values are
    resolved (and cached) the first time a property is read.
    """

    def __init__(self, schema: Schema, data, values: LoadValues, where: str):
        self._schema = schema
        self._data = data if isinstance(data, dict) else {}
        self._values = values
        self._where = where
        self._resolved: dict = {}

    def _raw(self, key):
        """The resolved user value of a top-level property, or _OMIT when not given."""
        if key not in self._resolved:
            value = self._data.get(key, _OMIT) if key in self._data else _OMIT
            if value is not _OMIT:
                value = self._values.resolve(value, f"{self._where} property {key!r}")
            self._resolved[key] = value
        return self._resolved[key]

    def get(self, key):
        """``properties.get(key)``: None for a property the schema does not have."""
        if key not in self._schema.props:
            return None
        return self[key]

    def __getitem__(self, key):
        """``properties[key]``; a property the schema lacks is Heat's KeyError."""
        if key not in self._schema.props:
            raise PropertyError(f"{self._where}: no property {key!r}")
        return _value(self._schema, (key,), self._schema.props[key], self._raw(key),
                      lambda k: self._raw(k), True)


def _value(schema: Schema, path: tuple, prop: Prop, raw, sibling, active: bool):
    """``_get_property_value`` for one key: user value, translation, default, required.

    ``raw`` is the resolved user value (``_OMIT`` when not given); ``sibling(key)``
    gives the raw value of another key at the same level (for REPLACE rules).
    """
    rule = schema.rule_for(path) if active else None
    if raw is not _OMIT and not (active and schema.replaced(path)):
        value = raw
        if rule is not None:
            value = _replace(schema, rule, path, value, sibling)
        return _typed(schema, path, prop, value)
    if rule is not None:
        value = _replace(schema, rule, path, None, sibling)
        if value is not None or prop.default is not None:
            return _typed(schema, path, prop, value)
    if prop.default is not None:
        return _typed(schema, path, prop, None)
    if prop.required:
        raise PropertyError(f"property {'.'.join(path)} not assigned")
    return None


def _replace(schema: Schema, rule: Replace, path: tuple, value, sibling):
    """``Translation.replace``: the source's value wins when it is not None.

    A top-level source is read as a typed property (with translation off); an
    item source is the item's raw value. Both set is Heat's StackValidationFailed.
    """
    if rule.in_item:
        source = sibling(rule.source)
        source = None if source is _OMIT else source
    else:
        source_prop = schema.props[rule.source]
        source = _value(schema, (rule.source,), source_prop, sibling(rule.source), sibling, False)
    if source and value:
        raise PropertyError(f"both {'.'.join(path)} and {rule.source} are set")
    return source if source is not None else value


def _typed(schema: Schema, path: tuple, prop: Prop, value):
    """``Property.get_value`` without validation."""
    kind = prop.type
    if kind == "string":
        if value is None:
            value = prop.default or ""
        if isinstance(value, str):
            return value
        if isinstance(value, (bool, int)):
            return str(value)
        raise PropertyError(f"{'.'.join(path)}: value must be a string")
    if kind == "boolean":
        return _boolean(prop, value, path)
    if kind == "number":
        return _number(prop, value, path)
    if kind == "map":
        return _map_value(schema, path, prop, value)
    if kind == "list":
        return _list_value(schema, path, prop, value)
    return value


def _boolean(prop: Prop, value, path):
    if value is None:
        value = prop.default or False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise PropertyError(f"{'.'.join(path)}: not a valid boolean")


def _number(prop: Prop, value, path):
    """``Schema.str_to_num``."""
    if value is None:
        value = prop.default or 0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return int(value)
    except (ValueError, TypeError):
        try:
            return float(value)
        except (ValueError, TypeError):
            raise PropertyError(f"{'.'.join(path)}: not a number") from None


def _map_value(schema: Schema, path: tuple, prop: Prop, value):
    if value is None:
        value = prop.default if prop.default is not None else {}
    if not isinstance(value, dict):
        if prop.allow_conversion and isinstance(value, str):
            return value
        if prop.allow_conversion and isinstance(value, (list, tuple)):
            return json.dumps(value)
        raise PropertyError(f"{'.'.join(path)}: not a map")
    if not isinstance(prop.schema, dict):
        return dict(value)
    return _children(schema, path, prop.schema, value)


def _list_value(schema: Schema, path: tuple, prop: Prop, value):
    if value is None:
        value = prop.default or []
    if prop.allow_conversion and isinstance(value, str):
        value = [v.strip() for v in value.split(",")] if value else []  # param_utils.delim_string_to_list
    if not isinstance(value, (list, tuple)):
        raise PropertyError(f"{'.'.join(path)}: not a list")
    if not isinstance(prop.schema, Prop):
        return list(value)
    return [_typed(schema, path, prop.schema, v) for v in value]


def _children(schema: Schema, path: tuple, keys: dict, data: dict) -> dict:
    """A map with a schema: every schema key read as a sub-property of ``path``."""
    def sibling(k):
        return data[k] if k in data else _OMIT
    return {k: _value(schema, path + (k,), sub, sibling(k), sibling, True) for k, sub in keys.items()}
