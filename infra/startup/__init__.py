"""Startup scripts: one bash template per forge, rendered with every URL and path a parameter.

`render_startup_script(StartupConfig(...))` is the only entry point the components and
`--cloud local` use. The rendered script carries the single-use registration (a GitHub
just-in-time runner configuration or a GitLab runner authentication token): callers pass
it through Pulumi as a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from string import Template
from typing import Literal

Forge = Literal["github", "gitlab"]
Cloud = Literal["aws", "gcp", "azure", "alicloud", "local"]


@dataclass(frozen=True)
class StartupConfig:
    """Everything a startup script needs; nothing in it is looked up at boot."""

    forge: Forge
    cloud: Cloud
    runner_name: str
    forge_url: str
    """Web address of the forge instance, e.g. https://github.com or https://gitlab.example.com."""
    registration: str = field(repr=False)
    """GitHub: the encoded just-in-time runner configuration; GitLab: the runner's glrt- token."""
    runner_package_url: str
    runner_package_sha256: str
    labels: tuple[str, ...] = ()
    gpu_model: str | None = None
    gpu_count: int = 0
    idle_mode: bool = False
    """False: one job, then tear down. True: take jobs until idle_timeout_s passes with none."""
    idle_timeout_s: int = 300
    max_runtime_s: int = 6 * 3600
    metadata_url: str = ""
    """Base of the cloud metadata endpoint; empty means the cloud's documented default."""
    install_dir: str = "/opt/cml-infra"
    job_user: str = "cml-runner"
    docker: bool = False
    """GitLab only: the docker executor with all GPUs instead of the shell executor."""
    extra_commands: tuple[str, ...] = ()


def render_startup_script(config: StartupConfig) -> str:
    """The bash script for `config`, ready to be user data or run by `--cloud local`."""
    template = resources.files(__package__).joinpath(f"templates/{config.forge}.sh")
    return Template(template.read_text()).substitute(
        RUNNER_NAME=config.runner_name,
        FORGE_URL=config.forge_url,
        REGISTRATION=config.registration,
        PACKAGE_URL=config.runner_package_url,
        PACKAGE_SHA256=config.runner_package_sha256,
        LABELS=",".join(config.labels),
        MAX_RUNTIME_S=config.max_runtime_s,
        INSTALL_DIR=config.install_dir,
    )
