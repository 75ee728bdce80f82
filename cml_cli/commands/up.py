"""`cml-infra up`: describe a runner pool with flags and plan it offline or create it."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from cml_cli import local_up
from cml_cli.up_support import STACK_HELP


class Cloud(str, Enum):
    aws = "aws"
    gcp = "gcp"
    azure = "azure"
    alicloud = "alicloud"
    local = "local"


class ForgeName(str, Enum):
    github = "github"
    gitlab = "gitlab"


HELP = (
    "Start GPU runner machines for GitHub Actions or GitLab CI as a Pulumi stack, or print "
    "the plan with --dry-run (no credentials needed).\n\n"
    "--cloud local registers this machine instead, in the foreground, until its job or the "
    "idle timeout ends.\n\n"
    "Example: cml-infra up --cloud aws --gpu --dry-run"
)


def up(
    cloud: Annotated[Cloud, typer.Option(help="Cloud to run on.")] = Cloud.aws,
    region: Annotated[str, typer.Option(help="Portable (us-east, us-west, eu-west, eu-north, "
                                             "ap-southeast) or native region.")] = "us-east",
    zone: Annotated[str | None, typer.Option(help="Native zone (GCP, Alibaba).")] = None,
    size: Annotated[str | None, typer.Option("--type", "--size",
                                                help="s, m, l, xl or a native type.")] = None,
    gpu: Annotated[bool, typer.Option("--gpu", help="Add the cloud's default GPU (T4).")] = False,
    gpu_model: Annotated[str | None, typer.Option(help="t4, a10g/a10, l4, l40s, v100, "
                                                          "a100, a100-80gb, h100.")] = None,
    gpu_count: Annotated[int | None, typer.Option(help="GPUs per machine.")] = None,
    spot: Annotated[bool, typer.Option("--spot", help="Use spot capacity.")] = False,
    max_price: Annotated[float | None, typer.Option(help="Spot price cap per hour.")] = None,
    disk_size: Annotated[int | None, typer.Option(help="Root disk in GB.")] = None,
    labels: Annotated[str, typer.Option(help="Comma-separated runner labels.")] = "cml-infra",
    idle_timeout: Annotated[str, typer.Option(help="Wait this long for a job.")] = "5m",
    max_runtime: Annotated[str, typer.Option(help="Hard lifetime of a machine.")] = "6h",
    count: Annotated[int, typer.Option(help="Number of machines.")] = 1,
    name: Annotated[str, typer.Option(help="Pool name.")] = "cml-runner",
    forge: Annotated[ForgeName, typer.Option(help="Where runners register.")] = ForgeName.github,
    repo: Annotated[str, typer.Option(help="owner/name or URL of the repository the runners "
                                           "serve (default: the CI job's).")] = "",
    forge_url: Annotated[str | None, typer.Option(help="GitHub/GitLab web address.")] = None,
    identity: Annotated[str | None, typer.Option(
        help="Machine identity for bucket access (profile, account, role).")] = None,
    image: Annotated[str | None, typer.Option(help="Native image overriding the "
                                                      "GPU-ready default.")] = None,
    extra_command: Annotated[list[str] | None, typer.Option(
        help="Shell command to run before the runner starts (repeatable).")] = None,
    stack: Annotated[str | None, typer.Option(help=STACK_HELP)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; create "
                                                            "nothing.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Plan as one JSON object.")] = False,
    idle_mode: local_up.IdleModeOption = False,
    token: local_up.TokenOption = None,
    api_url: local_up.ApiUrlOption = None,
    gitlab_runner_url: local_up.GitLabRunnerUrlOption = None,
    gitlab_runner_sha256: local_up.GitLabRunnerShaOption = None,
    keep_on_failure: Annotated[bool, typer.Option(
        "--keep-on-failure", help="Keep what a failed run created, to debug it.")] = False,
) -> None:
    import os

    from cml_cli.up_support import default_stack, state_warning
    from infra.spec import build_spec

    settings = None
    if not dry_run and cloud is not Cloud.local:  # checked before anything is created
        from cml_cli.forge_options import runner_forge

        repo, forge_url, settings = runner_forge(forge.value, repo, token, api_url, forge_url,
                                                 gitlab_runner_url, gitlab_runner_sha256)
    spec = build_spec(
        name=name, cloud=cloud.value, region=region, zone=zone, size=size, gpu=gpu,
        gpu_model=gpu_model, gpu_count=gpu_count, spot=spot, max_price=max_price,
        disk_size=disk_size, labels=labels, forge=forge.value, repo=repo, forge_url=forge_url,
        idle_timeout=idle_timeout, max_runtime=max_runtime, count=count, identity=identity,
        image=image, extra_commands=extra_command or (), idle_mode=idle_mode)
    if cloud is Cloud.local:
        return local_up.up_local_command(
            spec, token=token, api_url=api_url, gitlab_runner_url=gitlab_runner_url,
            gitlab_runner_sha256=gitlab_runner_sha256, forge_url=forge_url, stack=stack,
            dry_run=dry_run, json_output=json_output)
    if dry_run:
        from infra.plan import render_json, render_tree, run_plan

        plan = run_plan([spec], stack=stack or default_stack(spec.name, os.environ))
        typer.echo(render_json(plan) if json_output else render_tree(plan), nl=False)
        return
    from infra.registration import forge_registrar
    from infra.stack import up_stack

    assert settings is not None
    if warning := state_warning(os.environ):
        typer.echo(warning, err=True)
    up_stack([spec], stack_name=stack or default_stack(spec.name, os.environ),
             registrar=forge_registrar(settings), printer=typer.echo,
             keep_on_failure=keep_on_failure)


def register(app: typer.Typer) -> None:
    from cml_cli.app import INFRA_PANEL

    app.command("up", help=HELP, rich_help_panel=INFRA_PANEL)(up)
