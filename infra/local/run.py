"""`--cloud local`: run the startup script on this machine, in the foreground.

The same script as on a cloud machine, rendered for `cloud="local"`: it registers this
machine as a runner, runs jobs as the unprivileged job user, and at the end stops and
unregisters the runner. It never powers the host off and has no metadata service to block.

`up_local(...)` is what `cml-infra up --cloud local` calls: mint the registration
(infra.forges.local), render, run, and delete the registration afterwards whatever happened.
`CML_INFRA_LOCAL_TUNING` (`key=value,...` of StartupConfig's install_dir and timing fields)
shortens timeouts in tests; it is not a user setting.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.errors import LocalRunError, SpecError
from infra.spec import RunnerSpec
from infra.startup import StartupConfig, render_startup_script

if TYPE_CHECKING:
    from infra.forges.local import Printer, Registration
    from infra.forges.runners import Fetch

TUNING_ENV = "CML_INFRA_LOCAL_TUNING"
TUNABLE = ("network_timeout_s", "download_attempts", "retry_backoff_s", "poll_interval_s",
           "stop_grace_s", "gpu_wait_s")
# An on-premise box has its driver installed or not; nothing installs one after start-up,
# so a missing GPU is reported within half a minute rather than the clouds' 15.
LOCAL_GPU_WAIT_S = 30
PLACEHOLDER = "REGISTRATION-MINTED-WHEN-THE-RUNNER-STARTS"


@dataclass(frozen=True)
class LocalForge:
    """The forge side of a local run: a ready client and where runners register."""

    client: Any = field(repr=False)
    repo: str
    server_url: str
    api_url: str
    gitlab_runner_url: str = ""
    gitlab_runner_sha256: str | None = None


# All the script gets from our environment: it runs as root and starts the runner, so
# anything else (REPO_TOKEN, GITHUB_TOKEN, cloud keys of the CI job) would reach the jobs.
SCRIPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "USER", "LOGNAME", TUNING_ENV)


def script_env(env: Mapping[str, str]) -> dict[str, str]:
    return {name: env[name] for name in SCRIPT_ENV if name in env}


def run_local(config: StartupConfig, env: Mapping[str, str] | None = None) -> int:
    """Run the script for `config` until the runner is done; return the script's exit status.
    The script sees only `script_env` of `env` (default: this process's environment).

    Ctrl-C reaches the script too (same process group): it stops the runner and unregisters
    it, and we wait for that instead of killing it halfway.
    """
    check_local(config, os.geteuid(), getpass.getuser())
    with tempfile.TemporaryDirectory(prefix="cml-infra-") as folder:
        script = Path(folder) / "startup.sh"
        # The script holds the single-use registration: readable by this user only.
        script.touch(mode=0o600)
        script.write_text(readable_script(config))
        proc = subprocess.Popen(["bash", str(script)],
                                env=script_env(os.environ if env is None else env))
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                continue


def readable_script(config: StartupConfig) -> str:
    """The script for `config` with the templates' comments, blank lines and indentation:
    infra.startup strips them to fit the clouds' user-data limits, which this machine does not
    have. Stripped again, it is `render_startup_script(config)` exactly; when it would not be
    (a template part this code does not know), the stripped script is returned."""
    from importlib import resources

    from infra.startup import PARTS

    compact = render_startup_script(config)  # validates every value
    folder = resources.files("infra.startup").joinpath("templates")
    raw = [folder.joinpath(f"{part.format(forge=config.forge, cloud=config.cloud)}.sh")
           .read_text() for part in PARTS]
    stripped = "".join(strip_comments(text) for text in raw)
    if not compact.endswith(stripped):
        return compact
    return compact[: len(compact) - len(stripped)] + "".join(raw)


def strip_comments(text: str) -> str:
    """`text` without comment lines, blank lines and indentation, as infra.startup sends it."""
    lines = (line.lstrip(" ") for line in text.splitlines(keepends=True))
    return "".join(line for line in lines if line.strip() and not line.startswith("#"))


def check_local(config: StartupConfig, euid: int, user: str) -> None:
    """Refuse what cannot work here, before anything registers."""
    if config.cloud != "local":
        raise SpecError(f"Render the script for cloud local to run it here, not {config.cloud}.")
    if euid != 0 and config.job_user != user:
        raise SpecError(f"Run as root to create the job user {config.job_user}, or set the job "
                        f"user to {user} to run jobs as yourself.")


def local_config(spec: RunnerSpec, forge_url: str, minted: Registration, *, name: str,
                 api_url: str = "", tuning: Mapping[str, str] | None = None) -> StartupConfig:
    """The startup configuration for this machine; root gets a job user, others run as self."""
    root = os.geteuid() == 0
    config = StartupConfig(
        forge=spec.forge, cloud="local", runner_name=name,  # type: ignore[arg-type]
        forge_url=forge_url, registration=minted.registration,
        runner_package_url=minted.package_url, runner_package_sha256=minted.package_sha256,
        labels=spec.labels, gpu_model=spec.machine.gpu_model,
        gpu_count=spec.machine.gpu_count, idle_mode=spec.idle_mode, docker=spec.docker,
        idle_timeout_s=spec.idle_timeout_s, max_runtime_s=spec.max_runtime_s,
        install_dir="/opt/cml-infra" if root else str(Path.home() / ".cml-infra" / "runner"),
        job_user="cml-runner" if root else getpass.getuser(),
        extra_commands=spec.extra_commands, gpu_wait_s=LOCAL_GPU_WAIT_S,
        forge_api_url=api_url if spec.forge == "gitlab" else "")
    return replace(config, **_tuning(tuning or {}))


def _tuning(env: Mapping[str, str]) -> dict[str, Any]:
    pairs = [item.partition("=") for item in env.get(TUNING_ENV, "").split(",") if item]
    values: dict[str, Any] = {}
    for key, _, value in pairs:
        if key == "install_dir":
            values[key] = value
        elif key in TUNABLE and value.isdigit():
            values[key] = int(value)
        else:
            raise SpecError(f"{TUNING_ENV} has {key}={value}; use install_dir or one of "
                            f"{', '.join(TUNABLE)} with a whole number.")
    return values


def dry_run_script(spec: RunnerSpec, gitlab_runner_url: str = "",
                   gitlab_runner_sha256: str | None = None) -> str:
    """The script `up` would run here, with placeholders for what only the forge can give."""
    from infra.forges.local import Registration

    github = spec.forge == "github"
    minted = Registration(PLACEHOLDER if github else f"glrt-{PLACEHOLDER}",
                          "https://forge.invalid/runner-package" if github else gitlab_runner_url,
                          gitlab_runner_sha256 or "0" * 64)
    config = local_config(spec, spec.forge_url, minted, name=spec.name)
    script = readable_script(config)
    shown = {"CML_REGISTRATION": "<single-use registration, minted by up>"}
    if github:
        shown["CML_PACKAGE_URL"] = "<from the forge runner downloads API>"
    if not gitlab_runner_sha256:
        shown["CML_PACKAGE_SHA256"] = "<published checksum>"
    lines = []
    for line in script.splitlines():
        key = line.partition("=")[0]
        lines.append(f"{key}={shlex.quote(shown[key])}" if key in shown else line)
    return "\n".join(lines) + "\n"


def up_local(spec: RunnerSpec, forge: LocalForge, printer: Printer, fetch: Fetch,
             env: Mapping[str, str] | None = None,
             run: Callable[[StartupConfig], int] = run_local) -> None:
    """Register this machine, run the runner in the foreground, then remove the registration
    whatever happened (a failed step, Ctrl-C, a clean end).

    Raises LocalRunError, after the cleanup, when the script ends with an error.
    """
    name = f"{spec.name}-{secrets.token_hex(3)}"  # unique: a crashed run's name may linger
    printer(f"Registering this machine as {spec.forge} runner {name} for {forge.repo}")
    minted = _mint(spec, forge, name, printer, fetch)
    try:
        config = local_config(spec, forge.server_url, minted, name=name,
                              api_url=forge.api_url, tuning=os.environ if env is None else env)
        printer("Starting the runner on this machine; Ctrl-C stops and unregisters it")
        status = run(config)
    finally:
        _remove(spec, forge, minted, printer)
    if status != 0:
        raise LocalRunError(_failure(config, status))
    printer(f"The runner {name} has stopped and is unregistered; this machine stays up")


def _mint(spec: RunnerSpec, forge: LocalForge, name: str, printer: Printer,
          fetch: Fetch) -> Registration:
    from infra.forges import local as local_forge

    if spec.forge == "github":
        return local_forge.register_github(forge.client, forge.repo, spec, name, printer)
    return local_forge.register_gitlab(forge.client, forge.repo, spec, name,
                                       forge.gitlab_runner_url, forge.gitlab_runner_sha256,
                                       fetch, printer)


def _remove(spec: RunnerSpec, forge: LocalForge, minted: Registration,
            printer: Printer) -> None:
    from infra.forges import local as local_forge

    if spec.forge == "github":
        local_forge.delete_github(forge.client, forge.repo, minted, printer)
    else:
        local_forge.delete_gitlab(forge.client, minted, printer)


def _failure(config: StartupConfig, status: int) -> str:
    log = Path(config.install_dir) / "state" / "startup.log"
    reason = ""
    try:
        aborts = [line for line in log.read_text().splitlines() if "aborting: " in line]
        reason = f" ({aborts[-1].split('aborting: ', 1)[1]})" if aborts else ""
    except OSError:
        pass
    return (f"The runner on this machine ended with exit status {status}{reason}; read "
            f"{log} for the details.")
