"""Alibaba Cloud: portable sizes, GPU instance types and regions as native ECS names.

GPU instance families: https://www.alibabacloud.com/help/en/ecs/user-guide/gpu-accelerated-compute-optimized-and-vgpu-accelerated-instance-families-1
"""

from __future__ import annotations

from infra.catalog import GpuFamily

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
RETIRED_GPUS = {"k80": "the gn4 family is retired"}
RETIRED_TYPES = {  # patterns, matched in full
    r"ecs\.gn4-.+": "M40, retired", r"ecs\.gn5-.+": "P100, previous generation"}

# Regions and zones: https://www.alibabacloud.com/help/en/ecs/regions-and-zones
REGIONS = {
    "us-east": ("us-east-1", "us-east-1a"),
    "us-west": ("us-west-1", "us-west-1a"),
    "eu-west": ("eu-west-1", "eu-west-1a"),
    "ap-southeast": ("ap-southeast-1", "ap-southeast-1a"),
}
NATIVE_REGION = r"[a-z]{2}-[a-z]+(-\d+)?"
REGION_EXAMPLE = "cn-hangzhou"

# Public Ubuntu 22.04 image, resolved at deploy time; the NVIDIA driver is installed by the
# startup script's extra commands (ubuntu-drivers): https://www.alibabacloud.com/help/en/egs/user-guide/install-a-gpu-driver-on-a-gpu-accelerated-compute-optimized-linux-instance
IMAGE_NAME_REGEX = "^ubuntu_22_04_x64"
DRIVER_COMMANDS = (
    "command -v nvidia-smi >/dev/null || (apt-get update -q && "
    "DEBIAN_FRONTEND=noninteractive ubuntu-drivers install --gpgpu)",
)


def default_zone(region: str) -> None:
    return None  # looked up at deploy time: the first zone selling the instance type
