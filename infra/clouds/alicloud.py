"""Alibaba Cloud: a pool base (VPC, vSwitch, a security group without rules); one ECS instance
per machine in it.

A machine ends itself by deleting its instance through the ECS API (a guest power-off would
keep a pay-as-you-go instance billing in the default stop mode, KeepCharging:
https://www.alibabacloud.com/help/en/ecs/user-guide/economical-mode), with the credentials of
its instance RAM role, whose one policy allows deleting or stopping that instance and no other
(https://www.alibabacloud.com/help/en/ecs/user-guide/attach-an-instance-ram-role-to-an-ecs-instance).
With a pool identity (`--identity`) the instance has that role instead (an instance has one
role), and the runner stack attaches to it one policy per pool that allows deleting or stopping
the instances tagged with the pool: machines of one identity pool, which share its data
access anyway, could end each other, nothing else.
Kill switch of the cloud's own: `autoReleaseTime` releases the instance after its expiry plus
the guest's teardown time, which is always more than the half hour the API requires:
https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-modifyinstanceautoreleasetime
A security group without rules denies all inbound traffic:
https://www.alibabacloud.com/help/en/ecs/user-guide/overview-44

The VPC, vSwitch, security group and the zone live in the pool's base stack, created once and
shared by every CI run: a region holds 10 VPCs by default
(https://www.alibabacloud.com/help/en/vpc/product-overview/limits). The image look-up and the
provider are per runner stack.
"""

from __future__ import annotations

import hashlib
import json

import pulumi
import pulumi_alicloud as alicloud

from infra.catalog import alicloud as table
from infra.clouds.common import (
    TAG_POOL,
    BaseArgs,
    RunnerArgs,
    cloud_deadline,
    iso,
    outputs,
    shared,
    user_data_b64,
)
from infra.errors import SpecError
from infra.spec import RunnerSpec

BASE_OUTPUTS = ("vpc_id", "vswitch_id", "security_group_id", "zone")


def spot_strategy(spec: RunnerSpec) -> str:
    """Pay-as-you-go, optionally spot at market price or below a cap:
    https://www.alibabacloud.com/help/en/ecs/user-guide/spot-instances"""
    if not spec.spot:
        return "NoSpot"
    return "SpotAsPriceGo" if spec.max_price is None else "SpotWithPriceLimit"


def zone(spec: RunnerSpec, lookup: pulumi.InvokeOutputOptions) -> pulumi.Input[str]:
    """The zone asked for, or the first one of the region that sells the instance type."""
    if spec.zone:
        return spec.zone
    return alicloud.get_zones_output(
        available_instance_type=spec.machine.instance_type,
        available_resource_creation="VSwitch", opts=lookup).ids.apply(
            lambda ids: first_zone(spec, ids))


def first_zone(spec: RunnerSpec, ids: list[str] | None) -> str:
    if not ids:
        raise SpecError(f"No zone of {spec.region} sells {spec.machine.instance_type} on "
                        "alicloud; choose another region or machine type.")
    return ids[0]


# ECS may assume an instance RAM role:
# https://www.alibabacloud.com/help/en/ecs/user-guide/attach-an-instance-ram-role-to-an-ecs-instance
ECS_TRUST = json.dumps({"Version": "1", "Statement": [{
    "Action": "sts:AssumeRole", "Effect": "Allow",
    "Principal": {"Service": ["ecs.aliyuncs.com"]}}]})
# What the startup script calls to end its machine (infra/startup/templates/cloud_alicloud.sh).
SELF_END_ACTIONS = ["ecs:DeleteInstance", "ecs:StopInstance"]


def self_end_policy(region: str, instance_id: str) -> str:
    """Delete or stop this one instance; resource ARNs:
    https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-deleteinstance
    ("acs:ecs:{#regionId}:{#accountId}:instance/{#InstanceId}")."""
    return json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": SELF_END_ACTIONS,
        "Resource": [f"acs:ecs:{region}:*:instance/{instance_id}"]}]})


def pool_end_policy(region: str, pool: str) -> str:
    """Delete or stop the instances tagged with `pool` (tag condition keys for ECS:
    https://www.alibabacloud.com/help/en/ecs/user-guide/use-tags-to-implement-fine-grained-access-control)."""
    return json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": SELF_END_ACTIONS,
        "Resource": [f"acs:ecs:{region}:*:instance/*"],
        "Condition": {"StringEquals": {f"ecs:tag/{TAG_POOL}": pool}}}]})


def ram_name(stack: str, machine: str) -> str:
    """A RAM role or policy name, unique per stack and machine, within the 64 letters, digits
    and hyphens RAM allows: https://www.alibabacloud.com/help/en/ram/developer-reference/api-ram-2015-05-01-createrole"""
    digest = hashlib.sha256(f"{stack}/{machine}".encode()).hexdigest()[:12]
    return f"cml-infra-{machine[:40]}-{digest}".replace("_", "-")


def provider_for(name: str, spec: RunnerSpec,
                 parent: pulumi.Resource | None = None) -> alicloud.Provider:
    """Alibaba resources take their region from the provider: one per stack and region."""
    return alicloud.Provider(name, region=spec.region,
                             opts=pulumi.ResourceOptions(parent=parent))


class AlicloudBase(pulumi.ComponentResource):
    """What the machines of one pool share: network, security group, and the zone."""

    def __init__(self, name: str, args: BaseArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:clouds:AlicloudBase", name, None, opts)
        spec, tags = args.spec, args.tags
        provider = provider_for(f"{name}-provider", spec, self)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        lookup = pulumi.InvokeOutputOptions(parent=self, provider=provider)
        vpc = alicloud.vpc.Network(f"{name}-vpc", vpc_name=spec.name, cidr_block="10.0.0.0/16",
                                   tags=tags, opts=child)
        where = zone(spec, lookup)
        switch = alicloud.vpc.Switch(f"{name}-vswitch", vswitch_name=spec.name, vpc_id=vpc.id,
                                     cidr_block="10.0.0.0/24", zone_id=where, tags=tags,
                                     opts=child)
        group = alicloud.ecs.SecurityGroup(
            f"{name}-sg", security_group_name=spec.name, vpc_id=vpc.id, tags=tags,
            description=f"cml-infra runner pool {spec.name}: no inbound rules", opts=child)
        self.outputs = {"vpc_id": vpc.id, "vswitch_id": switch.id,
                        "security_group_id": group.id, "zone": where}
        self.register_outputs(self.outputs)


class AlicloudRunner(pulumi.ComponentResource):
    """One runner machine on Alibaba Cloud ECS."""

    instance_id: pulumi.Output[str]
    private_ip: pulumi.Output[str]
    expires_at: pulumi.Output[str]

    def __init__(self, name: str, args: RunnerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:clouds:AlicloudRunner", name, None, opts)
        spec, tags = args.spec, args.tags
        base = args.base
        # Built by the pool's first machine, and its child; machines are removed from the
        # highest index down, so the first one stays while the pool exists.
        provider = shared(("alicloud-provider", args.stack, spec.name),
                          lambda: provider_for(f"{name}-provider", spec, self))
        image: pulumi.Input[str] = spec.image or shared(
            ("alicloud-image", args.stack, spec.name), lambda: alicloud.ecs.get_images_output(
                name_regex=table.IMAGE_NAME_REGEX, owners="system", most_recent=True,
                opts=pulumi.InvokeOutputOptions(provider=provider)).images.apply(
                    lambda found: found[0].id))
        role = spec.identity or self._role(name, args, provider)
        vm = alicloud.ecs.Instance(
            f"{name}-vm", instance_name=name, instance_type=spec.machine.instance_type,
            image_id=image, vswitch_id=base["vswitch_id"],
            security_groups=[base["security_group_id"]],
            instance_charge_type="PostPaid", spot_strategy=spot_strategy(spec),
            spot_price_limit=spec.max_price if spec.spot else None,
            user_data=pulumi.Output.from_input(args.user_data).apply(
                lambda script: user_data_b64("alicloud", script)),
            auto_release_time=iso(cloud_deadline(args.expires_at)),
            system_disk_category="cloud_essd", system_disk_size=spec.disk_size_gb,
            system_disk_encrypted=True,
            # Metadata only in hardened (token) mode, like IMDSv2:
            # https://www.alibabacloud.com/help/en/ecs/user-guide/view-instance-metadata
            http_tokens="required", http_endpoint="enabled",
            # A public address for egress only; the security group admits nothing inbound.
            internet_max_bandwidth_out=10, role_name=role,
            tags=tags, volume_tags=tags,
            opts=pulumi.ResourceOptions(parent=self, provider=provider))
        if spec.identity:
            shared(("alicloud-pool-policy", args.stack, spec.name),
                   lambda: self._pool_may_end_its_machines(name, args, spec.identity or "",
                                                          provider))
        else:
            self._may_end_itself(name, args, vm, role, provider)
        self.instance_id = vm.id
        self.private_ip = vm.private_ip
        self.expires_at = pulumi.Output.from_input(iso(args.expires_at))
        self.register_outputs(outputs(vm.id, vm.private_ip, args.expires_at))

    def _role(self, name: str, args: RunnerArgs, provider: alicloud.Provider) -> pulumi.Output[str]:
        """The machine's own instance RAM role (its policy comes once the instance exists)."""
        role = alicloud.ram.Role(
            f"{name}-role", role_name=ram_name(args.stack, name), force=True,
            assume_role_policy_document=ECS_TRUST,
            description=f"cml-infra runner {name}: may delete or stop its own instance only",
            opts=pulumi.ResourceOptions(parent=self, provider=provider))
        return role.role_name

    def _pool_may_end_its_machines(self, name: str, args: RunnerArgs, role: str,
                                   provider: alicloud.Provider) -> None:
        """One policy on the pool's own role: delete or stop the pool's tagged instances."""
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        policy = alicloud.ram.Policy(
            f"{name}-pool-self-end", policy_name=ram_name(args.stack, args.spec.name),
            force=True, policy_document=pool_end_policy(args.spec.region, args.spec.name),
            description=f"cml-infra pool {args.spec.name}: delete or stop its own instances",
            opts=child)
        alicloud.ram.RolePolicyAttachment(
            f"{name}-pool-self-end", policy_name=policy.policy_name, policy_type="Custom",
            role_name=role, opts=child)

    def _may_end_itself(self, name: str, args: RunnerArgs, vm: alicloud.ecs.Instance,
                        role: pulumi.Input[str], provider: alicloud.Provider) -> None:
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        policy = alicloud.ram.Policy(
            f"{name}-self-end", policy_name=ram_name(args.stack, name), force=True,
            policy_document=vm.id.apply(lambda id: self_end_policy(args.spec.region, id)),
            description=f"cml-infra runner {name}: delete or stop instance {name}", opts=child)
        alicloud.ram.RolePolicyAttachment(
            f"{name}-self-end", policy_name=policy.policy_name, policy_type="Custom",
            role_name=role, opts=child)
