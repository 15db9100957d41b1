"""One stack's whole dependency graph, as Heat's ``Stack.dependencies`` computes it
when it loads the stored stack: the explicit edges of :mod:`explicit` plus the
plugins' implicit ones of :mod:`implicit` (``Stack._add_implicit_dependencies``).

This is what Heat's ``Stack.migrate_to_convergence`` writes to ``resource.requires``
(as row ids), so it serves both a migration and a check of a tree already on
convergence.
"""

from __future__ import annotations

import dataclasses

from migrator.planning.deps.explicit import template_dependencies
from migrator.planning.deps.implicit import implicit_dependencies, needs_implicit
from migrator.planning.deps.model import TemplateDeps


def physical_ids(rows) -> dict:
    """Resource name -> physical id (the ``nova_instance`` column) of active rows.

    Heat keys the rows it loads by name, so of two rows with one name the later
    (higher id) one counts, as ``{r.name: r for r in rows}`` keeps it.
    """
    return {r["name"]: r.get("nova_instance") for r in sorted(rows, key=lambda r: r["id"])}


def with_implicit(deps: TemplateDeps, template: dict, environment: dict | None, files: dict | None,
                  ids: dict | None, *, stack_name=None, stack_id=None, tenant=None) -> TemplateDeps:
    """``deps`` (explicit, of the same template and environment) plus the implicit edges."""
    if not needs_implicit(deps, environment):
        return deps
    requires, used_rows = implicit_dependencies(template, environment, files, deps, ids,
                                                stack_name=stack_name, stack_id=stack_id, tenant=tenant)
    return dataclasses.replace(deps, requires=requires, uses_rows=used_rows)


def stack_dependencies(template: dict, environment: dict | None, files: dict | None, rows, *,
                       stack_name: str | None = None, stack_id: str | None = None,
                       tenant: str | None = None) -> TemplateDeps:
    """Enabled resources and their full ``requires`` (names), explicit and implicit.

    ``template`` and ``environment`` are the parsed raw_template columns, ``files``
    the parsed raw_template_files map (or None), ``rows`` the stack's active
    resource rows (dicts with ``id``, ``name``, ``nova_instance``). Raises
    ``TemplateError`` / ``Undecidable`` as :func:`template_dependencies`, and
    ``Undecidable`` when an implicit edge depends on a value not known offline.
    """
    ident = {"stack_name": stack_name, "stack_id": stack_id, "tenant": tenant}
    deps = template_dependencies(template, environment, **ident)
    return with_implicit(deps, template, environment, files, physical_ids(rows), **ident)
