"""Template dialects: what each HOT version and CFN call their sections, keys and functions.

Heat picks the dialect from the version key (``heat_template_version`` date or release
name, ``AWSTemplateFormatVersion``, ``HeatTemplateFormatVersion``); the function tables
follow ``heat/engine/hot/template.py`` and ``cfn/template.py`` of openstack-heat 27.0.1.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from migrator.planning.deps.model import TemplateError

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
