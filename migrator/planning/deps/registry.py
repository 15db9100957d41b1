"""What a resource's type resolves to through the stack's ``resource_registry``.

Mirrors ``heat/engine/environment.py`` (``ResourceRegistry.iterable_by``,
``get_resource_info``, ``ResourceInfo`` ordering, ``MapResourceInfo`` and
``GlobResourceInfo``) and ``Resource.has_interface`` of openstack-heat 27.0.1.
The answer has two parts:

* ``interface``: the name the final registry entry is registered under, which
  ``has_interface(T)`` compares with ``T`` (besides the type itself). An alias
  ``My::Port: OS::Neutron::Port`` and a provider template registered as
  ``OS::Neutron::Port: port.yaml`` both answer ``OS::Neutron::Port``.
* what Heat instantiates: a plugin class (whose ``add_dependencies`` runs) or a
  provider template (a ``TemplateResource``, whose properties are the template's
  parameters and whose ``add_dependencies`` adds nothing).

Only the stack's stored environment is read. The global environment
(``/etc/heat/environment.d``) is deployment configuration that is not in the
database: every type it does not map is taken to be the plugin of that name.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.planning.deps.model import TemplateError

_TEMPLATE_SUFFIXES = (".yaml", ".template")
#: Keys of a per-resource registry entry that are not types (``is_hook_definition``,
#: ``is_valid_restricted_action``).
NOT_TYPES = frozenset({"hooks", "restricted_actions"})


@dataclass(frozen=True)
class Kind:
    """A resource's resolved type: ``interface`` for has_interface, and either the
    plugin name or the provider template's name (``template``)."""

    interface: str
    template: str | None = None

    @property
    def plugin(self) -> str | None:
        return None if self.template is not None else self.interface


class Registry:
    """The user registry of one stored environment."""

    def __init__(self, environment: dict | None):
        self._types: dict = {}      # type name -> value (str)
        self._by_name: dict = {}    # resource name -> {type name: value}
        registry = (environment or {}).get("resource_registry") if isinstance(environment, dict) else None
        if isinstance(registry, dict):
            self._load(registry)

    @property
    def empty(self) -> bool:
        return not self._types and not self._by_name

    def _load(self, registry: dict) -> None:
        """``_load_registry``: strings are entries, a ``resources`` map holds per-resource ones."""
        for key, value in registry.items():
            if key == "resources" and isinstance(value, dict):
                for rname, entries in value.items():
                    if isinstance(entries, dict):
                        own = {t: v for t, v in entries.items() if isinstance(v, str) and t not in NOT_TYPES}
                        if own:
                            self._by_name[rname] = own
            elif isinstance(value, str):
                self._types[key] = value

    def kind(self, type_name: str, resource_name: str) -> Kind:
        """``get_resource_info(type, name)`` reduced to a :class:`Kind`.

        Most stored environments map no type: then a type that names no
        template is its own plugin, without a registry walk."""
        if self.empty and not type_name.endswith(_TEMPLATE_SUFFIXES):
            return Kind(type_name)
        found = self._info(type_name, resource_name, depth=0)
        return found if found is not None else Kind(type_name)

    def _matches(self, type_name: str, resource_name: str) -> list:
        """``iterable_by`` on the user registry, sorted as ``ResourceInfo.__lt__`` sorts.

        Each match is (path, registered name, value); value None is a template type
        used directly (``type: foo.yaml``).
        """
        found = []
        if type_name.endswith(_TEMPLATE_SUFFIXES) and type_name not in self._types:
            found.append(((type_name,), type_name, None))
        own = self._by_name.get(resource_name, {})
        if type_name in own:
            found.append((("resources", resource_name, type_name), type_name, own[type_name]))
        if type_name in self._types:
            found.append(((type_name,), type_name, self._types[type_name]))
        for pattern, value in self._types.items():
            if pattern.endswith("*") and type_name != value and type_name.startswith(pattern[:-1]):
                found.append(((pattern,), pattern, value))
        return sorted(found, key=lambda m: (-len(m[0]), m[0]))

    def _info(self, type_name: str, resource_name: str, depth: int) -> Kind | None:
        """The first match that resolves; a map follows its target through the registry."""
        if depth > 50:
            raise TemplateError(f"resource {resource_name!r}: resource_registry maps {type_name!r} in a loop")
        for _path, name, value in self._matches(type_name, resource_name):
            if value is None:
                return Kind(name, template=name)
            if name.endswith(_TEMPLATE_SUFFIXES) or value.endswith(_TEMPLATE_SUFFIXES):
                return Kind(name, template=name if name.endswith(_TEMPLATE_SUFFIXES) else value)
            if name.endswith("*"):
                target = value[:-1] + type_name[len(name) - 1:] if value.endswith("*") else value
            else:
                target = value
            found = self._info(target, resource_name, depth + 1)
            return found if found is not None else Kind(target)
        return None
