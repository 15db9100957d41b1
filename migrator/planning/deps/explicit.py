"""Explicit edges: ``depends_on``, ``get_resource``, ``get_attr``, ``Ref`` and
``Fn::GetAtt`` inside properties and metadata, through the selected ``if`` branch, as
Heat's ``ResourceDefinition.required_resource_names`` finds them; and the entry point
:func:`template_dependencies` that reads a whole template.
"""

from __future__ import annotations

from migrator.planning.deps.conditions import _OMIT, _Evaluator, _is_seq, _single_key
from migrator.planning.deps.dialects import _Dialect, _dialect_of
from migrator.planning.deps.expressions import evaluate
from migrator.planning.deps.model import TemplateDeps, TemplateError, Undecidable
from migrator.planning.deps.parameters import _Parameters

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
        """if / Fn::If: only the selected branch is parsed, so only it can add dependencies.

        When the condition cannot be known offline, the answer still is when both
        branches need the same resources (Magnum's yaql condition picking one of two
        ``get_file`` scripts): which branch Heat takes then changes nothing in the graph.
        """
        try:
            branch = self.if_branch(fn, args, where)
        except Undecidable:
            shared = self._either_branch(args, where)
            if shared is None:
                raise
            deps |= shared
            return
        if branch is not _OMIT:
            self.walk(branch, deps, where)

    def _either_branch(self, args, where) -> set | None:
        """The dependencies of both branches when they are the same, else None.

        A branch that Heat would reject (a reference to a missing resource) or that
        itself cannot be known counts as different: Heat only parses the branch it takes.
        """
        needs = []
        for branch in (args[1], args[2] if len(args) == 3 else None):
            found: set = set()
            try:
                self.walk(branch, found, where)
            except (TemplateError, Undecidable):
                found = None
            needs.append(found)
        return needs[0] if needs[0] == needs[1] else None

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
        if fn == "yaql" and isinstance(args, dict) and "expression" in args:
            return evaluate(self.value(args["expression"], where), self.value(args.get("data", {}), where), where)
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
