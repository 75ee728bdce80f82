"""AWS: one EC2 instance per machine, behind its pool's security group that admits nothing.

Kill switches: instance-initiated shutdown terminates it, and the startup script schedules
that shutdown at the maximum runtime. https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/terminating-instances.html
The security group and the AMI look-up are per pool: every machine of a pool runs the same
image in the same region, and an empty security group costs nothing after its machines end;
it goes with the stack.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.catalog import aws as table
from infra.clouds.common import RunnerArgs, iso, outputs, pool_name, shared, user_data_b64
from infra.spec import RunnerSpec


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


class AwsPool(pulumi.ComponentResource):
    """What the machines of one pool share: the security group and the image."""

    def __init__(self, spec: RunnerSpec, tags: dict[str, str]) -> None:
        super().__init__("cml-infra:clouds:AwsPool", pool_name(spec), None, None)
        self.group = aws.ec2.SecurityGroup(
            f"{pool_name(spec)}-sg", region=spec.region,
            description=f"cml-infra runner pool {spec.name}: no inbound traffic",
            ingress=[], egress=[{"protocol": "-1", "from_port": 0, "to_port": 0,
                                 "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": ["::/0"]}],
            tags=tags, opts=pulumi.ResourceOptions(parent=self))
        self.ami: pulumi.Input[str] = spec.image if spec.image and spec.image.startswith("ami-") \
            else aws.ssm.get_parameter_output(name=image_parameter(spec), region=spec.region,
                                              opts=pulumi.InvokeOutputOptions(parent=self)).value
        self.register_outputs({"security_group": self.group.id})


class AwsRunner(pulumi.ComponentResource):
    """One runner machine on EC2."""

    instance_id: pulumi.Output[str]
    private_ip: pulumi.Output[str]
    expires_at: pulumi.Output[str]

    def __init__(self, name: str, args: RunnerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:clouds:AwsRunner", name, None, opts)
        spec, tags = args.spec, args.tags
        pool = shared(("aws", args.stack, spec.name), lambda: AwsPool(spec, tags))
        vm = aws.ec2.Instance(
            f"{name}-vm", region=spec.region, ami=pool.ami,
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
            vpc_security_group_ids=[pool.group.id], iam_instance_profile=spec.identity,
            instance_market_options=market_options(spec), tags=tags, volume_tags=tags,
            opts=pulumi.ResourceOptions(parent=self))
        self.instance_id = vm.id
        self.private_ip = vm.private_ip
        self.expires_at = pulumi.Output.from_input(iso(args.expires_at))
        self.register_outputs(outputs(vm.id, vm.private_ip, args.expires_at))
