"""Google Cloud: portable sizes, GPU machine types and regions as native Compute Engine names.

GPU machine types and counts: https://cloud.google.com/compute/docs/gpus
"""

from __future__ import annotations

from infra.catalog import GpuFamily

# General purpose, for runners without a GPU: https://cloud.google.com/compute/docs/general-purpose-machines#n2_machines
CPU_SIZES = {"s": "n2-standard-2", "m": "n2-standard-4", "l": "n2-standard-8",
             "xl": "n2-standard-16"}

GPUS = {
    # N1 + attached T4 (1, 2 or 4): https://cloud.google.com/compute/docs/gpus#t4-gpus
    "t4": GpuFamily({
        1: {"s": "n1-standard-4", "m": "n1-standard-8", "l": "n1-standard-16"},
        2: {"m": "n1-standard-16", "l": "n1-standard-32"},
        4: {"l": "n1-standard-32", "xl": "n1-standard-64"},
    }, accelerator="nvidia-tesla-t4"),
    # N1 + attached V100 (1, 2, 4 or 8): https://cloud.google.com/compute/docs/gpus#v100-gpus
    "v100": GpuFamily({
        1: {"s": "n1-standard-4", "m": "n1-standard-8"},
        2: {"m": "n1-standard-16"},
        4: {"l": "n1-standard-32"},
        8: {"xl": "n1-standard-64"},
    }, accelerator="nvidia-tesla-v100"),
    # G2, NVIDIA L4 (built in): https://cloud.google.com/compute/docs/accelerator-optimized-machines#g2-vms
    "l4": GpuFamily({
        1: {"s": "g2-standard-4", "m": "g2-standard-8", "l": "g2-standard-16",
            "xl": "g2-standard-32"},
        2: {"l": "g2-standard-24"},
        4: {"xl": "g2-standard-48"},
        8: {"xl": "g2-standard-96"},
    }),
    # A2 Standard, A100 40 GB: https://cloud.google.com/compute/docs/accelerator-optimized-machines#a2-vms
    "a100": GpuFamily({
        1: {"l": "a2-highgpu-1g"}, 2: {"l": "a2-highgpu-2g"}, 4: {"xl": "a2-highgpu-4g"},
        8: {"xl": "a2-highgpu-8g"}, 16: {"xl": "a2-megagpu-16g"},
    }),
    # A2 Ultra, A100 80 GB (same page)
    "a100-80gb": GpuFamily({
        1: {"l": "a2-ultragpu-1g"}, 2: {"l": "a2-ultragpu-2g"}, 4: {"xl": "a2-ultragpu-4g"},
        8: {"xl": "a2-ultragpu-8g"},
    }),
    # A3 High, H100 80 GB: https://cloud.google.com/compute/docs/accelerator-optimized-machines#a3-vms
    # (the 1, 2 and 4 GPU sizes are sold only as Spot or Flex-start: not offered here)
    "h100": GpuFamily({8: {"xl": "a3-highgpu-8g"}}),
}
DEFAULT_GPU = "t4"
GPUS_EXAMPLE = "n1 with nvidia-tesla-t4, g2, a2"
RETIRED_GPUS = {"k80": "K80 GPUs reached end of support on Compute Engine"}
RETIRED_TYPES: dict[str, str] = {}

# Regions and the zones that sell T4 and L4: https://cloud.google.com/compute/docs/gpus/gpu-regions-zones
REGIONS = {
    "us-east": ("us-east1", "us-east1-c"),
    "us-west": ("us-west1", "us-west1-b"),
    "eu-west": ("europe-west4", "europe-west4-a"),
    "eu-north": ("europe-north1", "europe-north1-a"),
    "ap-southeast": ("asia-southeast1", "asia-southeast1-b"),
}
NATIVE_REGION = r"[a-z]+-[a-z]+\d+"
REGION_EXAMPLE = "us-central1"

# Deep Learning VM images; family names rotate, so `--image` overrides it:
# https://cloud.google.com/deep-learning-vm/docs/images
GPU_IMAGE = "deeplearning-platform-release/common-cu128-ubuntu-2204-nvidia-570"
CPU_IMAGE = "ubuntu-os-cloud/ubuntu-2204-lts"


def default_zone(region: str) -> str:
    # Zone "b" exists in every current region (us-east1 has no zone "a").
    return f"{region}-b"
