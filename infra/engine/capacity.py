"""Where a pool's machines go when a zone has no capacity: the pool's other zones first, then,
for a spot pool, on demand, each step said in one line with what it costs.

Only the pool whose machine failed moves; the other pools of the stack stay as they are. A
machine that moves (another zone, or on demand) is replaced together with its registration
(`machine_fingerprint` covers the zone and the market).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from infra.rules import RunnerSpec

# Errors meaning "no capacity of this kind here right now", per cloud:
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/troubleshooting-launch.html#troubleshooting-launch-capacity
# https://cloud.google.com/compute/docs/troubleshooting/troubleshooting-resource-availability
# https://learn.microsoft.com/troubleshoot/azure/virtual-machines/windows/allocation-failure
# https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-runinstances
# Azure's SkuNotAvailable is not among them: it says the size is not sold to this subscription
# in this location (https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-sku-not-available),
# which no retry changes; NOT_SOLD turns it into a sentence instead.
CAPACITY_ERRORS = ("InsufficientInstanceCapacity", "MaxSpotInstanceCountExceeded",
                   "ZONE_RESOURCE_POOL_EXHAUSTED", "STOCKOUT", "AllocationFailed",
                   "ZonalAllocationFailed", "OperationDenied.NoStock")
NOT_SOLD = ("SkuNotAvailable",)

# The largest discount each cloud documents for spot over on-demand, and where:
SPOT_DISCOUNT = {
    "aws": (90, "https://aws.amazon.com/ec2/spot/pricing/"),
    "gcp": (91, "https://cloud.google.com/compute/docs/instances/spot"),
    "azure": (90, "https://azure.microsoft.com/products/virtual-machines/spot"),
    "alicloud": (90, "https://www.alibabacloud.com/help/en/ecs/user-guide/overview-4"),
}


def capacity_short(message: str) -> bool:
    return any(code in message for code in CAPACITY_ERRORS)


def not_sold(message: str) -> bool:
    return any(code in message for code in NOT_SOLD)


def cost_note(cloud: str) -> str:
    percent, source = SPOT_DISCOUNT[cloud]
    factor = round(100 / (100 - percent))
    return (f"on demand can cost up to {factor}x the spot price (spot is sold at up to "
            f"{percent}% off on {cloud}: {source})")


@dataclass
class Placement:
    """One pool's place: its candidate zones (None: the cloud chooses), the one tried now,
    and whether it fell back to on-demand."""

    spec: RunnerSpec
    zones: tuple[str | None, ...]
    index: int = 0
    on_demand: bool = False

    @property
    def zone(self) -> str | None:
        return self.zones[self.index]

    def current(self) -> RunnerSpec:
        spec = replace(self.spec, zone=self.zone or self.spec.zone)
        if self.on_demand:
            spec = replace(spec, spot=False, max_price=None)
        return spec

    def where(self, zones: Iterable[str | None] | None = None) -> str:
        named = [z for z in (zones if zones is not None else [self.zone]) if z]
        return ", ".join(named) if named else self.spec.region

    def advance(self) -> str | None:
        """The next place to try and the line that says so, or None when none is left."""
        name, kind = self.spec.name, self.spec.machine.instance_type
        market = "spot " if self.spec.spot and not self.on_demand else ""
        if self.index + 1 < len(self.zones):
            before = self.where()
            self.index += 1
            return (f"pool {name}: no {market}capacity for {kind} in {before}; trying "
                    f"{self.where()}")
        if self.spec.spot and not self.on_demand:
            tried = self.where(self.zones)
            self.on_demand, self.index = True, 0
            return (f"pool {name}: no spot capacity for {kind} in {tried}; running it on demand "
                    f"in {self.where()}; {cost_note(self.spec.cloud)}")
        return None


def candidate_zones(spec: RunnerSpec, base: Mapping[str, object] | None) -> tuple[str | None, ...]:
    """The zones a pool may use, preference first: the user's zone alone; the catalog's
    zones (GCP); the zones the pool's base has subnets in (AWS); else the one the base chose."""
    zones = tuple(getattr(spec, "zones", ()) or ())
    if zones:
        return zones
    listed = (base or {}).get("zones")
    if not spec.zone and isinstance(listed, (list, tuple)) and listed:
        return tuple(str(z) for z in listed)
    return (spec.zone,)


def failed_pools(urns: Iterable[str], pools: Sequence[RunnerSpec]) -> set[str]:
    """The pools whose resources the failing URNs name (`<pool>-<index>-...`)."""
    names = sorted((p.name for p in pools), key=len, reverse=True)
    found: set[str] = set()
    for urn in urns:
        resource = urn.split("::")[-1]
        for name in names:
            if re.match(rf"{re.escape(name)}-\d+(-|$)", resource):
                found.add(name)
                break
    return found
