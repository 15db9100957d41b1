"""Parameter values as Heat resolves them at load time: the stored environment
(``parameters``, ``parameter_defaults``, ``encrypted_param_names``), schema defaults and
type conversion (``heat/engine/parameters.py``), and the pseudo parameters of the
stack's identity.
"""

from __future__ import annotations

import json
import numbers
from urllib.parse import quote

from migrator.planning.deps.dialects import _Dialect
from migrator.planning.deps.model import TemplateError, Undecidable

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
