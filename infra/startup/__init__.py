"""Startup scripts: bash templates rendered per forge, cloud and mode, every URL a parameter.

`render_startup_script(StartupConfig(...))` is the only entry point the components and
`--cloud local` use. The script is assembled from the parts under `templates/`: a shared
prelude (logging, verified downloads), guards (dead-man switch, spot watcher, GPU check, job
user, metadata block), one forge part, `identity` (token helpers, for clouds that delete
themselves through an API), one cloud part, the teardown and `main`. Values enter
only through the parameter block at the top, each one validated and quoted with
`shlex.quote`. The script carries the single-use registration (a GitHub just-in-time runner
configuration or a GitLab runner authentication token): callers pass it through Pulumi as a
secret. On the machine it never goes on a command line (GitHub's runner gets it in
ACTIONS_RUNNER_INPUT_JITCONFIG, `gitlab-runner register` in CI_SERVER_TOKEN), and the GitLab
token is kept from jobs: gitlab-runner runs as root with a root-only config.toml and starts
jobs as the job user (see templates/forge_gitlab.sh).
"""

from __future__ import annotations

import gzip
import shlex
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from infra.errors import SpecError

Forge = Literal["github", "gitlab"]
Cloud = Literal["aws", "gcp", "azure", "alicloud", "local"]

# Documented metadata endpoints: base URL for the script, addresses the job user may not reach.
# Azure also serves VM extension settings from the WireServer, 168.63.129.16:
# https://learn.microsoft.com/en-us/azure/virtual-network/what-is-ip-address-168-63-129-16
DEFAULT_METADATA: dict[str, tuple[str, str]] = {
    "aws": ("http://169.254.169.254", "169.254.169.254"),
    "gcp": ("http://metadata.google.internal", "169.254.169.254"),
    "azure": ("http://169.254.169.254", "169.254.169.254 168.63.129.16"),
    "alicloud": ("http://100.100.100.200", "100.100.100.200"),
    "local": ("", ""),
}
# The API each cloud's machine deletes itself through. Alibaba's ECS endpoint is regional:
# the script puts the region from metadata in place of {region}.
# https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-endpoint
DEFAULT_CLOUD_API: dict[str, str] = {
    "gcp": "https://compute.googleapis.com",
    "azure": "https://management.azure.com",
    "alicloud": "https://ecs.{region}.aliyuncs.com",
}
# User data limits, in bytes before base64: AWS 16 KB, Alibaba 32 KB, Azure 64 KB, GCP 256 KB.
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html
# https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-runinstances
# (UserData: "The raw data can be up to 32 KB in size") and
# https://www.alibabacloud.com/help/en/ecs/user-guide/manage-the-user-data-of-linux-instances
# https://learn.microsoft.com/en-us/azure/virtual-machines/custom-data
# https://cloud.google.com/compute/docs/metadata/setting-custom-metadata#limitations
USER_DATA_LIMIT = {"aws": 16 * 1024, "alicloud": 32 * 1024, "azure": 64 * 1024,
                   "gcp": 256 * 1024}
# On AWS the script travels gzip-compressed: cloud-init decompresses "Gzip Compressed
# Content" before it runs it (https://help.ubuntu.com/community/CloudInit,
# https://cloudinit.readthedocs.io/en/latest/explanation/format.html). Alibaba documents
# gzip only through an #include link to an uploaded archive
# (https://www.alibabacloud.com/help/doc-detail/49121.htm): its script goes as it is.
GZIPPED_CLOUDS = ("aws",)
PARTS = ("prelude", "guards", "reboot", "forge_{forge}", "cloud_{cloud}", "teardown", "main")


@dataclass(frozen=True)
class StartupConfig:
    """Everything a startup script needs; nothing in it is looked up at boot."""

    forge: Forge
    cloud: Cloud
    runner_name: str
    forge_url: str
    """Web address of the forge instance, e.g. https://github.com or https://gitlab.example.com."""
    registration: str = field(repr=False)
    """GitHub: the encoded just-in-time runner configuration (idle mode: several, separated by
    spaces, one per job); GitLab: the runner's glrt- authentication token."""
    runner_package_url: str
    runner_package_sha256: str
    labels: tuple[str, ...] = ()
    gpu_model: str | None = None
    gpu_count: int = 0
    idle_mode: bool = False
    """False: take one job, then tear down. True: take jobs until idle_timeout_s passes idle."""
    idle_timeout_s: int = 300
    """Both modes: tear down when no job has started for this long."""
    max_runtime_s: int = 6 * 3600
    metadata_url: str = ""
    """Base of the cloud metadata endpoint; empty means the cloud's documented default."""
    install_dir: str = "/opt/cml-infra"
    systemd_dir: str = "/etc/systemd/system"
    """Where the unit that re-arms the dead-man switch after a reboot goes."""
    job_user: str = "cml-runner"
    tool_cache: str = "/opt/hostedtoolcache"
    """GitHub only: where actions/setup-python and the other setup actions install tools."""
    docker: bool = False
    """GitLab only: the docker executor with all GPUs instead of the shell executor."""
    extra_commands: tuple[str, ...] = ()
    """Shell commands run as root during setup: after the job user exists and is blocked from
    the metadata service, before the GPU check (so they may install the driver, as on Alibaba)
    and before the runner is installed."""
    forge_api_url: str = ""
    """GitLab REST base (empty: forge_url + /api/v4), used to delete the runner at teardown."""
    cloud_api_url: str = ""
    """GCP Compute API, Azure ARM or Alibaba ECS API base for self-deletion; empty means the
    public endpoint."""
    docker_image: str = "ubuntu:24.04"
    """GitLab docker executor: the default image of jobs that name none."""
    network_timeout_s: int = 300
    download_attempts: int = 5
    retry_backoff_s: int = 2
    poll_interval_s: int = 5
    """How often the spot and idle watchers (and the GPU wait) look."""
    gpu_wait_s: int = 900
    """How long to wait for `nvidia-smi` to see the GPUs: on GCP, Azure and Alibaba the driver
    is installed after boot (metadata flag, VM extension, extra commands)."""
    stop_grace_s: int = 30
    """How long a stopping runner gets between SIGTERM and SIGKILL."""
    end_machine_retry_s: int = 900
    """How long teardown retries deleting the machine (exponential backoff from
    retry_backoff_s, capped at 60 s) before it falls back to stopping it: a new role
    assignment may take up to 10 minutes to take effect on Azure
    (https://learn.microsoft.com/azure/role-based-access-control/troubleshooting)."""
    job_metadata_access: bool = False
    """Let jobs reach the metadata service. Only for a pool with a machine identity, whose
    jobs fetch that identity's credentials there (`dvc pull` without keys); they can then
    also read the user data, whose registration is single-use and machine-scoped."""


def teardown_budget_s(config: StartupConfig) -> int:
    """The longest teardown the dead-man switch can run after the machine's deadline: the grace
    it gives the main path and the runner's own stop, GitLab's unregister (curl: 5 s to
    connect, 30 s), the self-delete retries, then the last attempt and the fallback (metadata
    reads of 5 s, API calls of 60 s each) and a margin of 300 s for those. The OS-level
    backstop waits this long (templates/guards.sh); the clouds' own deadlines wait longer
    (infra/clouds/common.py)."""
    return 2 * config.stop_grace_s + 35 + config.end_machine_retry_s + 300


def render_startup_script(config: StartupConfig) -> str:
    """The bash script for `config`, ready to be user data or run by `--cloud local`.

    Raises `infra.errors.SpecError` for a value that cannot safely go into the script.
    """
    from infra.startup.validate import validate_config

    validate_config(config)
    mode = "idle" if config.idle_mode else "single-job"
    header = (
        "#!/usr/bin/env bash\n"
        f"# cml-infra startup script: forge {config.forge}, cloud {config.cloud}, {mode} mode.\n"
        "# Rendered from infra/startup/templates/, where the comments are.\n"
    )
    parts = [p.format(forge=config.forge, cloud=config.cloud) for p in PARTS]
    if config.cloud in DEFAULT_CLOUD_API:
        parts.insert(parts.index(f"cloud_{config.cloud}"), "identity")
    body = [_read_part(name) for name in parts]
    script = header + _parameter_block(config) + "".join(body)
    _check_size(config.cloud, script)
    return script


def _read_part(name: str) -> str:
    """A template without comment lines, blank lines and indentation: they cost user-data
    bytes (16 KB on AWS). The templates have no heredocs, so no line's indent matters."""
    text = resources.files(__package__).joinpath(f"templates/{name}.sh").read_text()
    lines = (line.lstrip(" ") for line in text.splitlines(keepends=True))
    return "".join(line for line in lines if line.strip() and not line.startswith("#"))


def user_data_bytes(cloud: str, script: str) -> bytes:
    """The script as the cloud receives it: gzip-compressed on AWS (GZIPPED_CLOUDS). A fixed
    mtime keeps the bytes, and so the machine, unchanged when the script is."""
    data = script.encode()
    return gzip.compress(data, mtime=0) if cloud in GZIPPED_CLOUDS else data


def _check_size(cloud: str, script: str) -> None:
    size, limit = len(user_data_bytes(cloud, script)), USER_DATA_LIMIT.get(cloud)
    if limit and size > limit:
        raise SpecError(f"The startup script is {size} bytes, over the {limit}-byte user-data "
                        f"limit of {cloud}; pass fewer just-in-time configurations or shorter "
                        "extra commands.")


def _parameter_block(config: StartupConfig) -> str:
    lines = [f"{name}={shlex.quote(value)}" for name, value in _parameters(config)]
    extras = " ".join(shlex.quote(c) for c in config.extra_commands)
    lines.append(f"CML_EXTRA_COMMANDS=({extras})")
    return "\n".join(lines) + "\n"


def _labels(c: StartupConfig) -> list[str]:
    """The spec's labels plus the GPU model: informational here, the forge got them at creation."""
    extra = [c.gpu_model] if c.gpu_model and c.gpu_model not in c.labels else []
    return [*c.labels, *extra]


def _parameters(c: StartupConfig) -> list[tuple[str, str]]:
    metadata_url, metadata_host = DEFAULT_METADATA[c.cloud]
    if c.metadata_url:
        from urllib.parse import urlsplit

        metadata_url = c.metadata_url.rstrip("/")
        metadata_host = urlsplit(c.metadata_url).hostname or ""
    params = [
        ("CML_FORGE", c.forge), ("CML_CLOUD", c.cloud), ("CML_RUNNER_NAME", c.runner_name),
        ("CML_FORGE_URL", c.forge_url.rstrip("/")),
        ("CML_PACKAGE_URL", c.runner_package_url),
        ("CML_PACKAGE_SHA256", c.runner_package_sha256.lower()),
        ("CML_LABELS", ",".join(_labels(c))), ("CML_GPU_MODEL", c.gpu_model or "none"),
        ("CML_GPU_COUNT", str(c.gpu_count)), ("CML_GPU_WAIT_S", str(c.gpu_wait_s)),
        ("CML_IDLE_MODE", str(int(c.idle_mode))), ("CML_IDLE_TIMEOUT_S", str(c.idle_timeout_s)),
        ("CML_MAX_RUNTIME_S", str(c.max_runtime_s)), ("CML_INSTALL_DIR", c.install_dir),
        ("CML_SYSTEMD_DIR", c.systemd_dir),
        ("CML_JOB_USER", c.job_user), ("CML_DOCKER", str(int(c.docker))),
        ("CML_NETWORK_TIMEOUT_S", str(c.network_timeout_s)),
        ("CML_DOWNLOAD_ATTEMPTS", str(c.download_attempts)),
        ("CML_RETRY_BACKOFF_S", str(c.retry_backoff_s)), ("CML_POLL_S", str(c.poll_interval_s)),
        ("CML_STOP_GRACE_S", str(c.stop_grace_s)),
        ("CML_END_RETRY_S", str(c.end_machine_retry_s)),
        ("CML_TEARDOWN_BUDGET_S", str(teardown_budget_s(c))),
        ("CML_METADATA_HOST", metadata_host),
        ("CML_JOB_METADATA", str(int(c.job_metadata_access))),
    ]
    if c.cloud != "local":
        params.append(("CML_METADATA_URL", metadata_url))
    if c.cloud in DEFAULT_CLOUD_API:
        params.append(("CML_CLOUD_API_URL", (c.cloud_api_url or DEFAULT_CLOUD_API[c.cloud])))
    if c.forge == "github" and c.cloud != "local":
        params.append(("CML_TOOL_CACHE", c.tool_cache))
    if c.forge == "gitlab":
        api = c.forge_api_url or f"{c.forge_url.rstrip('/')}/api/v4"
        params += [("CML_FORGE_API_URL", api.rstrip("/")), ("CML_DOCKER_IMAGE", c.docker_image)]
    params.append(("CML_REGISTRATION", c.registration))
    return params
