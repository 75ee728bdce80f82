"""Google Cloud: portable sizes, GPU machine types and regions as native Compute Engine names.

GPU machine types and counts: https://cloud.google.com/compute/docs/gpus
"""

from __future__ import annotations

import re

from infra.catalog import GpuFamily, Machine

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

# Regions: https://cloud.google.com/compute/docs/regions-zones ; the zone comes from ZONES.
REGIONS = {
    "us-east": ("us-east1", None),
    "us-west": ("us-west1", None),
    "eu-west": ("europe-west4", None),
    "eu-north": ("europe-north1", None),
    "ap-southeast": ("asia-southeast1", None),
}
NATIVE_REGION = r"[a-z]+-[a-z]+\d+"
REGION_EXAMPLE = "us-central1"

# Deep Learning VM images; family names rotate, so `--image` overrides it:
# https://cloud.google.com/deep-learning-vm/docs/images
GPU_IMAGE = "deeplearning-platform-release/common-cu128-ubuntu-2204-nvidia-570"
CPU_IMAGE = "ubuntu-os-cloud/ubuntu-2204-lts"


# The zones of each portable region's native region that sell each GPU, in preference order
# (the zone used before zones followed the GPU first, so existing pool bases keep their zone,
# then by name). Keys: the accelerator attached to N1, the built-in-GPU machine series, and
# CPU_ZONES_KEY for machines without a GPU (every zone of the region). A series a region sells
# in no zone is absent. Source: SkyPilot's catalog, built from Compute Engine's own listings,
# skypilot-org/skypilot-catalog catalogs/v8/gcp/vms.csv
# @ 006059e0f18acb1341e22a27751e9f80df6ba92f: accelerator rows T4 and V100 (counts 1-8) for
# N1, machine rows g2-standard-4..96, a2-highgpu-1g..8g, a2-megagpu-16g, a2-ultragpu-1g..8g,
# a3-highgpu-1g..8g, and n2-standard-96 for the zones of a region.
# https://cloud.google.com/compute/docs/gpus/gpu-regions-zones lists the same per zone.
CPU_ZONES_KEY = "n2-standard"
ZONES: dict[str, dict[str, tuple[str, ...]]] = {
    "us-east1": {
        CPU_ZONES_KEY: ("us-east1-c", "us-east1-b", "us-east1-d"),
        "nvidia-tesla-t4": ("us-east1-c", "us-east1-b", "us-east1-d"),
        "nvidia-tesla-v100": ("us-east1-c", "us-east1-b"),
        "g2-standard": ("us-east1-c", "us-east1-b", "us-east1-d"),
        "a2-highgpu": ("us-east1-b",),
    },
    "us-west1": {
        CPU_ZONES_KEY: ("us-west1-b", "us-west1-a", "us-west1-c"),
        "nvidia-tesla-t4": ("us-west1-b", "us-west1-a"),
        "nvidia-tesla-v100": ("us-west1-b", "us-west1-a"),
        "g2-standard": ("us-west1-b", "us-west1-a", "us-west1-c"),
        "a2-highgpu": ("us-west1-b",),
        "a3-highgpu": ("us-west1-b", "us-west1-a"),
    },
    "europe-west4": {
        CPU_ZONES_KEY: ("europe-west4-a", "europe-west4-b", "europe-west4-c"),
        "nvidia-tesla-t4": ("europe-west4-a", "europe-west4-b", "europe-west4-c"),
        "nvidia-tesla-v100": ("europe-west4-a", "europe-west4-b", "europe-west4-c"),
        "g2-standard": ("europe-west4-a", "europe-west4-b", "europe-west4-c"),
        "a2-highgpu": ("europe-west4-a", "europe-west4-b"),
        "a2-megagpu": ("europe-west4-a", "europe-west4-b"),
        "a2-ultragpu": ("europe-west4-a",),
        "a3-highgpu": ("europe-west4-b", "europe-west4-c"),
    },
    "europe-north1": {
        CPU_ZONES_KEY: ("europe-north1-a", "europe-north1-b", "europe-north1-c"),
        "a3-highgpu": ("europe-north1-c",),
    },
    "asia-southeast1": {
        CPU_ZONES_KEY: ("asia-southeast1-b", "asia-southeast1-a", "asia-southeast1-c"),
        "nvidia-tesla-t4": ("asia-southeast1-b", "asia-southeast1-a", "asia-southeast1-c"),
        "g2-standard": ("asia-southeast1-b", "asia-southeast1-a", "asia-southeast1-c"),
        "a2-highgpu": ("asia-southeast1-b", "asia-southeast1-a", "asia-southeast1-c"),
        "a2-megagpu": ("asia-southeast1-a", "asia-southeast1-c"),
        "a2-ultragpu": ("asia-southeast1-c",),
        "a3-highgpu": ("asia-southeast1-b", "asia-southeast1-c"),
    },
}
KNOWN_REGIONS = tuple(ZONES)
# Accelerator-optimized series (built-in GPUs); one not in ZONES has unknown zones offline:
# https://cloud.google.com/compute/docs/accelerator-optimized-machines
GPU_SERIES = r"(a\d+x?|g\d+)-.+"


def _zone_key(machine: Machine) -> str | None:
    """The ZONES key of a machine: its attached accelerator, its GPU series, or CPU_ZONES_KEY
    for a machine without GPUs; None for a GPU series this catalog does not list."""
    if machine.accelerator:
        return machine.accelerator
    series = machine.instance_type.rsplit("-", 1)[0]
    if any(series in by_key for by_key in ZONES.values()):
        return series
    return None if re.fullmatch(GPU_SERIES, machine.instance_type) else CPU_ZONES_KEY


def offering_regions(machine: Machine) -> tuple[str, ...] | None:
    """The KNOWN_REGIONS that sell `machine` in some zone; None when the catalog cannot tell."""
    key = _zone_key(machine)
    return None if key is None else tuple(r for r, by_key in ZONES.items() if key in by_key)


def zones(region: str, machine: Machine) -> tuple[str, ...]:
    """The zones of `region` that sell `machine`, preferred first; () when unknown offline."""
    key = _zone_key(machine)
    return ZONES.get(region, {}).get(key, ()) if key else ()


def zone_format(region: str) -> tuple[str, str]:
    """A zone of `region` (pattern, example): https://cloud.google.com/compute/docs/regions-zones"""
    return rf"{re.escape(region)}-[a-z]", f"{region}-b"


# Machine type names: predefined <series>-<type>-<vCPUs>[-<suffix>] and custom-<vCPUs>-<MB>:
# https://cloud.google.com/compute/docs/machine-resource and
# https://cloud.google.com/compute/docs/instances/creating-instance-with-custom-machine-type
TYPE_PATTERN = r"[a-z][a-z0-9]*(-[a-z0-9]+)+"
TYPE_EXAMPLE = "n1-standard-8"
# A GPU count the model is not sold with, and the model that has it: none on GCP.
COUNT_ALTERNATIVES: dict[str, str] = {}
