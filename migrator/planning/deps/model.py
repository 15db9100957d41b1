"""The results and errors of reading a template: what every part of ``deps`` returns or raises."""

from __future__ import annotations

from dataclasses import dataclass

class TemplateError(Exception):
    """The template is wrong in a way Heat would reject; the message is one line."""


class Undecidable(Exception):
    """A value needed to decide a condition or an ``if`` branch cannot be known offline."""


@dataclass(frozen=True)
class TemplateDeps:
    """Enabled resources of one template and the dependencies between them: the
    explicit ones (:func:`template_dependencies`), or explicit plus implicit
    (:func:`stack_dependencies`).

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
    #: Whether the rows' physical ids decided an implicit edge (see
    #: ``deps.implicit``); such a result belongs to one stack only.
    uses_rows: bool = False
