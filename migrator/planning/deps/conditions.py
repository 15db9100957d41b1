"""Conditions and the value functions they and resource names use, evaluated as Heat does.

Named conditions are parsed eagerly and evaluated lazily, as ``Conditions`` in
``heat/engine/conditions.py``; an unknown value raises :class:`Undecidable`.
"""

from __future__ import annotations

from migrator.planning.deps.dialects import _Dialect
from migrator.planning.deps.expressions import evaluate
from migrator.planning.deps.model import TemplateError, Undecidable
from migrator.planning.deps.parameters import _Parameters

# ------------------------------------------------------------------------- evaluation

_IN_PROGRESS = object()  # a named condition being evaluated (a cycle if met again)
_UNKNOWN = object()     # a value that raised Undecidable, kept so its siblings still get checked
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
        """yaql: the expression and its data resolved as conditions, then run as Heat runs it."""
        values, pending = self._resolve_all([args["expression"], args.get("data", {})], where)
        if pending:
            raise pending
        return evaluate(values[0], values[1], where)

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
