"""`cml-infra up`'s options, its stack name and warnings, and its two library calls.

Kept apart from the command module so that it stays a thin parse-call-render function.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import Enum
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
    """The pool name, made unique per CI run: two runs sharing a stack would lock each
    other out, and a later run's labels would replace the machine an earlier run uses."""
    if env.get("GITHUB_RUN_ID"):
        # GitHub run ids are numbers; a re-run keeps the id and bumps the attempt:
        # https://docs.github.com/en/actions/reference/variables-reference
        attempt = env.get("GITHUB_RUN_ATTEMPT")
        return f"{pool}-gh-{env['GITHUB_RUN_ID']}" + (f"-{attempt}" if attempt else "")
    if env.get("CI_PIPELINE_ID"):
        return f"{pool}-gl-{env['CI_PIPELINE_ID']}"
    return pool


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
ZoneOption = Annotated[str | None, typer.Option(help="Native zone (GCP, Alibaba).")]
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


def print_plan(spec: RunnerSpec, stack: str | None, json_output: bool) -> None:
    from infra.engine.plan import render_json, render_tree, run_plan

    plan = run_plan([spec], stack=stack or default_stack(spec.name, os.environ))
    typer.echo(render_json(plan) if json_output else render_tree(plan), nl=False)


def create(spec: RunnerSpec, stack: str | None, settings: ForgeSettings,
           keep_on_failure: bool) -> None:
    """Create or update the stack; engine lines are redacted like every other output."""
    from cml_cli.redact import redact
    from infra.engine.stack import up_stack
    from infra.forges.registration import forge_registrar

    if warning := state_warning(os.environ):
        typer.echo(warning, err=True)
    up_stack([spec], stack_name=stack or default_stack(spec.name, os.environ),
             registrar=forge_registrar(settings), printer=lambda line: typer.echo(redact(line)),
             keep_on_failure=keep_on_failure)
