"""AWS: a pool base with its own network, and one EC2 instance per machine behind it.

The base (a long-lived stack shared by every run of the pool) holds a VPC with one public
subnet per zone that sells the machine type (an instance-type offerings look-up:
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html),
an internet gateway for egress, and a security group that admits nothing; or, when the pool
names a subnet (`--subnet`), only the security group, in that subnet's VPC. Nothing relies on
the region's default VPC, which many organisations delete:
https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc.html
A machine goes into the subnet of its zone: the first one, or the next one when `up` retries
a zone that had no capacity.

Kill switches: instance-initiated shutdown terminates the instance, and the startup script
schedules that shutdown at the maximum runtime
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/terminating-instances.html). Should the
guest never run its script (a custom image without cloud-init, a boot failure), a one-time
EventBridge Scheduler schedule terminates the instance at its expiry from the cloud side,
through a role of the base that may terminate only instances tagged with the pool:
https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#one-time
https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.catalog import aws as table
from infra.clouds.common import (
    TAG_POOL,
    BaseArgs,
    BaseOutputs,
    RunnerArgs,
    cloud_deadline,
    iso,
    outputs,
    shared,
    user_data_b64,
)
from infra.errors import SpecError
from infra.spec import RunnerSpec

BASE_OUTPUTS = ("vpc_id", "subnet_id", "security_group_id", "zone", "zones", "subnets",
                "terminator_role_arn")
VPC_CIDR = "10.77.0.0/16"
# One /20 per zone (4,091 usable addresses, far more than a pool's 50 machines); a /16 holds
# 16 of them, more zones than any region has.
MAX_ZONES = 16
SCHEDULER_TERMINATE = "arn:aws:scheduler:::aws-sdk:ec2:terminateInstances"


def subnet_cidr(index: int) -> str:
    return f"10.77.{16 * index}.0/20"


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


def offered_zones(spec: RunnerSpec, opts: pulumi.InvokeOptions) -> list[str]:
    """The zones of the region (in name order) that sell the pool's machine type, looked up
    while the program runs: the base makes one subnet in each."""
    offers = aws.ec2.get_instance_type_offerings(
        location_type="availability-zone", region=spec.region, opts=opts,
        filters=[{"name": "instance-type", "values": [spec.machine.instance_type]}])
    return checked_zones(spec, offers.locations)


def checked_zones(spec: RunnerSpec, zones: Sequence[str] | None) -> list[str]:
    if not zones:
        raise SpecError(f"No zone of {spec.region} offers {spec.machine.instance_type}; choose "
                        "another region or machine type.")
    return sorted(zones)[:MAX_ZONES]


def zone_subnet(subnets: Mapping[str, str], zone: str) -> str:
    if zone not in subnets:
        raise SpecError(f"The pool's base has no subnet in zone {zone} (it has "
                        f"{', '.join(sorted(subnets))}); choose one of those zones.")
    return subnets[zone]


def terminator_policy(pool: str) -> str:
    """TerminateInstances on the pool's own instances only (tag condition):
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/control-access-with-iam.html#control-access-with-tags"""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*",
        "Condition": {"StringEquals": {f"aws:ResourceTag/{TAG_POOL}": pool}}}]})


# EventBridge Scheduler assumes the role: https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role
SCHEDULER_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


def at_expression(moment: datetime) -> str:
    """A one-time schedule's `at(yyyy-mm-ddThh:mm:ss)`, in UTC."""
    return f"at({moment.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%S})"


class AwsBase(pulumi.ComponentResource):
    """What the machines of one pool share: the network and a security group admitting nothing."""

    def __init__(self, name: str, args: BaseArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:clouds:AwsBase", name, None, opts)
        spec, tags = args.spec, args.tags
        child = pulumi.ResourceOptions(parent=self)
        zone: pulumi.Input[str]
        if spec.subnet:
            found = aws.ec2.get_subnet_output(id=spec.subnet, region=spec.region,
                                              opts=pulumi.InvokeOutputOptions(parent=self))
            vpc_id, zone = found.vpc_id, found.availability_zone
            subnets: pulumi.Input[Mapping[str, Any]] = found.availability_zone.apply(
                lambda z: {z: spec.subnet})
            zones: pulumi.Input[list[str]] = found.availability_zone.apply(lambda z: [z])
        else:
            zone_list = [spec.zone] if spec.zone else offered_zones(
                spec, pulumi.InvokeOptions(parent=self))
            vpc_id, by_zone = self._network(name, spec, tags, child, zone_list)
            zones, zone = zone_list, zone_list[0]
            subnets = pulumi.Output.all(**by_zone)
        group = aws.ec2.SecurityGroup(
            f"{name}-sg", region=spec.region, vpc_id=vpc_id,
            description=f"cml-infra runner pool {spec.name}: no inbound traffic",
            ingress=[], egress=[{"protocol": "-1", "from_port": 0, "to_port": 0,
                                 "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": ["::/0"]}],
            tags=tags, opts=child)
        role = aws.iam.Role(
            f"{name}-terminator", assume_role_policy=SCHEDULER_TRUST, tags=tags,
            description=f"cml-infra pool {spec.name}: terminates the pool's instances at "
                        "their expiry (EventBridge Scheduler)", opts=child)
        aws.iam.RolePolicy(f"{name}-terminator-policy", role=role.id,
                           policy=terminator_policy(spec.name), opts=child)
        subnet_ids = pulumi.Output.from_input(subnets)
        self.outputs = {"vpc_id": vpc_id, "subnet_id": subnet_ids.apply(
                            lambda by_zone: next(iter(by_zone.values()))),
                        "security_group_id": group.id, "zone": zone, "zones": zones,
                        "subnets": subnets, "terminator_role_arn": role.arn}
        self.register_outputs(self.outputs)

    def _network(self, name: str, spec: RunnerSpec, tags: dict[str, str],
                 child: pulumi.ResourceOptions, zones: list[str],
                 ) -> tuple[pulumi.Output[str], dict[str, pulumi.Output[str]]]:
        """A VPC with one public subnet per zone, routed to an internet gateway (egress only:
        the security group admits nothing inbound)."""
        region = spec.region
        vpc = aws.ec2.Vpc(f"{name}-vpc", region=region, cidr_block=VPC_CIDR, tags=tags,
                          enable_dns_hostnames=True, enable_dns_support=True, opts=child)
        gateway = aws.ec2.InternetGateway(f"{name}-igw", region=region, vpc_id=vpc.id,
                                          tags=tags, opts=child)
        routes = aws.ec2.RouteTable(
            f"{name}-routes", region=region, vpc_id=vpc.id, tags=tags, opts=child,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}])
        subnets: dict[str, pulumi.Output[str]] = {}
        for index, zone in enumerate(zones):
            # The first zone keeps the names a one-subnet base had.
            suffix = "" if index == 0 else f"-{zone}"
            subnet = aws.ec2.Subnet(f"{name}-subnet{suffix}", region=region, vpc_id=vpc.id,
                                    cidr_block=subnet_cidr(index), availability_zone=zone,
                                    map_public_ip_on_launch=True, tags=tags, opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-routes-subnet{suffix}", region=region,
                                          subnet_id=subnet.id, route_table_id=routes.id,
                                          opts=child)
            subnets[zone] = subnet.id
        return vpc.id, subnets


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
            subnet_id=runner_subnet(spec, base),
            vpc_security_group_ids=[base["security_group_id"]],
            iam_instance_profile=spec.identity,
            instance_market_options=market_options(spec), tags=tags, volume_tags=tags,
            opts=pulumi.ResourceOptions(parent=self))
        self._deadline(name, spec, vm, base, args.expires_at)
        self.instance_id = vm.id
        self.private_ip = vm.private_ip
        self.expires_at = pulumi.Output.from_input(iso(args.expires_at))
        self.register_outputs(outputs(vm.id, vm.private_ip, args.expires_at))

    def _deadline(self, name: str, spec: RunnerSpec, vm: aws.ec2.Instance, base: BaseOutputs,
                  expires_at: datetime) -> None:
        """Terminate the instance from the cloud side once the guest's own teardown had its
        time; the schedule deletes itself after it ran (ActionAfterCompletion)."""
        aws.scheduler.Schedule(
            f"{name}-deadline", region=spec.region,
            description=f"cml-infra: terminate {name} at its expiry",
            schedule_expression=at_expression(cloud_deadline(expires_at)),
            schedule_expression_timezone="UTC", flexible_time_window={"mode": "OFF"},
            action_after_completion="DELETE",
            target={"arn": SCHEDULER_TERMINATE, "role_arn": base["terminator_role_arn"],
                    "input": vm.id.apply(lambda id: json.dumps({"InstanceIds": [id]})),
                    "retry_policy": {"maximum_retry_attempts": 5}},
            opts=pulumi.ResourceOptions(parent=self))


def runner_subnet(spec: RunnerSpec, base: BaseOutputs) -> pulumi.Output[str]:
    """The base's subnet in the machine's zone: the spec's zone (a retry moves it), else the
    base's first zone."""
    if not spec.zone:
        return pulumi.Output.from_input(base["subnet_id"])
    subnets: pulumi.Output[Any] = pulumi.Output.from_input(base["subnets"])
    return subnets.apply(lambda by_zone: zone_subnet(by_zone, spec.zone or ""))

