"""The runner spec of `--cloud local`: this machine as a pool of one.

Built through `infra.spec.build_spec(cloud="local", ...)` from the rules in `infra.rules`, so
the shared rules (name, labels, durations, forge and repository) and their messages are the
same as for cloud pools.
"""

from __future__ import annotations

from collections.abc import Iterable

from infra.catalog import Machine
from infra.errors import SpecError
from infra.rules import (
    LABEL_PATTERN,
    LOCAL,
    RunnerSpec,
    check_name,
    check_times,
    clean_labels,
    parse_duration,
    repo_and_forge_url,
)


def check_local_flags(**given: object) -> None:
    """Settings that choose or shape a cloud machine mean nothing on this one."""
    wrong = [f"--{key.replace('_', '-')}" for key, value in given.items()
             if value not in (None, False)]
    if wrong:
        raise SpecError(f"--cloud local runs on this machine, so drop the cloud machine "
                        f"settings: {', '.join(wrong)}.")


def local_spec(name: str, wants_gpu: bool, gpu_model: str | None, gpu_count: int | None,
                labels: str | Iterable[str] | None, forge: str, repo: str, forge_url: str | None,
                idle_timeout: str | int, max_runtime: str | int, count: int,
                extra_commands: Iterable[str], idle_mode: bool,
                docker: bool = False) -> RunnerSpec:
    """This machine as a pool of one: the GPU fields say what it has (nvidia-smi checks)."""
    if int(count) != 1:
        raise SpecError(f"--cloud local registers this one machine, so the count must be 1, "
                        f"not {count}; run it on each machine instead.")
    if gpu_count is not None and gpu_count < 1:
        raise SpecError(f"The GPU count must be 1 or more, not {gpu_count}; drop it for no GPU.")
    model = (gpu_model or "gpu").lower() if wants_gpu else None
    if model and not LABEL_PATTERN.fullmatch(model):
        raise SpecError(f"GPU model {model!r} is not valid; name it with letters, digits, dots, "
                        "hyphens and underscores, such as a100 or rtx4090.")
    machine = Machine(LOCAL, model, (gpu_count or 1) if model else 0)
    idle_s = parse_duration(idle_timeout, "idle timeout")
    runtime_s = parse_duration(max_runtime, "maximum runtime")
    check_times(idle_s, runtime_s)
    repo, forge_url = repo_and_forge_url(forge, repo, forge_url)
    return RunnerSpec(
        name=check_name(str(name)), cloud=LOCAL, region=LOCAL, zone=None, size=None,
        machine=machine, spot=False, max_price=None, disk_size_gb=0, labels=clean_labels(labels),
        forge=forge, repo=repo, forge_url=forge_url, idle_timeout_s=idle_s,
        max_runtime_s=runtime_s, count=1, extra_commands=tuple(extra_commands),
        idle_mode=bool(idle_mode), docker=bool(docker))

