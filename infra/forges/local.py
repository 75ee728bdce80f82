"""The registration `--cloud local` mints for this machine, and how it is removed again.

The CLI holds the forge token here (unlike a cloud machine, which never sees it), so it can
delete what it minted once the runner has stopped, or when anything fails before the runner
starts: nothing is left registered on the forge either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.forges import runners as fr
from infra.spec import RunnerSpec

Printer = Callable[[str], None]
# Idle mode on GitHub: one single-use just-in-time configuration per job, so the machine takes
# at most this many jobs before it ends (each unused one is deleted at the end).
GITHUB_IDLE_JOBS = 10


@dataclass
class Registration:
    """What the script needs from the forge, and the runner ids to delete at the end."""

    registration: str = field(repr=False)
    package_url: str
    package_sha256: str
    runner_ids: list[int] = field(default_factory=list)


def register_github(gh: Any, repo: str, spec: RunnerSpec, name: str,
                    printer: Printer) -> Registration:
    scope = fr.GitHubScope.parse(repo)
    package = fr.runner_package(gh, scope)
    printer(f"GitHub runner package: {package.url}")
    minted = Registration("", package.url, package.sha256)
    labels = fr.runner_labels(spec.labels, spec.machine.gpu_model)
    configs = []
    try:
        for index in range(GITHUB_IDLE_JOBS if spec.idle_mode else 1):
            runner_name = f"{name}-{index + 1}" if spec.idle_mode else name
            jit = fr.mint_jit_config(gh, scope, runner_name, labels)
            minted.runner_ids.append(jit.runner_id)
            configs.append(jit.encoded_jit_config)
    except Exception:
        delete_github(gh, repo, minted, printer)
        raise
    printer(f"Minted {len(configs)} just-in-time runner configuration(s) for {name} on {scope}")
    minted.registration = " ".join(configs)
    return minted


def delete_github(gh: Any, repo: str, minted: Registration, printer: Printer) -> None:
    """Delete every runner minted; one GitHub removed after its job is already gone."""
    scope = fr.GitHubScope.parse(repo)
    for runner_id in minted.runner_ids:
        fr.delete_github_runner(gh, scope, runner_id)
    if minted.runner_ids:
        printer(f"Removed the runner registration(s) from {scope}")


def register_gitlab(gl: Any, project: str, spec: RunnerSpec, name: str, binary_url: str,
                    binary_sha256: str | None, fetch: fr.Fetch, printer: Printer) -> Registration:
    sha = (binary_sha256 or fr.gitlab_runner_sha256(binary_url, fetch)).lower()
    project_id = fr.gitlab_project_id(gl, project)
    runner = fr.create_gitlab_runner(
        gl, project_id, name, fr.runner_labels(spec.labels, spec.machine.gpu_model),
        max(spec.max_runtime_s, fr.GITLAB_MIN_TIMEOUT_S))
    printer(f"Created GitLab runner {runner.runner_id} ({name}) in {project}")
    return Registration(runner.token, binary_url, sha, [runner.runner_id])


def delete_gitlab(gl: Any, minted: Registration, printer: Printer) -> None:
    """Delete the runner; after a clean teardown the machine already removed it itself."""
    for runner_id in minted.runner_ids:
        fr.delete_gitlab_runner(gl, runner_id)
    printer("Checked that the GitLab runner is removed")
