"""Azure: portable sizes, GPU VM sizes and regions as native names.

GPU sizes: https://learn.microsoft.com/azure/virtual-machines/sizes/overview#gpu-accelerated
"""

from __future__ import annotations

from infra.catalog import GpuFamily, Machine

# General purpose, for runners without a GPU: https://learn.microsoft.com/azure/virtual-machines/sizes/general-purpose/dsv5-series
CPU_SIZES = {"s": "Standard_D2s_v5", "m": "Standard_D4s_v5", "l": "Standard_D8s_v5",
             "xl": "Standard_D16s_v5"}

GPUS = {
    # NCasT4_v3: https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/ncast4v3-series
    "t4": GpuFamily({
        1: {"s": "Standard_NC4as_T4_v3", "m": "Standard_NC8as_T4_v3",
            "l": "Standard_NC16as_T4_v3"},
        4: {"xl": "Standard_NC64as_T4_v3"},
    }),
    # NVadsA10_v5, full-GPU sizes only; the driver extension installs GRID for this family:
    # https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/nvadsa10v5-series
    "a10": GpuFamily({1: {"l": "Standard_NV36ads_A10_v5"}, 2: {"xl": "Standard_NV72ads_A10_v5"}},
                     driver="grid"),
    # ND A100 v4, A100 40 GB, 8 GPUs only: https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/nda100v4-series
    "a100": GpuFamily({8: {"xl": "Standard_ND96asr_v4"}}),
    # NC A100 v4 (A100 80 GB PCIe): https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/nca100v4-series
    # and NDm A100 v4: https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/ndma100v4-series
    "a100-80gb": GpuFamily({
        1: {"l": "Standard_NC24ads_A100_v4"}, 2: {"xl": "Standard_NC48ads_A100_v4"},
        4: {"xl": "Standard_NC96ads_A100_v4"}, 8: {"xl": "Standard_ND96amsr_A100_v4"},
    }),
    # NCads H100 v5: https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/nccadsh100v5-series
    # and ND H100 v5: https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/ndh100v5-series
    "h100": GpuFamily({
        1: {"l": "Standard_NC40ads_H100_v5"}, 2: {"xl": "Standard_NC80adis_H100_v5"},
        8: {"xl": "Standard_ND96isr_H100_v5"},
    }),
}
DEFAULT_GPU = "t4"
GPUS_EXAMPLE = "NCasT4_v3, NC A100 v4"
# A GPU count a model is not sold with, and the model that has it: one A100 on Azure is the
# 80 GB NC24ads_A100_v4: https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/nca100v4-series
COUNT_ALTERNATIVES = {"a100": "a100-80gb"}
# NC (K80) retired 2023, NCv3 (V100) retired 30 September 2025:
# https://learn.microsoft.com/azure/virtual-machines/ncv3-nc6s-nc12s-nc24s-retirement
RETIRED_GPUS = {"k80": "the NC family is retired", "v100": "NCv3 was retired in September 2025"}
RETIRED_TYPES = {  # patterns, matched in full
    r"Standard_NC(6|12|24|24r)s_v3": "V100, NCv3",
    r"Standard_NC(6|12|24|24r)(_Promo)?": "K80, NC",
}

# Regions: https://learn.microsoft.com/azure/reliability/regions-list
REGIONS = {
    "us-east": ("eastus", None),
    "us-west": ("westus2", None),
    "eu-west": ("westeurope", None),
    "eu-north": ("swedencentral", None),
    "ap-southeast": ("southeastasia", None),
}
NATIVE_REGION = r"[a-z]+[a-z0-9]*"
REGION_EXAMPLE = "eastus"

# Canonical Ubuntu 22.04, Gen2: CPU machines, and GRID sizes (NVadsA10_v5), whose driver comes
# from the NvidiaGpuDriverLinux extension after the VM exists (it may reboot the VM):
# https://learn.microsoft.com/azure/virtual-machines/extensions/hpccompute-gpu-linux
IMAGE = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
         "sku": "22_04-lts-gen2", "version": "latest"}
# CUDA sizes (NCasT4_v3, NC/ND A100 v4, NC/ND H100 v5): Microsoft's Ubuntu-HPC 22.04 image, Gen2,
# which ships the NVIDIA data-center driver, CUDA, NCCL and Fabric Manager (for ND), so the
# driver is there at first boot and no extension is needed:
# https://github.com/Azure/azhpc-images (README: microsoft-dsvm:ubuntu-hpc:2204:latest) and
# https://github.com/Azure/azhpc-images/blob/master/ubuntu/ubuntu-22.x/ubuntu-22.04-hpc/README.md
# ("GPU Drivers - Nvidia GPU Driver"). It carries no GRID driver, hence IMAGE for NVadsA10_v5.
CUDA_IMAGE = {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc", "sku": "2204",
              "version": "latest"}


def image_for(driver: str | None) -> dict[str, str]:
    """The image of a machine: the driver-ready HPC image for CUDA GPUs, else plain Ubuntu."""
    return CUDA_IMAGE if driver == "cuda" else IMAGE


def needs_driver_extension(driver: str | None) -> bool:
    """Only GRID sizes get the driver from the extension; the CUDA image has it built in."""
    return driver == "grid"


# Per-region offerings: no sourced table here; a size a region does not sell fails at deploy
# time with Azure's own SkuNotAvailable error.
KNOWN_REGIONS: tuple[str, ...] = ()


def offering_regions(machine: Machine) -> tuple[str, ...] | None:
    return None


def zones(region: str, machine: Machine) -> tuple[str, ...]:
    return ()


def zone_format(region: str) -> None:
    return None  # the VM is placed by region: infra/clouds/azure.py sets no zone


# VM size names, Standard_<family><vCPUs><features>_<version>, in any case (Azure compares
# size names without case): https://learn.microsoft.com/azure/virtual-machines/vm-naming-conventions
TYPE_PATTERN = r"(?i)Standard_[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*"
TYPE_EXAMPLE = "Standard_NC4as_T4_v3"
