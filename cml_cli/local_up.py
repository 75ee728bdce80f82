"""`cml-infra up --cloud local`: the options only this path has, and its thin command body.

The forge token, repository and API URL are resolved exactly as for the reporting commands
(flags, then the CI variables); the client is built by `cml_cli.forge_options`.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from infra.spec import RunnerSpec

IDLE_MODE_HELP = (
    "Keep taking jobs until the idle timeout instead of ending after one job. Trade-off: "
    "later jobs run on a machine earlier jobs could have changed, so use it only when every "
    "job that can reach these labels is trusted.")
IdleModeOption = Annotated[bool, typer.Option("--idle-mode", help=IDLE_MODE_HELP)]
TokenOption = Annotated[str | None, typer.Option(
    "--token", help="Refused: a flag value is readable in the process list. up takes the "
    "forge token from REPO_TOKEN, then GITHUB_TOKEN / GITLAB_TOKEN, or --token-file.",
    show_default=False, hidden=True)]
# Dropped from this process's environment once the forge client holds the token, so that
# nothing started later (the startup script, the runner, jobs) inherits them.
TOKEN_VARIABLES = ("REPO_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN")
ApiUrlOption = Annotated[str | None, typer.Option(
    "--api-url", metavar="URL", help="Forge REST API root (default: GITHUB_API_URL / "
    "CI_API_V4_URL).")]
GitLabRunnerUrlOption = Annotated[str | None, typer.Option(
    "--gitlab-runner-url", metavar="URL", help="GitLab: gitlab-runner binary URL "
    "(default: GitLab's latest linux-amd64 build).")]
GitLabRunnerShaOption = Annotated[str | None, typer.Option(
    "--gitlab-runner-sha256", metavar="SHA256", help="GitLab: the binary's SHA-256 (default: "
    "from release.sha256 beside it).")]


def up_local_command(spec: RunnerSpec, *, token: str | None, api_url: str | None,
                     gitlab_runner_url: str | None, gitlab_runner_sha256: str | None,
                     forge_url: str | None, stack: str | None, dry_run: bool,
                     json_output: bool) -> None:
    from infra.errors import SpecError
    from infra.forges.runners import GITLAB_RUNNER_URL
    from infra.local.run import LocalForge, dry_run_script, up_local

    if stack:
        raise SpecError("--cloud local keeps no Pulumi stack; drop --stack.")
    if token:  # the process runs for hours; its command line is readable by every local user
        raise SpecError("--cloud local does not take --token, which would stay readable in "
                        "this process's command line; set REPO_TOKEN, GITHUB_TOKEN or "
                        "GITLAB_TOKEN instead.")
    binary_url = gitlab_runner_url or GITLAB_RUNNER_URL
    if dry_run:
        from cml_cli.up_support import warn_without_repo

        warn_without_repo(spec)
        script = dry_run_script(spec, binary_url, gitlab_runner_sha256)
        typer.echo(_dry_run_json(spec, script) if json_output else script, nl=False)
        return
    from cml_cli.forge_options import DriverChoice, build_runner_client, read_context

    ctx = read_context(spec.repo or None, None, DriverChoice(spec.forge), api_url)
    forge = LocalForge(build_runner_client(ctx), ctx.repo, forge_url or ctx.server_url,
                       ctx.api_url, binary_url, gitlab_runner_sha256)
    for name in TOKEN_VARIABLES:
        os.environ.pop(name, None)
    up_local(spec, forge, printer=typer.echo, fetch=fetch_text)


def _dry_run_json(spec: RunnerSpec, script: str) -> str:
    """The plan contract (a `resources` list) with one pseudo-resource: this machine."""
    inputs = {"forge": spec.forge, "repo": spec.repo, "labels": list(spec.labels),
              "gpuModel": spec.machine.gpu_model, "gpuCount": spec.machine.gpu_count,
              "idleMode": spec.idle_mode, "idleTimeoutSeconds": spec.idle_timeout_s,
              "maxRuntimeSeconds": spec.max_runtime_s, "script": script}
    resource = {"type": "cml-infra:local:Runner", "name": spec.name, "inputs": inputs}
    return json.dumps({"cloud": "local", "resources": [resource]}, indent=2) + "\n"


def fetch_text(url: str) -> str:
    """A small text file (GitLab's release.sha256) over HTTPS."""
    import urllib.request

    from infra.errors import ForgeError

    if not url.startswith(("https://", "http://")):
        raise ForgeError(f"Give the gitlab-runner URL as an http(s) address, not {url!r}.")
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return str(answer.read(1 << 20).decode())
    except (OSError, UnicodeDecodeError):
        raise ForgeError(f"Could not download {url}; check the network or pass "
                         "--gitlab-runner-sha256.") from None
