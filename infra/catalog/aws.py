"""AWS: portable sizes, GPU families and regions as native EC2 names.

Instance sizes and GPU counts: https://aws.amazon.com/ec2/instance-types/#Accelerated_Computing
"""

from __future__ import annotations

from infra.catalog import GpuFamily

# General purpose, for runners without a GPU: https://aws.amazon.com/ec2/instance-types/m6i/
CPU_SIZES = {"s": "m6i.large", "m": "m6i.xlarge", "l": "m6i.2xlarge", "xl": "m6i.4xlarge"}

GPUS = {
    # G4dn, NVIDIA T4: https://aws.amazon.com/ec2/instance-types/g4/
    "t4": GpuFamily({
        1: {"s": "g4dn.xlarge", "m": "g4dn.2xlarge", "l": "g4dn.4xlarge", "xl": "g4dn.8xlarge"},
        4: {"l": "g4dn.12xlarge"},
        8: {"xl": "g4dn.metal"},
    }),
    # G5, NVIDIA A10G: https://aws.amazon.com/ec2/instance-types/g5/
    "a10g": GpuFamily({
        1: {"s": "g5.xlarge", "m": "g5.2xlarge", "l": "g5.4xlarge", "xl": "g5.8xlarge"},
        4: {"l": "g5.12xlarge", "xl": "g5.24xlarge"},
        8: {"xl": "g5.48xlarge"},
    }),
    # G6, NVIDIA L4: https://aws.amazon.com/ec2/instance-types/g6/
    "l4": GpuFamily({
        1: {"s": "g6.xlarge", "m": "g6.2xlarge", "l": "g6.4xlarge", "xl": "g6.8xlarge"},
        4: {"l": "g6.12xlarge", "xl": "g6.24xlarge"},
        8: {"xl": "g6.48xlarge"},
    }),
    # G6e, NVIDIA L40S: https://aws.amazon.com/ec2/instance-types/g6e/
    "l40s": GpuFamily({
        1: {"s": "g6e.xlarge", "m": "g6e.2xlarge", "l": "g6e.4xlarge", "xl": "g6e.8xlarge"},
        4: {"l": "g6e.12xlarge", "xl": "g6e.24xlarge"},
        8: {"xl": "g6e.48xlarge"},
    }),
    # P4d (A100 40 GB) and P4de (A100 80 GB), 8 GPUs only: https://aws.amazon.com/ec2/instance-types/p4/
    "a100": GpuFamily({8: {"xl": "p4d.24xlarge"}}),
    "a100-80gb": GpuFamily({8: {"xl": "p4de.24xlarge"}}),
    # P5, NVIDIA H100: https://aws.amazon.com/ec2/instance-types/p5/ (p5.4xlarge: 1 GPU, verify
    # regional availability)
    "h100": GpuFamily({1: {"l": "p5.4xlarge"}, 8: {"xl": "p5.48xlarge"}}),
}
# V100 (P3) is not offered: the Deep Learning Base AMIs list G4dn, G5, G6, Gr6, G6e, P4d, P4de
# and P5 as supported instances, not P3.
# https://docs.aws.amazon.com/dlami/latest/devguide/appendix-ami-release-notes.html
DEFAULT_GPU = "t4"
GPUS_EXAMPLE = "g4dn, g5, g6, g6e"
RETIRED_GPUS = {
    "k80": "the P2 family is retired",
    "v100": "the current Deep Learning AMIs do not support P3",
}
# K80 instances: https://aws.amazon.com/ec2/previous-generation/
RETIRED_TYPES = {r"p2\..+": "K80, previous generation"}  # patterns, matched in full

# Regions: https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html
REGIONS = {
    "us-east": ("us-east-1", None),
    "us-west": ("us-west-2", None),
    "eu-west": ("eu-west-1", None),
    "eu-north": ("eu-north-1", None),
    "ap-southeast": ("ap-southeast-1", None),
}
NATIVE_REGION = r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d"
REGION_EXAMPLE = "us-east-1"

# Deep Learning Base OSS NVIDIA Driver AMI, resolved from its public SSM parameter:
# https://docs.aws.amazon.com/dlami/latest/devguide/find-dlami-id.html
GPU_IMAGE = ("/aws/service/deeplearning/ami/x86_64/"
             "base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id")
# Canonical's public SSM parameters: https://documentation.ubuntu.com/aws/aws-how-to/instances/find-ubuntu-images/
CPU_IMAGE = "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"


def default_zone(region: str) -> str | None:
    return None  # EC2 picks a subnet of the default VPC
