"""Small stacks that exercise every implicit-dependency rule of Heat 27.0.1 and its quirks.

Each case is a template, environment, files map and the physical ids of its rows;
``implicit_oracle.py`` (in Heat's venv) and convmig must write the same requires.
"""

from __future__ import annotations

HOT = "2018-08-31"


def hot(resources: dict, **extra) -> dict:
    return {"heat_template_version": extra.pop("version", HOT), "resources": resources, **extra}


def case(name, resources, environment=None, files=None, physical_ids=None, **extra):
    return {"name": name, "template": hot(resources, **extra), "environment": environment or {},
            "files": files or {}, "physical_ids": physical_ids or {}}


NET = {"type": "OS::Neutron::Net"}


def subnet(net, **props):
    return {"type": "OS::Neutron::Subnet", "properties": {"network": net, "cidr": "10.0.0.0/24", **props}}


def port(net=None, **props):
    p = dict(props)
    if net is not None:
        p["network"] = net
    return {"type": "OS::Neutron::Port", "properties": p}


GR = {"get_resource": "net"}
PORT_PROVIDER = """heat_template_version: 2018-08-31
parameters:
  network: {type: string}
  fixed_ips: {type: json, default: []}
resources: {}
"""
SUBNET_PROVIDER = """heat_template_version: 2018-08-31
parameters:
  network: {type: string}
resources: {}
"""

CASES = [
    case("port_subnet", {"net": NET, "sub": subnet(GR), "sub_lit": subnet("net-phys"),
                         "p1": port(GR), "p2": port("net-phys"), "p3": port("net")},
         physical_ids={"net": "net-phys", "sub": "sub-phys"}),
    case("port_deprecated", {"net": NET, "sub": {"type": "OS::Neutron::Subnet", "properties": {"network_id": GR}},
                             "p": {"type": "OS::Neutron::Port", "properties": {"network_id": GR}}}),
    case("port_get_attr", {"net": NET, "sub": subnet({"get_attr": ["net", "name"]}),
                           "p": port({"get_attr": ["net", "name"]}), "q": port(GR)}),
    case("port_null_network", {"net": NET, "sub": subnet(None), "p": port(None), "q": {"type": "OS::Neutron::Port"}}),
    case("port_param", {"net": NET, "sub": subnet({"get_param": "n"}), "p": port("external"), "q": port(GR)},
         environment={"parameters": {"n": "external"}}, parameters={"n": {"type": "string"}}),
    case("port_str_replace", {"net": NET, "sub": subnet({"str_replace": {"template": "x-N", "params": {"N": GR}}}),
                              "p": port("x-net"), "q": port({"list_join": ["-", ["x", GR]]})}),
    case("server", {"net": NET, "net2": NET, "sub": subnet(GR), "sub2": subnet({"get_resource": "net2"}),
                    "sub_attr": subnet({"get_attr": ["net", "name"]}),
                    "s1": {"type": "OS::Nova::Server", "properties": {"image": "i", "flavor": "f", "networks": [{"network": GR}]}},
                    "s2": {"type": "OS::Nova::Server", "properties": {"image": "i", "flavor": "f", "networks": [{"port": "x"}]}},
                    "s3": {"type": "OS::Nova::Server", "properties": {"image": "i", "flavor": "f"}},
                    "s4": {"type": "OS::Nova::Server", "properties": {"image": "i", "flavor": "f", "networks": [{"uuid": "net2"}]}},
                    "s5": {"type": "OS::Nova::Server", "properties": {"image": "i", "flavor": "f", "networks": []}}}),
    case("server_bad_networks", {"net": NET, "sub": subnet(GR),
                                 "s": {"type": "OS::Nova::Server", "properties": {"image": "i", "flavor": "f", "networks": [{"network": GR, "port_extra_properties": {"allowed_address_pairs": [{"mac_address": "m"}]}}]}}}),
    case("router", {"ext": NET, "sub": subnet({"get_resource": "ext"}), "other": subnet("elsewhere"),
                    "r": {"type": "OS::Neutron::Router", "properties": {"external_gateway_info": {"network": {"get_resource": "ext"}}}},
                    "r0": {"type": "OS::Neutron::Router"}}),
    case("router_gateway", {"net": NET, "sub": subnet(GR), "router": {"type": "OS::Neutron::Router"},
                            "iface": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "subnet": {"get_resource": "sub"}}},
                            "iface_old": {"type": "OS::Neutron::RouterInterface", "properties": {"router_id": {"get_resource": "router"}, "subnet_id": {"get_resource": "sub"}}},
                            "gw": {"type": "OS::Neutron::RouterGateway", "properties": {"router_id": {"get_resource": "router"}, "network_id": GR}}}),
    case("floating_ip", {"ext": NET, "net": NET, "sub": subnet(GR), "sub2": subnet(GR, cidr="10.0.1.0/24"),
                         "router": {"type": "OS::Neutron::Router", "properties": {"external_gateway_info": {"network": {"get_resource": "ext"}}}},
                         "router2": {"type": "OS::Neutron::Router"},
                         "gw": {"type": "OS::Neutron::RouterGateway", "properties": {"router_id": {"get_resource": "router2"}, "network": {"get_resource": "ext"}}},
                         "iface": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "subnet": {"get_resource": "sub"}}},
                         "iface2": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "subnet": {"get_resource": "sub2"}}},
                         "port": port(GR, fixed_ips=[{"subnet": {"get_resource": "sub"}}]),
                         "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": {"get_resource": "ext"}, "port_id": {"get_resource": "port"}}},
                         "fip_old": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network_id": {"get_resource": "ext"}}}}),
    case("floating_ip_port_without_fixed_ips", {
        "ext": NET, "net": NET, "sub": subnet(GR), "router": {"type": "OS::Neutron::Router"},
        "iface": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "subnet": {"get_resource": "sub"}}},
        "iface_port": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "port": "some-port"}},
        "iface_lit": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "subnet": "sub-phys"}},
        "port": port(GR),
        "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": "public", "port_id": {"get_resource": "port"}}}},
        physical_ids={"net": "net-phys", "sub": "sub-phys"}),
    case("association_first_fixed_ip", {
        "net": NET, "sub": subnet(GR), "sub2": subnet(GR, cidr="10.0.1.0/24"), "router": {"type": "OS::Neutron::Router"},
        "iface": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "subnet": {"get_resource": "sub"}}},
        "iface2": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "subnet": {"get_resource": "sub2"}}},
        "iface_none": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "port": "p"}},
        "port": port(GR, fixed_ips=[{"subnet": {"get_resource": "sub2"}}, {"subnet": {"get_resource": "sub"}}]),
        "port_ip": port(GR, fixed_ips=[{"ip_address": "10.0.0.5"}]),
        "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": "public"}},
        "assoc": {"type": "OS::Neutron::FloatingIPAssociation", "properties": {"floatingip_id": {"get_resource": "fip"}, "port_id": {"get_resource": "port"}}},
        "assoc_ip": {"type": "OS::Neutron::FloatingIPAssociation", "properties": {"floatingip_id": {"get_resource": "fip"}, "port_id": {"get_resource": "port_ip"}}},
        "pf": {"type": "OS::Neutron::FloatingIPPortForward", "properties": {"floatingip": {"get_resource": "fip"}, "internal_port": {"get_resource": "port"}, "internal_port_number": 80, "external_port": 8080, "protocol": "tcp", "internal_ip_address": "10.0.0.4"}}}),
    case("extra_routes", {
        "net": NET, "sub": subnet(GR), "router": {"type": "OS::Neutron::Router"}, "router2": {"type": "OS::Neutron::Router"},
        "iface": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "subnet": {"get_resource": "sub"}}},
        "gw": {"type": "OS::Neutron::RouterGateway", "properties": {"router_id": {"get_resource": "router"}, "network": "public"}},
        "gw2": {"type": "OS::Neutron::RouterGateway", "properties": {"router_id": {"get_resource": "router2"}, "network": "public"}},
        "route": {"type": "OS::Neutron::ExtraRoute", "properties": {"router_id": {"get_resource": "router"}, "destination": "10.1.0.0/24", "nexthop": "10.0.0.1"}},
        "routes": {"type": "OS::Neutron::ExtraRouteSet", "properties": {"router": {"get_resource": "router"}, "routes": []}}}),
    case("vpc", {"vpc": {"type": "AWS::EC2::VPC", "properties": {"CidrBlock": "10.0.0.0/16"}},
                 "vpc2": {"type": "AWS::EC2::VPC", "properties": {"CidrBlock": "10.1.0.0/16"}},
                 "rt": {"type": "AWS::EC2::RouteTable", "properties": {"VpcId": {"get_resource": "vpc"}}},
                 "rt2": {"type": "AWS::EC2::RouteTable", "properties": {"VpcId": {"get_resource": "vpc2"}}},
                 "igw": {"type": "AWS::EC2::InternetGateway"},
                 "att": {"type": "AWS::EC2::VPCGatewayAttachment", "properties": {"VpcId": {"get_resource": "vpc"}, "InternetGatewayId": {"get_resource": "igw"}}}}),
    case("cfn_vpc", {}) | {"template": {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
        "VPC": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "RT": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "VPC"}}},
        "IGW": {"Type": "AWS::EC2::InternetGateway"},
        "Att": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {"VpcId": {"Ref": "VPC"}, "InternetGatewayId": {"Ref": "IGW"}}}}}},
    case("alias", {"net": NET, "sub": {"type": "My::Subnet", "properties": {"network": GR, "cidr": "10.0.0.0/24"}},
                   "p": {"type": "My::Port", "properties": {"network": GR}}},
         environment={"resource_registry": {"My::Subnet": "OS::Neutron::Subnet", "My::Port": "OS::Neutron::Port"}}),
    case("glob_alias", {"net": NET, "sub": {"type": "Net::Subnet", "properties": {"network": GR, "cidr": "10.0.0.0/24"}},
                        "p": port(GR)},
         environment={"resource_registry": {"Net::*": "OS::Neutron::*"}}),
    case("per_resource_alias", {"net": NET, "sub": {"type": "Any::Thing", "properties": {"network": GR, "cidr": "10.0.0.0/24"}},
                                "p": port(GR)},
         environment={"resource_registry": {"resources": {"sub": {"Any::Thing": "OS::Neutron::Subnet"}}}}),
    case("provider_typed_subnet", {"net": NET, "sub": {"type": "OS::Neutron::Subnet", "properties": {"network": GR}},
                                   "p": port(GR)},
         environment={"resource_registry": {"OS::Neutron::Subnet": "subnet.yaml"}}, files={"subnet.yaml": SUBNET_PROVIDER}),
    case("provider_typed_port", {"net": NET, "sub": subnet(GR), "router": {"type": "OS::Neutron::Router"},
                                 "iface": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "subnet": {"get_resource": "sub"}}},
                                 "p": {"type": "OS::Neutron::Port", "properties": {"network": GR, "fixed_ips": [{"subnet": "sub"}]}},
                                 "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": "public"}},
                                 "assoc": {"type": "OS::Neutron::FloatingIPAssociation", "properties": {"floatingip_id": {"get_resource": "fip"}, "port_id": {"get_resource": "p"}}}},
         environment={"resource_registry": {"OS::Neutron::Port": "port.yaml"}}, files={"port.yaml": PORT_PROVIDER}),
    case("provider_other_name", {"net": NET, "sub": {"type": "My::Net::Subnet", "properties": {"network": GR}}, "p": port(GR)},
         environment={"resource_registry": {"My::Net::Subnet": "subnet.yaml"}}, files={"subnet.yaml": SUBNET_PROVIDER}),
    case("disabled_by_none", {"net": NET, "sub": subnet(GR), "p": port(GR)},
         environment={"resource_registry": {"OS::Neutron::Subnet": "OS::Heat::None"}}),
    case("none_subnet_server", {"net": NET, "sub": subnet(GR), "p": port(GR),
                                "s": {"type": "OS::Nova::Server", "properties": {"image": "i", "flavor": "f", "networks": [{"network": GR}]}}},
         environment={"resource_registry": {"OS::Neutron::Subnet": "OS::Heat::None"}}),
    case("provider_required", {"net": NET, "sub": {"type": "OS::Neutron::Subnet"},
                               "s": {"type": "OS::Nova::Server", "properties": {"image": "i", "flavor": "f", "networks": [{"network": GR}]}}},
         environment={"resource_registry": {"OS::Neutron::Subnet": "subnet.yaml"}}, files={"subnet.yaml": SUBNET_PROVIDER}),
    case("provider_default", {"net": NET, "sub": {"type": "OS::Neutron::Subnet"},
                              "s": {"type": "OS::Nova::Server", "properties": {"image": "i", "flavor": "f", "networks": [{"network": GR}]}}},
         environment={"resource_registry": {"OS::Neutron::Subnet": "subnet.yaml"}},
         files={"subnet.yaml": SUBNET_PROVIDER.replace("{type: string}", "{type: string, default: n}")}),
    case("numbers", {"sub": subnet("42"), "sub_b": subnet("True"), "p": port({"get_param": "n"}), "q": port(True)},
         parameters={"n": {"type": "number", "default": 42}}),
    case("null_both", {"net": NET, "sub": subnet(None), "p": {"type": "OS::Neutron::Port", "properties": {"network": None}}}),
    case("server_attr_network", {"net": NET, "net2": NET, "sub": subnet(GR), "sub2": subnet({"get_resource": "net2"}),
                                 "s": {"type": "OS::Nova::Server", "properties": {"image": "i", "flavor": "f", "networks": [{"network": {"get_attr": ["net", "name"]}}]}}}),
    case("if_omitted", {"net": NET, "sub": subnet(GR), "p": {"type": "OS::Neutron::Port", "properties": {"network": {"if": [False, GR]}, "network_id": GR}}},
         version="2021-04-16"),
    case("gateway_via_network_id", {"ext": NET, "router": {"type": "OS::Neutron::Router"},
                                    "gw": {"type": "OS::Neutron::RouterGateway", "properties": {"router_id": {"get_resource": "router"}, "network_id": {"get_resource": "ext"}}},
                                    "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": {"get_resource": "ext"}}}}),
    case("provider_iface_without_router", {"net": NET, "sub": subnet(GR), "router": {"type": "OS::Neutron::Router"},
                                           "iface": {"type": "OS::Neutron::RouterInterface", "properties": {"subnet": {"get_resource": "sub"}}},
                                           "route": {"type": "OS::Neutron::ExtraRoute", "properties": {"router_id": {"get_resource": "router"}, "destination": "10.1.0.0/24", "nexthop": "10.0.0.1"}}},
         environment={"resource_registry": {"OS::Neutron::RouterInterface": "iface.yaml"}},
         files={"iface.yaml": "heat_template_version: 2018-08-31\nparameters:\n  subnet: {type: string}\nresources: {}\n"}),
    case("fixed_ips_deprecated_subnet_id", {
        "net": NET, "sub": subnet(GR), "sub2": subnet(GR, cidr="10.0.1.0/24"), "router": {"type": "OS::Neutron::Router"},
        "iface": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "subnet_id": {"get_resource": "sub"}}},
        "iface2": {"type": "OS::Neutron::RouterInterface", "properties": {"router": {"get_resource": "router"}, "subnet": {"get_resource": "sub2"}}},
        "port": port(GR, fixed_ips=[{"subnet_id": {"get_resource": "sub"}}]),
        "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": "public", "port_id": {"get_resource": "port"}}},
        "fip2": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": "public"}},
        "assoc": {"type": "OS::Neutron::FloatingIPAssociation", "properties": {"floatingip_id": {"get_resource": "fip2"}, "port_id": {"get_resource": "port"}}}}),
    case("server_networks_param", {"net": NET, "sub": subnet(GR), "sub2": subnet("other"),
                                   "s": {"type": "OS::Nova::Server", "properties": {"image": "i", "flavor": "f", "networks": {"get_param": "nets"}}}},
         environment={"parameters": {"nets": [{"network": "other"}]}}, parameters={"nets": {"type": "json"}}),
    case("cfn_join", {}) | {"template": {"AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Prefix": {"Type": "String", "Default": "n"}},
        "Resources": {
            "Net": {"Type": "OS::Neutron::Net"},
            "Sub": {"Type": "OS::Neutron::Subnet", "Properties": {"network": {"Fn::Join": ["-", [{"Ref": "Prefix"}, "x"]]}, "cidr": "10.0.0.0/24"}},
            "Port": {"Type": "OS::Neutron::Port", "Properties": {"network": "n-x"}},
            "Port2": {"Type": "OS::Neutron::Port", "Properties": {"network": {"Ref": "Net"}}}}}},
    case("two_gateways_two_routers", {
        "ext": NET, "ext2": NET, "r1": {"type": "OS::Neutron::Router"}, "r2": {"type": "OS::Neutron::Router"},
        "g1": {"type": "OS::Neutron::RouterGateway", "properties": {"router_id": {"get_resource": "r1"}, "network": {"get_resource": "ext"}}},
        "g2": {"type": "OS::Neutron::RouterGateway", "properties": {"router_id": {"get_resource": "r2"}, "network": {"get_resource": "ext2"}}},
        "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": {"get_resource": "ext2"}}},
        "route": {"type": "OS::Neutron::ExtraRoute", "properties": {"router_id": {"get_resource": "r2"}, "destination": "10.1.0.0/24", "nexthop": "10.0.0.1"}}}),
    case("conditions", {"net": NET, "sub": subnet({"if": ["c", GR, "other"]}), "p": port(GR)},
         conditions={"c": {"equals": [{"get_param": "x"}, "a"]}}, parameters={"x": {"type": "string", "default": "a"}}),
]
