"""`cml-infra up`'s options, its stack name and warnings, and its two library calls.

Kept apart from the command module so that it stays a thin parse-call-render function.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from infra.forges.registration import ForgeSettings
    from infra.spec import RunnerSpec


class Cloud(str, Enum):
    aws = "aws"
    gcp = "gcp"
    azure = "azure"
    alicloud = "alicloud"
    local = "local"


class ForgeName(str, Enum):
    github = "github"
    gitlab = "gitlab"


STACK_HELP = ("Pulumi stack (default: the pool name, plus the CI run when one is set: "
              "<name>-gh-<GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT> or <name>-gl-<CI_PIPELINE_ID>, "
              "so that concurrent CI runs on a shared backend never share a stack).")


def default_stack(pool: str, env: Mapping[str, str]) -> str:
    """This CI run's runner stack for `pool` (infra.engine.naming.runner_stack_name)."""
    from infra.engine.naming import runner_stack_name

    return runner_stack_name(pool, env)


def state_warning(env: Mapping[str, str]) -> str | None:
    """A warning when the stack state would live in a CI job's throw-away home directory."""
    if env.get("CI", "").lower() != "true" or env.get("PULUMI_BACKEND_URL"):
        return None
    return ("Warning: PULUMI_BACKEND_URL is unset, so the stack state stays in this CI job "
            "and is lost with it (the machines still end themselves at --max-runtime); set "
            "PULUMI_BACKEND_URL to an s3://, gs:// or azblob:// bucket to keep it.")


CloudOption = Annotated[Cloud, typer.Option(help="Cloud to run on.")]
RegionOption = Annotated[str, typer.Option(help="Portable (us-east, us-west, eu-west, "
                                                "eu-north, ap-southeast) or native region.")]
ZoneOption = Annotated[str | None, typer.Option(
    help="A zone of the region (AWS us-east-1a, GCP us-east1-c, Alibaba cn-hangzhou-h); default: "
         "the zones that sell the machine type, the next one tried when one has no capacity. "
         "Azure pools take no zone.")]
SizeOption = Annotated[str | None, typer.Option("--type", "--size",
                                                help="s, m, l, xl or a native type.")]
GpuOption = Annotated[bool, typer.Option("--gpu", help="Add the cloud's default GPU (T4).")]
GpuModelOption = Annotated[str | None, typer.Option(help="t4, a10g/a10, l4, l40s, v100, "
                                                         "a100, a100-80gb, h100.")]
GpuCountOption = Annotated[int | None, typer.Option(help="GPUs per machine.")]
SpotOption = Annotated[bool, typer.Option("--spot", help="Use spot capacity.")]
MaxPriceOption = Annotated[float | None, typer.Option(help="Spot price cap per hour.")]
DiskSizeOption = Annotated[int | None, typer.Option(help="Root disk in GB.")]
LabelsOption = Annotated[str, typer.Option(help="Comma-separated runner labels.")]
IdleTimeoutOption = Annotated[str, typer.Option(help="Wait this long for a job.")]
MaxRuntimeOption = Annotated[str, typer.Option(help="Hard lifetime of a machine.")]
CountOption = Annotated[int, typer.Option(help="Number of machines.")]
NameOption = Annotated[str, typer.Option(help="Pool name.")]
ForgeOption = Annotated[ForgeName, typer.Option(help="Where runners register.")]
RepoOption = Annotated[str, typer.Option(help="owner/name or URL of the repository the "
                                              "runners serve (default: the CI job's).")]
ForgeUrlOption = Annotated[str | None, typer.Option(help="GitHub/GitLab web address.")]
IdentityOption = Annotated[str | None, typer.Option(
    help="Machine identity for bucket access (profile, account, role).")]
ImageOption = Annotated[str | None, typer.Option(help="Native image overriding the "
                                                      "GPU-ready default.")]
ExtraCommandOption = Annotated[list[str] | None, typer.Option(
    help="Shell command to run before the runner starts (repeatable).")]
StackOption = Annotated[str | None, typer.Option(help=STACK_HELP)]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Print the plan; create "
                                                              "nothing.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Plan as one JSON object.")]
DockerOption = Annotated[bool, typer.Option(
    "--docker", help="GitLab: run jobs in Docker with all GPUs instead of the shell executor "
    "(the image needs Docker and the NVIDIA container toolkit, as the AWS and GCP deep-learning "
    "images have).")]
KeepOnFailureOption = Annotated[bool, typer.Option(
    "--keep-on-failure", help="Keep what a failed run created, to debug it.")]
SubnetOption = Annotated[str | None, typer.Option(
    help="AWS: an existing subnet (subnet-...) for the machines instead of the pool base's own "
    "VPC.")]
WaitOption = Annotated[bool, typer.Option(
    "--wait/--no-wait", help="Wait until every runner is online at the forge.")]
WaitTimeoutOption = Annotated[str, typer.Option(
    help="How long to wait for the runners (e.g. 10m); then what was created is destroyed "
    "(unless --keep-on-failure) and the machine's serial console command is printed.")]


def print_plan(spec: RunnerSpec, stack: str | None, json_output: bool) -> None:
    from infra.engine.plan import render_json, render_tree, run_plan

    plan = run_plan([spec], stack=stack or default_stack(spec.name, os.environ))
    typer.echo(render_json(plan) if json_output else render_tree(plan), nl=False)


def wait_seconds(wait: bool, timeout: str) -> int | None:
    """The runner wait in seconds, or None with --no-wait."""
    from infra.rules import parse_duration

    return parse_duration(timeout, "wait timeout") if wait else None


def prerequisites(forge: str, repo: str, token: str | None, token_file: Path | None,
                  api_url: str | None, forge_url: str | None, gitlab_runner_url: str | None,
                  gitlab_runner_sha256: str | None) -> tuple[str, str, ForgeSettings]:
    """Everything the real `up` needs, missing pieces named in one sentence, before anything
    is created; then the repository, forge address and registration settings."""
    from cml_cli import lifecycle
    from cml_cli.forge_options import runner_forge
    from infra.engine.prerequisites import missing
    from infra.errors import PrerequisiteError

    lifecycle.refuse_token_flag(token, "up")
    found = lifecycle.forge_token(forge, token_file)
    problems = missing(os.environ, lifecycle.home(), need_token=True, token=found)
    ci_repo = os.environ.get("GITHUB_REPOSITORY" if forge == "github" else "CI_PROJECT_PATH")
    if not repo and not ci_repo:
        problems.append("pass --repo OWNER/NAME or a repository URL")
    if problems:
        raise PrerequisiteError("Before cml-infra up can run: " + "; ".join(problems) + ".")
    return runner_forge(forge, repo, found, api_url, forge_url, gitlab_runner_url,
                        gitlab_runner_sha256)


def create(spec: RunnerSpec, stack: str | None, settings: ForgeSettings,
           keep_on_failure: bool, wait_s: int | None) -> None:
    """Create the base if missing and this run's runner stack; wait for its runners."""
    from cml_cli import lifecycle
    from infra.engine.up import UpOptions, up_pools
    from infra.forges.registration import forge_registrar

    if warning := state_warning(os.environ):
        typer.echo(warning, err=True)
    name = stack or default_stack(spec.name, os.environ)
    engine = lifecycle.engine("cml-infra up", need_token=True, token=str(settings.token))
    options = UpOptions(stack_name=name, keep_on_failure=keep_on_failure)
    outputs = up_pools([spec], engine, forge_registrar(settings), lifecycle.say, options)
    if wait_s is not None:
        from infra.engine.wait import wait_for_runners

        wait_for_runners(outputs, engine, lifecycle.say, options, wait_s,
                         lambda summary, runners: _states(summary, runners, settings))


def _states(summary: Mapping[str, object], runners: list[tuple[str, str]],
            settings: ForgeSettings) -> dict[str, str]:
    from cml_cli.lifecycle import inventory_for
    from infra.forges.inventory import states_of

    return states_of(inventory_for(summary, str(settings.token)), runners)
