"""AWS: portable sizes, GPU families and regions as native EC2 names.

Instance sizes and GPU counts: https://aws.amazon.com/ec2/instance-types/#Accelerated_Computing
"""

from __future__ import annotations

import re

from infra.catalog import GpuFamily, Machine

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
    # P5, NVIDIA H100: https://aws.amazon.com/ec2/instance-types/p5/ (p5.4xlarge: 1 GPU, in
    # fewer regions than p5.48xlarge: REGION_OFFERS)
    "h100": GpuFamily({1: {"l": "p5.4xlarge"}, 8: {"xl": "p5.48xlarge"}}),
}
# A GPU count a model is not sold with, and the model that has it: none on AWS.
COUNT_ALTERNATIVES: dict[str, str] = {}
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


# The regions that offer each GPU instance type, from SkyPilot's catalog, built from EC2's own
# offerings (DescribeInstanceTypeOfferings and pricing): skypilot-org/skypilot-catalog
# catalogs/v8/aws/vms.csv @ 00148f2af3672e2229b4f7bf8157d5a3f36e3c35. P types from their own
# rows; G families from the rows of the sizes named (the others of a family are taken to be
# offered in the same regions; where one is not, the deploy-time offerings look-up in
# infra/clouds/aws.py says so). Keys: an instance type, else its family.
SOURCE_REGIONS = (  # every region the source lists (r5.large rows): the regions known here
    "af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
    "ca-central-1", "eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
    "eu-west-2", "eu-west-3", "me-central-1", "me-south-1", "us-east-1", "us-east-2",
    "us-west-1", "us-west-2",
)
REGION_OFFERS: dict[str, tuple[str, ...]] = {
    "g4dn": (  # g4dn.xlarge, g4dn.8xlarge, g4dn.metal
        "af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
        "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1",
        "eu-north-1", "eu-south-1", "eu-west-1", "eu-west-2", "eu-west-3", "me-south-1",
        "us-east-1", "us-east-2", "us-west-1", "us-west-2"),
    "g5": (  # g5.2xlarge, g5.24xlarge, g5.48xlarge
        "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-2",
        "ap-southeast-3", "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1",
        "eu-west-2", "me-central-1", "us-east-1", "us-east-2", "us-west-2"),
    "g6": (  # g6.xlarge, g6.8xlarge
        "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-2", "ca-central-1",
        "eu-central-1", "eu-north-1", "eu-south-2", "eu-west-2", "eu-west-3", "me-central-1",
        "us-east-1", "us-east-2", "us-west-2"),
    "g6e": (  # g6e.xlarge, g6e.8xlarge, g6e.12xlarge
        "ap-northeast-1", "ap-northeast-2", "eu-central-1", "eu-north-1", "eu-south-2",
        "us-east-1", "us-east-2", "us-west-2"),
    "p4d.24xlarge": (
        "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-2", "ca-central-1",
        "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "us-east-1", "us-east-2",
        "us-west-2"),
    "p4de.24xlarge": ("ap-northeast-1", "ap-southeast-1", "eu-central-1", "us-east-1",
                      "us-west-2"),
    "p5.48xlarge": (
        "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-2", "ap-southeast-3",
        "ca-central-1", "eu-north-1", "eu-west-2", "us-east-1", "us-east-2", "us-west-1",
        "us-west-2"),
    "p5.4xlarge": ("ap-northeast-1", "ap-south-1", "ap-southeast-2", "ap-southeast-3",
                   "eu-west-2", "us-east-1", "us-east-2", "us-west-2"),
}
KNOWN_REGIONS = SOURCE_REGIONS


def offering_regions(machine: Machine) -> tuple[str, ...] | None:
    """The KNOWN_REGIONS that offer `machine`; None for a type this table does not list."""
    kind = machine.instance_type
    return REGION_OFFERS.get(kind, REGION_OFFERS.get(kind.split(".")[0]))


def zones(region: str, machine: Machine) -> tuple[str, ...]:
    return ()  # the subnet's zone is looked up at deploy time (infra/clouds/aws.py)


def zone_format(region: str) -> tuple[str, str]:
    """An Availability Zone (us-east-1a), Local Zone (us-west-2-lax-1a) or Wavelength Zone
    (us-east-1-wl1-bos-wlz-1) of `region`:
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-regions-availability-zones.html
    https://docs.aws.amazon.com/local-zones/latest/ug/available-local-zones.html
    https://docs.aws.amazon.com/wavelength/latest/developerguide/available-wavelength-zones.html"""
    return rf"{re.escape(region)}([a-z]|-[a-z]+-\d+[a-z]|-wl1-[a-z]+-wlz-\d+)", f"{region}a"


# Instance type names, <family>.<size> (g5.xlarge, p6-b200.48xlarge, m8i.metal-48xl):
# https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html
TYPE_PATTERN = r"[a-z][a-z0-9-]*\.[a-z0-9-]+"
TYPE_EXAMPLE = "g5.xlarge"
