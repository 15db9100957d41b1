"""A realistic corpus of networking stacks, written for convmig's interop suite.

Each tree is what an operator's cloud holds: networks with several subnets,
routers with gateways and interfaces, ports with and without fixed IPs, servers
on networks and on ports, floating IPs with associations and port forwarding,
extra routes, an AWS-style VPC, an Octavia load balancer, groups of servers,
software deployments, registry aliases and provider templates typed as Neutron
resources, deprecated property names, and a Magnum-like cluster whose yaql
condition only picks between two ``get_file`` branches.

Each function returns ``(template, environment, files)`` for a step: 0 is the
legacy create, 1 the update after migration (changes that need no replacement
of a cloud resource, plus added and removed resources).
"""

from __future__ import annotations

import json

HOT = "2018-08-31"
PUBLIC = {"type": "string", "default": "public-net"}


def _hot(resources: dict, parameters: dict | None = None, outputs: dict | None = None,
         conditions: dict | None = None) -> dict:
    tmpl = {"heat_template_version": HOT, "parameters": {"public_net": PUBLIC, **(parameters or {})},
            "resources": resources}
    if outputs:
        tmpl["outputs"] = outputs
    if conditions:
        tmpl["conditions"] = conditions
    return tmpl


def net_tenant(step: int):
    """A tenant network with two subnets (one by the deprecated ``network_id``),
    a router whose gateway is in ``external_gateway_info``, an interface per subnet
    (one by ``router_id``/``subnet_id``), a port with a fixed IP, a port without,
    a server on the network, a server on a port, floating IPs (one on a port,
    one associated later) and a security group."""
    r = {
        "net": {"type": "OS::Neutron::Net", "properties": {"name": "tenant"}},
        "sub_a": {"type": "OS::Neutron::Subnet", "properties": {
            "network": {"get_resource": "net"}, "cidr": "10.10.1.0/24", "dns_nameservers": ["10.0.0.2"]}},
        "sub_b": {"type": "OS::Neutron::Subnet", "properties": {
            "network_id": {"get_resource": "net"}, "cidr": "10.10.2.0/24", "enable_dhcp": False}},
        "router": {"type": "OS::Neutron::Router", "properties": {
            "external_gateway_info": {"network": {"get_param": "public_net"}}}},
        "ri_a": {"type": "OS::Neutron::RouterInterface", "properties": {
            "router": {"get_resource": "router"}, "subnet": {"get_resource": "sub_a"}}},
        "ri_b": {"type": "OS::Neutron::RouterInterface", "properties": {
            "router_id": {"get_resource": "router"}, "subnet_id": {"get_resource": "sub_b"}}},
        "sg": {"type": "OS::Neutron::SecurityGroup", "properties": {"rules": [
            {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}]}},
        "port_fixed": {"type": "OS::Neutron::Port", "properties": {
            "network": {"get_resource": "net"}, "security_groups": [{"get_resource": "sg"}],
            "fixed_ips": [{"subnet": {"get_resource": "sub_a"}, "ip_address": "10.10.1.20"}]}},
        "port_any": {"type": "OS::Neutron::Port", "properties": {"network_id": {"get_resource": "net"}}},
        "vm_net": {"type": "OS::Nova::Server", "properties": {
            "image": "cirros", "flavor": "m1.tiny", "networks": [{"network": {"get_resource": "net"}}]}},
        "vm_port": {"type": "OS::Nova::Server", "properties": {
            "image": "cirros", "flavor": "m1.tiny", "networks": [{"port": {"get_resource": "port_fixed"}}]}},
        "fip_port": {"type": "OS::Neutron::FloatingIP", "properties": {
            "floating_network": {"get_param": "public_net"}, "port_id": {"get_resource": "port_fixed"}}},
        "fip_free": {"type": "OS::Neutron::FloatingIP", "properties": {
            "floating_network_id": {"get_param": "public_net"}}},
        "fip_assoc": {"type": "OS::Neutron::FloatingIPAssociation", "properties": {
            "floatingip_id": {"get_resource": "fip_free"}, "port_id": {"get_resource": "port_any"}}},
    }
    if step >= 1:
        r["sub_b"]["properties"]["dns_nameservers"] = ["10.0.0.3"]
        r["port_extra"] = {"type": "OS::Neutron::Port", "properties": {
            "network": {"get_resource": "net"}, "fixed_ips": [{"subnet": {"get_resource": "sub_b"}}]}}
        del r["fip_assoc"]
    return _hot(r, outputs={"ip": {"value": {"get_attr": ["fip_port", "floating_ip_address"]}}}), {}, {}


def net_gateway(step: int):
    """A router with the separate (hidden, still loadable) ``OS::Neutron::RouterGateway``,
    interfaces on two subnets, a port without fixed IPs on a network whose subnets
    are all in the stack, a floating IP on it, an ExtraRoute by deprecated names and
    an ExtraRouteSet, and a port-forwarding floating IP."""
    r = {
        "net": {"type": "OS::Neutron::Net"},
        "sub1": {"type": "OS::Neutron::Subnet", "properties": {"network": {"get_resource": "net"}, "cidr": "10.20.1.0/24"}},
        "sub2": {"type": "OS::Neutron::Subnet", "properties": {"network": {"get_resource": "net"}, "cidr": "10.20.2.0/24"}},
        "router": {"type": "OS::Neutron::Router"},
        "gw": {"type": "OS::Neutron::RouterGateway", "properties": {
            "router_id": {"get_resource": "router"}, "network_id": {"get_param": "public_net"}}},
        "ri1": {"type": "OS::Neutron::RouterInterface", "properties": {
            "router": {"get_resource": "router"}, "subnet": {"get_resource": "sub1"}}},
        "ri2": {"type": "OS::Neutron::RouterInterface", "properties": {
            "router": {"get_resource": "router"}, "subnet": {"get_resource": "sub2"}}},
        "port": {"type": "OS::Neutron::Port", "properties": {"network": {"get_resource": "net"}}},
        "port2": {"type": "OS::Neutron::Port", "properties": {
            "network": {"get_resource": "net"},
            "fixed_ips": [{"subnet_id": {"get_resource": "sub2"}}, {"subnet": {"get_resource": "sub1"}}]}},
        "fip": {"type": "OS::Neutron::FloatingIP", "properties": {
            "floating_network": {"get_param": "public_net"}, "port_id": {"get_resource": "port"}}},
        "fip_pf": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": {"get_param": "public_net"}}},
        "forward": {"type": "OS::Neutron::FloatingIPPortForward", "properties": {
            "floating_ip": {"get_resource": "fip_pf"}, "internal_port": {"get_resource": "port2"},
            "internal_ip_address": "10.20.2.30", "internal_port_number": 8080, "external_port": 80,
            "protocol": "tcp"}},
        "route": {"type": "OS::Neutron::ExtraRoute", "properties": {
            "router_id": {"get_resource": "router"}, "destination": "192.168.50.0/24", "nexthop": "10.20.1.254"}},
        "routes": {"type": "OS::Neutron::ExtraRouteSet", "properties": {
            "router": {"get_resource": "router"},
            "routes": [{"destination": "192.168.60.0/24", "nexthop": "10.20.2.254"}]}},
        "vm": {"type": "OS::Nova::Server", "properties": {
            "image": "cirros", "flavor": "m1.small",
            "networks": [{"subnet": {"get_resource": "sub2"}}, {"port": {"get_resource": "port"}}]}},
    }
    if step >= 1:
        r["routes"]["properties"]["routes"].append({"destination": "192.168.70.0/24", "nexthop": "10.20.2.253"})
        del r["route"]
    return _hot(r), {}, {}


def aws_vpc(step: int):
    """The AWS-compatible VPC: two subnets, a route table with associations, an
    internet gateway and its attachment, a network interface."""
    r = {
        "VPC": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.30.0.0/16"}},
        "SubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "VPC"}, "CidrBlock": "10.30.1.0/24"}},
        "SubnetB": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "VPC"}, "CidrBlock": "10.30.2.0/24"}},
        "Routes": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "VPC"}}},
        "AssocA": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
            "RouteTableId": {"Ref": "Routes"}, "SubnetId": {"Ref": "SubnetA"}}},
        "AssocB": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
            "RouteTableId": {"Ref": "Routes"}, "SubnetId": {"Ref": "SubnetB"}}},
        "Gateway": {"Type": "AWS::EC2::InternetGateway"},
        "Attach": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
            "VpcId": {"Ref": "VPC"}, "InternetGatewayId": {"Ref": "Gateway"}}},
        "Nic": {"Type": "AWS::EC2::NetworkInterface", "Properties": {"SubnetId": {"Ref": "SubnetA"}}},
    }
    if step >= 1:
        r["Nic"]["Properties"]["Description"] = "updated"
        r["SubnetC"] = {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "VPC"}, "CidrBlock": "10.30.3.0/24"}}
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": r}, {}, {}


MEMBER = {
    "heat_template_version": HOT,
    "parameters": {"network": {"type": "string"}, "subnet": {"type": "string"}, "pool": {"type": "string"},
                   "index": {"type": "string", "default": "0"}},
    "resources": {
        "port": {"type": "OS::Neutron::Port", "properties": {
            "network": {"get_param": "network"}, "fixed_ips": [{"subnet": {"get_param": "subnet"}}]}},
        "server": {"type": "OS::Nova::Server", "properties": {
            "image": "cirros", "flavor": "m1.small", "networks": [{"port": {"get_resource": "port"}}]}},
        "member": {"type": "OS::Octavia::PoolMember", "properties": {
            "pool": {"get_param": "pool"}, "address": {"get_attr": ["server", "first_address"]},
            "protocol_port": 80, "subnet": {"get_param": "subnet"}}},
    },
    "outputs": {"ip": {"value": {"get_attr": ["server", "first_address"]}}},
}


def lb_web(step: int):
    """An Octavia load balancer (listener, pool, monitor) in front of a
    ResourceGroup of web servers, each a provider template with its own port and
    pool member, and an AutoScalingGroup of servers with a scaling policy."""
    r = {
        "net": {"type": "OS::Neutron::Net"},
        "sub": {"type": "OS::Neutron::Subnet", "properties": {"network": {"get_resource": "net"}, "cidr": "10.40.0.0/24"}},
        "router": {"type": "OS::Neutron::Router", "properties": {
            "external_gateway_info": {"network": {"get_param": "public_net"}}}},
        "ri": {"type": "OS::Neutron::RouterInterface", "properties": {
            "router": {"get_resource": "router"}, "subnet": {"get_resource": "sub"}}},
        "lb": {"type": "OS::Octavia::LoadBalancer", "properties": {"vip_subnet": {"get_resource": "sub"}}},
        "listener": {"type": "OS::Octavia::Listener", "properties": {
            "loadbalancer": {"get_resource": "lb"}, "protocol": "HTTP", "protocol_port": 80}},
        "pool": {"type": "OS::Octavia::Pool", "properties": {
            "listener": {"get_resource": "listener"}, "lb_algorithm": "ROUND_ROBIN", "protocol": "HTTP"}},
        "monitor": {"type": "OS::Octavia::HealthMonitor", "properties": {
            "pool": {"get_resource": "pool"}, "type": "HTTP", "delay": 5, "max_retries": 3, "timeout": 3}},
        "web": {"type": "OS::Heat::ResourceGroup", "properties": {"count": 2, "resource_def": {
            "type": "Corp::WebMember", "properties": {
                "network": {"get_resource": "net"}, "subnet": {"get_resource": "sub"},
                "pool": {"get_resource": "pool"}, "index": "%index%"}}}},
        "asg": {"type": "OS::Heat::AutoScalingGroup", "properties": {
            "min_size": 1, "max_size": 3, "desired_capacity": 2, "resource": {
                "type": "OS::Nova::Server", "properties": {
                    "image": "cirros", "flavor": "m1.small", "networks": [{"network": {"get_resource": "net"}}]}}}},
        "scale_up": {"type": "OS::Heat::ScalingPolicy", "properties": {
            "auto_scaling_group_id": {"get_resource": "asg"}, "adjustment_type": "change_in_capacity",
            "scaling_adjustment": 1}},
        "vip_fip": {"type": "OS::Neutron::FloatingIP", "properties": {
            "floating_network": {"get_param": "public_net"}, "port_id": {"get_attr": ["lb", "vip_port_id"]}}},
    }
    if step >= 1:
        r["web"]["properties"]["count"] = 3
        r["monitor"]["properties"]["delay"] = 10
    env = {"resource_registry": {"Corp::WebMember": "member.yaml"}}
    return _hot(r, outputs={"ips": {"value": {"get_attr": ["web", "ip"]}}}), env, {"member.yaml": json.dumps(MEMBER)}


def registry(step: int):
    """Neutron types reached through the environment: an alias (``Corp::Subnet``
    is ``OS::Neutron::Subnet``) and a provider template registered, for one
    resource, under a Neutron type name (``iface``: ``OS::Neutron::RouterInterface``
    is ``iface.yaml``), plus a software deployment on a server."""
    iface = {
        "heat_template_version": HOT,
        "parameters": {"router": {"type": "string"}, "subnet": {"type": "string"}},
        "resources": {"real": {"type": "OS::Neutron::RouterInterface", "properties": {
            "router": {"get_param": "router"}, "subnet": {"get_param": "subnet"}}}},
    }
    r = {
        "net": {"type": "OS::Neutron::Net"},
        "sub": {"type": "Corp::Subnet", "properties": {"network": {"get_resource": "net"}, "cidr": "10.50.0.0/24"}},
        "router": {"type": "OS::Neutron::Router", "properties": {
            "external_gateway_info": {"network": {"get_param": "public_net"}}}},
        "iface": {"type": "OS::Neutron::RouterInterface", "properties": {
            "router": {"get_resource": "router"}, "subnet": {"get_resource": "sub"}}},
        "port": {"type": "OS::Neutron::Port", "properties": {
            "network": {"get_resource": "net"}, "fixed_ips": [{"subnet": {"get_resource": "sub"}}]}},
        "fip": {"type": "OS::Neutron::FloatingIP", "properties": {
            "floating_network": {"get_param": "public_net"}, "port_id": {"get_resource": "port"}}},
        "vm": {"type": "OS::Nova::Server", "properties": {
            "image": "cirros", "flavor": "m1.small", "networks": [{"port": {"get_resource": "port"}}],
            "user_data_format": "SOFTWARE_CONFIG", "software_config_transport": "POLL_SERVER_HEAT"}},
        "config": {"type": "OS::Heat::SoftwareConfig", "properties": {"group": "script", "config": "#!/bin/sh\necho hi\n"}},
        "deploy": {"type": "OS::Heat::SoftwareDeployment", "properties": {
            "config": {"get_resource": "config"}, "server": {"get_resource": "vm"}, "signal_transport": "NO_SIGNAL"}},
    }
    if step >= 1:
        r["config"]["properties"]["config"] = "#!/bin/sh\necho again\n"
    env = {"resource_registry": {"Corp::Subnet": "OS::Neutron::Subnet",
                                 "resources": {"iface": {"OS::Neutron::RouterInterface": "iface.yaml"}}}}
    return _hot(r), env, {"iface.yaml": json.dumps(iface)}


def magnum(step: int):
    """What a Magnum Kubernetes driver builds, cut down: a private network and
    router, masters in a ResourceGroup of a provider template, an API load
    balancer, and a yaql condition that only picks which ``get_file`` script a
    software config carries."""
    master = {
        "heat_template_version": HOT,
        "parameters": {"network": {"type": "string"}, "subnet": {"type": "string"},
                       "pool": {"type": "string"}, "public_net": {"type": "string"}},
        "resources": {
            "port": {"type": "OS::Neutron::Port", "properties": {
                "network": {"get_param": "network"}, "fixed_ips": [{"subnet": {"get_param": "subnet"}}]}},
            "fip": {"type": "OS::Neutron::FloatingIP", "properties": {
                "floating_network": {"get_param": "public_net"}, "port_id": {"get_resource": "port"}}},
            "server": {"type": "OS::Nova::Server", "properties": {
                "image": "fedora-coreos", "flavor": "m1.medium", "networks": [{"port": {"get_resource": "port"}}]}},
            "api_member": {"type": "OS::Octavia::PoolMember", "properties": {
                "pool": {"get_param": "pool"}, "address": {"get_attr": ["port", "fixed_ips", 0, "ip_address"]},
                "protocol_port": 6443, "subnet": {"get_param": "subnet"}}},
        },
    }
    r = {
        "network": {"type": "OS::Neutron::Net"},
        "subnet": {"type": "OS::Neutron::Subnet", "properties": {
            "network": {"get_resource": "network"}, "cidr": "10.0.0.0/24"}},
        "router": {"type": "OS::Neutron::Router", "properties": {
            "external_gateway_info": {"network": {"get_param": "public_net"}}}},
        "router_iface": {"type": "OS::Neutron::RouterInterface", "properties": {
            "router": {"get_resource": "router"}, "subnet": {"get_resource": "subnet"}}},
        "api_lb": {"type": "OS::Octavia::LoadBalancer", "properties": {"vip_subnet": {"get_resource": "subnet"}}},
        "api_listener": {"type": "OS::Octavia::Listener", "properties": {
            "loadbalancer": {"get_resource": "api_lb"}, "protocol": "TCP", "protocol_port": 6443}},
        "api_pool": {"type": "OS::Octavia::Pool", "properties": {
            "listener": {"get_resource": "api_listener"}, "lb_algorithm": "ROUND_ROBIN", "protocol": "TCP"}},
        "calico": {"type": "OS::Heat::SoftwareConfig", "properties": {"group": "script", "config": {
            "if": ["calico_v3_26", {"get_file": "calico-v3-26.sh"}, {"get_file": "calico-v3-25.sh"}]}}},
        "masters": {"type": "OS::Heat::ResourceGroup", "properties": {"count": 1, "resource_def": {
            "type": "kubemaster.yaml", "properties": {
                "network": {"get_resource": "network"}, "subnet": {"get_resource": "subnet"},
                "pool": {"get_resource": "api_pool"}, "public_net": {"get_param": "public_net"}}}}},
    }
    if step >= 1:
        r["masters"]["properties"]["count"] = 2
    params = {"calico_tag": {"type": "string", "default": "v3.26.1"}}
    conds = {"calico_v3_26": {"yaql": {"expression": '$.data.calico_tag.startsWith("v3.26.")',
                                       "data": {"calico_tag": {"get_param": "calico_tag"}}}}}
    files = {"kubemaster.yaml": json.dumps(master), "calico-v3-26.sh": "#!/bin/sh\n# calico 3.26\n",
             "calico-v3-25.sh": "#!/bin/sh\n# calico 3.25\n"}
    return _hot(r, parameters=params, conditions=conds), {"parameters": {"calico_tag": "v3.25.2"}}, files


#: kind -> template function; every one a legacy stack that both migrations accept
CORPUS = {"net_tenant": net_tenant, "net_gateway": net_gateway, "aws_vpc": aws_vpc, "lb_web": lb_web,
          "registry": registry, "magnum": magnum}
