"""AWS: a pool base with its own network, and one EC2 instance per machine behind it.

The base (a long-lived stack shared by every run of the pool) holds a VPC with one public
subnet, an internet gateway for egress, and a security group that admits nothing; or, when the
pool names a subnet (`--subnet`), only the security group, in that subnet's VPC. Nothing
relies on the region's default VPC, which many organisations delete:
https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc.html
The subnet lies in a zone that sells the machine type (an instance-type offerings look-up):
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html

Kill switches: instance-initiated shutdown terminates the instance, and the startup script
schedules that shutdown at the maximum runtime.
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/terminating-instances.html
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.catalog import aws as table
from infra.clouds.common import (
    BaseArgs,
    RunnerArgs,
    iso,
    outputs,
    shared,
    user_data_b64,
)
from infra.errors import SpecError
from infra.spec import RunnerSpec

BASE_OUTPUTS = ("vpc_id", "subnet_id", "security_group_id", "zone")
VPC_CIDR = "10.77.0.0/16"
SUBNET_CIDR = "10.77.0.0/20"  # 4,091 usable addresses, far more than a pool's 50 machines


def image_parameter(spec: RunnerSpec) -> str:
    """The SSM parameter holding the AMI: the Deep Learning AMI for GPUs, Ubuntu otherwise."""
    if spec.image and spec.image.startswith("/"):
        return spec.image
    return table.GPU_IMAGE if spec.machine.gpu_count else table.CPU_IMAGE


def market_options(spec: RunnerSpec) -> aws.ec2.InstanceInstanceMarketOptionsArgsDict | None:
    """One-time spot request that terminates on interruption:
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-requests.html"""
    if not spec.spot:
        return None
    spot: aws.ec2.InstanceInstanceMarketOptionsSpotOptionsArgsDict = {
        "spot_instance_type": "one-time",
        "instance_interruption_behavior": "terminate",
    }
    if spec.max_price is not None:
        spot["max_price"] = f"{spec.max_price:g}"
    return {"market_type": "spot", "spot_options": spot}


def offered_zone(spec: RunnerSpec, opts: pulumi.InvokeOutputOptions) -> pulumi.Output[str]:
    """The first zone of the region (in name order) that sells the pool's machine type."""
    offers = aws.ec2.get_instance_type_offerings_output(
        location_type="availability-zone", region=spec.region, opts=opts,
        filters=[{"name": "instance-type", "values": [spec.machine.instance_type]}])
    return offers.locations.apply(lambda zones: first_zone(spec, zones))


def first_zone(spec: RunnerSpec, zones: list[str] | None) -> str:
    if not zones:
        raise SpecError(f"No zone of {spec.region} offers {spec.machine.instance_type}; choose "
                        "another region or machine type.")
    return sorted(zones)[0]


class AwsBase(pulumi.ComponentResource):
    """What the machines of one pool share: the network and a security group admitting nothing."""

    def __init__(self, name: str, args: BaseArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:clouds:AwsBase", name, None, opts)
        spec, tags = args.spec, args.tags
        child = pulumi.ResourceOptions(parent=self)
        if spec.subnet:
            found = aws.ec2.get_subnet_output(id=spec.subnet, region=spec.region,
                                              opts=pulumi.InvokeOutputOptions(parent=self))
            vpc_id, subnet_id, zone = found.vpc_id, pulumi.Output.from_input(spec.subnet), \
                found.availability_zone
        else:
            vpc_id, subnet_id, zone = self._network(name, spec, tags, child)
        group = aws.ec2.SecurityGroup(
            f"{name}-sg", region=spec.region, vpc_id=vpc_id,
            description=f"cml-infra runner pool {spec.name}: no inbound traffic",
            ingress=[], egress=[{"protocol": "-1", "from_port": 0, "to_port": 0,
                                 "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": ["::/0"]}],
            tags=tags, opts=child)
        self.outputs = {"vpc_id": vpc_id, "subnet_id": subnet_id,
                        "security_group_id": group.id, "zone": zone}
        self.register_outputs(self.outputs)

    def _network(self, name: str, spec: RunnerSpec, tags: dict[str, str],
                 child: pulumi.ResourceOptions,
                 ) -> tuple[pulumi.Output[str], pulumi.Output[str], pulumi.Output[str]]:
        """A VPC with one public subnet routed to an internet gateway (egress only: the
        security group admits nothing inbound)."""
        region = spec.region
        vpc = aws.ec2.Vpc(f"{name}-vpc", region=region, cidr_block=VPC_CIDR, tags=tags,
                          enable_dns_hostnames=True, enable_dns_support=True, opts=child)
        gateway = aws.ec2.InternetGateway(f"{name}-igw", region=region, vpc_id=vpc.id,
                                          tags=tags, opts=child)
        zone = pulumi.Output.from_input(spec.zone) if spec.zone else offered_zone(
            spec, pulumi.InvokeOutputOptions(parent=self))
        subnet = aws.ec2.Subnet(f"{name}-subnet", region=region, vpc_id=vpc.id,
                                cidr_block=SUBNET_CIDR, availability_zone=zone,
                                map_public_ip_on_launch=True, tags=tags, opts=child)
        routes = aws.ec2.RouteTable(
            f"{name}-routes", region=region, vpc_id=vpc.id, tags=tags, opts=child,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}])
        aws.ec2.RouteTableAssociation(f"{name}-routes-subnet", region=region,
                                      subnet_id=subnet.id, route_table_id=routes.id, opts=child)
        return vpc.id, subnet.id, zone


class AwsRunner(pulumi.ComponentResource):
    """One runner machine on EC2, in its pool base's subnet and security group."""

    instance_id: pulumi.Output[str]
    private_ip: pulumi.Output[str]
    expires_at: pulumi.Output[str]

    def __init__(self, name: str, args: RunnerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:clouds:AwsRunner", name, None, opts)
        spec, tags, base = args.spec, args.tags, args.base
        ami: pulumi.Input[str] = spec.image if spec.image and spec.image.startswith("ami-") \
            else shared(("aws-ami", args.stack, spec.name), lambda: aws.ssm.get_parameter_output(
                name=image_parameter(spec), region=spec.region).value)
        vm = aws.ec2.Instance(
            f"{name}-vm", region=spec.region, ami=ami,
            instance_type=spec.machine.instance_type,
            user_data_base64=pulumi.Output.from_input(args.user_data).apply(
                lambda script: user_data_b64("aws", script)),
            user_data_replace_on_change=True,
            instance_initiated_shutdown_behavior="terminate",
            # IMDSv2 only; hop limit 2 so that job containers reach it too:
            # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-existing-instances.html
            metadata_options={"http_tokens": "required", "http_endpoint": "enabled",
                              "http_put_response_hop_limit": 2},
            root_block_device={"volume_size": spec.disk_size_gb, "volume_type": "gp3",
                               "encrypted": True, "delete_on_termination": True},
            subnet_id=base["subnet_id"], vpc_security_group_ids=[base["security_group_id"]],
            iam_instance_profile=spec.identity,
            instance_market_options=market_options(spec), tags=tags, volume_tags=tags,
            opts=pulumi.ResourceOptions(parent=self))
        self.instance_id = vm.id
        self.private_ip = vm.private_ip
        self.expires_at = pulumi.Output.from_input(iso(args.expires_at))
        self.register_outputs(outputs(vm.id, vm.private_ip, args.expires_at))

