"""The sample's template catalogue: the templates legacy clouds hold, as data.

Each *kind* is a template (HOT or CFN) with its environment, files and the
way Heat stored it; ``migrator.sample.build`` draws roots from these kinds and writes
the rows a legacy engine would have written for them. Kept apart from the
builder so the catalogue of dependency forms can be read (and extended) on its
own.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from migrator.heat.schema import dump_json

# =========================================================================== templates
#
# Each kind is one realistic template (plus its files and environment
# parameters). Between them they use every way Heat derives a dependency:
# get_resource, get_attr (with a path, and the all-attributes form), depends_on
# as string and list, functions nested in str_replace / list_join / Fn::Join,
# references in metadata, CFN Ref to parameters and to resources, Fn::GetAtt,
# conditions that disable a resource, and ``if`` whose untaken branch references
# an enabled resource.


@dataclass
class _Kind:
    """A template and what goes with it into ``raw_template``."""

    key: str
    prefix: str  # stack name prefix
    template: dict
    params: dict = field(default_factory=dict)  # environment parameters (plaintext)
    files: dict | None = None  # name -> file text (raw_template_files)
    file_templates: dict = field(default_factory=dict)  # name -> parsed file
    registry: dict = field(default_factory=dict)  # user resource_registry entries
    encrypted: tuple = ()  # parameter names Heat stored encrypted
    text: str = ""  # the template as stored (cached dumps)

    def __post_init__(self):
        self.text = dump_json(self.template)



_SERVER_TEMPLATE = {
    "heat_template_version": "2016-10-14",
    "description": "One application server behind its own port",
    "parameters": {"security_group": {"type": "string"}, "name": {"type": "string", "default": "app"}},
    "resources": {
        "port": {
            "type": "OS::Neutron::Port",
            "properties": {"network": "private", "security_groups": [{"get_param": "security_group"}]},
        },
        "server": {
            "type": "OS::Nova::Server",
            "properties": {
                "name": {"get_param": "name"},
                "image": "cirros-0.6.2",
                "flavor": "m1.small",
                "networks": [{"port": {"get_resource": "port"}}],
            },
        },
        "address": {"type": "OS::Heat::Value", "properties": {"value": {"get_attr": ["server", "first_address"]}}},
    },
    "outputs": {"address": {"value": {"get_attr": ["address", "value"]}}},
}


_DB_TEMPLATE = {
    "heat_template_version": "2018-08-31",
    "description": "Database server booted from its own volume",
    "parameters": {"size": {"type": "number", "default": 20}},
    "resources": {
        "volume": {"type": "OS::Cinder::Volume", "properties": {"size": {"get_param": "size"}}},
        "server": {
            "type": "OS::Nova::Server",
            "properties": {
                "image": "postgres-15",
                "flavor": "m1.large",
                "block_device_mapping_v2": [{"volume_id": {"get_resource": "volume"}, "boot_index": 0}],
            },
        },
    },
    "outputs": {"server_id": {"value": {"get_resource": "server"}}},
}


_TIER_TEMPLATE = {
    "heat_template_version": "2018-08-31",
    "description": "A tier of identical members (ResourceGroup of member.yaml)",
    "parameters": {"network": {"type": "string"}, "size": {"type": "number", "default": 2}},
    "resources": {
        "sg": {
            "type": "OS::Neutron::SecurityGroup",
            "properties": {"rules": [{"protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080}]},
        },
        "members": {
            "type": "OS::Heat::ResourceGroup",
            "properties": {
                "count": {"get_param": "size"},
                "resource_def": {
                    "type": "member.yaml",
                    "properties": {
                        "network": {"get_param": "network"},
                        "security_group": {"get_resource": "sg"},
                        "index": "%index%",
                    },
                },
            },
        },
        "summary": {"type": "OS::Heat::Value", "properties": {"value": {"get_attr": ["members", "address"]}}},
    },
    "outputs": {"addresses": {"value": {"get_attr": ["summary", "value"]}}},
}


_MEMBER_TEMPLATE = {
    "heat_template_version": "2016-10-14",
    "description": "One member of a tier",
    "parameters": {
        "network": {"type": "string"},
        "security_group": {"type": "string"},
        "index": {"type": "string"},
    },
    "resources": {
        "port": {
            "type": "OS::Neutron::Port",
            "properties": {"network": {"get_param": "network"}, "security_groups": [{"get_param": "security_group"}]},
        },
        "server": {
            "type": "OS::Nova::Server",
            "properties": {
                "name": {"list_join": ["-", ["member", {"get_param": "index"}]]},
                "image": "cirros-0.6.2",
                "flavor": "m1.tiny",
                "networks": [{"port": {"get_resource": "port"}}],
            },
        },
    },
    "outputs": {"address": {"value": {"get_attr": ["server", "first_address"]}}},
}

_PLAIN = re.compile(r"^(?:[A-Za-z_/$][\w./:$-]*|\d{4}-\d{2}-\d{2})$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}
_CALLS = {"get_param", "get_resource", "get_attr", "list_join", "str_replace", "get_file"}


def _flow(node: Any) -> str:
    """A YAML flow scalar/collection, the way people write ``{get_attr: [a, b]}``."""
    if isinstance(node, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(_flow(v) for v in node) + "]"
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, str) and (not _PLAIN.match(node) or node.lower() in _YAML_WORDS):
        return json.dumps(node)  # a JSON string is a valid double-quoted YAML scalar
    return str(node)


def _yaml(node: Any, indent: int = 0) -> str:
    """Block-style YAML for a provider template, so the files map holds what a
    user uploads (text) while raw_template holds what Heat parsed (a map)."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, (dict, list)) and v and not (isinstance(v, dict) and set(v) <= _CALLS):
                lines += [f"{pad}{k}:", _yaml(v, indent + 1)]
            else:
                lines.append(f"{pad}{k}: {_flow(v)}")
    else:
        for item in node:
            if isinstance(item, dict) and not set(item) <= _CALLS:
                first, *rest = _yaml(item, indent + 1).splitlines()
                lines += [f"{pad}- {first.lstrip()}", *rest]
            else:
                lines.append(f"{pad}- {_flow(item)}")
    return "\n".join(lines)


#: Provider template files: name -> (text as uploaded, template as Heat parses it).
PROVIDER_FILES = {
    name: (_yaml(t) + "\n", t)
    for name, t in (
        ("server.yaml", _SERVER_TEMPLATE),
        ("db.yaml", _DB_TEMPLATE),
        ("tier.yaml", _TIER_TEMPLATE),
        ("member.yaml", _MEMBER_TEMPLATE),
    )
}


def _files(*names: str) -> tuple[dict, dict]:
    """The files map stored in raw_template_files, and the parsed templates."""
    return {n: PROVIDER_FILES[n][0] for n in names}, {n: PROVIDER_FILES[n][1] for n in names}


@functools.lru_cache(maxsize=None)
def _kind_web() -> _Kind:
    """HOT 2015-10-15: a network chain to a server, get_attr with a path inside
    str_replace, ``depends_on`` as a string, a hidden parameter in plaintext."""
    t = {
        "heat_template_version": "2015-10-15",
        "description": "Web server with its own network, volume and floating IP",
        "parameters": {
            "image": {"type": "string", "default": "cirros-0.6.2"},
            "flavor": {"type": "string", "default": "m1.small"},
            "public_net": {"type": "string", "default": "public"},
            "cidr": {"type": "string", "default": "10.0.0.0/24"},
            "admin_pass": {"type": "string", "hidden": True},
        },
        "resources": {
            "net": {"type": "OS::Neutron::Net", "properties": {"name": "web-net"}},
            "subnet": {
                "type": "OS::Neutron::Subnet",
                "properties": {
                    "network": {"get_resource": "net"},
                    "cidr": {"get_param": "cidr"},
                    "dns_nameservers": ["8.8.8.8"],
                },
            },
            "router": {
                "type": "OS::Neutron::Router",
                "properties": {"external_gateway_info": {"network": {"get_param": "public_net"}}},
            },
            "router_iface": {
                "type": "OS::Neutron::RouterInterface",
                "properties": {"router": {"get_resource": "router"}, "subnet": {"get_resource": "subnet"}},
            },
            "port": {
                "type": "OS::Neutron::Port",
                "properties": {"network": {"get_resource": "net"}, "fixed_ips": [{"subnet": {"get_resource": "subnet"}}]},
            },
            "server": {
                "type": "OS::Nova::Server",
                "properties": {
                    "image": {"get_param": "image"},
                    "flavor": {"get_param": "flavor"},
                    "admin_pass": {"get_param": "admin_pass"},
                    "networks": [{"port": {"get_resource": "port"}}],
                    "user_data_format": "RAW",
                    "user_data": {
                        "str_replace": {
                            "template": '#!/bin/sh\necho "web on $IP" > /etc/motd\n',
                            "params": {"$IP": {"get_attr": ["port", "fixed_ips", 0, "ip_address"]}},
                        }
                    },
                },
            },
            "volume": {"type": "OS::Cinder::Volume", "properties": {"size": 10}},
            "attach": {
                "type": "OS::Cinder::VolumeAttachment",
                "properties": {"instance_uuid": {"get_resource": "server"}, "volume_id": {"get_resource": "volume"}},
            },
            "fip": {
                "type": "OS::Neutron::FloatingIP",
                "depends_on": "router_iface",
                "properties": {"floating_network": {"get_param": "public_net"}, "port_id": {"get_resource": "port"}},
            },
        },
        "outputs": {"url": {"value": {"list_join": ["", ["http://", {"get_attr": ["fip", "floating_ip_address"]}]]}}},
    }
    return _Kind("web", "web", t, params={"admin_pass": None})  # per-stack secret filled in


@functools.lru_cache(maxsize=None)
def _kind_config() -> _Kind:
    """HOT 2016-10-14: a diamond (seed -> left/right -> joined), list_join of two
    get_attr, ``depends_on`` as string and as list, references in metadata."""
    t = {
        "heat_template_version": "2016-10-14",
        "description": "Generated application configuration with a wait condition",
        "parameters": {"length": {"type": "number", "default": 16}},
        "resources": {
            "seed": {"type": "OS::Heat::RandomString", "properties": {"length": {"get_param": "length"}}},
            "left": {
                "type": "OS::Heat::RandomString",
                "properties": {"length": 8, "salt": {"get_attr": ["seed", "value"]}},
            },
            "right": {"type": "OS::Heat::RandomString", "depends_on": "seed", "properties": {"length": 8}},
            "joined": {
                "type": "OS::Heat::Value",
                "properties": {
                    "type": "string",
                    "value": {"list_join": ["-", [{"get_attr": ["left", "value"]}, {"get_attr": ["right", "value"]}]]},
                },
            },
            "config": {
                "type": "OS::Heat::SoftwareConfig",
                "depends_on": ["left", "right"],
                "properties": {
                    "group": "script",
                    "config": {
                        "str_replace": {
                            "template": "#!/bin/sh\necho token=%TOKEN% > /etc/app.conf\n",
                            "params": {"%TOKEN%": {"get_attr": ["joined", "value"]}},
                        }
                    },
                },
            },
            "handle": {"type": "OS::Heat::WaitConditionHandle"},
            "notify": {
                "type": "OS::Heat::Value",
                "metadata": {"config_id": {"get_resource": "config"}, "signal": {"get_attr": ["handle", "endpoint"]}},
                "properties": {"value": "configured"},
            },
            "wait": {
                "type": "OS::Heat::WaitCondition",
                "depends_on": ["notify"],
                "properties": {"handle": {"get_resource": "handle"}, "timeout": 600},
            },
        },
        "outputs": {"token": {"value": {"get_attr": ["joined", "value"]}}},
    }
    return _Kind("config", "config", t)


@functools.lru_cache(maxsize=None)
def _kind_cluster() -> _Kind:
    """HOT 2018-08-31: get_attr fan-in (four servers into one list_join) and the
    all-attributes form ``get_attr: [node0]``."""
    nodes = {
        f"node{i}": {
            "type": "OS::Nova::Server",
            "properties": {
                "image": {"get_param": "image"},
                "flavor": {"get_param": "flavor"},
                "security_groups": [{"get_resource": "sg"}],
                "networks": [{"network": "private"}],
            },
        }
        for i in range(4)
    }
    t = {
        "heat_template_version": "2018-08-31",
        "description": "Four-node cluster with a generated inventory",
        "parameters": {
            "image": {"type": "string", "default": "ubuntu-22.04"},
            "flavor": {"type": "string", "default": "m1.medium"},
        },
        "resources": {
            "sg": {
                "type": "OS::Neutron::SecurityGroup",
                "properties": {"rules": [{"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}]},
            },
            **nodes,
            "inventory": {
                "type": "OS::Heat::Value",
                "properties": {
                    "type": "string",
                    "value": {"list_join": [",", [{"get_attr": [f"node{i}", "first_address"]} for i in range(4)]]},
                },
            },
            "status": {
                "type": "OS::Heat::Value",
                "properties": {
                    "type": "json",
                    "value": {"nodes": {"get_attr": ["inventory", "value"]}, "first": {"get_attr": ["node0"]}},
                },
            },
        },
        "outputs": {"inventory": {"value": {"get_attr": ["inventory", "value"]}}},
    }
    return _Kind("cluster", "cluster", t)


@functools.lru_cache(maxsize=None)
def _kind_switch(env_type: str) -> _Kind:
    """HOT ``wallaby``: conditions. One resource is disabled (no row), ``if``
    picks between them, and ``audit``'s untaken branch references ``base``; the
    environment decides which branch is live."""
    t = {
        "heat_template_version": "wallaby",
        "description": "Production or development database, chosen by a condition",
        "parameters": {
            "env_type": {"type": "string", "default": "prod", "constraints": [{"allowed_values": ["prod", "dev"]}]}
        },
        "conditions": {
            "is_prod": {"equals": [{"get_param": "env_type"}, "prod"]},
            "is_dev": {"not": "is_prod"},
        },
        "resources": {
            "base": {"type": "OS::Heat::RandomString", "properties": {"length": 12}},
            "prod_db": {
                "type": "OS::Heat::Value",
                "condition": "is_prod",
                "properties": {"value": {"get_attr": ["base", "value"]}},
            },
            "dev_db": {"type": "OS::Heat::Value", "condition": "is_dev", "properties": {"value": {"get_resource": "base"}}},
            "selector": {
                "type": "OS::Heat::Value",
                "properties": {
                    "value": {"if": ["is_prod", {"get_attr": ["prod_db", "value"]}, {"get_attr": ["dev_db", "value"]}]}
                },
            },
            "audit": {
                "type": "OS::Heat::Value",
                "properties": {"value": {"if": ["is_dev", {"get_resource": "base"}, "audit-disabled"]}},
            },
            "tail": {"type": "OS::Heat::None", "depends_on": ["selector", "dev_db"]},
        },
        "outputs": {"db": {"value": {"get_attr": ["selector", "value"]}, "condition": "is_prod"}},
    }
    params = {} if env_type == "prod" else {"env_type": env_type}
    return _Kind(f"switch-{env_type}", "switch", t, params=params)


@functools.lru_cache(maxsize=None)
def _kind_aws(eip: bool) -> _Kind:
    """CFN ``AWSTemplateFormatVersion`` 2010-09-09: Ref to parameters and to
    resources, Fn::GetAtt, Fn::Join inside Fn::Base64, a Ref in Metadata,
    ``DependsOn`` as a string, and a CFN condition (EIP on or off)."""
    t = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "WordPress-style instance with a data volume and an optional EIP",
        "Parameters": {
            "KeyName": {"Type": "String", "Default": "ops"},
            "InstanceType": {"Type": "String", "Default": "m1.small"},
            "DBPassword": {"Type": "String", "NoEcho": "true"},
            "EnableEIP": {"Type": "String", "Default": "true", "AllowedValues": ["true", "false"]},
        },
        "Conditions": {"WantEIP": {"Fn::Equals": [{"Ref": "EnableEIP"}, "true"]}},
        "Resources": {
            "SecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "web",
                    "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": "80", "ToPort": "80", "CidrIp": "0.0.0.0/0"}],
                },
            },
            "WaitHandle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
            "Instance": {
                "Type": "AWS::EC2::Instance",
                "Metadata": {
                    "AWS::CloudFormation::Init": {"config": {"files": {"/etc/cfn/handle": {"content": {"Ref": "WaitHandle"}}}}}
                },
                "Properties": {
                    "ImageId": "fedora-38",
                    "InstanceType": {"Ref": "InstanceType"},
                    "KeyName": {"Ref": "KeyName"},
                    "SecurityGroups": [{"Ref": "SecurityGroup"}],
                    "UserData": {
                        "Fn::Base64": {
                            "Fn::Join": [
                                "",
                                [
                                    "#!/bin/bash\n",
                                    "echo db_password=",
                                    {"Ref": "DBPassword"},
                                    " > /etc/app.conf\n",
                                    "/opt/aws/bin/cfn-init\n",
                                ],
                            ]
                        }
                    },
                },
            },
            "WaitCondition": {
                "Type": "AWS::CloudFormation::WaitCondition",
                "DependsOn": "Instance",
                "Properties": {"Handle": {"Ref": "WaitHandle"}, "Timeout": "600"},
            },
            "DataVolume": {
                "Type": "AWS::EC2::Volume",
                "Properties": {"Size": "10", "AvailabilityZone": {"Fn::GetAtt": ["Instance", "AvailabilityZone"]}},
            },
            "MountPoint": {
                "Type": "AWS::EC2::VolumeAttachment",
                "Properties": {"InstanceId": {"Ref": "Instance"}, "VolumeId": {"Ref": "DataVolume"}, "Device": "/dev/vdb"},
            },
            "IPAddress": {"Type": "AWS::EC2::EIP", "Condition": "WantEIP"},
            "IPAssoc": {
                "Type": "AWS::EC2::EIPAssociation",
                "Condition": "WantEIP",
                "Properties": {"InstanceId": {"Ref": "Instance"}, "EIP": {"Ref": "IPAddress"}},
            },
        },
        "Outputs": {
            "WebsiteURL": {"Value": {"Fn::Join": ["", ["http://", {"Fn::GetAtt": ["Instance", "PublicIp"]}, "/"]]}}
        },
    }
    params = {"DBPassword": None} if eip else {"DBPassword": None, "EnableEIP": "false"}
    return _Kind(f"aws-{'eip' if eip else 'noeip'}", "aws", t, params=params)


@functools.lru_cache(maxsize=None)
def _kind_heatcfn() -> _Kind:
    """CFN ``HeatTemplateFormatVersion`` 2012-12-12 with OS:: types: Fn::GetAtt in
    Fn::Join, Ref to a resource in Metadata, ``DependsOn`` lists."""
    t = {
        "HeatTemplateFormatVersion": "2012-12-12",
        "Description": "Server configured by a software deployment",
        "Parameters": {
            "Flavor": {"Type": "String", "Default": "m1.tiny"},
            "ImageId": {"Type": "String", "Default": "fedora-38"},
        },
        "Resources": {
            "Password": {"Type": "OS::Heat::RandomString", "Properties": {"length": 24}},
            "Config": {
                "Type": "OS::Heat::SoftwareConfig",
                "Properties": {
                    "group": "script",
                    "config": {
                        "Fn::Join": ["", ["#!/bin/sh\necho ", {"Fn::GetAtt": ["Password", "value"]}, " | passwd --stdin app\n"]]
                    },
                },
            },
            "Server": {
                "Type": "OS::Nova::Server",
                "Metadata": {"role": "app", "password_ref": {"Ref": "Password"}},
                "Properties": {"image": {"Ref": "ImageId"}, "flavor": {"Ref": "Flavor"}, "user_data_format": "SOFTWARE_CONFIG"},
            },
            "Deployment": {
                "Type": "OS::Heat::SoftwareDeployment",
                "DependsOn": ["Password"],
                "Properties": {"config": {"Ref": "Config"}, "server": {"Ref": "Server"}},
            },
            "Done": {"Type": "OS::Heat::None", "DependsOn": ["Deployment", "Server"]},
        },
        "Outputs": {"ServerIP": {"Value": {"Fn::GetAtt": ["Server", "first_address"]}}},
    }
    return _Kind("heatcfn", "heatcfn", t)


@functools.lru_cache(maxsize=None)
def _kind_group(count: int) -> _Kind:
    """HOT ``queens``: an OS::Heat::ResourceGroup; its nested stack holds the
    members "0", "1", ... (one nesting level)."""
    t = {
        "heat_template_version": "queens",
        "description": "A group of generated keys",
        "parameters": {"count": {"type": "number", "default": 3}},
        "resources": {
            "keys": {"type": "OS::Heat::RandomString", "properties": {"length": 32}},
            "group": {
                "type": "OS::Heat::ResourceGroup",
                "properties": {
                    "count": {"get_param": "count"},
                    "resource_def": {
                        "type": "OS::Heat::RandomString",
                        "properties": {"length": 12, "salt": "member-%index%"},
                    },
                },
            },
            "collect": {"type": "OS::Heat::Value", "properties": {"type": "json", "value": {"get_attr": ["group", "value"]}}},
            "marker": {"type": "OS::Heat::None", "depends_on": ["group", "keys"]},
        },
        "outputs": {"values": {"value": {"get_attr": ["collect", "value"]}}},
    }
    params = {} if count == 3 else {"count": count}
    return _Kind(f"group-{count}", "group", t, params=params)


@functools.lru_cache(maxsize=None)
def _kind_app() -> _Kind:
    """HOT 2017-09-01: provider templates, one used directly as a type
    (``server.yaml``) and one through the environment's resource_registry
    (``My::DB`` -> ``db.yaml``); the files live in raw_template_files."""
    files, parsed = _files("server.yaml", "db.yaml")
    t = {
        "heat_template_version": "2017-09-01",
        "description": "Application and database from provider templates",
        "parameters": {"db_size": {"type": "number", "default": 20}},
        "resources": {
            "sg": {
                "type": "OS::Neutron::SecurityGroup",
                "properties": {"rules": [{"protocol": "tcp", "port_range_min": 443, "port_range_max": 443}]},
            },
            "app": {"type": "server.yaml", "properties": {"security_group": {"get_resource": "sg"}, "name": "app"}},
            "db": {"type": "My::DB", "properties": {"size": {"get_param": "db_size"}}},
            "lb": {
                "type": "OS::Heat::Value",
                "properties": {
                    "value": {
                        "str_replace": {
                            "template": "app=APP db=DB",
                            "params": {"APP": {"get_attr": ["app", "address"]}, "DB": {"get_attr": ["db", "server_id"]}},
                        }
                    }
                },
            },
        },
        "outputs": {"lb": {"value": {"get_attr": ["lb", "value"]}}},
    }
    return _Kind("app", "app", t, files=files, file_templates=parsed, registry={"My::DB": "db.yaml"})


@functools.lru_cache(maxsize=None)
def _kind_tiers() -> _Kind:
    """HOT ``newton``: a larger flat stack (three servers with ports and volumes),
    chains plus a fan-in."""
    res: dict[str, Any] = {
        "net": {"type": "OS::Neutron::Net"},
        "subnet": {
            "type": "OS::Neutron::Subnet",
            "properties": {"network": {"get_resource": "net"}, "cidr": "192.168.10.0/24"},
        },
    }
    for i in range(3):
        res[f"port{i}"] = {
            "type": "OS::Neutron::Port",
            "properties": {"network": {"get_resource": "net"}, "fixed_ips": [{"subnet": {"get_resource": "subnet"}}]},
        }
        res[f"server{i}"] = {
            "type": "OS::Nova::Server",
            "properties": {"image": "centos-9", "flavor": "m1.large", "networks": [{"port": {"get_resource": f"port{i}"}}]},
        }
        res[f"vol{i}"] = {"type": "OS::Cinder::Volume", "properties": {"size": 50}}
        res[f"attach{i}"] = {
            "type": "OS::Cinder::VolumeAttachment",
            "depends_on": [f"server{i}"],
            "properties": {"instance_uuid": {"get_resource": f"server{i}"}, "volume_id": {"get_resource": f"vol{i}"}},
        }
    res["pool"] = {
        "type": "OS::Heat::Value",
        "properties": {
            "type": "comma_delimited_list",
            "value": [{"get_attr": [f"server{i}", "first_address"]} for i in range(3)],
        },
    }
    t = {"heat_template_version": "newton", "description": "Three-server application tier", "resources": res}
    return _Kind("tiers", "tiers", t)


@functools.lru_cache(maxsize=None)
def _kind_deep() -> _Kind:
    """HOT 2021-04-16: three nesting levels: ``tier.yaml`` (provider) holds a
    ResourceGroup whose members are ``member.yaml`` provider stacks."""
    files, parsed = _files("tier.yaml", "member.yaml")
    t = {
        "heat_template_version": "2021-04-16",
        "description": "Deeply nested deployment",
        "resources": {
            "net": {"type": "OS::Neutron::Net"},
            "tier": {"type": "tier.yaml", "properties": {"network": {"get_resource": "net"}, "size": 2}},
            "endpoint": {"type": "OS::Heat::Value", "properties": {"value": {"get_attr": ["tier", "addresses"]}}},
        },
    }
    return _Kind("deep", "deep", t, files=files, file_templates=parsed)


@functools.lru_cache(maxsize=None)
def _kind_secret() -> _Kind:
    """HOT ``rocky``: a condition decided by a *hidden* parameter that Heat
    stored encrypted (``encrypted_param_names``). Its true value is "ha", so
    ``replica`` exists and ``vip`` depends on it, not on ``primary``; a tool
    that cannot decrypt must not guess."""
    t = {
        "heat_template_version": "rocky",
        "description": "Highly available pair, mode chosen by a hidden parameter",
        "parameters": {
            "deploy_mode": {
                "type": "string",
                "hidden": True,
                "default": "single",
                "constraints": [{"allowed_values": ["single", "ha"]}],
            }
        },
        "conditions": {"ha": {"equals": [{"get_param": "deploy_mode"}, "ha"]}},
        "resources": {
            "primary": {"type": "OS::Heat::RandomString"},
            "replica": {
                "type": "OS::Heat::RandomString",
                "condition": "ha",
                "properties": {"salt": {"get_attr": ["primary", "value"]}},
            },
            "vip": {
                "type": "OS::Heat::Value",
                "properties": {
                    "value": {"if": ["ha", {"get_attr": ["replica", "value"]}, {"get_attr": ["primary", "value"]}]}
                },
            },
        },
    }
    return _Kind("secret", "secret", t, params={"deploy_mode": "ha"}, encrypted=("deploy_mode",))


def _kind_members(member_type: str, member_props: list[dict], files: dict | None, parsed: dict) -> _Kind:
    """The nested template a ResourceGroup writes for its members: resources
    "0".."n-1" with the (already resolved) resource_def, plus the outputs the
    group's attributes read."""
    n = len(member_props)
    t = {
        "heat_template_version": "2015-04-30",
        "resources": {str(i): {"type": member_type, "properties": member_props[i]} for i in range(n)},
        "outputs": {"refs": {"value": [{"get_resource": str(i)} for i in range(n)]}},
    }
    return _Kind(f"members-{member_type}-{n}", "members", t, files=files, file_templates=parsed)


#: Kinds an ordinary root is drawn from, with weights (about 10 resources per
#: root on average, nested ones included).
_ORDINARY = [
    (lambda rng: _kind_web(), 12),
    (lambda rng: _kind_config(), 10),
    (lambda rng: _kind_cluster(), 8),
    (lambda rng: _kind_switch(rng.choice(["prod", "prod", "dev"])), 5),
    (lambda rng: _kind_aws(rng.random() < 0.7), 7),
    (lambda rng: _kind_heatcfn(), 4),
    (lambda rng: _kind_group(rng.choice([2, 3, 4, 5, 6])), 11),
    (lambda rng: _kind_app(), 14),
    (lambda rng: _kind_tiers(), 20),
    (lambda rng: _kind_deep(), 12),
]

#: Names of the template kinds (for documentation and tests).
TEMPLATE_KINDS = ("web", "config", "cluster", "switch", "aws", "heatcfn", "group", "app", "tiers", "deep", "secret")
