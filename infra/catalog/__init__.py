"""The portable vocabulary (sizes, GPU models, regions) and each cloud's native names.

One literal table per cloud lives in a sibling module (`aws.py`, `gcp.py`, `azure.py`,
`alicloud.py`); this module only looks things up in them. Native names pass through
unchanged (`table.get(value, value)`), except retired families, which are refused.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType

from infra.errors import SpecError

CLOUDS = ("aws", "gcp", "azure", "alicloud")
SIZES = ("s", "m", "l", "xl")
GPU_MODELS = ("t4", "a10g", "a10", "l4", "l40s", "v100", "a100", "a100-80gb", "h100")
PORTABLE_REGIONS = ("us-east", "us-west", "eu-west", "eu-north", "ap-southeast")
# AWS sells the A10G, the other clouds the A10: one portable model under two names.
GPU_ALIASES = {"a10": "a10g", "a10g": "a10"}


@dataclass(frozen=True)
class GpuFamily:
    """GPU count -> portable size -> native machine type, for one GPU model on one cloud."""

    counts: Mapping[int, Mapping[str, str]]
    accelerator: str | None = None
    """GCP N1 only: the accelerator type attached to a general-purpose machine."""
    driver: str = "cuda"
    """Azure: which driver the NvidiaGpuDriverLinux extension installs (cuda or grid)."""


@dataclass(frozen=True)
class Machine:
    """A resolved machine: the native type and, if any, its GPUs."""

    instance_type: str
    gpu_model: str | None = None
    gpu_count: int = 0
    accelerator: str | None = None
    driver: str = "cuda"


@dataclass(frozen=True)
class Placement:
    region: str
    zone: str | None = field(default=None)


def table(cloud: str) -> ModuleType:
    """The catalog module of `cloud` (already validated by the caller)."""
    return importlib.import_module(f"infra.catalog.{cloud}")


def _choices(values) -> str:
    return ", ".join(str(v) for v in values)


def canonical_gpu(cloud: str, model: str) -> str:
    """The key under which `cloud` lists `model`, or a SpecError naming the valid ones."""
    gpus = table(cloud).GPUS
    model = model.lower()
    if model in gpus:
        return model
    if GPU_ALIASES.get(model) in gpus:
        return GPU_ALIASES[model]
    retired = table(cloud).RETIRED_GPUS.get(model)
    if retired:
        raise SpecError(f"GPU model {model} is retired on {cloud} ({retired}); "
                        f"choose one of: {_choices(gpus)}.")
    raise SpecError(f"GPU model {model} is not offered on {cloud}; choose one of: "
                    f"{_choices(gpus)}.")


def resolve_machine(cloud: str, size: str | None, gpu_model: str | None,
                    gpu_count: int) -> Machine:
    """The native machine for a portable size and GPU, or a native type passed through."""
    if size and size not in SIZES:
        return native_machine(cloud, size, gpu_model, gpu_count)
    if gpu_model is None:
        return Machine(table(cloud).CPU_SIZES[size or "m"])
    model = canonical_gpu(cloud, gpu_model)
    family: GpuFamily = table(cloud).GPUS[model]
    if gpu_count not in family.counts:
        raise SpecError(f"{model} is sold on {cloud} with {_choices(family.counts)} GPUs per "
                        f"machine, not {gpu_count}; choose one of those GPU counts.")
    by_size = family.counts[gpu_count]
    chosen = size or next(iter(by_size))
    if chosen not in by_size:
        raise SpecError(f"Size {chosen} has no {gpu_count}x {model} variant on {cloud}; "
                        f"choose a size from: {_choices(by_size)}.")
    return Machine(by_size[chosen], model, gpu_count, family.accelerator, family.driver)


def native_machine(cloud: str, instance_type: str, gpu_model: str | None,
                   gpu_count: int) -> Machine:
    """A native type: refused if retired, else described from the table when listed there."""
    for pattern, reason in table(cloud).RETIRED_TYPES.items():
        if re.fullmatch(pattern, instance_type, flags=re.IGNORECASE):
            raise SpecError(f"Machine type {instance_type} is retired ({reason}); "
                            f"use a current family such as {table(cloud).GPUS_EXAMPLE}.")
    for model, family in table(cloud).GPUS.items():
        for count, by_size in family.counts.items():
            if instance_type in by_size.values():
                return Machine(instance_type, model, count, family.accelerator, family.driver)
    if gpu_model is None:
        return Machine(instance_type)
    accelerator = None
    family = table(cloud).GPUS.get(canonical_gpu(cloud, gpu_model))
    if family is not None:
        accelerator = family.accelerator
    return Machine(instance_type, canonical_gpu(cloud, gpu_model), gpu_count, accelerator)


def resolve_region(cloud: str, region: str, zone: str | None = None) -> Placement:
    """A portable region mapped to the cloud's, or a native region name passed through."""
    regions: Mapping[str, tuple[str, str | None]] = table(cloud).REGIONS
    if region in regions:
        native, default_zone = regions[region]
        return Placement(native, zone or default_zone)
    if region in PORTABLE_REGIONS:
        raise SpecError(f"Region {region} is not offered on {cloud}; choose one of: "
                        f"{_choices(regions)} or a native {cloud} region.")
    if not re.fullmatch(table(cloud).NATIVE_REGION, region):
        raise SpecError(f"Unknown region {region} for {cloud}; use a portable region "
                        f"({_choices(regions)}) or a native one such as "
                        f"{table(cloud).REGION_EXAMPLE}.")
    return Placement(region, zone or table(cloud).default_zone(region))
