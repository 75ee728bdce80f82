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
                    gpu_count: int | None) -> Machine:
    """The native machine for a portable size and GPU, or a native type passed through.
    `gpu_count` None means "not asked": the fewest GPUs the model is sold with (in `size`, if
    given), or what a native type comes with."""
    if size and size not in SIZES:
        return native_machine(cloud, size, gpu_model, gpu_count)
    if gpu_model is None:
        return Machine(table(cloud).CPU_SIZES[size or "m"])
    model = canonical_gpu(cloud, gpu_model)
    family: GpuFamily = table(cloud).GPUS[model]
    count = gpu_count or _smallest_count(family, size)
    if count not in family.counts:
        _refuse_count(cloud, model, count)
    by_size = family.counts[count]
    chosen = size or next(iter(by_size))
    if chosen not in by_size:
        raise SpecError(f"Size {chosen} has no {count}x {model} variant on {cloud}; "
                        f"choose a size from: {_choices(by_size)}.")
    return Machine(by_size[chosen], model, count, family.accelerator, family.driver)


def _smallest_count(family: GpuFamily, size: str | None) -> int:
    """The fewest GPUs per machine `family` is sold with, in `size` if any count has it."""
    return min((n for n, by_size in family.counts.items() if size in by_size),
               default=min(family.counts))


def _refuse_count(cloud: str, model: str, count: int) -> None:
    """A count `model` is not sold with; the catalog may name a model that has it."""
    counts = table(cloud).GPUS[model].counts
    other = table(cloud).COUNT_ALTERNATIVES.get(model)
    if other and count in table(cloud).GPUS[other].counts:
        offer = next(iter(table(cloud).GPUS[other].counts[count].values()))
        raise SpecError(f"{model} is sold on {cloud} with {_choices(counts)} GPUs per machine, "
                        f"not {count}; for {count} GPU{'s' * (count > 1)} choose the model {other} "
                        f"({offer}) or one of those GPU counts.")
    if len(counts) == 1:
        [only] = counts
        raise SpecError(f"{model} is sold on {cloud} only with {only} GPUs per machine, not "
                        f"{count}; drop the GPU count or give {only}.")
    raise SpecError(f"{model} is sold on {cloud} with {_choices(counts)} GPUs per "
                    f"machine, not {count}; choose one of those GPU counts.")


def _counts_of(family: GpuFamily, instance_type: str) -> list[int]:
    """The GPU counts with which `family` lists `instance_type`, smallest first."""
    return sorted(n for n, by_size in family.counts.items() if instance_type in by_size.values())


def _types_of(family: GpuFamily) -> list[str]:
    return list(dict.fromkeys(t for by_size in family.counts.values() for t in by_size.values()))


def native_machine(cloud: str, instance_type: str, gpu_model: str | None,
                   gpu_count: int | None) -> Machine:
    """A native type: refused if retired, else described from the table when listed there.
    With a GPU model the type is looked up in that model's family only, so an N1 type gets the
    requested accelerator and count, and a type with other GPUs built in is refused."""
    if not re.fullmatch(table(cloud).TYPE_PATTERN, instance_type):
        raise SpecError(f"{instance_type!r} is not a size ({_choices(SIZES)}) or a machine type "
                        f"of {cloud}; give one of those sizes or a type such as "
                        f"{table(cloud).TYPE_EXAMPLE}.")
    for pattern, reason in table(cloud).RETIRED_TYPES.items():
        if re.fullmatch(pattern, instance_type, flags=re.IGNORECASE):
            raise SpecError(f"Machine type {instance_type} is retired ({reason}); "
                            f"use a current family such as {table(cloud).GPUS_EXAMPLE}.")
    gpus: Mapping[str, GpuFamily] = table(cloud).GPUS
    if gpu_model is None:
        # Only built-in GPUs describe a type; an N1 type without a GPU request stays GPU-less.
        for model, family in gpus.items():
            counts = _counts_of(family, instance_type)
            if counts and family.accelerator is None:
                return Machine(instance_type, model, counts[0], None, family.driver)
        return Machine(instance_type)
    model = canonical_gpu(cloud, gpu_model)
    family = gpus[model]
    counts = _counts_of(family, instance_type)
    if not counts:
        _refuse_other_builtin(cloud, instance_type, model, gpus)
    elif gpu_count is not None and gpu_count not in counts:
        raise SpecError(f"Machine type {instance_type} takes {model} GPU counts {_choices(counts)} "
                        f"on {cloud}, not {gpu_count}; choose one of those GPU counts.")
    count = gpu_count or (counts[0] if counts else 1)
    if family.accelerator and count not in family.counts:
        raise SpecError(f"{model} is attached on {cloud} in {_choices(family.counts)} GPUs per "
                        f"machine, not {count}; choose one of those GPU counts.")
    return Machine(instance_type, model, count, family.accelerator, family.driver)


def _refuse_other_builtin(cloud: str, instance_type: str, model: str,
                          gpus: Mapping[str, GpuFamily]) -> None:
    """A type listed with other GPUs built in cannot take `model`."""
    for other, family in gpus.items():
        if family.accelerator is None and _counts_of(family, instance_type):
            raise SpecError(f"Machine type {instance_type} comes with {other} GPUs, not "
                            f"{model}; drop the GPU model or choose a type from: "
                            f"{_choices(_types_of(gpus[model]))}.")


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
    return Placement(region, zone)


def _portable(cloud: str) -> dict[str, str]:
    """Native region -> portable name, for the regions the portable names map to."""
    return {native: name for name, (native, _) in table(cloud).REGIONS.items()}


def _described(machine: Machine) -> str:
    gpus = f" ({machine.gpu_count}x {machine.gpu_model})" if machine.gpu_model else ""
    return f"{machine.instance_type}{gpus}"


def check_offered(cloud: str, region: str, machine: Machine) -> None:
    """Refuse a machine the catalog knows the native `region` does not sell, naming the
    portable regions (else a few native ones) that do."""
    offering = table(cloud).offering_regions(machine)
    if offering is None or region not in table(cloud).KNOWN_REGIONS or region in offering:
        return
    portable = _portable(cloud)
    where = f"{region} ({portable[region]})" if region in portable else region
    names = [portable[r] for r in portable if r in offering] or sorted(offering)[:3]
    raise SpecError(f"{_described(machine)} is not sold in {where} on {cloud}; choose a "
                    f"region that sells it: {_choices(names)}.")


def zones_for(cloud: str, region: str, machine: Machine) -> tuple[str, ...]:
    """The zones of `region` (portable or native) that sell `machine`, preferred first, known
    offline; () when only a deploy-time look-up can tell. A region the catalog knows sells the
    machine in no zone is refused with a SpecError naming the regions that do."""
    native = resolve_region(cloud, region).region
    check_offered(cloud, native, machine)
    return tuple(table(cloud).zones(native, machine))


def check_zone(cloud: str, region: str, zone: str, machine: Machine) -> None:
    """Refuse a zone the cloud's pools do not use, one outside the native `region`, or one the
    catalog knows does not sell `machine`."""
    shape = table(cloud).zone_format(region)
    if shape is None:
        raise SpecError(f"{cloud} pools are placed by region and take no zone; drop the zone "
                        f"{zone}.")
    pattern, example = shape
    if not re.fullmatch(pattern, zone):
        raise SpecError(f"Zone {zone} is not a zone of the {cloud} region {region}; give one "
                        f"such as {example}, or drop it.")
    sold = zones_for(cloud, region, machine)
    if sold and zone not in sold:
        raise SpecError(f"Zone {zone} does not sell {_described(machine)}; choose one of: "
                        f"{_choices(sold)}.")
