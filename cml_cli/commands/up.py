"""`cml-infra up`: describe a runner pool with flags and plan it offline or create it."""

from __future__ import annotations

import typer

from cml_cli import lifecycle, local_up
from cml_cli import up_support as o
from cml_cli.lifecycle import TokenFileOption

SHORT_HELP = "Start GPU runners as a Pulumi stack (--dry-run: print the plan)."
HELP = (
    "Start GPU runner machines for GitHub Actions or GitLab CI as a Pulumi stack, or print "
    "the plan with --dry-run (no credentials needed).\n\n"
    "--cloud local registers this machine instead, in the foreground, until its job or the "
    "idle timeout ends.\n\n"
    "Without --dry-run: creates the pool's base stack if it is missing (network, security "
    "group, identity; shared by every run), then this run's runner stack, and waits until every "
    "runner is online at the forge. Remove the runner stack with 'cml-infra down' in an "
    "always-run job; 'cml-infra gc' on a schedule sweeps what cancelled runs left.\n\n"
    "--stack-config Pulumi.<stack>.yaml --dry-run plans every pool of that stack config file "
    "as 'pulumi up' would run them (--json or --markdown for a pull-request comment).\n\n"
    "Example: cml-infra up --cloud aws --gpu --dry-run"
)


def up(
    ctx: typer.Context,
    cloud: o.CloudOption = o.Cloud.aws, region: o.RegionOption = "us-east",
    zone: o.ZoneOption = None, size: o.SizeOption = None, gpu: o.GpuOption = False,
    gpu_model: o.GpuModelOption = None, gpu_count: o.GpuCountOption = None,
    spot: o.SpotOption = False, max_price: o.MaxPriceOption = None,
    disk_size: o.DiskSizeOption = None, labels: o.LabelsOption = "cml-infra",
    idle_timeout: o.IdleTimeoutOption = "5m", max_runtime: o.MaxRuntimeOption = "6h",
    count: o.CountOption = 1, name: o.NameOption = "cml-runner",
    forge: o.ForgeOption = o.ForgeName.github, repo: o.RepoOption = "",
    forge_url: o.ForgeUrlOption = None, identity: o.IdentityOption = None,
    image: o.ImageOption = None, extra_command: o.ExtraCommandOption = None,
    stack: o.StackOption = None, dry_run: o.DryRunOption = False,
    json_output: o.JsonOption = False, idle_mode: local_up.IdleModeOption = False,
    token: local_up.TokenOption = None, api_url: local_up.ApiUrlOption = None,
    gitlab_runner_url: local_up.GitLabRunnerUrlOption = None,
    gitlab_runner_sha256: local_up.GitLabRunnerShaOption = None,
    keep_on_failure: o.KeepOnFailureOption = False, docker: o.DockerOption = False,
    subnet: o.SubnetOption = None, token_file: TokenFileOption = None,
    wait: o.WaitOption = True, wait_timeout: o.WaitTimeoutOption = "10m",
    stack_config: o.StackConfigOption = None, markdown: o.MarkdownOption = False,
) -> None:
    import os

    if stack_config is not None or markdown:  # the pools are the file's, not the flags'
        return o.print_stack_plan(stack_config, o.given_flags(ctx), stack, dry_run,
                                  json_output, markdown)

    from infra.rules import parse_duration
    from infra.spec import build_spec

    settings, local = None, cloud is o.Cloud.local
    if token and not local:  # --cloud local says why in its own words
        from cml_cli.lifecycle import refuse_token_flag

        refuse_token_flag(token, "up")
    if not local:
        o.check_stack(stack)
    o.check_forge_inputs(forge.value, api_url, gitlab_runner_url, gitlab_runner_sha256,
                         os.environ)
    o.check_ci_variables(forge.value, repo, forge_url, os.environ)
    if dry_run:
        repo, forge_url = o.dry_run_repository(forge.value, repo, forge_url, os.environ)
        if not local:  # the token the real up would take, checked alike (none needed here)
            lifecycle.forge_token(forge.value, token_file)
    repo, forge_url, api_url = o.repository(forge.value, repo, forge_url, api_url)
    wait_s = o.wait_seconds(wait, wait_timeout, parse_duration(max_runtime, "maximum runtime"),
                            o.is_given(ctx, "wait_timeout"))
    if not dry_run and not local:  # checked before anything is created
        repo, forge_url, settings = o.prerequisites(forge.value, repo, token, token_file,
                                                    api_url, forge_url, gitlab_runner_url,
                                                    gitlab_runner_sha256)
    spec = build_spec(
        name=name, cloud=cloud.value, region=region, zone=zone, size=size, gpu=gpu,
        gpu_model=gpu_model, gpu_count=gpu_count, spot=spot, max_price=max_price,
        disk_size=disk_size, labels=labels, forge=forge.value, repo=repo, forge_url=forge_url,
        idle_timeout=idle_timeout, max_runtime=max_runtime, count=count, identity=identity,
        image=image, extra_commands=extra_command or (), idle_mode=idle_mode, docker=docker,
        subnet=subnet)
    if local:
        return local_up.up_local_command(
            spec, token=token, api_url=api_url, gitlab_runner_url=gitlab_runner_url,
            gitlab_runner_sha256=gitlab_runner_sha256, forge_url=forge_url, stack=stack,
            dry_run=dry_run, json_output=json_output)
    if settings is None:  # --dry-run: no forge settings were needed
        return o.print_plan(spec, stack, json_output)
    o.create(spec, stack, settings, keep_on_failure, wait_s)


def register(app: typer.Typer) -> None:
    from cml_cli.app import INFRA_PANEL

    app.command("up", cls=o.UpCommand, help=HELP, short_help=SHORT_HELP,
                rich_help_panel=INFRA_PANEL)(up)
