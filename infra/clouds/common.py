"""What every runner component shares: its arguments, tags and expiry, as pure functions.

Nothing here imports Pulumi at run time, so the helpers test without an engine.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from infra.spec import RunnerSpec

if TYPE_CHECKING:
    import pulumi

Clock = Callable[[], datetime]
TAG_POOL = "cml-infra-pool"
TAG_STACK = "cml-infra-stack"
TAG_EXPIRES = "cml-infra-expires"
T = TypeVar("T")
# key -> (resource monitor of the run that built it, value)
_SHARED: dict[tuple[str, ...], tuple[Any, Any]] = {}


# The guest's deadline is its boot plus the maximum runtime, so it lies after the expiry by the
# time to provision and boot the machine; this much is allowed for that.
BOOT_MARGIN_S = 10 * 60


def _cloud_deadline_grace() -> timedelta:
    """After its expiry, a machine gets the time to boot and its whole teardown (stop grace,
    forge unregister, self-delete retries for up to 15 minutes) before a cloud-side deadline
    (AWS schedule, Azure auto-shutdown, Alibaba auto-release) ends it, so the cloud never cuts
    a self-delete that is still retrying."""
    from infra.startup import StartupConfig, teardown_budget_s

    defaults = StartupConfig(forge="github", cloud="aws", runner_name="x", forge_url="",
                             registration="", runner_package_url="", runner_package_sha256="")
    return timedelta(seconds=teardown_budget_s(defaults) + BOOT_MARGIN_S)


CLOUD_DEADLINE_GRACE = _cloud_deadline_grace()


def cloud_deadline(expires_at: datetime) -> datetime:
    """When the cloud itself ends a machine whose guest did not: expiry plus teardown time."""
    return expires_at + CLOUD_DEADLINE_GRACE


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def expiry(clock: Clock, max_runtime_s: int) -> datetime:
    """When the machine must be gone: now plus the maximum runtime, whole seconds, UTC."""
    now = clock().astimezone(timezone.utc).replace(microsecond=0)
    return now + timedelta(seconds=max_runtime_s)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def tags_for(pool: str, stack: str, expires_at: datetime) -> dict[str, str]:
    """Tags for AWS, Azure and Alibaba Cloud: pool, stack and expiry (ISO 8601, UTC)."""
    return {TAG_POOL: pool, TAG_STACK: stack, TAG_EXPIRES: iso(expires_at)}


def gcp_labels(pool: str, stack: str, expires_at: datetime) -> dict[str, str]:
    """GCP labels allow only lowercase letters, digits, `_` and `-`, 63 characters:
    https://cloud.google.com/compute/docs/labeling-resources#requirements"""
    def clean(value: str) -> str:
        return re.sub(r"[^a-z0-9_-]", "-", value.lower())[:63]

    stamp = expires_at.astimezone(timezone.utc).strftime("%Y%m%dt%H%M%Sz")
    return {TAG_POOL: clean(pool), TAG_STACK: clean(stack), TAG_EXPIRES: stamp}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def user_data_b64(cloud: str, script: str) -> str:
    """The startup script, compressed where the cloud's limit calls for it, in base64."""
    from infra.startup import user_data_bytes

    return base64.b64encode(user_data_bytes(cloud, script)).decode()


BaseOutputs = Mapping[str, "pulumi.Input[str]"]
"""A pool base's outputs as its runner stack reads them (ids and names, never secrets)."""


@dataclass(frozen=True)
class BaseArgs:
    """The same arguments for every cloud's base component."""

    spec: RunnerSpec
    """The validated pool the base serves."""
    stack: str
    """Name of the base stack: names derived from it never carry a CI run id."""

    @property
    def tags(self) -> dict[str, str]:
        """Pool and base stack; a base has no expiry, it lives until `down --base`."""
        return {TAG_POOL: self.spec.name, TAG_STACK: self.stack}


@dataclass(frozen=True)
class RunnerArgs:
    """The same arguments for every cloud's runner component."""

    spec: RunnerSpec
    """The validated pool this machine belongs to."""
    index: int
    """Position of the machine in its pool, from 0."""
    user_data: pulumi.Input[str] = field(repr=False)
    """The rendered startup script, a Pulumi secret (it carries a single-use registration)."""
    stack: str
    """Name of the Pulumi stack, for tags."""
    expires_at: datetime
    """When the machine must be gone; the cloud's own expiry is set from it where one exists."""
    base: BaseOutputs = field(default_factory=dict)
    """The pool base's outputs (network, security group, identity...), read from its stack."""

    @property
    def tags(self) -> dict[str, str]:
        return tags_for(self.spec.name, self.stack, self.expires_at)


def outputs(instance_id: Any, private_ip: Any, expires_at: datetime) -> dict[str, Any]:
    """The outputs every component registers, under the same names."""
    return {"instance_id": instance_id, "private_ip": private_ip,
            "expires_at": iso(expires_at)}


def base_name(spec: RunnerSpec) -> str:
    """Name of a pool base's component and prefix of its children. Machines are
    `<pool>-<index>`, so the suffix keeps pool `ab-1` apart from machine 1 of pool `ab`."""
    return f"{spec.name}-base"


def shared(key: tuple[str, ...], build: Callable[[], T]) -> T:
    """One value per key and program run: the look-ups (image, zone) and providers that every
    machine of a pool uses in a runner stack, built by the first machine. The components keep
    one constructor, so they find those pieces here. A run is known by its resource monitor
    (the engine's, or a new mock per `set_mocks`), so a second run in the same process builds
    its own."""
    from pulumi.runtime.settings import get_monitor

    monitor = get_monitor()
    hit = _SHARED.get(key)
    if hit is None or hit[0] is not monitor:
        hit = _SHARED[key] = (monitor, build())
    return hit[1]
