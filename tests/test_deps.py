"""migrator.planning.deps: enabled resources and explicit dependencies, as Heat computes them.

Each expectation comes from Heat's behaviour (openstack-heat 27.0.1, the files named
in the migrator.planning.deps docstring) or reference/heat-convergence.md sections 3 and 4,
not from the implementation: templates are written the way an operator's stack
would store them, and the answer is what ``Stack.dependencies`` would give.
"""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.planning.deps import TemplateDeps, TemplateError, Undecidable, find_cycle, template_dependencies

NONE = "OS::Heat::None"
HOT_DATES = ["2013-05-23", "2014-10-16", "2015-04-30", "2015-10-15", "2016-04-08", "2016-10-14",
             "2017-02-24", "2017-09-01", "2018-03-02", "2018-08-31", "2021-04-16"]
HOT_NAMES = {"newton": "2016-10-14", "ocata": "2017-02-24", "pike": "2017-09-01",
             "queens": "2018-03-02", "rocky": "2018-08-31", "wallaby": "2021-04-16"}


def hot(resources, version="2016-10-14", **sections):
    """A HOT template with the given resources and extra top-level sections."""
    return {"heat_template_version": version, "resources": resources, **sections}


def cfn(resources, **sections):
    """An AWSTemplateFormatVersion template."""
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources, **sections}


def res(type_=NONE, **fields):
    """A HOT resource definition."""
    return {"type": type_, **fields}


def cres(type_="AWS::EC2::Instance", **fields):
    """A CFN resource definition (fields already in CFN spelling)."""
    return {"Type": type_, **fields}


def req(template, env=None, **kw):
    """requires as plain sets, for readable comparisons."""
    deps = template_dependencies(template, env, **kw)
    return {name: set(need) for name, need in deps.requires.items()}


def enabled(template, env=None, **kw):
    return template_dependencies(template, env, **kw).resources


# ------------------------------------------------------------------- versions

@pytest.mark.parametrize("version", HOT_DATES + list(HOT_NAMES))
def test_every_hot_version_heat_registers_is_accepted(version):
    t = hot({"a": res(), "b": res(depends_on="a")}, version=version)
    assert req(t) == {"a": set(), "b": {"a"}}


def test_yaml_date_version_is_read_as_its_string():
    t = hot({"a": res(), "b": res(properties={"x": {"get_resource": "a"}})},
            version=datetime.date(2016, 10, 14))
    assert req(t) == {"a": set(), "b": {"a"}}


@pytest.mark.parametrize("template", [
    {"heat_template_version": "2019-01-01", "resources": {}},
    {"heat_template_version": "stein", "resources": {}},
    {"AWSTemplateFormatVersion": "2011-01-01", "Resources": {}},
    {"HeatTemplateFormatVersion": "2010-09-09", "Resources": {}},
    {"resources": {"a": res()}},
    {"heat_template_version": "2016-10-14", "AWSTemplateFormatVersion": "2010-09-09"},
    {"heat_template_version": 20161014, "resources": {}},
])
def test_unknown_missing_or_ambiguous_version_is_a_template_error(template):
    with pytest.raises(TemplateError):
        template_dependencies(template)


def test_template_that_is_not_a_map_is_a_template_error():
    with pytest.raises(TemplateError):
        template_dependencies(["heat_template_version"])


def test_both_cfn_flavours_are_accepted():
    for key, version in (("AWSTemplateFormatVersion", "2010-09-09"), ("HeatTemplateFormatVersion", "2012-12-12")):
        t = {key: version, "Resources": {"A": cres(), "B": cres(DependsOn="A")}}
        assert req(t) == {"A": set(), "B": {"A"}}


# ------------------------------------------------------------------- sections

@pytest.mark.parametrize("template", [
    {"heat_template_version": "2016-10-14"},
    {"heat_template_version": "2016-10-14", "resources": None},
    {"heat_template_version": "2016-10-14", "resources": {}},
    {"AWSTemplateFormatVersion": "2010-09-09", "Resources": None},
])
def test_missing_or_null_resources_is_an_empty_stack(template):
    deps = template_dependencies(template)
    assert deps == TemplateDeps(resources=(), disabled=frozenset(), requires={}, types={})


def test_resources_keep_template_order_and_report_types():
    t = hot({"z": res("OS::Nova::Server"), "a": res("OS::Neutron::Port"), "m": res()})
    deps = template_dependencies(t)
    assert deps.resources == ("z", "a", "m")
    assert deps.types == {"z": "OS::Nova::Server", "a": "OS::Neutron::Port", "m": NONE}


@pytest.mark.parametrize("resources", [
    ["a"],
    {"a": "OS::Heat::None"},
    {"a": None},
    {"a": {}},
    {"a": {"properties": {}}},
    {"a": {"type": {"get_param": "t"}}},
    {"a": {"type": NONE, "propertes": {}}},
    {"a": {"type": NONE, "properties": ["x"]}},
    {"a": {"type": NONE, "properties": None}},
    {"a": {"type": NONE, "metadata": "x"}},
    {"a": {"type": NONE, "description": 5}},
])
def test_malformed_hot_resource_definitions_are_template_errors(resources):
    with pytest.raises(TemplateError):
        template_dependencies(hot(resources))


def test_condition_key_before_2016_10_14_is_an_invalid_keyword():
    with pytest.raises(TemplateError, match="condition"):
        template_dependencies(hot({"a": res(condition=False)}, version="2016-04-08"))


def test_cfn_ignores_unknown_resource_keys_but_needs_type():
    assert req(cfn({"A": cres(Whatever=1)})) == {"A": set()}
    with pytest.raises(TemplateError, match="Type"):
        template_dependencies(cfn({"A": {"Properties": {}}}))


def test_error_names_the_resource():
    with pytest.raises(TemplateError, match="'web'"):
        template_dependencies(hot({"web": res(depends_on=["nowhere"])}))


# ------------------------------------------------------------------- depends_on

def test_depends_on_string_and_list():
    t = hot({"a": res(), "b": res(), "c": res(depends_on="a"), "d": res(depends_on=["a", "b"])})
    assert req(t) == {"a": set(), "b": set(), "c": {"a"}, "d": {"a", "b"}}


def test_cfn_depends_on_string_and_list():
    t = cfn({"A": cres(), "B": cres(), "C": cres(DependsOn="A"), "D": cres(DependsOn=["A", "B"])})
    assert req(t) == {"A": set(), "B": set(), "C": {"A"}, "D": {"A", "B"}}


@pytest.mark.parametrize("depends", [["a", 1], ["a", {"get_resource": "a"}], {"a": 1}, None, 7])
def test_depends_on_must_be_a_string_or_list_of_strings(depends):
    with pytest.raises(TemplateError):
        template_dependencies(hot({"a": res(), "b": res(depends_on=depends)}))


def test_depends_on_is_not_parsed_for_functions():
    # a dict inside depends_on is not a get_resource call: it is simply invalid
    with pytest.raises(TemplateError):
        template_dependencies(hot({"a": res(), "b": res(depends_on=[{"get_resource": "a"}])}))


def test_depends_on_unknown_name_is_invalid_template_reference():
    with pytest.raises(TemplateError, match="nowhere"):
        template_dependencies(hot({"a": res(depends_on="nowhere")}))


def test_depends_on_a_disabled_resource_is_dropped():
    # heat/tests/test_hot.py test_depends_condition
    t = hot({"one": res(), "two": res(condition=False), "three": res(depends_on="two")})
    deps = template_dependencies(t)
    assert deps.resources == ("one", "three")
    assert deps.disabled == frozenset({"two"})
    assert req(t) == {"one": set(), "three": set()}


def test_self_dependency_is_kept_so_it_shows_as_a_cycle():
    deps = template_dependencies(hot({"a": res(depends_on="a")}))
    assert deps.requires == {"a": frozenset({"a"})}
    assert find_cycle(deps.requires) == ["a", "a"]


def test_duplicate_references_collapse():
    t = hot({"a": res(), "b": res(depends_on=["a", "a"], properties={"x": {"get_resource": "a"},
                                                                     "y": {"get_attr": ["a", "z"]}})})
    assert req(t) == {"a": set(), "b": {"a"}}


# ------------------------------------------------------------------- HOT functions

def test_get_resource_in_properties_and_metadata():
    t = hot({"a": res(), "b": res(), "c": res(properties={"p": {"get_resource": "a"}},
                                              metadata={"m": [{"get_resource": "b"}]})})
    assert req(t)["c"] == {"a", "b"}


@pytest.mark.parametrize("args", [["a", "attr"], ["a", "attr", "key", 0], ["a", "attr", {"get_param": "p"}]])
def test_get_attr_forms(args):
    t = hot({"a": res(), "b": res(properties={"x": {"get_attr": args}})},
            parameters={"p": {"type": "string", "default": "k"}})
    assert req(t)["b"] == {"a"}


@pytest.mark.parametrize("version", ["2015-10-15", "2016-10-14", "2021-04-16", "pike"])
def test_get_attr_all_attributes_form_from_2015_10_15(version):
    t = hot({"a": res(), "b": res(properties={"x": {"get_attr": ["a"]}})}, version=version)
    assert req(t)["b"] == {"a"}


@pytest.mark.parametrize("version", ["2013-05-23", "2014-10-16", "2015-04-30"])
def test_get_attr_all_attributes_form_is_rejected_before_2015_10_15(version):
    with pytest.raises(TemplateError):
        template_dependencies(hot({"a": res(), "b": res(properties={"x": {"get_attr": ["a"]}})}, version=version))


@pytest.mark.parametrize("args", ["a.attr", {"a": "attr"}, [], None])
def test_get_attr_needs_a_list(args):
    with pytest.raises(TemplateError):
        template_dependencies(hot({"a": res(), "b": res(properties={"x": {"get_attr": args}})}))


def test_attribute_computed_by_another_get_attr_depends_on_both():
    t = hot({"a": res(), "b": res(), "c": res(properties={"x": {"get_attr": ["a", {"get_attr": ["b", "name"]}]}})})
    assert req(t)["c"] == {"a", "b"}


NESTINGS = [
    {"str_replace": {"template": "host=$h", "params": {"$h": {"get_attr": ["a", "first_address"]}}}},
    {"list_join": [",", [{"get_resource": "a"}, "x"]]},
    {"list_join": [",", {"get_attr": ["a", "networks"]}]},
    {"yaql": {"expression": "$.data.x", "data": {"x": {"get_attr": ["a", "addresses"]}}}},
    {"map_merge": [{"k": {"get_resource": "a"}}, {"l": 1}]},
    {"digest": ["sha512", {"get_attr": ["a", "value"]}]},
    {"repeat": {"for_each": {"<%x%>": [1, 2]}, "template": {"port": {"get_resource": "a"}, "n": "<%x%>"}}},
    {"str_split": [",", {"get_attr": ["a", "csv"]}]},
    {"get_param": [{"get_attr": ["a", "key"]}]},  # get_param parses its argument too
    [[{"deep": [{"deeper": {"get_resource": "a"}}]}]],
]


@pytest.mark.parametrize("snippet", NESTINGS)
def test_references_nested_in_other_functions_count(snippet):
    t = hot({"a": res(), "b": res(properties={"v": snippet})}, version="2017-09-01")
    assert req(t)["b"] == {"a"}


def test_whole_properties_may_be_a_function():
    t = hot({"a": res(), "b": res(properties={"map_merge": [{"x": {"get_resource": "a"}}, {}]})})
    assert req(t)["b"] == {"a"}


def test_a_map_with_more_than_one_key_is_data_not_a_function():
    t = hot({"a": res(), "b": res(properties={"x": {"get_resource": "a", "other": 1}})})
    assert req(t)["b"] == set()


def test_map_keys_are_not_parsed():
    t = hot({"a": res(), "b": res(properties={"get_resource": "a", "y": 1})})
    assert req(t)["b"] == set()


def test_plain_strings_naming_a_resource_are_not_references():
    t = hot({"a": res(), "b": res(properties={"name": "a", "list": ["a"]})})
    assert req(t)["b"] == set()


@pytest.mark.parametrize("fn", [{"get_resource": "ghost"}, {"get_attr": ["ghost", "x"]}, {"get_attr": ["ghost"]}])
def test_reference_to_a_name_that_is_no_resource_is_invalid(fn):
    with pytest.raises(TemplateError, match="ghost"):
        template_dependencies(hot({"a": res(properties={"x": fn})}))


@pytest.mark.parametrize("fn", [{"get_resource": "off"}, {"get_attr": ["off", "x"]}])
def test_function_reference_to_a_disabled_resource_is_invalid(fn):
    # Heat resolves get_resource/get_attr against the enabled definitions
    # (StackDefinition.__getitem__): unlike depends_on, this is InvalidTemplateReference
    t = hot({"off": res(condition=False), "a": res(properties={"x": fn})})
    with pytest.raises(TemplateError, match="off"):
        template_dependencies(t)


def test_reference_inside_a_disabled_resource_is_not_looked_at():
    t = hot({"off": res(condition=False, properties={"x": {"get_resource": "ghost"}}), "a": res()})
    assert req(t) == {"a": set()}


def test_resource_name_from_get_param():
    t = hot({"a": res(), "b": res(properties={"x": {"get_resource": {"get_param": "target"}}})},
            parameters={"target": {"type": "string", "default": "a"}})
    assert req(t)["b"] == {"a"}
    assert req(t, {"parameters": {"target": "b"}})["b"] == {"b"}


def test_resource_name_known_only_at_run_time_is_undecidable():
    t = hot({"a": res(), "b": res(),
             "c": res(properties={"x": {"get_attr": [{"get_attr": ["a", "peer"]}, "y"]}})})
    with pytest.raises(Undecidable, match="get_attr"):
        template_dependencies(t)


def test_get_attr_with_a_repeat_placeholder_as_name_is_invalid():
    # repeat's template is parsed like any argument, so Heat looks the placeholder up
    t = hot({"a": res(), "b": res(properties={"x": {"repeat": {
        "for_each": {"<%r%>": ["a"]}, "template": {"get_attr": ["<%r%>", "name"]}}}})})
    with pytest.raises(TemplateError, match="<%r%>"):
        template_dependencies(t)


def test_hot_2013_ref_to_resource_and_to_parameter():
    t = hot({"a": res(), "b": res(properties={"x": {"Ref": "a"}, "y": {"Ref": "p"},
                                              "z": {"Fn::Join": [",", [{"get_attr": ["a", "n"]}]]}})},
            version="2013-05-23", parameters={"p": {"type": "string", "default": "v"}})
    assert req(t)["b"] == {"a"}


def test_hot_has_no_fn_getatt():
    t = hot({"a": res(), "b": res(properties={"x": {"Fn::GetAtt": ["a", "n"]}})}, version="2013-05-23")
    assert req(t)["b"] == set()


def test_removed_ref_is_no_reference_but_removed_functions_still_parse_their_arguments():
    t = hot({"a": res(), "b": res(properties={"x": {"Ref": "a"}}),
             "c": res(properties={"x": {"Fn::Join": [",", [{"get_resource": "a"}]]}})}, version="2015-10-15")
    assert req(t) == {"a": set(), "b": set(), "c": {"a"}}


def test_cfn_functions_are_not_hot_functions_in_cfn_and_vice_versa():
    t = cfn({"A": cres(), "B": cres(Properties={"x": {"get_resource": "A"}, "y": {"get_attr": ["A", "b"]}})})
    assert req(t)["B"] == set()


# ------------------------------------------------------------------- CFN functions

def test_cfn_ref_to_resource_is_a_dependency():
    assert req(cfn({"A": cres(), "B": cres(Properties={"x": {"Ref": "A"}})}))["B"] == {"A"}


@pytest.mark.parametrize("name", ["KeyName", "AWS::StackName", "AWS::Region", "AWS::StackId", "NotAnything"])
def test_cfn_ref_to_a_parameter_or_pseudo_parameter_is_no_dependency(name):
    t = cfn({"A": cres(), "B": cres(Properties={"x": {"Ref": name}})},
            Parameters={"KeyName": {"Type": "String", "Default": "k"}})
    assert req(t)["B"] == set()


def test_cfn_getatt_and_nesting():
    t = cfn({"A": cres(), "B": cres(), "C": cres(Properties={
        "UserData": {"Fn::Base64": {"Fn::Join": ["", ["ip=", {"Fn::GetAtt": ["A", "PublicIp"]}]]}},
        "Pick": {"Fn::Select": ["0", [{"Ref": "B"}]]}},
        Metadata={"AWS::CloudFormation::Init": {"config": {"x": {"Ref": "A"}}}})})
    assert req(t)["C"] == {"A", "B"}


@pytest.mark.parametrize("args", [["A"], ["A", "x", "y"], "A", 5])
def test_cfn_getatt_needs_exactly_two_arguments(args):
    with pytest.raises(TemplateError):
        template_dependencies(cfn({"A": cres(), "B": cres(Properties={"x": {"Fn::GetAtt": args}})}))


def test_cfn_getatt_unknown_resource_is_invalid():
    with pytest.raises(TemplateError, match="Ghost"):
        template_dependencies(cfn({"B": cres(Properties={"x": {"Fn::GetAtt": ["Ghost", "Ip"]}})}))


def test_cfn_ref_to_a_disabled_resource_is_invalid():
    # Ref is decided while parsing against all template names, then resolved
    # against the enabled ones: Heat raises InvalidTemplateReference
    t = cfn({"Off": cres(Condition="never"), "B": cres(Properties={"x": {"Ref": "Off"}})},
            Conditions={"never": {"Fn::Equals": ["a", "b"]}})
    with pytest.raises(TemplateError, match="Off"):
        template_dependencies(t)


def test_cfn_depends_on_a_disabled_resource_is_dropped():
    t = cfn({"Off": cres(Condition="never"), "B": cres(DependsOn="Off")},
            Conditions={"never": {"Fn::Equals": ["a", "b"]}})
    assert req(t) == {"B": set()}


# ------------------------------------------------------------------- if / Fn::If

def test_if_only_the_selected_branch_counts():
    t = hot({"a": res(), "b": res(), "c": res(properties={
        "yes": {"if": ["on", {"get_resource": "a"}, {"get_resource": "b"}]},
        "no": {"if": ["off", {"get_resource": "a"}, {"get_attr": ["b", "x"]}]}})},
        conditions={"on": True, "off": False})
    assert req(t)["c"] == {"a", "b"}
    t["resources"]["c"]["properties"].pop("no")
    assert req(t)["c"] == {"a"}


def test_if_branch_not_taken_may_reference_anything():
    t = hot({"a": res(properties={"x": {"if": [False, {"get_resource": "ghost"}, "plain"]}})})
    assert req(t) == {"a": set()}


@pytest.mark.parametrize("cond, expected", [
    (True, {"a"}), (False, {"b"}),
    ({"equals": [{"get_param": "env"}, "prod"]}, {"a"}),
    ({"not": {"equals": [{"get_param": "env"}, "prod"]}}, {"b"}),
    ({"get_param": "flag"}, {"b"}),
    ("prod", {"a"}),
    (None, {"a"}),  # Conditions.is_enabled(None) is True
])
def test_if_condition_forms(cond, expected):
    t = hot({"a": res(), "b": res(),
             "c": res(properties={"x": {"if": [cond, {"get_resource": "a"}, {"get_resource": "b"}]}})},
            parameters={"env": {"type": "string", "default": "prod"}, "flag": {"type": "boolean", "default": "no"}},
            conditions={"prod": {"equals": [{"get_param": "env"}, "prod"]}})
    assert req(t)["c"] == expected


def test_if_with_unknown_condition_name_is_invalid():
    t = hot({"a": res(properties={"x": {"if": ["nope", 1, 2]}})}, conditions={})
    with pytest.raises(TemplateError, match="nope"):
        template_dependencies(t)


@pytest.mark.parametrize("args", [["c", 1], ["c", 1, 2, 3], "c", {"c": 1}, []])
def test_if_needs_three_arguments_before_wallaby(args):
    t = hot({"a": res(properties={"x": {"if": args}})}, version="2018-08-31", conditions={"c": True})
    with pytest.raises(TemplateError):
        template_dependencies(t)


def test_wallaby_two_argument_if_that_is_false_drops_the_value():
    t = hot({"a": res(), "b": res(properties={"x": {"if": ["c", {"get_resource": "a"}]}})},
            version="2021-04-16", conditions={"c": False})
    assert req(t)["b"] == set()
    t["conditions"]["c"] = True
    assert req(t)["b"] == {"a"}


def test_if_before_2016_10_14_is_plain_data_so_both_branches_count():
    t = hot({"a": res(), "b": res(),
             "c": res(properties={"x": {"if": ["c", {"get_resource": "a"}, {"get_resource": "b"}]}})},
            version="2016-04-08")
    assert req(t)["c"] == {"a", "b"}


def test_nested_if():
    t = hot({"a": res(), "b": res(), "c": res(properties={
        "x": {"if": ["on", {"if": ["off", {"get_resource": "a"}, [{"get_resource": "b"}]]}, "none"]}})},
        conditions={"on": True, "off": False})
    assert req(t)["c"] == {"b"}


def test_cfn_fn_if_selects_one_branch():
    t = cfn({"A": cres(), "B": cres(),
             "C": cres(Properties={"x": {"Fn::If": ["Prod", {"Ref": "A"}, {"Fn::GetAtt": ["B", "Ip"]}]}})},
            Parameters={"Env": {"Type": "String", "Default": "prod"}},
            Conditions={"Prod": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}})
    assert req(t)["C"] == {"A"}
    assert req(t, {"parameters": {"Env": "dev"}})["C"] == {"B"}


def test_heat_template_format_has_no_conditions_so_fn_if_is_data_and_condition_is_ignored():
    t = {"HeatTemplateFormatVersion": "2012-12-12", "Resources": {
        "A": cres(), "B": cres(Condition="never"),
        "C": cres(Properties={"x": {"Fn::If": ["never", {"Ref": "A"}, {"Ref": "B"}]}})}}
    deps = template_dependencies(t)
    assert deps.resources == ("A", "B", "C")
    assert req(t)["C"] == {"A", "B"}


# ------------------------------------------------------------------- conditions

def env_template(**conditions):
    """Resource 'r' carries condition 'c'; parameters of every type to test against."""
    return hot({"r": res(condition="c"), "keep": res()}, version="2017-09-01", parameters={
        "env": {"type": "string", "default": "prod"},
        "count": {"type": "number", "default": "1"},
        "flag": {"type": "boolean", "default": False},
        "zones": {"type": "comma_delimited_list", "default": "az1,az2"},
        "cfg": {"type": "json", "default": {"a": {"b": [10, 20]}}},
    }, conditions=conditions)


def is_on(template, env=None, **kw):
    return "r" in enabled(template, env, **kw)


@pytest.mark.parametrize("cond, expected", [
    ({"equals": [{"get_param": "env"}, "prod"]}, True),
    ({"equals": [{"get_param": "env"}, "dev"]}, False),
    ({"not": {"equals": [{"get_param": "env"}, "dev"]}}, True),
    ({"and": [True, {"equals": [{"get_param": "env"}, "prod"]}]}, True),
    ({"and": [True, False]}, False),
    ({"or": [False, {"equals": [{"get_param": "env"}, "prod"]}]}, True),
    ({"or": [False, False, False]}, False),
    ({"contains": ["az2", {"get_param": "zones"}]}, True),
    ({"contains": ["az3", {"get_param": "zones"}]}, False),
    ({"equals": [{"get_param": "count"}, 1]}, True),      # number parameters are numbers
    ({"equals": [{"get_param": "count"}, "1"]}, False),
    ({"equals": [{"get_param": ["cfg", "a", "b", 1]}, 20]}, True),   # list path form
    ({"equals": [{"get_param": ["cfg", "a", "b", "1"]}, 20]}, True),
    ({"equals": [{"get_param": ["cfg", "missing"]}, ""]}, True),     # a bad path gives ''
    ({"equals": [{"get_param": ["zones", 0]}, "az1"]}, True),
    ({"get_param": "flag"}, False),
    ({"not": {"get_param": "flag"}}, True),
    (True, True),
    (False, False),
])
def test_condition_functions(cond, expected):
    assert is_on(env_template(c=cond)) is expected


def test_condition_referring_to_other_conditions():
    # heat/tests/test_template.py test_condition_reference_condition
    conds = {"prod_env": {"equals": [{"get_param": "env"}, "prod"]}, "test_env": {"not": "prod_env"},
             "prod_or_test_env": {"or": ["prod_env", "test_env"]},
             "prod_and_test_env": {"and": ["prod_env", "test_env"]}}
    params = {"env": {"type": "string", "default": "test"}}
    answers = {}
    for name in conds:
        t = hot({"r": res(condition=name)}, parameters=params, conditions=conds)
        answers[name] = bool(enabled(t))
    assert answers == {"prod_env": False, "test_env": True, "prod_or_test_env": True, "prod_and_test_env": False}


def test_inline_resource_condition():
    t = hot({"r": res(condition={"equals": [{"get_param": "env"}, "prod"]})},
            parameters={"env": {"type": "string", "default": "prod"}})
    assert enabled(t) == ("r",)


def test_circular_conditions_are_invalid():
    t = hot({"r": res(condition="first")}, conditions={
        "first": {"not": "second"}, "second": {"not": "third"}, "third": {"not": "first"}})
    with pytest.raises(TemplateError, match="ircular"):
        template_dependencies(t)


@pytest.mark.parametrize("cond", ["missing", 5, [True], None, {"foo": "bar"}])
def test_resource_condition_that_is_no_condition_is_invalid(cond):
    with pytest.raises(TemplateError):
        template_dependencies(hot({"r": res(condition=cond)}, conditions={"c": True}))


def test_condition_that_resolves_to_a_string_is_invalid():
    # heat/tests/test_template.py test_condition_resolved_not_boolean
    t = hot({"r": res(condition="prod_env")}, parameters={"env_type": {"type": "string", "default": "test"}},
            conditions={"prod_env": {"get_param": "env_type"}})
    with pytest.raises(TemplateError, match="prod_env"):
        template_dependencies(t)


def test_named_condition_defined_as_another_name_is_invalid():
    # Conditions._resolve requires a boolean; a bare name is only valid inside and/or/not
    t = hot({"r": res(condition="alias")}, conditions={"alias": "real", "real": True})
    with pytest.raises(TemplateError, match="alias"):
        template_dependencies(t)


@pytest.mark.parametrize("cond", [
    {"equals": [{"get_param": "env"}, {"get_attr": ["keep", "att"]}]},
    {"get_resource": "keep"},
    {"get_attr": ["keep", "att"]},
    {"if": [True, True, False]},
    {"str_replace": {"template": "x", "params": {}}},
])
def test_functions_heat_refuses_in_a_condition_are_template_errors(cond):
    # heat/tests/test_template.py test_conditions_with_non_supported_functions
    with pytest.raises(TemplateError, match="not allowed"):
        template_dependencies(env_template(c=True, unused=cond))


@pytest.mark.parametrize("tag, on", [("v3.26.1", True), ("v3.25.0", False), ("v3.260", False)])
def test_yaql_condition_is_decided_as_heat_decides_it(tag, on):
    # Magnum's calico condition (the issue's example); answers worked out by hand
    t = env_template(c={"yaql": {"expression": '$.data.calico_tag.startsWith("v3.26.")',
                                 "data": {"calico_tag": {"get_param": "env"}}}})
    assert is_on(t, {"parameters": {"env": tag}}) is on


def test_yaql_condition_runs_over_typed_parameters():
    t = env_template(c={"yaql": {"expression": "$.data.z.len() = 2 and $.data.n > 0",
                                 "data": {"z": {"get_param": "zones"}, "n": {"get_param": "count"}}}})
    assert is_on(t) is True
    assert is_on(t, {"parameters": {"zones": "az1"}}) is False


def test_yaql_with_an_unknown_value_is_undecidable():
    t = secret_template({"yaql": {"expression": "$.data.p.startsWith('x')",
                                  "data": {"p": {"get_param": "db_password"}}}})
    t["heat_template_version"] = "2017-09-01"
    with pytest.raises(Undecidable, match="db_password") as info:
        template_dependencies(t, encrypted_env())
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("expression, why", [
    ("$.data.(", "bad yaql expression"),
    ("$.data.x.noSuchMethod()", "fails"),
    (["not", "a string"], "must be a string"),
])
def test_yaql_that_heat_cannot_run_is_a_template_error(expression, why):
    t = env_template(c={"yaql": {"expression": expression, "data": {"x": 1}}})
    with pytest.raises(TemplateError, match=why):
        template_dependencies(t)


@pytest.mark.parametrize("expression, data", [
    ("$.data.x.where($ > 0).len() > 0", {"x": list(range(201))}),   # [yaql] limit_iterators = 200
    ("($.data.s + $.data.s).len() > 0", {"s": "a" * 6000}),         # [yaql] memory_quota = 10000
])
def test_yaql_over_heats_limits_fails_as_in_heat(expression, data):
    t = env_template(c={"yaql": {"expression": expression, "data": data}})
    with pytest.raises(TemplateError, match="fails"):
        template_dependencies(t)
    within = {k: v[:150] for k, v in data.items()}  # the same expression within the limits runs
    assert is_on(env_template(c={"yaql": {"expression": expression, "data": within}})) is True


def test_resource_named_by_yaql_over_a_parameter_is_known():
    t = hot({"a": res(), "b": res(properties={"x": {"get_resource": {"yaql": {
        "expression": "$.data.n.toLower()", "data": {"n": {"get_param": "target"}}}}}})},
        version="2017-09-01", parameters={"target": {"type": "string", "default": "A"}})
    assert req(t)["b"] == {"a"}


def test_yaql_condition_that_is_not_boolean_is_invalid():
    t = env_template(c={"yaql": {"expression": "$.data.x", "data": {"x": "yes"}}})
    with pytest.raises(TemplateError, match="not a boolean"):
        template_dependencies(t)


def magnum_like(true_branch, false_branch):
    """A Magnum-style template: a yaql condition picks a value inside one property only."""
    return hot({
        "net": res(), "cfg": res(),
        "master": res(properties={"net": {"get_resource": "net"},
                                  "script": {"if": ["calico_v3_26", true_branch, false_branch]}}),
    }, version="2021-04-16", parameters={"calico_tag": {"type": "string", "hidden": True}},
       conditions={"calico_v3_26": {"yaql": {"expression": '$.data.calico_tag.startsWith("v3.26.")',
                                             "data": {"calico_tag": {"get_param": "calico_tag"}}}}})


def calico_env():
    return {"parameters": {"calico_tag": ["cryptography_decrypt_v1", SECRET]},
            "encrypted_param_names": ["calico_tag"]}


def test_unknown_condition_choosing_between_branches_with_the_same_needs_is_decided():
    t = magnum_like({"get_file": "calico-v3.26.sh"}, {"get_file": "calico-old.sh"})
    assert req(t, calico_env()) == {"net": set(), "cfg": set(), "master": {"net"}}
    both = magnum_like({"str_replace": {"template": "$c new", "params": {"$c": {"get_resource": "cfg"}}}},
                       {"list_join": ["", [{"get_attr": ["cfg", "x"]}]]})
    assert req(both, calico_env())["master"] == {"net", "cfg"}


@pytest.mark.parametrize("true_branch, false_branch", [
    ({"get_resource": "cfg"}, "literal"),            # one branch needs cfg, the other nothing
    ({"get_resource": "cfg"}, {"get_resource": "net"}),
    ({"get_resource": "ghost"}, {"get_resource": "ghost"}),  # Heat would reject either branch
])
def test_unknown_condition_choosing_between_different_needs_is_undecidable(true_branch, false_branch):
    with pytest.raises(Undecidable, match="calico_tag"):
        template_dependencies(magnum_like(true_branch, false_branch), calico_env())


def test_unknown_condition_on_a_resource_is_still_undecidable():
    t = magnum_like("a", "b")
    t["resources"]["cfg"]["condition"] = "calico_v3_26"
    with pytest.raises(Undecidable, match="calico_tag"):
        template_dependencies(t, calico_env())


@pytest.mark.parametrize("version, fn", [("2016-10-14", "yaql"), ("2017-02-24", "yaql")])
def test_yaql_is_not_a_condition_function_before_pike(version, fn):
    t = hot({"r": res(condition="c")}, version=version,
            conditions={"c": {fn: {"expression": "$.data", "data": True}}})
    with pytest.raises(TemplateError):
        template_dependencies(t)


def test_contains_is_no_function_before_pike_so_the_condition_is_not_boolean():
    t = hot({"r": res(condition="c")}, version="2017-02-24", conditions={"c": {"contains": ["a", ["a"]]}})
    with pytest.raises(TemplateError):
        template_dependencies(t)


@pytest.mark.parametrize("cond", [
    {"and": [True]}, {"or": "c2"}, {"equals": ["a"]}, {"equals": "a"}, {"not": None}, {"contains": ["a"]},
])
def test_malformed_condition_functions_are_template_errors(cond):
    with pytest.raises(TemplateError):
        template_dependencies(env_template(c=True, c2=True, bad=cond))


def test_conditions_section_must_be_a_map():
    with pytest.raises(TemplateError):
        template_dependencies(hot({"r": res()}, conditions=None))
    with pytest.raises(TemplateError):
        template_dependencies(hot({"r": res()}, conditions=["c"]))


def test_and_or_stop_at_the_first_deciding_item_like_all_and_any():
    # all()/any() never look the later names up, so a bad name after the decision is harmless
    assert not is_on(env_template(c={"and": [False, "no_such_condition"]}))
    assert is_on(env_template(c={"or": [True, "no_such_condition"]}))
    with pytest.raises(TemplateError):
        template_dependencies(env_template(c={"and": [True, "no_such_condition"]}))


# ------------------------------------------------------------------- parameter values

@pytest.mark.parametrize("raw, expected", [
    ("true", True), ("True", True), ("yes", True), ("1", True), ("on", True), ("t", True), (" Y ", True),
    (True, True), (1, True),
    ("false", False), ("no", False), ("0", False), ("off", False), ("f", False), ("N", False),
    (False, False), (0, False),
])
def test_boolean_parameter_values(raw, expected):
    t = hot({"r": res(condition={"get_param": "flag"})}, parameters={"flag": {"type": "boolean"}})
    assert ("r" in enabled(t, {"parameters": {"flag": raw}})) is expected


def test_invalid_boolean_value_is_a_template_error():
    t = hot({"r": res(condition={"get_param": "flag"})}, parameters={"flag": {"type": "boolean"}})
    with pytest.raises(TemplateError, match="flag"):
        template_dependencies(t, {"parameters": {"flag": "maybe"}})


def test_value_precedence_parameters_then_parameter_defaults_then_template_default():
    t = hot({"r": res(condition={"equals": [{"get_param": "env"}, "prod"]})},
            parameters={"env": {"type": "string", "default": "dev"}})
    assert enabled(t) == ()
    assert enabled(t, {"parameter_defaults": {"env": "prod"}}) == ("r",)
    assert enabled(t, {"parameters": {"env": "prod"}, "parameter_defaults": {"env": "dev"}}) == ("r",)
    assert enabled(t, {"parameters": {"env": "dev"}, "parameter_defaults": {"env": "prod"}}) == ()
    assert enabled(t, {"parameters": {"env": None}, "parameter_defaults": {"env": "prod"}}) == ("r",)


def test_old_flat_environment_holds_parameters_directly():
    t = hot({"r": res(condition={"equals": [{"get_param": "env"}, "prod"]})},
            parameters={"env": {"type": "string", "default": "dev"}})
    assert enabled(t, {"env": "prod", "resource_registry": {}}) == ("r",)


@pytest.mark.parametrize("ptype, raw, other, equal", [
    ("string", 5, "5", True),
    ("number", "2.5", 2.5, True),
    ("number", "7", 7, True),
    ("comma_delimited_list", "a,b", ["a", "b"], True),
    ("comma_delimited_list", "a, b", ["a", "b"], False),   # Heat does not strip
    ("comma_delimited_list", "", [], True),
    ("comma_delimited_list", [1, 2], ["1", "2"], True),
    ("json", '{"k": [1]}', {"k": [1]}, True),
    ("json", {"k": 1}, {"k": 1}, True),
])
def test_parameter_typing_for_comparison(ptype, raw, other, equal):
    t = hot({"r": res(condition={"equals": [{"get_param": "p"}, other]})}, parameters={"p": {"type": ptype}})
    assert bool(enabled(t, {"parameters": {"p": raw}})) is equal


def test_cfn_parameter_types_are_camel_case():
    t = cfn({"R": cres(Condition="On")}, Parameters={"N": {"Type": "Number", "Default": "3"}},
            Conditions={"On": {"Fn::Equals": [{"Ref": "N"}, 3]}})
    assert enabled(t) == ("R",)


def test_unknown_parameter_type_is_a_template_error():
    t = hot({"r": res(condition={"get_param": "p"})}, parameters={"p": {"type": "String", "default": "x"}})
    with pytest.raises(TemplateError):
        template_dependencies(t)


SECRET = "s3cr3t-value-never-printed"


def encrypted_env():
    return {"parameters": {"db_password": ["cryptography_decrypt_v1", SECRET]},
            "encrypted_param_names": ["db_password"]}


def secret_template(cond):
    return hot({"r": res(condition=cond), "keep": res()},
               parameters={"db_password": {"type": "string", "hidden": True}})


def test_encrypted_parameter_deciding_a_condition_is_undecidable():
    t = secret_template({"equals": [{"get_param": "db_password"}, "x"]})
    with pytest.raises(Undecidable) as info:
        template_dependencies(t, encrypted_env())
    assert "db_password" in str(info.value) and "'r'" in str(info.value)
    assert SECRET not in str(info.value)


def test_encrypted_parameter_that_decides_nothing_is_harmless():
    assert enabled(secret_template(True), encrypted_env()) == ("r", "keep")
    assert enabled(secret_template({"and": [False, {"equals": [{"get_param": "db_password"}, "x"]}]}),
                   encrypted_env()) == ("keep",)
    assert enabled(secret_template({"or": [{"equals": [{"get_param": "db_password"}, "x"]}, True]}),
                   encrypted_env()) == ("r", "keep")


def test_encrypted_parameter_choosing_an_if_branch_is_undecidable():
    t = hot({"a": res(), "b": res(properties={"x": {"if": [{"equals": [{"get_param": "db_password"}, "x"]},
                                                            {"get_resource": "a"}, "none"]}})},
            parameters={"db_password": {"type": "string", "hidden": True}})
    with pytest.raises(Undecidable, match="db_password"):
        template_dependencies(t, encrypted_env())


def test_parameter_with_no_value_and_no_default_is_undecidable():
    t = hot({"r": res(condition={"equals": [{"get_param": "env"}, "prod"]})}, parameters={"env": {"type": "string"}})
    with pytest.raises(Undecidable, match="env"):
        template_dependencies(t)


def test_parameter_that_is_not_declared_is_a_template_error():
    t = hot({"r": res(condition={"equals": [{"get_param": "ghost"}, "prod"]})})
    with pytest.raises(TemplateError, match="ghost"):
        template_dependencies(t)


def test_template_error_wins_over_undecidable():
    t = hot({"r": res(condition={"equals": [{"get_param": "env"}, "prod"]}), "s": res(depends_on="ghost")},
            parameters={"env": {"type": "string"}})
    with pytest.raises(TemplateError, match="ghost"):
        template_dependencies(t)


def test_hot_pseudo_parameters_come_from_the_keyword_arguments():
    t = hot({"r": res(condition={"and": [{"equals": [{"get_param": "OS::stack_name"}, "web"]},
                                         {"equals": [{"get_param": "OS::project_id"}, "tenant1"]},
                                         {"equals": [{"get_param": "OS::stack_id"}, "id-1"]}]})})
    assert enabled(t, stack_name="web", tenant="tenant1", stack_id="id-1") == ("r",)
    assert enabled(t, stack_name="db", tenant="tenant1", stack_id="id-1") == ()
    with pytest.raises(Undecidable, match="OS::stack_name"):
        template_dependencies(t)


def test_cfn_pseudo_parameters():
    t = cfn({"R": cres(Condition="All")}, Conditions={"All": {"Fn::And": [
        {"Fn::Equals": [{"Ref": "AWS::StackName"}, "web"]},
        {"Fn::Equals": [{"Ref": "AWS::Region"}, "ap-southeast-1"]},
        {"Fn::Equals": [{"Ref": "AWS::StackId"}, "arn:openstack:heat::t1:stacks/web/id-1"]}]}})
    assert enabled(t, stack_name="web", tenant="t1", stack_id="id-1") == ("R",)


# ------------------------------------------------------------------- CFN conditions

def cfn_cond(cond, **conds):
    return cfn({"R": cres(Condition="C"), "K": cres()}, Parameters={"Env": {"Type": "String", "Default": "prod"}},
               Mappings={"M": {"prod": {"big": "yes"}}}, Conditions={"C": cond, **conds})


@pytest.mark.parametrize("cond, expected", [
    ({"Fn::Equals": [{"Ref": "Env"}, "prod"]}, True),
    ({"Fn::Not": [{"Fn::Equals": [{"Ref": "Env"}, "prod"]}]}, False),
    ({"Fn::And": ["IsProd", {"Fn::Equals": ["a", "a"]}]}, True),
    ({"Fn::Or": ["IsDev", "IsDev"]}, False),
    ({"Fn::Not": ["IsDev"]}, True),
    ({"Fn::Equals": [{"Fn::FindInMap": ["M", {"Ref": "Env"}, "big"]}, "yes"]}, True),
    (True, True),
])
def test_cfn_condition_functions(cond, expected):
    t = cfn_cond(cond, IsProd={"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                 IsDev={"Fn::Equals": [{"Ref": "Env"}, "dev"]})
    assert ("R" in enabled(t)) is expected


def test_cfn_condition_reference_is_a_bare_name_not_a_condition_map():
    # Heat has no {"Condition": name} function: And/Or/Not take condition names
    t = cfn_cond({"Fn::And": [{"Condition": "IsProd"}, True]}, IsProd=True)
    with pytest.raises(TemplateError, match="bare condition name"):
        template_dependencies(t)


@pytest.mark.parametrize("cond", [
    {"Fn::Not": {"Fn::Equals": ["a", "a"]}},
    {"Fn::Equals": [{"Fn::GetAtt": ["K", "Ip"]}, "x"]},
    {"Fn::If": ["C2", True, False]},
    {"Fn::Equals": [{"Ref": "K"}, "x"]},            # Ref in a condition is a parameter reference
    {"Fn::Equals": [{"Fn::FindInMap": ["M", "dev", "big"]}, "yes"]},
])
def test_cfn_condition_errors(cond):
    with pytest.raises(TemplateError):
        template_dependencies(cfn_cond(cond, C2=True))


# ------------------------------------------------------------------- external_id

def test_external_resource_has_no_dependencies():
    t = hot({"a": res(), "ext": res(external_id="uuid-1", properties={"x": {"get_resource": "a"}}),
             "b": res(depends_on="ext")})
    assert req(t) == {"a": set(), "ext": set(), "b": {"ext"}}


def test_external_resource_with_depends_on_is_invalid():
    with pytest.raises(TemplateError, match="external"):
        template_dependencies(hot({"a": res(), "ext": res(external_id="uuid-1", depends_on="a")}))


def test_empty_external_id_is_an_ordinary_resource():
    t = hot({"a": res(), "b": res(external_id={"get_param": "ext"}, properties={"x": {"get_resource": "a"}})},
            parameters={"ext": {"type": "string", "default": ""}})
    assert req(t)["b"] == {"a"}


# ------------------------------------------------------------------- find_cycle

def test_find_cycle_none_for_a_dag():
    assert find_cycle({"a": frozenset(), "b": frozenset({"a"}), "c": frozenset({"a", "b"})}) is None
    assert find_cycle({}) is None


def test_find_cycle_reports_a_path_of_requirements():
    cycle = find_cycle({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()})
    assert cycle == ["a", "b", "c", "a"]


def test_find_cycle_is_deterministic():
    graph = {"x": frozenset({"y"}), "y": frozenset({"x", "z"}), "z": frozenset({"z"})}
    reordered = dict(reversed(list(graph.items())))
    assert find_cycle(graph) == find_cycle(reordered) == ["x", "y", "x"]


def test_find_cycle_of_a_template():
    t = hot({"a": res(properties={"x": {"get_attr": ["b", "y"]}}), "b": res(depends_on="a")})
    assert find_cycle(template_dependencies(t).requires) == ["a", "b", "a"]


def test_find_cycle_handles_targets_missing_from_the_keys_and_long_chains():
    assert find_cycle({"a": frozenset({"zz"})}) is None
    chain = {f"n{i}": frozenset({f"n{i + 1}"}) for i in range(20000)}
    assert find_cycle(chain) is None
    chain["n20000"] = frozenset({"n0"})
    cycle = find_cycle(chain)
    assert cycle[0] == cycle[-1] and len(cycle) == 20002


# ------------------------------------------------------------------- properties (hypothesis)

WRAPPERS = [
    lambda ref: ref,
    lambda ref: [ref],
    lambda ref: {"k": ref, "other": "v"},
    lambda ref: {"list_join": [",", [ref]]},
    lambda ref: {"str_replace": {"template": "$x", "params": {"$x": ref}}},
    lambda ref: {"map_merge": [{"a": ref}, {}]},
    lambda ref: {"if": [True, ref, "unused"]},
]
REFS = [
    lambda name: {"get_resource": name},
    lambda name: {"get_attr": [name, "attr"]},
    lambda name: {"get_attr": [name]},
    lambda name: {"get_attr": [name, "attr", "path", 0]},
]


@st.composite
def dag_templates(draw):
    """A HOT template whose explicit edges form a random DAG, expressed many ways."""
    n = draw(st.integers(min_value=1, max_value=12))
    names = [f"r{i}" for i in range(n)]
    resources, expected = {}, {}
    for i, name in enumerate(names):
        targets = draw(st.sets(st.sampled_from(names[:i]), max_size=i)) if i else set()
        props, depends = {}, []
        for j, target in enumerate(sorted(targets)):
            how = draw(st.integers(min_value=0, max_value=len(REFS)))
            if how == len(REFS):
                depends.append(target)
            else:
                wrap = draw(st.sampled_from(WRAPPERS))
                props[f"p{j}"] = wrap(REFS[how](target))
        defn = res(properties=props)
        if depends:
            defn["depends_on"] = depends[0] if len(depends) == 1 and draw(st.booleans()) else depends
        resources[name] = defn
        expected[name] = targets
    return hot(resources, version="2021-04-16"), expected


@settings(max_examples=150, deadline=None, database=None)
@given(dag_templates())
def test_random_dags_are_recovered_exactly(case):
    template, expected = case
    deps = template_dependencies(template)
    assert {k: set(v) for k, v in deps.requires.items()} == expected
    assert find_cycle(deps.requires) is None


def acyclic(graph) -> bool:
    """Kahn's algorithm, as an independent check of find_cycle."""
    nodes = set(graph) | {t for ts in graph.values() for t in ts}
    indegree = {n: 0 for n in nodes}
    for ts in graph.values():
        for t in ts:
            indegree[t] += 1
    ready = [n for n, d in indegree.items() if d == 0]
    seen = 0
    while ready:
        node = ready.pop()
        seen += 1
        for t in graph.get(node, ()):
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    return seen == len(nodes)


graphs = st.dictionaries(st.sampled_from("abcdefg"), st.frozensets(st.sampled_from("abcdefg"), max_size=3), max_size=7)


@settings(max_examples=300, deadline=None, database=None)
@given(graphs)
def test_find_cycle_agrees_with_topological_sort(graph):
    cycle = find_cycle(graph)
    assert (cycle is None) == acyclic(graph)
    if cycle is not None:
        assert cycle[0] == cycle[-1] and len(cycle) >= 2
        assert len(set(cycle[:-1])) == len(cycle) - 1
        for a, b in zip(cycle, cycle[1:]):
            assert b in graph.get(a, ())
        assert find_cycle(graph) == cycle


@st.composite
def boolean_conditions(draw, depth=3):
    """A random HOT condition over literals and named conditions, with its truth value."""
    named = {"yes": True, "no": False}
    if depth == 0 or draw(st.booleans()):
        choice = draw(st.sampled_from([True, False, "yes", "no"]))
        return choice, named.get(choice, choice)
    op = draw(st.sampled_from(["and", "or", "not", "equals"]))
    if op == "not":
        inner, value = draw(boolean_conditions(depth - 1))
        return {"not": inner}, not value
    if op == "equals":
        a, b = draw(st.sampled_from(["x", "y"])), draw(st.sampled_from(["x", "y"]))
        return {"equals": [a, b]}, a == b
    items = draw(st.lists(boolean_conditions(depth - 1), min_size=2, max_size=3))
    combine = all if op == "and" else any
    return {op: [c for c, _ in items]}, combine(v for _, v in items)


@settings(max_examples=200, deadline=None, database=None)
@given(boolean_conditions())
def test_random_condition_trees_evaluate_like_heat(case):
    cond, expected = case
    if isinstance(cond, str):
        cond = {"not": {"not": cond}}  # a named condition must resolve to a boolean, not a name
    t = hot({"r": res(condition="c")}, conditions={"c": cond, "yes": True, "no": {"not": True}})
    assert ("r" in enabled(t)) is expected


def test_large_template():
    """3,000 chained resources (a deep recursion risk); its speed is a budget in
    bench/budgets.py, not a pass/fail test."""
    resources = {"r0": res()}
    for i in range(1, 3000):
        resources[f"r{i}"] = res(depends_on=f"r{i - 1}", properties={
            "a": {"get_attr": [f"r{i - 1}", "x"]}, "b": [{"list_join": [",", [{"get_resource": f"r{i // 2}"}]]}]})
    deps = template_dependencies(hot(resources))
    assert deps.requires["r10"] == frozenset({"r9", "r5"})
    assert deps.requires["r2999"] == frozenset({"r2998", "r1499"})
