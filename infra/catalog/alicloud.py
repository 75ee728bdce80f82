"""Alibaba Cloud: portable sizes, GPU instance types and regions as native ECS names.

No zone is fixed here, for portable and native regions alike: the deploy-time look-up in
infra/clouds/alicloud.py takes the first zone of the region that sells the instance type.

GPU instance families: https://www.alibabacloud.com/help/en/ecs/user-guide/gpu-accelerated-compute-optimized-and-vgpu-accelerated-instance-families-1
"""

from __future__ import annotations

import re

from infra.catalog import GpuFamily, Machine

# General purpose g7, for runners without a GPU: https://www.alibabacloud.com/help/en/ecs/user-guide/general-purpose-instance-families
CPU_SIZES = {"s": "ecs.g7.large", "m": "ecs.g7.xlarge", "l": "ecs.g7.2xlarge",
             "xl": "ecs.g7.4xlarge"}

GPUS = {
    # gn6i, NVIDIA T4 (same page, section gn6i)
    "t4": GpuFamily({
        1: {"s": "ecs.gn6i-c4g1.xlarge", "m": "ecs.gn6i-c8g1.2xlarge",
            "l": "ecs.gn6i-c16g1.4xlarge", "xl": "ecs.gn6i-c24g1.6xlarge"},
        2: {"xl": "ecs.gn6i-c24g1.12xlarge"},
        4: {"xl": "ecs.gn6i-c24g1.24xlarge"},
    }),
    # gn7i, NVIDIA A10 (section gn7i)
    "a10": GpuFamily({
        1: {"m": "ecs.gn7i-c8g1.2xlarge", "l": "ecs.gn7i-c16g1.4xlarge",
            "xl": "ecs.gn7i-c32g1.8xlarge"},
        2: {"xl": "ecs.gn7i-c32g1.16xlarge"},
        4: {"xl": "ecs.gn7i-c32g1.32xlarge"},
    }),
    # gn6v, NVIDIA V100 (section gn6v)
    "v100": GpuFamily({
        1: {"m": "ecs.gn6v-c8g1.2xlarge"},
        4: {"l": "ecs.gn6v-c8g1.8xlarge"},
        8: {"xl": "ecs.gn6v-c8g1.16xlarge"},
    }),
}
# A100 (gn7/gn7e), L20/L40S (gn8is) and H-series families are sold in few regions and on
# request: pass their native type with --type.
DEFAULT_GPU = "t4"
GPUS_EXAMPLE = "ecs.gn6i, ecs.gn7i"
# A GPU count a model is not sold with, and the model that has it: none on Alibaba.
COUNT_ALTERNATIVES: dict[str, str] = {}
RETIRED_GPUS = {"k80": "the gn4 family is retired"}
RETIRED_TYPES = {  # patterns, matched in full
    r"ecs\.gn4-.+": "M40, retired", r"ecs\.gn5-.+": "P100, previous generation"}

# Regions and zones: https://www.alibabacloud.com/help/en/ecs/regions-and-zones
REGIONS = {
    "us-east": ("us-east-1", None),
    "us-west": ("us-west-1", None),
    "eu-west": ("eu-west-1", None),
    "ap-southeast": ("ap-southeast-1", None),
}
NATIVE_REGION = r"[a-z]{2}-[a-z]+(-\d+)?"
REGION_EXAMPLE = "cn-hangzhou"

# Public Ubuntu 22.04 image, resolved at deploy time; the NVIDIA driver is installed by the
# startup script's extra commands (ubuntu-drivers): https://www.alibabacloud.com/help/en/egs/user-guide/install-a-gpu-driver-on-a-gpu-accelerated-compute-optimized-linux-instance
IMAGE_NAME_REGEX = "^ubuntu_22_04_x64"
DRIVER_COMMANDS = (
    # `ubuntu-drivers install --gpgpu` installs the headless server driver only
    # (nvidia-headless-no-dkms-<flavour> and its kernel modules, no nvidia-smi): Ubuntu's
    # server guide adds `apt install nvidia-utils-<flavour>` after it
    # (https://documentation.ubuntu.com/server/how-to/graphics/install-nvidia-drivers/).
    # --package-list names the packages it chose, so the utilities match that flavour
    # (e.g. 535-server); canonical/ubuntu-drivers-common at d3d7856, ubuntu-drivers
    # install_gpgpu and UbuntuDrivers/detect.py _build_installation_list:
    # https://github.com/canonical/ubuntu-drivers-common/blob/d3d785609b864f39ddce16098c9a64f3ff79057e/UbuntuDrivers/detect.py#L1377-L1391
    "command -v nvidia-smi >/dev/null || (export DEBIAN_FRONTEND=noninteractive && "
    "chosen=$(mktemp) && apt-get update -q && "
    "ubuntu-drivers install --gpgpu --package-list \"$chosen\" && "
    "flavour=$(sed -n 's/^nvidia-headless-no-dkms-//p' \"$chosen\" | head -n 1) && "
    "[ -n \"$flavour\" ] && apt-get install -y -q --no-install-recommends "
    "\"nvidia-utils-$flavour\")",
)


# Per-region and per-zone offerings: no sourced table here; the deploy-time zone look-up
# refuses a region with no zone that sells the type.
KNOWN_REGIONS: tuple[str, ...] = ()


def offering_regions(machine: Machine) -> tuple[str, ...] | None:
    return None


def zones(region: str, machine: Machine) -> tuple[str, ...]:
    return ()  # looked up at deploy time: the first zone selling the instance type


def zone_format(region: str) -> tuple[str, str]:
    """A zone of `region`: a letter after a region ending in a digit (ap-southeast-1a), else a
    hyphen and a letter (cn-hangzhou-h): https://www.alibabacloud.com/help/en/ecs/product-overview/regions-and-zones"""
    joint = "" if region[-1].isdigit() else "-"
    return rf"{re.escape(region)}{joint}[a-z]", f"{region}{joint}a"


# Instance type names, ecs.<family>.<size> (ecs.gn6i-c4g1.xlarge):
# https://www.alibabacloud.com/help/en/ecs/user-guide/instance-family
TYPE_PATTERN = r"ecs\.[a-z0-9-]+\.[a-z0-9-]+"
TYPE_EXAMPLE = "ecs.gn6i-c4g1.xlarge"
