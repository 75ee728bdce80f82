"""The runner pool spec: one frozen, validated value built from CLI flags or stack config.

`build_spec(...)` is the only constructor that validates; `spec_from_config` maps one
entry of the `cml-infra:pools` stack setting onto it, so both ways in share every rule
and every message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from infra import catalog, settings
from infra.catalog import Machine
from infra.errors import SpecError
from infra.rules import (
    LOCAL,
    RunnerSpec,
    check_name,
    check_times,
    clean_labels,
    format_duration,
    format_number,
    names_server,
    parse_duration,
    repo_and_forge_url,
)

if TYPE_CHECKING:
    from infra.autoscale.spec import AutoscaleSpec

MAX_COUNT = 50



def _check_cloud(cloud: str) -> str:
    if cloud not in (*catalog.CLOUDS, LOCAL):
        raise SpecError(f"Unknown cloud {cloud!r}; choose one of: "
                        f"{', '.join((*catalog.CLOUDS, LOCAL))}.")
    return cloud


def _check_count(count: int) -> int:
    if not 1 <= count <= MAX_COUNT:
        raise SpecError(f"The machine count must be between 1 and {MAX_COUNT}, not {count}; "
                        "split larger fleets into several pools.")
    return count


# Alibaba's auto-release time must be at least 30 minutes ahead:
# https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-runinstances
MIN_RUNTIME_S = {"alicloud": 30 * 60}


def _check_min_runtime(cloud: str, runtime_s: int) -> None:
    minimum = MIN_RUNTIME_S.get(cloud, 0)
    if runtime_s < minimum:
        raise SpecError(f"The maximum runtime on {cloud} must be at least "
                        f"{format_duration(minimum)} (its shortest auto-release time); raise it.")


def _check_price(cloud: str, spot: bool, max_price: float | None) -> None:
    if max_price is None:
        return
    if not spot:
        raise SpecError("A maximum price applies to spot machines only; add --spot or drop it.")
    if cloud == "gcp":
        raise SpecError("GCP Spot VMs have no maximum price; drop the maximum price.")
    if not (math.isfinite(max_price) and max_price > 0):
        raise SpecError(f"The maximum price must be a positive hourly price such as 0.5, "
                        f"not {format_number(max_price)}.")


def _check_idle_mode(forge: str, idle_mode: bool) -> None:
    """A cloud machine is handed one GitHub just-in-time configuration, which takes one job:
    https://docs.github.com/rest/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-for-a-repository
    (a GitLab runner token takes any number of jobs, so idle mode works there)."""
    if idle_mode and forge == "github":
        raise SpecError("Idle mode is not available for cloud runners on GitHub, whose "
                        "single-use just-in-time registration takes one job; drop --idle-mode.")


def _check_docker(forge: str, docker: bool) -> None:
    """The executor is a GitLab runner setting; GitHub jobs pick a container in the workflow
    (`container:`, https://docs.github.com/actions/using-jobs/running-jobs-in-a-container)."""
    if docker and forge != "gitlab":
        raise SpecError("--docker chooses the GitLab runner's executor; on GitHub, give the job "
                        "a `container:` in the workflow instead and drop --docker.")


# Subnet ids: "subnet-" and 8 or 17 hexadecimal digits:
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Subnet.html
SUBNET_PATTERN = re.compile(r"subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})")


def _check_subnet(cloud: str, subnet: str | None, zone: str | None = None) -> None:
    if not subnet:
        return
    if zone:
        raise SpecError("A subnet lies in one zone, which its machines use; drop --zone (zone) "
                        "or --subnet (subnet).")
    if cloud != "aws":
        raise SpecError(f"--subnet (subnet) names an existing AWS subnet; {cloud} pools get a "
                        "network of their own, so drop it.")
    if not SUBNET_PATTERN.fullmatch(subnet):
        raise SpecError(f"Subnet {subnet!r} is not an AWS subnet id; give one such as "
                        "subnet-0123456789abcdef0.")


def _placement(cloud: str, region: str, zone: str | None,
               machine: Machine) -> tuple[str, tuple[str, ...]]:
    """The native region and the candidate zones: the user's zone alone, else the catalog's."""
    native = catalog.resolve_region(cloud, region).region
    if zone:
        catalog.check_zone(cloud, native, zone, machine)
        return native, (zone,)
    return native, catalog.zones_for(cloud, native, machine)


def _machine(cloud: str, size: str | None, gpu: bool, gpu_model: str | None,
             gpu_count: int | None) -> Machine:
    wants_gpu = gpu or gpu_model is not None or gpu_count is not None
    if gpu_count is not None and gpu_count < 1:
        raise SpecError(f"The GPU count must be 1 or more, not {gpu_count}; drop it for no GPU.")
    model = (gpu_model or catalog.table(cloud).DEFAULT_GPU) if wants_gpu else None
    return catalog.resolve_machine(cloud, size, model, gpu_count)


def build_spec(*, name: str = "cml-runner", cloud: str = "aws", region: str = "us-east",
               zone: str | None = None, size: str | None = None, gpu: bool = False,
               gpu_model: str | None = None, gpu_count: int | None = None,
               spot: bool = False, max_price: float | None = None,
               disk_size: int | None = None, labels: str | Iterable[str] | None = None,
               forge: str = "github", repo: str = "", forge_url: str | None = None,
               idle_timeout: str | int = "5m", max_runtime: str | int = "6h",
               count: int = 1, extra_commands: Iterable[str] = (),
               identity: str | None = None, image: str | None = None,
               idle_mode: bool = False, docker: bool = False,
               subnet: str | None = None) -> RunnerSpec:
    """Validate every field once and return the frozen spec, or raise SpecError."""
    cloud = _check_cloud(str(cloud).lower())
    _check_docker(forge, docker)
    if cloud == LOCAL:
        from infra.local.spec import check_local_flags, local_spec

        check_local_flags(region=region not in ("us-east", LOCAL), zone=zone, type=size, spot=spot,
                           max_price=max_price, disk_size=disk_size, identity=identity,
                           image=image, subnet=subnet)
        return local_spec(name, gpu or gpu_model is not None or gpu_count is not None,
                           gpu_model, gpu_count, labels, forge, repo, forge_url, idle_timeout,
                           max_runtime, count, extra_commands, idle_mode, docker)
    _check_idle_mode(forge, idle_mode)
    _check_subnet(cloud, subnet, zone)
    machine = _machine(cloud, size, gpu, gpu_model, gpu_count)
    native_region, zones = _placement(cloud, str(region), zone or None, machine)
    idle_s = parse_duration(idle_timeout, "idle timeout")
    runtime_s = parse_duration(max_runtime, "maximum runtime")
    check_times(idle_s, runtime_s)
    _check_min_runtime(cloud, runtime_s)
    _check_price(cloud, spot, max_price)
    disk = disk_size if disk_size is not None else (100 if machine.gpu_count else 30)
    if not 10 <= disk <= 16384:
        raise SpecError(f"The disk size must be between 10 and 16384 GB, not {disk}.")
    repo, forge_url = repo_and_forge_url(forge, repo, forge_url)
    return RunnerSpec(
        name=check_name(str(name)), cloud=cloud, region=native_region,
        zone=zones[0] if zones else None,
        size=size, machine=machine, spot=bool(spot), max_price=max_price, disk_size_gb=disk,
        labels=clean_labels(labels), forge=forge, repo=repo, forge_url=forge_url,
        idle_timeout_s=idle_s, max_runtime_s=runtime_s, count=_check_count(int(count)),
        extra_commands=tuple(extra_commands), identity=identity or None, image=image or None,
        idle_mode=bool(idle_mode), docker=bool(docker), subnet=subnet or None, zones=zones,
    )


def spec_from_config(entry: Mapping[str, object], defaults: Mapping[str, object],
                     position: int | None = None) -> RunnerSpec:
    """One pool of `cml-infra:pools` (the `position`-th, from 1), each setting of its type
    (infra.settings), then validated exactly like the CLI flags."""
    where = _pool_label(entry, position)
    if not isinstance(entry, Mapping):
        raise SpecError(f"{where}: each entry of cml-infra:pools must be a mapping such as "
                        "{name: gpu, cloud: aws, gpu: true}.")
    kwargs = {**defaults, **settings.pool_kwargs(entry, where)}
    if str(kwargs.get("cloud", "")).lower() == LOCAL:
        raise SpecError("A stack cannot hold a cloud local pool; run cml-infra up --cloud local "
                        "on the machine that should be the runner.")
    if "forgeUrl" not in entry and (entry.get("forge") == "gitlab" or names_server(str(
            entry.get("repo", "")))):
        kwargs.pop("forge_url", None)  # the project default points at github.com
    return build_spec(**kwargs)  # type: ignore[arg-type]


def _pool_label(entry: object, position: int | None) -> str:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    if isinstance(name, str) and name:
        return f"Pool {name!r}"
    return f"Pool {position} of cml-infra:pools" if position else "A pool of cml-infra:pools"


def pools_from_config(entries: object, defaults: Mapping[str, object]) -> list[RunnerSpec]:
    """All pools of the stack, with names unique within it."""
    if not isinstance(entries, Sequence) or isinstance(entries, str) or not entries:
        raise SpecError(settings.POOLS_SHAPE)
    pools = [spec_from_config(entry, defaults, n) for n, entry in enumerate(entries, 1)]
    check_unique(pools)
    return pools


def stack_pools(entries: object, defaults: Mapping[str, object]
                ) -> tuple[list[RunnerSpec], list[AutoscaleSpec]]:
    """All pools of the stack, by kind: the single-machine pools (entries without `kind`) and
    the `kind: autoscale` pools (infra.autoscale.spec), names unique across both; each kind
    keeps the order of the entries."""
    from infra.autoscale.spec import autoscale_pools, split_pools

    machines, autoscaled = split_pools(entries)
    pools = [spec_from_config(entry, defaults, n)  # type: ignore[arg-type]  # refused there
             for n, entry in machines]
    check_unique(pools)
    return pools, autoscale_pools(autoscaled, defaults, [spec.name for spec in pools])


def check_one_forge(pools: Sequence[RunnerSpec | AutoscaleSpec]) -> None:
    """A runner stack registers its pools with one forge token (cml-infra:forgeToken or
    REPO_TOKEN) and one API root: pools on different forges or servers cannot share it."""
    forges = {(pool.forge, (pool.forge_url or "").rstrip("/")): pool.name for pool in pools}
    if len(forges) > 1:
        shown = ", ".join(f"{name!r} ({forge}{' at ' + url if url else ''})"
                          for (forge, url), name in forges.items())
        raise SpecError(f"The pools of one runner stack share one forge token, but {shown} "
                        "register with different forges; put each forge's pools in a stack "
                        "of their own.")


def check_unique(pools: Sequence[RunnerSpec]) -> None:
    seen: set[str] = set()
    for pool in pools:
        if pool.name in seen:
            raise SpecError(f"Pool name {pool.name!r} is used twice; give every pool its own name.")
        seen.add(pool.name)


