"""Alibaba Cloud: one ECS instance per machine, in its pool's VPC behind a security group
without rules.

Kill switch of the cloud's own: `autoReleaseTime` releases the instance at the maximum
runtime: https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-modifyinstanceautoreleasetime
A security group without rules denies all inbound traffic:
https://www.alibabacloud.com/help/en/ecs/user-guide/overview-44

The provider, VPC, vSwitch, security group and the zone and image look-ups are per pool:
a region holds few VPCs by default (https://www.alibabacloud.com/help/en/vpc/product-overview/limits),
the machines of a pool share region, zone and image, and the empty network costs nothing
after its machines are released; it goes with the stack.
"""

from __future__ import annotations

import pulumi
import pulumi_alicloud as alicloud

from infra.catalog import alicloud as table
from infra.clouds.common import RunnerArgs, iso, outputs, pool_name, shared, user_data_b64
from infra.spec import RunnerSpec


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
        available_resource_creation="VSwitch", opts=lookup).ids.apply(lambda ids: ids[0])


class AlicloudPool(pulumi.ComponentResource):
    """What the machines of one pool share: provider, network, security group and image."""

    def __init__(self, spec: RunnerSpec, tags: dict[str, str]) -> None:
        name, prefix = spec.name, pool_name(spec)
        super().__init__("cml-infra:clouds:AlicloudPool", prefix, None, None)
        # Alibaba resources take their region from the provider: one per pool's region.
        self.provider = alicloud.Provider(f"{prefix}-provider", region=spec.region,
                                          opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        lookup = pulumi.InvokeOutputOptions(parent=self, provider=self.provider)
        vpc = alicloud.vpc.Network(f"{prefix}-vpc", vpc_name=name, cidr_block="10.0.0.0/16",
                                   tags=tags, opts=child)
        self.switch = alicloud.vpc.Switch(f"{prefix}-vswitch", vswitch_name=name, vpc_id=vpc.id,
                                          cidr_block="10.0.0.0/24", zone_id=zone(spec, lookup),
                                          tags=tags, opts=child)
        self.group = alicloud.ecs.SecurityGroup(
            f"{prefix}-sg", security_group_name=name, vpc_id=vpc.id, tags=tags,
            description=f"cml-infra runner pool {name}: no inbound rules", opts=child)
        self.image: pulumi.Input[str] = spec.image or alicloud.ecs.get_images_output(
            name_regex=table.IMAGE_NAME_REGEX, owners="system", most_recent=True,
            opts=lookup).images.apply(lambda found: found[0].id)
        self.register_outputs({"vswitch": self.switch.id})


class AlicloudRunner(pulumi.ComponentResource):
    """One runner machine on Alibaba Cloud ECS."""

    instance_id: pulumi.Output[str]
    private_ip: pulumi.Output[str]
    expires_at: pulumi.Output[str]

    def __init__(self, name: str, args: RunnerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:clouds:AlicloudRunner", name, None, opts)
        spec, tags = args.spec, args.tags
        pool = shared(("alicloud", args.stack, spec.name), lambda: AlicloudPool(spec, tags))
        vm = alicloud.ecs.Instance(
            f"{name}-vm", instance_name=name, instance_type=spec.machine.instance_type,
            image_id=pool.image, vswitch_id=pool.switch.id, security_groups=[pool.group.id],
            instance_charge_type="PostPaid", spot_strategy=spot_strategy(spec),
            spot_price_limit=spec.max_price if spec.spot else None,
            user_data=pulumi.Output.from_input(args.user_data).apply(
                lambda script: user_data_b64("alicloud", script)),
            auto_release_time=iso(args.expires_at),
            system_disk_category="cloud_essd", system_disk_size=spec.disk_size_gb,
            system_disk_encrypted=True,
            # Metadata only in hardened (token) mode, like IMDSv2:
            # https://www.alibabacloud.com/help/en/ecs/user-guide/view-instance-metadata
            http_tokens="required", http_endpoint="enabled",
            # A public address for egress only; the security group admits nothing inbound.
            internet_max_bandwidth_out=10, role_name=spec.identity,
            tags=tags, volume_tags=tags,
            opts=pulumi.ResourceOptions(parent=self, provider=pool.provider))
        self.instance_id = vm.id
        self.private_ip = vm.private_ip
        self.expires_at = pulumi.Output.from_input(iso(args.expires_at))
        self.register_outputs(outputs(vm.id, vm.private_ip, args.expires_at))
