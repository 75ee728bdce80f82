"""The Pulumi programs: a pool's base, and every machine of every pool with its startup script
as a secret.

A pool has two kinds of stack. Its base stack (`base_program`, long-lived, named by
`infra.engine.naming.base_stack_name`) holds what every machine of the pool shares in one cloud
and region, and exports it under `bases.<pool>`. A runner stack (`program`, one per CI run)
holds only machines and their forge registrations, and reads its base through a
StackReference. `__main__.py` (plain `pulumi up`), the Automation API (`infra.engine.up`)
and the offline plan all call these two functions, so they build exactly the same resources.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from infra import catalog
from infra.clouds import base_for, cloud_module, component_for
from infra.clouds.common import (
    BaseArgs,
    BaseOutputs,
    Clock,
    RunnerArgs,
    base_name,
    expiry,
    utc_now,
)
from infra.spec import RunnerSpec
from infra.startup import StartupConfig, render_startup_script

PLACEHOLDER = "PLACEHOLDER"
# The startup script accepts runner names of at most 64 characters (infra/startup/validate.py);
# RunnerRegistrationProvider.create appends "-" and 6 random hex digits to the prefix.
RUNNER_NAME_MAX = 64
RUNNER_SUFFIX = 7
DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"  # the type of every Python dynamic resource
@dataclass(frozen=True)
class Registration:
    """How one machine joins its forge: a single-use secret and the runner package."""

    runner_name: pulumi.Input[str]
    secret: pulumi.Input[str] = field(repr=False)
    """GitHub: the encoded just-in-time runner configuration; GitLab: the glrt- token."""
    package_url: pulumi.Input[str]
    package_sha256: pulumi.Input[str]
    """All four are known only once the forge answered, at deploy time: inputs, not str."""
    runner_id: pulumi.Input[str] = ""
    """The forge's id of the runner, for `status` and `gc`."""


Registrar = Callable[[RunnerSpec, int], Registration]


def runner_name_prefix(pool: str, stack: str, index: int) -> str:
    """`<pool>-<stack>-<index>`, short enough that the runner name (prefix plus `-<6 hex>`)
    fits 64 characters: a long stack name is cut and tagged with a hash of the whole name, so
    two long stacks stay apart and a deploy never fails on length after a runner was minted."""
    room = RUNNER_NAME_MAX - RUNNER_SUFFIX - len(f"{pool}--{index}")
    if len(stack) > room:
        digest = hashlib.sha256(stack.encode()).hexdigest()[:6]
        stack = f"{stack[:max(room - 7, 0)]}-{digest}".lstrip("-")[-room:]
    return f"{pool}-{stack}-{index}"


def placeholder_registrar(spec: RunnerSpec, index: int) -> Registration:
    """Clearly fake registrations for the offline plan; no forge is contacted. The runner
    name has the real shape (`<prefix>-<6 hex>`), so its length is checked as at deploy, and
    the plan lists a pseudo-resource where `up` creates the machine's RunnerRegistration."""
    prefix = runner_name_prefix(spec.name, pulumi.get_stack(), index)
    _pseudo_registration(spec, index, prefix)
    return Registration(
        runner_name=f"{prefix}-000000",
        # Shaped like the real thing, so the startup script's validation accepts it.
        secret=f"{'glrt-' if spec.forge == 'gitlab' else ''}{PLACEHOLDER}-created-at-deploy-time",
        package_url=f"https://{PLACEHOLDER.lower()}.invalid/runner-package.tar.gz",
        package_sha256="0" * 64,
        runner_id=f"{PLACEHOLDER}-runner-id",
    )


def _pseudo_registration(spec: RunnerSpec, index: int, prefix: str) -> None:
    """Only ever declared under the plan's mock runtime (the real program uses
    infra.forges.registration.forge_registrar): the same type and name as the real dynamic resource,
    its public inputs, no token, and a marker saying what it stands for."""
    from infra.forges.runners import runner_labels

    pulumi.CustomResource(DYNAMIC_TYPE, f"{spec.name}-{index}-registration", {
        "placeholder": f"{PLACEHOLDER}: the forge runner registration created at deploy time",
        "forge": spec.forge, "repo": spec.repo, "name_prefix": prefix,
        "labels": list(runner_labels(spec.labels, spec.machine.gpu_model))})


def startup_config(spec: RunnerSpec, registration: Registration, secret: str) -> StartupConfig:
    """The script's settings; `registration` holds plain values by now (see user_data)."""
    extra = spec.extra_commands
    if spec.cloud == "alicloud" and spec.machine.gpu_count:
        extra = catalog.table("alicloud").DRIVER_COMMANDS + extra
    return StartupConfig(
        forge=spec.forge,  # type: ignore[arg-type]
        cloud=spec.cloud,  # type: ignore[arg-type]
        runner_name=str(registration.runner_name), forge_url=spec.forge_url,
        registration=secret,
        runner_package_url=str(registration.package_url),
        runner_package_sha256=str(registration.package_sha256), labels=spec.labels,
        gpu_model=spec.machine.gpu_model, gpu_count=spec.machine.gpu_count,
        idle_timeout_s=spec.idle_timeout_s, max_runtime_s=spec.max_runtime_s,
        extra_commands=extra, job_metadata_access=spec.identity is not None,
        idle_mode=spec.idle_mode, docker=spec.docker,
    )


def user_data(spec: RunnerSpec, registration: Registration) -> pulumi.Output[str]:
    """The rendered startup script, secret because it carries the registration. Rendering
    refuses a script over the cloud's user-data limit (infra/startup, USER_DATA_LIMIT)."""
    resolved = pulumi.Output.all(registration.runner_name, registration.secret,
                                 registration.package_url, registration.package_sha256)
    script = resolved.apply(lambda values: render_startup_script(
        startup_config(spec, Registration(*values), values[1])))
    return pulumi.Output.secret(script)


# Inputs that carry the machine's expiry, which `program` computes from the clock at each run.
# Ignored after creation, so that a re-run neither extends Alibaba's auto-release time nor
# rewrites expiry tags and labels on machines already running: each machine keeps the expiry it
# was created with. (GCP's maxRunDuration is a duration from the VM's start, stable across runs;
# and a new machine is created with the new values as usual.)
# https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/
EXPIRY_INPUTS = ("tags", "labels", "volume_tags", "auto_release_time",
                 "schedule_expression", "daily_recurrence")
GCP_DISK_LABELS = "bootDisk.initializeParams.labels"


def keep_expiry(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult:
    """A transformation for a runner component and its children: ignore later changes to the
    expiry-bearing inputs the resource has (a missing one must not be named)."""
    props = args.props
    ignored = [key for key in EXPIRY_INPUTS
               if isinstance(props.get(key), (dict, str)) and not
               (key == "tags" and args.type_ == "gcp:compute/instance:Instance")]
    disk = props.get("boot_disk")
    if isinstance(disk, dict) and (disk.get("initialize_params") or {}).get("labels"):
        ignored.append(GCP_DISK_LABELS)
    opts = args.opts
    if ignored:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=ignored))
    return pulumi.ResourceTransformationResult(props, opts)


def declare_bases(pools: Sequence[RunnerSpec]) -> dict[str, dict[str, Any]]:
    """Declare each pool's base; returns what it exports, pool name -> outputs."""
    stack = pulumi.get_stack()
    bases = {spec.name: base_for(spec.cloud)(base_name(spec), BaseArgs(spec=spec, stack=stack))
             for spec in pools}
    return {spec.name: {"cloud": spec.cloud, "region": spec.region,
                        "fingerprint": base_fingerprint(spec), **bases[spec.name].outputs}
            for spec in pools}


def base_program(pools: Sequence[RunnerSpec]) -> None:
    """The base stack's program: exported as `bases.<pool>` for the runner stacks to read."""
    pulumi.export("kind", "base")
    pulumi.export("bases", declare_bases(pools))


def base_fingerprint(spec: RunnerSpec) -> str:
    """What a base is made of: its cloud, region, zone (or, where the zone is looked up for
    the machine type, that type), subnet and GCP identity. `up` never reshapes a base that
    was made differently (`infra.engine.bases`)."""
    looked_up = spec.cloud in ("aws", "alicloud") and not spec.zone and not spec.subnet
    shape = [spec.cloud, spec.region, spec.zone, spec.subnet,
             spec.identity if spec.cloud == "gcp" else None,
             spec.machine.instance_type if looked_up else None]
    return hashlib.sha256(repr(shape).encode()).hexdigest()[:16]


def read_base(spec: RunnerSpec, base_stack: str) -> BaseOutputs:
    """The outputs of `spec`'s base, read from stack `base_stack` (same project and backend)."""
    ref = pulumi.StackReference(f"{spec.name}-base-ref", stack_name=base_stack)
    pool = ref.require_output("bases").apply(lambda bases: bases[spec.name])
    return {key: pool.apply(functools.partial(_item, key=key))
            for key in cloud_module(spec.cloud).BASE_OUTPUTS}


def _item(values: Mapping[str, str], key: str) -> str:
    return values[key]


def program(pools: Sequence[RunnerSpec], registrar: Registrar = placeholder_registrar,
            *, bases: Mapping[str, str], clock: Clock = utc_now) -> None:
    """Declare every machine of every pool on its base (`bases`: pool name -> base stack);
    call inside a Pulumi program run."""
    stack = pulumi.get_stack()
    pulumi.export("kind", "runner")
    for spec in pools:
        component, base = component_for(spec.cloud), read_base(spec, bases[spec.name])
        pulumi.export(f"pool:{spec.name}", pool_summary(spec, bases[spec.name]))
        for index in range(spec.count):
            name = f"{spec.name}-{index}"
            registration = registrar(spec, index)
            runner = component(name, RunnerArgs(
                spec=spec, index=index, user_data=user_data(spec, registration), stack=stack,
                expires_at=expiry(clock, spec.max_runtime_s), base=base),
                pulumi.ResourceOptions(transformations=[keep_expiry]))
            pulumi.export(name, {"pool": spec.name, "instance_id": runner.instance_id,
                                 "private_ip": runner.private_ip,
                                 "expires_at": runner.expires_at,
                                 "runner_name": registration.runner_name,
                                 "runner_id": registration.runner_id})


def pool_summary(spec: RunnerSpec, base_stack: str) -> dict[str, object]:
    """What `status` and `gc` need to know of a pool without decrypting anything."""
    return {"cloud": spec.cloud, "region": spec.region, "zone": spec.zone, "base": base_stack,
            "machine_type": spec.machine.instance_type, "gpu": spec.machine.gpu_model,
            "gpu_count": spec.machine.gpu_count, "spot": spec.spot, "count": spec.count,
            "forge": spec.forge, "repo": spec.repo, "forge_url": spec.forge_url,
            "max_runtime_s": spec.max_runtime_s}
