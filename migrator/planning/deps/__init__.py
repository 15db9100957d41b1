"""Which resources of a stored Heat template are enabled, and what each one needs.

Heat's own migration (``Stack.migrate_to_convergence``) writes ``resource.requires``
from ``Stack.dependencies``: the graph Heat builds from the *current* template,
with conditions evaluated against the stored environment. This package rebuilds
that graph from the stored template, environment, files and rows alone, so the
planner can work offline on tens of thousands of stacks without loading Heat or
its plugins.

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

Implicit dependencies, added by resource plugins (``Resource.add_dependencies``:
Port/Server on Subnet, FloatingIP on RouterGateway, ...), are :mod:`implicit`'s:
the ten rules of Heat 27.0.1 on property values as Heat reads them when it loads
the stored stack (:mod:`properties`), with ``has_interface`` through the
``resource_registry`` (:mod:`registry`). :func:`stack_dependencies` (:mod:`full`)
gives one stack's whole graph, explicit and implicit, which is what Heat's
migration writes. Outputs, ``deletion_policy`` and ``update_policy`` carry no
resource dependencies and are not checked; neither are the properties of a
disabled resource (Heat parses them, so a malformed function there is an error
Heat reports and this module does not), nor parameter schemas that no condition,
resource name or compared property uses.

Errors: :class:`TemplateError` when Heat itself would reject the template (its
validation or its dependency computation would fail); :class:`Undecidable` when the
answer depends on a value that cannot be known offline (an encrypted hidden
parameter, a parameter with no value, a stack identity the caller did not give, a
resource name computed at run time, a property an implicit rule compares whose value
needs a function not evaluated offline). ``yaql`` runs as in Heat (``expressions``: the
same library and Heat's ``[yaql]`` limits). An ``if`` whose condition cannot be known
is still decided when both branches need the same resources: only a value that would
change the graph is a reason to refuse. When both occur in one
template, the TemplateError wins: Heat would refuse the template whatever the value.
Messages never quote parameter values, so no secret from the environment leaks.
"""

from __future__ import annotations

from migrator.planning.deps.cycles import find_cycle
from migrator.planning.deps.explicit import template_dependencies
from migrator.planning.deps.full import physical_ids, stack_dependencies, with_implicit
from migrator.planning.deps.implicit import needs_implicit
from migrator.planning.deps.model import TemplateDeps, TemplateError, Undecidable

__all__ = ["TemplateError", "Undecidable", "TemplateDeps", "template_dependencies", "stack_dependencies",
           "with_implicit", "needs_implicit", "physical_ids", "find_cycle"]
