"""Which edges a stack's template names: the planner's own reading, per stack.

An edge the stored template names (``depends_on``, ``get_resource``, ``get_attr``,
``Ref``, ``Fn::GetAtt``) is explicit; any other edge a plan wrote came from a
plugin (implicit, reference §3.3). The reading is ``template_dependencies``, the
function the planner decides ``requires`` with, on the very template row the
plan was made from (its id is in the recorded images). Readings are shared
between stacks with the same template and environment text, as planning shares
them, unless a pseudo parameter decided them.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from migrator.heat.schema import load_json, raw_template, stack
from migrator.heat.tree import chunks, rows_of
from migrator.planning.deps import TemplateError, Undecidable, template_dependencies


class ExplicitEdges:
    """``reader(stack_id)`` -> {resource name: names its template makes it require},
    or None when the template is gone or cannot be read offline."""

    def __init__(self, stacks: dict[str, dict], templates: dict[int, dict], template_of: dict[str, int] | None = None,
                 memo: dict | None = None):
        self.stacks = stacks
        self.templates = templates
        self.template_of = template_of or {}
        self._memo: dict = {} if memo is None else memo
        self._done: dict[str, dict | None] = {}

    def __call__(self, stack_id: str) -> dict[str, frozenset[str]] | None:
        if stack_id not in self._done:
            self._done[stack_id] = self._read(stack_id)
        return self._done[stack_id]

    def _read(self, stack_id: str) -> dict[str, frozenset[str]] | None:
        row = self.stacks.get(stack_id)
        template_id = self.template_of.get(stack_id) or (row or {}).get("raw_template_id")
        tmpl = self.templates.get(template_id)
        if row is None or tmpl is None:
            return None
        key = _memo_key(tmpl)
        if key in self._memo:
            return self._memo[key]
        try:
            environment = load_json(tmpl["environment"])
            deps = template_dependencies(load_json(tmpl["template"]) or {},
                                         environment if isinstance(environment, dict) else None,
                                         stack_name=row["name"], stack_id=row["id"], tenant=row.get("tenant"))
        except (TemplateError, Undecidable, ValueError, TypeError):
            return None
        if not deps.uses_identity:
            self._memo[key] = deps.requires
        return deps.requires


def _memo_key(tmpl: dict) -> bytes:
    """Template and environment text as a digest: a 10,000-tree report keeps one
    per distinct text, not the texts themselves."""
    digest = hashlib.sha256()
    for part in (tmpl["template"], tmpl["environment"]):
        digest.update(repr(part).encode("utf-8", "surrogatepass") + b"\0")
    return digest.digest()


def template_ids(changes: Iterable[dict]) -> dict[str, int]:
    """Stack id -> the raw template a plan was made from, as its images recorded it:
    a stack's ``raw_template_id``, else its rows' ``current_template_id`` (a repair
    changes no stack row)."""
    found: dict[str, int] = {}
    for c in changes:
        image = {**(c.get("before") or {}), **(c.get("after") or {})}
        if c["table"] == "stack" and c["op"] == "update" and image.get("raw_template_id"):
            found[str(c["pk"]["id"])] = image["raw_template_id"]
    for c in changes:
        image = {**(c.get("before") or {}), **(c.get("after") or {})}
        if c["table"] == "resource" and image.get("stack_id") and image.get("current_template_id"):
            found.setdefault(str(image["stack_id"]), image["current_template_id"])
    return found


def load(engine: Engine, template_of: dict[str, int], memo: dict | None = None) -> ExplicitEdges:
    """A reader over the stacks and template rows Heat's database still holds
    (a template deleted since, by a later update, leaves its edges unknown)."""
    stacks: dict[str, dict] = {}
    templates: dict[int, dict] = {}
    with engine.connect() as conn:
        for part in chunks(sorted(template_of)):
            query = sa.select(stack.c.id, stack.c.name, stack.c.tenant, stack.c.raw_template_id).where(stack.c.id.in_(part))
            stacks.update({r["id"]: r for r in rows_of(conn, query)})
        for part in chunks(sorted(set(template_of.values()))):
            query = sa.select(raw_template.c.id, raw_template.c.template, raw_template.c.environment).where(raw_template.c.id.in_(part))
            templates.update({r["id"]: r for r in rows_of(conn, query)})
    return ExplicitEdges(stacks, templates, template_of, memo=memo)
