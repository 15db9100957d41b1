"""``yaql`` expressions, evaluated as Heat evaluates them.

Heat's ``Yaql`` function (``heat/engine/hot/functions.py``) parses the expression with
the yaql library and Heat's ``[yaql]`` limits, then evaluates it with the resolved
``data`` bound to ``$.data``. Using the same library with the same limits gives the
same answers, so a condition such as Magnum's
``$.data.calico_tag.startsWith("v3.26.")`` is decided offline instead of refused.

The parser is built once per process (as Heat builds it once per engine): building it
compiles yaql's grammar, which costs far more than evaluating one expression.
"""

from __future__ import annotations

from functools import lru_cache

from migrator.planning.deps.model import TemplateError

#: Heat's defaults for ``[yaql] limit_iterators`` and ``[yaql] memory_quota``.
LIMIT_ITERATORS = 200
MEMORY_QUOTA = 10000


@lru_cache(maxsize=1)
def _engine():
    """The parser and root context, created as Heat's ``Yaql.get_yaql_parser`` does."""
    import yaql

    parser = yaql.YaqlFactory().create({
        "yaql.limitIterators": LIMIT_ITERATORS,
        "yaql.memoryQuota": MEMORY_QUOTA,
    })
    return parser, yaql.create_context()


@lru_cache(maxsize=1024)
def _parse(expression: str):
    """A parsed expression; many stacks share one template, so parse each text once."""
    from yaql.language.exceptions import YaqlException

    parser, _context = _engine()
    try:
        return parser(expression)
    except YaqlException as exc:
        raise TemplateError(f"bad yaql expression: {_first_line(exc)}") from None


def evaluate(expression, data, where: str):
    """The value of ``expression`` over ``data`` (both already resolved), or TemplateError.

    Heat raises when the expression is not a string, does not parse, or fails while
    evaluating (a method that does not apply, a limit exceeded): the stack then cannot
    be loaded, so neither Heat nor convmig can migrate it. The message names the place,
    never the data (it may hold parameter values).
    """
    if not isinstance(expression, str):
        raise TemplateError(f"{where}: the expression argument to yaql must be a string")
    try:
        statement = _parse(expression)
    except TemplateError as exc:
        raise TemplateError(f"{where}: {exc}") from None
    _parser, context = _engine()
    try:
        return statement.evaluate({"data": data}, context.create_child_context())
    except Exception as exc:  # yaql raises many types, some not YaqlException (e.g. ValueError)
        raise TemplateError(f"{where}: the yaql expression fails ({type(exc).__name__})") from None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
