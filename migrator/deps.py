"""Which resources of a stored Heat template are enabled, and what each one needs.

Heat's own migration (``Stack.migrate_to_convergence``) writes ``resource.requires``
from ``Stack.dependencies``: the graph Heat builds from the *current* template,
with conditions evaluated against the stored environment. This module rebuilds the
explicit part of that graph from the raw template alone, so the planner can work
offline on tens of thousands of stacks without loading Heat or its plugins.

What counts, exactly as Heat's engine counts it (checked against openstack-heat
27.0.1: ``heat/engine/template_common.py``, ``hot/template.py``, ``cfn/template.py``,
``hot/functions.py``, ``cfn/functions.py``, ``rsrc_defn.py``, ``conditions.py``,
``parameters.py``, ``stk_defn.py``):

* ``depends_on`` / ``DependsOn`` (a string or a list of strings, never parsed for
  functions). A name that a condition disables is dropped; a name that is not a
  resource at all is Heat's ``InvalidTemplateReference``.
* ``get_resource``, ``get_attr`` (every form of every HOT version), CFN ``Ref`` to a
  resource name (HOT 2013-05-23 has ``Ref`` too) and CFN ``Fn::GetAtt``, found
  anywhere inside ``properties`` and ``metadata``, nested in any other function.
  Unlike ``depends_on``, Heat resolves these references against the *enabled*
  resources, so one that points at a disabled resource is an error, not a dropped
  edge.
* ``if`` (HOT >= 2016-10-14, two-argument form from 2021-04-16) and ``Fn::If``
  (``AWSTemplateFormatVersion`` only): only the selected branch is looked at, as
  Heat's ``If`` macro parses only that branch. In older versions ``if`` is plain
  data and both branches count, as they do in Heat.
* A resource with a non-empty ``external_id`` has no dependencies (Heat refuses one
  that has ``depends_on``).

Out of scope: implicit dependencies added by resource plugins
(``Resource.add_dependencies``: Port/Server on Subnet, FloatingIP on RouterGateway,
and so on). They need Heat's plugins and resolved property values; Heat's
migration only computes them when its plugins can, and leaving them out affects
only delete ordering (reference/heat-convergence.md section 3.3, 4.2). Outputs,
``deletion_policy`` and ``update_policy`` carry no resource dependencies and are not
checked; neither are the properties of a disabled resource (Heat parses them, so a
malformed function there is an error Heat reports and this module does not), nor
parameter schemas that no condition or resource name uses.

Errors: :class:`TemplateError` when Heat itself would reject the template (its
validation or its dependency computation would fail); :class:`Undecidable` when the
answer depends on a value that cannot be known offline (an encrypted hidden
parameter, a parameter with no value, a stack identity the caller did not give, a
``yaql`` expression, a resource name computed at run time). When both occur in one
template, the TemplateError wins: Heat would refuse the template whatever the value.
Messages never quote parameter values, so no secret from the environment leaks.
"""

from __future__ import annotations

import datetime
import json
import numbers
from dataclasses import dataclass, field
from urllib.parse import quote

__all__ = ["TemplateError", "Undecidable", "TemplateDeps", "template_dependencies", "find_cycle"]


class TemplateError(Exception):
    """The template is wrong in a way Heat would reject; the message is one line."""


class Undecidable(Exception):
    """A value needed to decide a condition or an ``if`` branch cannot be known offline."""


@dataclass(frozen=True)
class TemplateDeps:
    """Enabled resources of one template and the explicit dependencies between them.

    ``requires[name]`` holds enabled names only. It holds ``name`` itself only when
    the template makes the resource depend on itself, which Heat calls a circular
    dependency: it is kept so that :func:`find_cycle` reports it as ``[name, name]``.
    """

    resources: tuple[str, ...]
    disabled: frozenset[str]
    requires: dict[str, frozenset[str]]
    types: dict[str, str]
    #: Whether a pseudo parameter (the stack's name, id or project) decided the
    #: result. When it did not, the result is the same for every stack with
    #: this template and environment, and may be shared between them.
    uses_identity: bool = False


# --------------------------------------------------------------------------- dialects

_HOT_NAMES = {
    "newton": "2016-10-14", "ocata": "2017-02-24", "pike": "2017-09-01",
    "queens": "2018-03-02", "rocky": "2018-08-31", "wallaby": "2021-04-16",
}
_HOT_DATES = ("2013-05-23", "2014-10-16", "2015-04-30", "2015-10-15", "2016-04-08",
              "2016-10-14", "2017-02-24", "2017-09-01", "2018-03-02", "2018-08-31", "2021-04-16")

# Functions each HOT version defines, not counting the ones it marks "Removed"
# (Removed functions still parse their arguments, so for dependencies they behave
# like plain data; in a condition they are not "invalid").
_HOT_2013_FNS = frozenset({
    "Fn::GetAZs", "get_param", "get_resource", "Ref", "get_attr", "Fn::Select", "Fn::Join",
    "list_join", "Fn::Split", "str_replace", "Fn::Replace", "Fn::Base64", "Fn::MemberListToMap",
    "resource_facade", "Fn::ResourceFacade", "get_file"})
_HOT_ADDED = (  # (first version, functions added), cumulative from 2014-10-16 on
    ("2014-10-16", {"get_attr", "get_file", "get_param", "get_resource", "list_join",
                    "resource_facade", "str_replace", "Fn::Select"}),
    ("2015-04-30", {"repeat", "digest"}),
    ("2015-10-15", {"str_split"}),
    ("2016-04-08", {"map_merge"}),
    ("2016-10-14", {"yaql", "map_replace", "if"}),
    ("2017-02-24", {"filter", "str_replace_strict"}),
    ("2017-09-01", {"make_url", "list_concat", "str_replace_vstrict", "list_concat_unique", "contains"}),
)
_HOT_REMOVED_2014 = frozenset({"Fn::GetAZs", "Fn::Join", "Fn::Split", "Fn::Replace", "Fn::Base64",
                               "Fn::MemberListToMap", "Fn::ResourceFacade", "Ref"})
_HOT_BASE_KEYS = frozenset({"type", "properties", "metadata", "depends_on",
                            "deletion_policy", "update_policy", "description"})
_HOT_COND_OPS = {"get_param": "get_param", "equals": "equals", "not": "not", "and": "and", "or": "or"}
_HOT_COND_OPS_2017 = {**_HOT_COND_OPS, "yaql": "yaql", "contains": "contains"}

_CFN_FNS = frozenset({"Fn::FindInMap", "Fn::GetAZs", "Ref", "Fn::GetAtt", "Fn::Select", "Fn::Join",
                      "Fn::Split", "Fn::Replace", "Fn::Base64", "Fn::MemberListToMap",
                      "Fn::ResourceFacade"})
_CFN_COND_OPS = {"Fn::Equals": "equals", "Ref": "param_ref", "Fn::FindInMap": "find_in_map",
                 "Fn::Not": "cfn_not", "Fn::And": "and", "Fn::Or": "or"}

_HOT_PARAM_TYPES = {"string": "string", "number": "number", "comma_delimited_list": "list",
                    "json": "json", "boolean": "boolean"}
_CFN_PARAM_TYPES = {"String": "string", "Number": "number", "CommaDelimitedList": "list",
                    "Json": "json", "Boolean": "boolean"}


@dataclass(frozen=True)
class _Dialect:
    """What one template version calls its sections, keys and functions.

    Built once per version at import, so a template only pays for a dict lookup.
    """

    label: str
    hot: bool
    resources: str
    parameters: str
    conditions: str | None          # section name, None when the version has no conditions
    mappings: str | None
    type_key: str
    props_key: str
    meta_key: str
    depends_key: str
    desc_key: str
    condition_key: str | None
    external_key: str | None
    allowed_keys: frozenset | None  # HOT rejects unknown resource keys, CFN ignores them
    functions: frozenset            # every function name the version parses (incl. Removed)
    get_resource: str | None
    get_attr: str | None
    get_attr_min: int               # 2 before HOT 2015-10-15, 1 after (all-attributes form)
    cfn_getatt: str | None
    ref: str | None                 # resource-or-parameter Ref (CFN and HOT 2013-05-23)
    if_fn: str | None
    if_nullable: bool
    cond_ops: dict = field(default_factory=dict)
    cond_invalid: frozenset = frozenset()
    find_in_map: str | None = None
    param_type_key: str = "type"
    param_default_key: str = "default"
    param_types: dict = field(default_factory=dict)


def _hot_functions(date: str) -> frozenset:
    """Non-removed function names of one HOT version (see hot/template.py)."""
    if date == "2013-05-23":
        return _HOT_2013_FNS
    names: set[str] = set()
    for first, added in _HOT_ADDED:
        if date >= first:
            names |= added
    if date >= "2015-10-15":
        names.discard("Fn::Select")
    return frozenset(names)


def _hot_dialect(date: str) -> _Dialect:
    """The dialect of ``heat_template_version: <date>``."""
    live = _hot_functions(date)
    removed = frozenset() if date == "2013-05-23" else _HOT_REMOVED_2014 | (
        {"Fn::Select"} if date >= "2015-10-15" else set())
    has_conditions = date >= "2016-10-14"
    cond_ops = (_HOT_COND_OPS_2017 if date >= "2017-09-01" else _HOT_COND_OPS) if has_conditions else {}
    keys = _HOT_BASE_KEYS | ({"external_id", "condition"} if has_conditions else set())
    return _Dialect(
        label=f"heat_template_version {date}", hot=True, resources="resources",
        parameters="parameters", conditions="conditions" if has_conditions else None, mappings=None,
        type_key="type", props_key="properties", meta_key="metadata", depends_key="depends_on",
        desc_key="description", condition_key="condition" if has_conditions else None,
        external_key="external_id" if has_conditions else None, allowed_keys=frozenset(keys),
        functions=live | removed, get_resource="get_resource", get_attr="get_attr",
        get_attr_min=1 if date >= "2015-10-15" else 2, cfn_getatt=None,
        ref="Ref" if date == "2013-05-23" else None, if_fn="if" if has_conditions else None,
        if_nullable=date >= "2021-04-16", cond_ops=cond_ops,
        cond_invalid=frozenset(live - set(cond_ops)), param_types=_HOT_PARAM_TYPES)


def _cfn_dialect(key: str, conditions: bool) -> _Dialect:
    """AWSTemplateFormatVersion (CfnTemplate) or HeatTemplateFormatVersion (HeatTemplate)."""
    live = _CFN_FNS | ({"Fn::If"} if conditions else set())
    cond_ops = _CFN_COND_OPS if conditions else {}
    return _Dialect(
        label=key, hot=False, resources="Resources", parameters="Parameters",
        conditions="Conditions" if conditions else None, mappings="Mappings", type_key="Type",
        props_key="Properties", meta_key="Metadata", depends_key="DependsOn", desc_key="Description",
        condition_key="Condition" if conditions else None, external_key=None, allowed_keys=None,
        functions=live, get_resource=None, get_attr=None, get_attr_min=2, cfn_getatt="Fn::GetAtt",
        ref="Ref", if_fn="Fn::If" if conditions else None, if_nullable=False, cond_ops=cond_ops,
        cond_invalid=frozenset(live - set(cond_ops)), find_in_map="Fn::FindInMap",
        param_type_key="Type", param_default_key="Default", param_types=_CFN_PARAM_TYPES)


def _build_dialects() -> dict[tuple[str, str], _Dialect]:
    """Every (version key, version) pair Heat registers in setup.cfg ``heat.templates``."""
    table = {("heat_template_version", d): _hot_dialect(d) for d in _HOT_DATES}
    for name, date in _HOT_NAMES.items():
        table[("heat_template_version", name)] = table[("heat_template_version", date)]
    table[("AWSTemplateFormatVersion", "2010-09-09")] = _cfn_dialect("AWSTemplateFormatVersion 2010-09-09", True)
    table[("HeatTemplateFormatVersion", "2012-12-12")] = _cfn_dialect("HeatTemplateFormatVersion 2012-12-12", False)
    return table


_DIALECTS = _build_dialects()
_VERSION_KEYS = ("heat_template_version", "AWSTemplateFormatVersion", "HeatTemplateFormatVersion")


def _dialect_of(template: dict) -> _Dialect:
    """Pick the dialect as Heat's ``get_version`` does (one string-valued version key).

    YAML may have turned an unquoted ``2016-10-14`` into a ``datetime.date``; Heat's
    own YAML loader keeps it a string, so a date is read back as that string.
    """
    found = []
    for key in _VERSION_KEYS:
        value = template.get(key)
        if type(value) is datetime.date:
            value = value.isoformat()
        if isinstance(value, str):
            found.append((key, value))
    if len(found) > 1:
        raise TemplateError(f"ambiguous template versions ({', '.join(k for k, _ in found)})")
    if not found:
        raise TemplateError("the template has no version (heat_template_version, "
                            "AWSTemplateFormatVersion or HeatTemplateFormatVersion)")
    dialect = _DIALECTS.get(found[0])
    if dialect is None:
        raise TemplateError(f"unknown template version {found[0][0]}: {found[0][1]!r}")
    return dialect


# ------------------------------------------------------------------------- parameters

_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")


def _as_number(value):
    """Heat's ``Schema.str_to_num``: numbers stay, else int, else float."""
    if isinstance(value, numbers.Number):
        return value
    try:
        return int(value)
    except ValueError:
        return float(value)


def _as_boolean(value) -> bool:
    """oslo ``bool_from_string(str(value), strict=True)``, as ``BooleanParam.value``."""
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("not a boolean")


def _as_list(value) -> list:
    """``CommaDelimitedListParam.parse``: a list is kept (items as str), a string split on ','."""
    if isinstance(value, list):
        return [str(x) for x in value]
    if not isinstance(value, str):
        raise ValueError("not a comma-delimited list")
    return value.split(",") if value else []


def _as_json(value):
    """``JsonParam.parse``: a non-string round-trips through JSON, an empty string stays ''."""
    if not isinstance(value, str):
        return json.loads(json.dumps(value))
    return json.loads(value) if value else value


_CONVERT = {"string": str, "number": _as_number, "boolean": _as_boolean, "list": _as_list, "json": _as_json}
_ENV_SECTIONS = ("parameter_defaults", "encrypted_param_names", "event_sinks", "resource_registry")


def _environment_parts(env) -> tuple[dict, dict, frozenset]:
    """(parameters, parameter_defaults, encrypted names) as Heat's Environment reads them.

    An environment without a ``parameters`` key is the old flat form, where every
    other key is a parameter.
    """
    if env is None:
        return {}, {}, frozenset()
    if not isinstance(env, dict):
        raise TemplateError("the stored environment is not a map")
    if "parameters" in env:
        params = env["parameters"] or {}
    else:
        params = {k: v for k, v in env.items() if k not in _ENV_SECTIONS}
    defaults = env.get("parameter_defaults") or {}
    encrypted = env.get("encrypted_param_names") or []
    if not isinstance(params, dict) or not isinstance(defaults, dict) or not isinstance(encrypted, list):
        raise TemplateError("the stored environment's parameters, parameter_defaults or "
                            "encrypted_param_names have the wrong type")
    return params, defaults, frozenset(p for p in encrypted if isinstance(p, str))


class _Parameters:
    """Parameter values typed as Heat's ``Parameters`` object types them.

    Precedence (``parameters.Parameters.__init__``): the environment's ``parameters``,
    then ``parameter_defaults`` (``set_default``), then the template's ``default``; a
    None anywhere counts as absent. Values are computed only when a condition or a
    resource name needs them, and cached.
    """

    def __init__(self, dialect: _Dialect, schemas: dict, env, ident: dict):
        self._d = dialect
        self._schemas = schemas
        self._user, self._defaults, self._encrypted = _environment_parts(env)
        self._ident = ident
        self._cache: dict = {}
        #: Set once a pseudo parameter was read from the stack's identity.
        self.identity_read = False

    def get(self, name, where: str):
        """The typed value of parameter ``name``, needed by ``where``."""
        if not isinstance(name, str):
            raise TemplateError(f"{where}: a parameter name must be a string, not {type(name).__name__}")
        if name not in self._cache:
            if name in self._schemas:
                self._cache[name] = self._declared(name, where)
            else:
                self._cache[name] = self._pseudo(name, where)
        return self._cache[name]

    def _declared(self, name: str, where: str):
        """A parameter of the template's parameters section."""
        schema = self._schemas[name]
        if not isinstance(schema, dict) or self._d.param_type_key not in schema:
            raise TemplateError(f"parameter {name!r} has no {self._d.param_type_key}")
        kind = self._d.param_types.get(schema[self._d.param_type_key])
        if kind is None:
            raise TemplateError(f"parameter {name!r} has an invalid type")
        if name in self._encrypted:
            raise Undecidable(f"{where}: parameter {name!r} is encrypted in the stored environment")
        raw = self._raw(name, schema)
        if raw is None:
            raise Undecidable(f"{where}: parameter {name!r} has no value and no default")
        try:
            return _CONVERT[kind](raw)
        except (ValueError, TypeError):
            raise TemplateError(f"parameter {name!r}: its value is not a valid {kind}") from None

    def _raw(self, name: str, schema: dict):
        """The untyped value: user value, else parameter_defaults, else template default."""
        for value in (self._user.get(name), self._defaults.get(name), schema.get(self._d.param_default_key)):
            if value is not None:
                return value
        return None

    def _pseudo(self, name: str, where: str):
        """OS::stack_id/stack_name/project_id or AWS::StackId/StackName/Region.

        parameter_defaults can override a pseudo parameter's default, as in Heat.
        """
        table = _HOT_PSEUDO if self._d.hot else _CFN_PSEUDO
        if name not in table:
            raise TemplateError(f"{where}: parameter {name!r} is not defined in the template")
        if self._defaults.get(name) is not None:
            return str(self._defaults[name])
        needed, compute = table[name]
        self.identity_read = True
        missing = [k for k in needed if not self._ident.get(k)]
        if missing:
            raise Undecidable(f"{where}: pseudo parameter {name!r} needs the stack's {', '.join(missing)}")
        return compute(self._ident)


def _stack_arn(ident: dict) -> str:
    """AWS::StackId: ``HeatIdentifier.arn()`` of the stack (heat/common/identifier.py)."""
    return "arn:openstack:heat::%s:stacks/%s/%s" % (
        quote(str(ident["tenant"]), ""), quote(str(ident["stack_name"]), ""), quote(str(ident["stack_id"]), ""))


_HOT_PSEUDO = {
    "OS::stack_id": (("stack_id",), lambda i: str(i["stack_id"])),
    "OS::stack_name": (("stack_name",), lambda i: i["stack_name"]),
    "OS::project_id": (("tenant",), lambda i: str(i["tenant"])),
}
_CFN_PSEUDO = {
    "AWS::StackId": (("tenant", "stack_name", "stack_id"), _stack_arn),
    "AWS::StackName": (("stack_name",), lambda i: i["stack_name"]),
    "AWS::Region": (("stack_name",), lambda i: "ap-southeast-1"),  # cfn/parameters.py default
}


# ------------------------------------------------------------------------- evaluation

_UNKNOWN = object()     # a value that raised Undecidable, kept so its siblings still get checked
_IN_PROGRESS = object()
_OMIT = object()        # the missing else-branch of a two-argument ``if`` (Heat's Ellipsis)


def _is_seq(value) -> bool:
    """A list-like argument, as Heat's ``collections.abc.Sequence`` minus strings."""
    return isinstance(value, (list, tuple))


def _shape_error(op: str, args):
    """Why Heat's function constructor would refuse ``args`` for ``op``, or None."""
    if op in ("equals", "contains"):
        return None if isinstance(args, list) and len(args) == 2 else "takes a list of two values"
    if op in ("and", "or"):
        return None if _is_seq(args) and len(args) >= 2 else "takes a list of at least two conditions"
    if op == "not":
        return None if args is not None else "takes a condition"
    if op == "cfn_not":
        return None if _is_seq(args) and len(args) == 1 else "takes a list of one condition"
    if op == "find_in_map":
        return None if _is_seq(args) and len(args) == 3 else "takes [mapping, key, value]"
    if op == "yaql":
        ok = isinstance(args, dict) and "expression" in args and set(args) <= {"expression", "data"}
        return None if ok else "takes a map with expression and data"
    return None


class _Evaluator:
    """Evaluates conditions and the few value functions a resource name can use.

    Mirrors Heat: named conditions are parsed eagerly (an invalid function in any of
    them rejects the template) but evaluated lazily and cached (``Conditions.is_enabled``).
    """

    def __init__(self, dialect: _Dialect, template: dict, params: _Parameters):
        self._d = dialect
        self._params = params
        self._maps = (template.get(dialect.mappings) or {}) if dialect.mappings else {}
        self._defs = self._condition_definitions(template)
        self._named: dict = {}

    def _condition_definitions(self, template: dict) -> dict:
        """The conditions section, syntax-checked as Heat's ``conditions()`` parses it."""
        if not self._d.conditions:
            return {}
        defs = template.get(self._d.conditions, {})
        if not isinstance(defs, dict):
            raise TemplateError(f"the {self._d.conditions} section must be a map")
        for name, definition in defs.items():
            self._scan(definition, f"condition {name!r}")
        return defs

    def _scan(self, node, where: str) -> None:
        """Reject functions Heat refuses in a condition, and malformed arguments."""
        if isinstance(node, dict):
            fn = _single_key(node)
            if fn is not None and fn in self._d.cond_invalid:
                raise TemplateError(f"{where}: function {fn!r} is not allowed in a condition")
            op = self._d.cond_ops.get(fn) if fn is not None else None
            if op is not None:
                self._check_shape(op, fn, node[fn], where)
            for value in node.values():
                self._scan(value, where)
        elif _is_seq(node):
            for value in node:
                self._scan(value, where)

    def _check_shape(self, op: str, fn: str, args, where: str) -> None:
        """Raise Heat's argument error for ``fn``."""
        problem = _shape_error(op, args)
        if problem:
            raise TemplateError(f"{where}: {fn} {problem}")

    # ---- conditions

    def condition(self, node, where: str):
        """Resolve ``node`` as Heat resolves a parsed condition snippet."""
        if isinstance(node, dict):
            fn = _single_key(node)
            if fn is not None:
                op = self._d.cond_ops.get(fn)
                if op is not None:
                    self._check_shape(op, fn, node[fn], where)
                    return getattr(self, "_op_" + op)(fn, node[fn], where)
                if fn in self._d.cond_invalid:
                    raise TemplateError(f"{where}: function {fn!r} is not allowed in a condition")
            return {k: self.condition(v, where) for k, v in node.items()}
        if _is_seq(node):
            return [self.condition(v, where) for v in node]
        return node

    def truth(self, value, where: str, shown=None) -> bool:
        """``Conditions.is_enabled`` on a resolved value: a boolean, None (true) or a name.

        ``shown`` is the raw template text when it was a literal name: only that is
        quoted in messages, never a value that may have come from a parameter.
        """
        if isinstance(value, bool):
            return value
        if value is None:
            return True
        if isinstance(value, str) and value in self._defs:
            return self.named(value, where)
        if isinstance(value, dict) and "Condition" in value:
            raise TemplateError(f"{where}: {{'Condition': ...}} is not a condition reference in Heat; "
                                "it takes the bare condition name")
        if isinstance(shown, str):
            raise TemplateError(f"{where}: invalid condition {shown!r}")
        raise TemplateError(f"{where}: a {type(value).__name__} value that names no condition is used as a condition")

    def named(self, name: str, where: str) -> bool:
        """The value of a named condition, evaluated once; circular definitions are errors."""
        if not isinstance(name, str) or name not in self._defs:
            raise TemplateError(f"{where}: invalid condition {name!r}")
        state = self._named.get(name)
        if state is _IN_PROGRESS:
            raise TemplateError(f"circular definition for condition {name!r}")
        if state is None:
            self._named[name] = _IN_PROGRESS
            try:
                state = self._evaluate_named(name)
            except Undecidable as exc:
                state = exc
            except Exception:
                del self._named[name]
                raise
            self._named[name] = state
        if isinstance(state, Undecidable):
            raise state
        return state

    def _evaluate_named(self, name: str) -> bool:
        """Resolve a definition; Heat requires the result to be a boolean."""
        value = self.condition(self._defs[name], f"condition {name!r}")
        if not isinstance(value, bool):
            raise TemplateError(f"the definition of condition {name!r} is invalid: it is not a boolean")
        return value

    def _resolve_all(self, items, where: str):
        """Resolve every item (so every TemplateError surfaces); unknowns become _UNKNOWN."""
        values, pending = [], None
        for item in items:
            try:
                values.append(self.condition(item, where))
            except Undecidable as exc:
                values.append(_UNKNOWN)
                pending = pending or exc
        return values, pending

    def _op_equals(self, fn, args, where):
        """equals / Fn::Equals: Python equality of the two resolved values."""
        (a, b), pending = self._resolve_all(args, where)
        if pending:
            raise pending
        return a == b

    def _op_contains(self, fn, args, where):
        """contains (HOT >= 2017-09-01): value in sequence (a string is a sequence too)."""
        (value, seq), pending = self._resolve_all(args, where)
        if pending:
            raise pending
        if not isinstance(seq, (list, tuple, str)):
            raise TemplateError(f"{where}: second argument to {fn} should be a sequence")
        try:
            return value in seq
        except TypeError:
            raise TemplateError(f"{where}: {fn} cannot look for that value in a string") from None

    def _op_not(self, fn, args, where):
        """HOT ``not: <condition>``."""
        return not self.truth(self.condition(args, where), where, args)

    def _op_cfn_not(self, fn, args, where):
        """CFN ``Fn::Not: [<condition>]``."""
        return not self.truth(self.condition(args[0], where), where, args[0])

    def _op_and(self, fn, args, where):
        """and / Fn::And: false as soon as one known item is false."""
        return self._junction(args, where, stop_at=False)

    def _op_or(self, fn, args, where):
        """or / Fn::Or: true as soon as one known item is true."""
        return self._junction(args, where, stop_at=True)

    def _junction(self, args, where, stop_at: bool) -> bool:
        """Heat resolves all items, then tests them in order with all()/any().

        An item that cannot be known does not matter when a known item decides the
        result, so it only raises Undecidable when nothing else decides.
        """
        values, pending = self._resolve_all(args, where)
        for raw, value in zip(args, values):
            if value is _UNKNOWN:
                continue
            try:
                if self.truth(value, where, raw) is stop_at:
                    return stop_at
            except Undecidable as exc:
                pending = pending or exc
        if pending:
            raise pending
        return not stop_at

    def _op_get_param(self, fn, args, where):
        """get_param in a condition (arguments are resolved as conditions first)."""
        return self.get_param(self.condition(args, where), fn, where)

    def _op_param_ref(self, fn, args, where):
        """CFN ``Ref`` in a condition is always a parameter reference (ParamRef)."""
        return self.param(self.condition(args, where), where)

    def param(self, name, where: str):
        """A parameter's typed value (also used for a CFN Ref to a parameter in a property)."""
        return self._params.get(name, where)

    def _op_find_in_map(self, fn, args, where):
        """Fn::FindInMap over the template's Mappings."""
        values, pending = self._resolve_all(args, where)
        if pending:
            raise pending
        return self.find_in_map(values, where)

    def _op_yaql(self, fn, args, where):
        """yaql is a valid condition function that this module does not run."""
        raise Undecidable(f"{where}: a yaql expression decides it, which is not evaluated offline")

    # ---- values shared by conditions and property functions

    def get_param(self, args, fn: str, where: str):
        """``GetParam.result`` on resolved args: name or [name, path...]; bad paths give ''."""
        if not args:
            raise TemplateError(f'{where}: function "{fn}" must have arguments')
        if isinstance(args, str):
            name, path = args, []
        elif _is_seq(args):
            name, path = args[0], list(args[1:])
        else:
            raise TemplateError(f'{where}: argument to "{fn}" must be a string or a list')
        if not isinstance(name, str):
            raise TemplateError(f'{where}: parameter name in "{fn}" must be a string')
        value = self._params.get(name, where)
        try:
            for key in path:
                value = _path_step(value, key)
        except (KeyError, IndexError, TypeError, ValueError):
            return ""
        return value

    def find_in_map(self, values, where: str):
        """``FindInMap.result``: mapping[key][value]; a miss is an error in Heat."""
        try:
            return self._maps[values[0]][values[1]][values[2]]
        except (KeyError, TypeError, IndexError):
            raise TemplateError(f"{where}: Fn::FindInMap finds no such entry in Mappings") from None


def _path_step(collection, key):
    """One step of get_param's path, as ``get_path_component`` in hot/functions.py."""
    if not isinstance(collection, (dict, list, tuple, str)) or not isinstance(key, (str, int)):
        raise TypeError
    if isinstance(collection, (list, tuple, str)) and isinstance(key, str):
        key = int(key)
    return collection[key]


def _single_key(node: dict):
    """The key of a one-key map (a possible function call), else None."""
    if len(node) != 1:
        return None
    return next(iter(node))


# -------------------------------------------------------------------------- resources

class _Resolver:
    """Walks enabled resources and collects the resources they reference."""

    def __init__(self, dialect: _Dialect, evaluator: _Evaluator, enabled: frozenset, names: frozenset):
        self._d = dialect
        self._ev = evaluator
        self.enabled = enabled
        self.names = names
        self._handlers = {k: h for k, h in (
            (dialect.get_resource, self._get_resource), (dialect.get_attr, self._get_attr),
            (dialect.cfn_getatt, self._cfn_getatt), (dialect.ref, self._ref),
            (dialect.if_fn, self._if)) if k}

    def walk(self, node, deps: set, where: str) -> None:
        """Heat's ``function.dependencies`` over a snippet: maps, lists and functions.
        (Scalars, most of any template, are skipped without a call.)"""
        if isinstance(node, dict):
            if len(node) == 1:
                fn, args = next(iter(node.items()))
                handler = self._handlers.get(fn)
                if handler is not None:
                    handler(fn, args, deps, where)
                    return
            values = node.values()
        elif isinstance(node, (list, tuple)):
            values = node
        else:
            return
        for value in values:
            if isinstance(value, (dict, list, tuple)):
                self.walk(value, deps, where)

    def add(self, name, deps: set, where: str, via: str) -> None:
        """A function reference must name an enabled resource (``StackDefinition[name]``)."""
        try:
            if name in self.enabled:
                deps.add(name)
                return
            known = name in self.names
        except TypeError:
            raise TemplateError(f"{where}: {via} needs a resource name, not a {type(name).__name__}") from None
        if known:
            raise TemplateError(f"{where}: {via} refers to resource {name!r}, which its condition disables")
        raise TemplateError(f"{where}: {via} refers to {name!r}, which is not a resource of the template")

    def _get_resource(self, fn, args, deps, where):
        """get_resource: the resolved argument names the resource; nested functions count too."""
        self.walk(args, deps, where)
        self.add(self.value(args, where), deps, where, fn)

    def _get_attr(self, fn, args, deps, where):
        """get_attr [res, attr, path...]; from HOT 2015-10-15 also [res] (all attributes)."""
        if isinstance(args, str) and self._d.get_attr_min == 1 and len(args) == 1:
            args = [args]  # Heat's GetAttAllAttributes takes a one-character string as [name]
        if not _is_seq(args) or len(args) < self._d.get_attr_min:
            form = "[resource_name] or [resource_name, attribute, ...]" if self._d.get_attr_min == 1 \
                else "[resource_name, attribute, (path), ...]"
            raise TemplateError(f"{where}: arguments to {fn} must be of the form {form}")
        self.walk(args, deps, where)
        self.add(self.value(args[0], where), deps, where, fn)

    def _cfn_getatt(self, fn, args, deps, where):
        """Fn::GetAtt [resource_name, attribute]: exactly two items."""
        try:
            resource, _attribute = args
        except (TypeError, ValueError):
            raise TemplateError(f"{where}: arguments to {fn} must be of the form "
                                "[resource_name, attribute]") from None
        self.walk(args, deps, where)
        self.add(self.value(resource, where), deps, where, fn)

    def _ref(self, fn, args, deps, where):
        """CFN Ref: a resource dependency only when the name is a resource of the template."""
        try:
            is_resource = args in self.names
        except TypeError:
            raise TemplateError(f"{where}: {fn} needs a name, not a {type(args).__name__}") from None
        if is_resource:
            self.add(args, deps, where, fn)

    def _if(self, fn, args, deps, where):
        """if / Fn::If: only the selected branch is parsed, so only it can add dependencies."""
        branch = self.if_branch(fn, args, where)
        if branch is not _OMIT:
            self.walk(branch, deps, where)

    def if_branch(self, fn, args, where):
        """The branch Heat's If macro selects (``_OMIT`` for a false two-argument if)."""
        counts = (2, 3) if self._d.if_nullable else (3,)
        if not _is_seq(args) or len(args) not in counts:
            form = "[condition, value_if_true, (value_if_false)]" if self._d.if_nullable \
                else "[condition_name, value_if_true, value_if_false]"
            raise TemplateError(f"{where}: arguments to {fn} must be of the form {form}")
        cond = args[0]
        chosen = self._ev.truth(self._ev.condition(cond, f"{where} {fn}"), f"{where} {fn}", cond)
        if chosen:
            return args[1]
        return args[2] if len(args) == 3 else _OMIT

    def value(self, node, where: str):
        """``function.resolve`` for a resource name or external_id, where it can be known offline.

        Literals, get_param, a parameter Ref, if and Fn::FindInMap resolve; anything else
        (a resource id, an attribute, a string function) is only known to the running stack.
        """
        if isinstance(node, dict):
            fn = _single_key(node)
            if fn is not None and fn in self._d.functions:
                return self._function_value(fn, node[fn], where)
            return {k: self.value(v, where) for k, v in node.items()}
        if _is_seq(node):
            return [self.value(v, where) for v in node]
        return node

    def _function_value(self, fn, args, where):
        """One function's value in a property, or Undecidable."""
        if fn == "get_param":
            return self._ev.get_param(self.value(args, where), fn, where)
        if fn == self._d.if_fn:
            branch = self.if_branch(fn, args, where)
            return None if branch is _OMIT else self.value(branch, where)
        if fn == self._d.ref and not _is_seq(args) and not isinstance(args, dict) and args not in self.names:
            return self._ev.param(args, where)
        if fn == self._d.find_in_map:
            values = self.value(args, where)
            if not _is_seq(values) or len(values) != 3:
                raise TemplateError(f"{where}: {fn} takes [mapping, key, value]")
            return self._ev.find_in_map(values, where)
        raise Undecidable(f"{where}: a resource name computed by {fn!r} is only known to the running stack")


# ------------------------------------------------------------------------ entry point

def _resource_section(template: dict, dialect: _Dialect) -> dict:
    """The resources map; missing or null means an empty stack, as ``t.get(...) or {}``."""
    resources = template.get(dialect.resources) or {}
    if not isinstance(resources, dict):
        raise TemplateError(f"the {dialect.resources} section must be a map")
    return resources


def _check_definition(dialect: _Dialect, name, snippet) -> list:
    """Validate one resource definition as ``_rsrc_defn_args`` does; return its depends list."""
    where = f"resource {name!r}"
    if not isinstance(snippet, dict):
        raise TemplateError(f"{where}: the definition must be a map, not a {type(snippet).__name__}")
    if dialect.allowed_keys is not None:
        invalid = [str(k) for k in snippet if k not in dialect.allowed_keys]
        if invalid:
            raise TemplateError(f"{where}: invalid keyword(s) inside a resource definition: "
                                f"{', '.join(sorted(invalid))}")
    if dialect.type_key not in snippet:
        raise TemplateError(f'{where} is missing "{dialect.type_key}"')
    if not isinstance(snippet[dialect.type_key], str):
        raise TemplateError(f"{where}: {dialect.type_key} must be a string")
    for key in (dialect.props_key, dialect.meta_key):
        if key in snippet and not isinstance(snippet[key], dict):
            raise TemplateError(f"{where}: {key} must be a map")
    if dialect.desc_key in snippet and not isinstance(snippet[dialect.desc_key], str):
        raise TemplateError(f"{where}: {dialect.desc_key} must be a string")
    return _depends(dialect, where, snippet)


def _depends(dialect: _Dialect, where: str, snippet: dict) -> list:
    """depends_on / DependsOn: a string or a list of strings, read without functions."""
    if dialect.depends_key not in snippet:
        return []
    depends = snippet[dialect.depends_key]
    if isinstance(depends, str):
        return [depends]
    if not _is_seq(depends):
        raise TemplateError(f"{where}: {dialect.depends_key} must be a list or a string")
    if not all(isinstance(d, str) for d in depends):
        raise TemplateError(f"{where}: {dialect.depends_key} must be a list of strings")
    return list(depends)


def _is_enabled(dialect: _Dialect, ev: _Evaluator, name, snippet: dict) -> bool:
    """The resource's condition: a name, a boolean or an inline condition function."""
    key = dialect.condition_key
    if key is None or key not in snippet:
        return True
    cond = snippet[key]
    where = f"resource {name!r} condition"
    if isinstance(cond, (bool, str)):
        return ev.truth(cond, where, cond)
    fn = _single_key(cond) if isinstance(cond, dict) else None
    if fn is not None and (fn in dialect.cond_ops or fn in dialect.cond_invalid):
        return ev.truth(ev.condition(cond, where), where)
    raise TemplateError(f"{where} must be a condition name, a boolean or a condition function")


def _external(dialect: _Dialect, rv: _Resolver, name, snippet: dict, depends: list) -> bool:
    """A resource with a non-empty external_id has no dependencies (rsrc_defn.py)."""
    key = dialect.external_key
    if key is None or key not in snippet:
        return False
    value = rv.value(snippet[key], f"resource {name!r} {key}")
    if not value:
        return False
    if depends:
        raise TemplateError(f"resource {name!r}: an external resource ({key}) cannot have {dialect.depends_key}")
    return True


def _requirements(dialect: _Dialect, rv: _Resolver, name, snippet: dict, depends: list) -> frozenset:
    """Everything one enabled resource depends on, among the enabled resources."""
    if _external(dialect, rv, name, snippet, depends):
        return frozenset()
    deps: set = set()
    for key in (dialect.props_key, dialect.meta_key):
        if key in snippet:
            rv.walk(snippet[key], deps, f"resource {name!r} {key}")
    deps.update(dep for dep in depends if dep in rv.enabled)  # disabled names are dropped
    return frozenset(deps)


def _enabled_with_known_depends(dialect: _Dialect, ev: _Evaluator, name, snippet: dict,
                                depends: list, names: frozenset) -> bool:
    """Whether the resource is enabled; if so, its depends_on must name resources.

    Checked here, before any other resource's condition matters, so that such an
    error still wins when some other condition turns out to be undecidable.
    """
    if not _is_enabled(dialect, ev, name, snippet):
        return False
    for dep in depends:
        if dep not in names:
            raise TemplateError(f"resource {name!r}: {dialect.depends_key} names {dep!r}, "
                                "which is not a resource of the template")
    return True


def template_dependencies(template: dict, environment: dict | None = None, *, stack_name: str | None = None,
                          stack_id: str | None = None, tenant: str | None = None) -> TemplateDeps:
    """Enabled resources and their explicit dependencies, as Heat's ``Stack.dependencies``.

    ``environment`` is the raw_template's stored environment (parameters,
    parameter_defaults, encrypted_param_names); the keyword arguments give the
    pseudo parameters (OS::stack_name, AWS::StackId, ...) should a condition need them.
    """
    if not isinstance(template, dict):
        raise TemplateError("the template is not a map")
    dialect = _dialect_of(template)
    resources = _resource_section(template, dialect)
    schemas = template.get(dialect.parameters) or {}
    if not isinstance(schemas, dict):
        raise TemplateError(f"the {dialect.parameters} section must be a map")
    ident = {"stack_name": stack_name, "stack_id": stack_id, "tenant": tenant}
    params = _Parameters(dialect, schemas, environment, ident)
    ev = _Evaluator(dialect, template, params)
    depends = {name: _check_definition(dialect, name, snippet) for name, snippet in resources.items()}
    pending: list[Undecidable] = []
    names = frozenset(resources)
    enabled = [n for n, s in resources.items()
               if _guard(pending, _enabled_with_known_depends, dialect, ev, n, s, depends[n], names)]
    if pending:
        raise pending[0]
    rv = _Resolver(dialect, ev, frozenset(enabled), names)
    requires = {n: _guard(pending, _requirements, dialect, rv, n, resources[n], depends[n]) for n in enabled}
    if pending:
        raise pending[0]
    return TemplateDeps(
        resources=tuple(enabled), disabled=names - frozenset(enabled), requires=requires,
        types={n: resources[n][dialect.type_key] for n in enabled}, uses_identity=params.identity_read)


def _guard(pending: list, func, *args):
    """Run one resource's step; park an Undecidable so a later TemplateError still wins."""
    try:
        return func(*args)
    except Undecidable as exc:
        pending.append(exc)
        return None


# ----------------------------------------------------------------------------- cycles

def _order(name):
    """A total order over resource names of mixed types (YAML keys may be numbers)."""
    return (type(name).__name__, str(name))


def find_cycle(requires: dict[str, frozenset[str]]) -> list[str] | None:
    """A dependency cycle as ``[a, b, ..., a]`` (a requires b, ...), or None.

    Deterministic: nodes and their requirements are visited in sorted order, so the
    same graph always reports the same cycle. A self-reference is ``[a, a]``.
    Iterative, so deep chains cannot hit Python's recursion limit.
    """
    state: dict = {}
    for root in sorted(requires, key=_order):
        if root in state:
            continue
        path = [root]
        stack = [iter(sorted(requires.get(root, ()), key=_order))]
        state[root] = _IN_PROGRESS
        while stack:
            nxt = next(stack[-1], _OMIT)
            if nxt is _OMIT:
                state[path.pop()] = True
                stack.pop()
            elif state.get(nxt) is _IN_PROGRESS:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = _IN_PROGRESS
                path.append(nxt)
                stack.append(iter(sorted(requires.get(nxt, ()), key=_order)))
    return None
