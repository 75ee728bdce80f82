"""`cml-infra up`'s options, its stack name and warnings, and its two library calls.

Kept apart from the command module so that it stays a thin parse-call-render function.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.exceptions import NoSuchOption, UsageError
from typer.core import TyperCommand

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
              "the name, gh, GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT joined by hyphens, or the "
              "name, gl and CI_PIPELINE_ID, so that concurrent CI runs on a shared backend "
              "never share a stack).")


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


def whole_number(value: str | int) -> int:
    """An integer flag's value, digits only: Click's own INT also takes 2.0 (and refuses 1e2)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise typer.BadParameter(f"{value!r} is not a whole number")
    return int(text)


# Kept in step with infra.rules (DURATION_PATTERN, MAX_RUNTIME_S) and infra.spec.MAX_COUNT by
# tests/test_cli_help.py; importing them here would cost every `--help` the catalog.
DURATION = "a number and s, m or h: 30s, 5m, 2h"
CloudOption = Annotated[Cloud, typer.Option(help="Cloud to run on.")]
RegionOption = Annotated[str, typer.Option(
    metavar="REGION", help="Portable (us-east, us-west, eu-west, eu-north, ap-southeast) or "
    "native region.")]
ZoneOption = Annotated[str | None, typer.Option(
    metavar="ZONE",
    help="A zone of the region (AWS us-east-1a, GCP us-east1-c, Alibaba cn-hangzhou-h). Default: "
         "a zone that sells the machine type; on AWS and GCP the next such zone is tried when "
         "one has no capacity. Azure pools take no zone.")]
SizeOption = Annotated[str | None, typer.Option("--type", "--size", metavar="TYPE",
                                                help="s, m, l, xl or a native type.")]
GpuOption = Annotated[bool, typer.Option("--gpu", help="Add the cloud's default GPU (T4).")]
GpuModelOption = Annotated[str | None, typer.Option(
    metavar="MODEL", help="t4, a10g/a10, l4, l40s, v100, a100, a100-80gb, h100.")]
GpuCountOption = Annotated[int | None, typer.Option(
    metavar="N", parser=whole_number,
    help="GPUs per machine (default: the fewest the cloud sells the model with).")]
SpotOption = Annotated[bool, typer.Option("--spot", help="Use spot capacity.")]
MaxPriceOption = Annotated[float | None, typer.Option(
    metavar="PRICE", help="Spot price cap per hour in US dollars (Alibaba: the account's "
    "currency), such as 0.5.")]
DiskSizeOption = Annotated[int | None, typer.Option(
    metavar="GB", parser=whole_number,
    help="Root disk in GB, 10 to 16384 (default: 100 with a GPU, else 30).")]
LabelsOption = Annotated[str, typer.Option(metavar="LABEL,...",
                                           help="Comma-separated runner labels.")]
IdleTimeoutOption = Annotated[str, typer.Option(
    metavar="DURATION", help=f"Wait this long for a job ({DURATION}).")]
MaxRuntimeOption = Annotated[str, typer.Option(
    metavar="DURATION", help=f"Hard lifetime of a machine ({DURATION}), longer than the idle "
    "timeout and at most 7 days (168h).")]
CountOption = Annotated[int, typer.Option(
    metavar="N", parser=whole_number, help="Number of machines, 1 to 50.")]
NameOption = Annotated[str, typer.Option(
    metavar="NAME", help="Pool name: 2 to 40 lowercase letters, digits and hyphens.")]
ForgeOption = Annotated[ForgeName, typer.Option(help="Where runners register.")]
RepoOption = Annotated[str, typer.Option(
    metavar="OWNER/NAME|URL", help="The repository the runners serve: owner/name (GitLab: "
    "group/subgroup/project) or its https:// address (default: the CI job's).")]
ForgeUrlOption = Annotated[str | None, typer.Option(
    metavar="URL", help="GitHub/GitLab web address (default: the --repo URL's, else "
    "github.com or gitlab.com).")]
IdentityOption = Annotated[str | None, typer.Option(
    metavar="IDENTITY", help="Machine identity for bucket access (profile, account, role).")]
ImageOption = Annotated[str | None, typer.Option(
    metavar="IMAGE", help="Native image overriding the GPU-ready default.")]
ExtraCommandOption = Annotated[list[str] | None, typer.Option(
    metavar="COMMAND", help="Shell command to run before the runner starts (repeatable).")]
StackOption = Annotated[str | None, typer.Option(metavar="STACK", help=STACK_HELP)]
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
    metavar="SUBNET", help="AWS: an existing subnet (subnet-...) for the machines instead of "
    "the pool base's own VPC.")]
WaitOption = Annotated[bool, typer.Option(
    "--wait/--no-wait", help="Wait until every runner is online at the forge.")]
WaitTimeoutOption = Annotated[str, typer.Option(
    metavar="DURATION", help=f"How long to wait for the runners ({DURATION}; at most the "
    "--max-runtime); then what was created is destroyed (unless --keep-on-failure) and the "
    "machine's serial console command is printed.")]


# CML's `cml runner launch` options and ours (README "Migrating from CML"; CML's runner
# reference https://github.com/iterative/cml.dev/blob/master/content/docs/ref/runner.md).
CML_RUNNER_OPTIONS = {
    "--cloud-region": "--region", "--cloud-type": "--type (and --gpu-model for its GPU)",
    "--cloud-gpu": "--gpu-model", "--cloud-hdd-size": "--disk-size", "--cloud-spot": "--spot",
    "--cloud-spot-price": "--max-price", "--cloud-permission-set": "--identity",
    "--cloud-startup-script": "--extra-command", "--driver": "--forge",
}
CML_SINGLE = ("--single is CML's; here a machine takes one job by default, and --idle-mode "
              "keeps it taking jobs until the idle timeout")


class UpCommand(TyperCommand):
    """`up`: an unknown option that is one of CML's runner options names ours."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except NoSuchOption as exc:
            name = exc.option_name
            if name == "--single":
                raise UsageError(CML_SINGLE, ctx=exc.ctx) from None
            if name not in CML_RUNNER_OPTIONS:
                raise
            raise UsageError(f"{name} is CML's; here it is {CML_RUNNER_OPTIONS[name]}",
                             ctx=exc.ctx) from None


StackConfigOption = Annotated[Path | None, typer.Option(
    metavar="FILE", help="With --dry-run: plan every pool of this Pulumi.<stack>.yaml as "
    "'pulumi up' would run them (the Pulumi.yaml beside it is the project); the file "
    "describes the pools, so no pool flag goes with it.")]
MarkdownOption = Annotated[bool, typer.Option(
    "--markdown", help="With --stack-config: the plan as a markdown document, such as a "
    "pull-request comment.")]
# The flags --stack-config takes; every other one describes a pool or the real up.
STACK_CONFIG_FLAGS = ("stack_config", "stack", "dry_run", "json_output", "markdown")


def given_flags(ctx: typer.Context) -> list[str]:
    """The flags given on the command line (not left at their defaults), as the user wrote
    them, other than those --stack-config takes."""
    given = []
    for param in ctx.command.params:
        if param.name is None or param.name in STACK_CONFIG_FLAGS:
            continue
        source = ctx.get_parameter_source(param.name)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            given.append(param.opts[0])
    return given


def print_stack_plan(path: Path | None, flags: list[str], stack: str | None, dry_run: bool,
                     json_output: bool, markdown: bool) -> None:
    """`up --dry-run --stack-config FILE`: every pool of a stack config file, planned."""
    from infra.errors import SpecError

    if path is None:
        raise SpecError("--markdown prints the plan of a stack config file; add --stack-config "
                        "Pulumi.<stack>.yaml --dry-run, or use --json for one pool's plan.")
    if flags:
        listed = ", ".join(flags)
        raise SpecError(f"--stack-config plans the pools {path.name} declares, so {listed} "
                        f"would describe a pool the file already describes; drop "
                        f"{'it' if len(flags) == 1 else 'them'} and change the pool in the "
                        "file.")
    if not dry_run:
        raise SpecError(f"--stack-config only plans, with --dry-run; to create the pools of "
                        f"{path.name}, run pulumi up --stack {_stack_hint(path, stack)} in its "
                        "project's folder.")
    if json_output and markdown:
        raise SpecError("--json and --markdown are two forms of the same plan; choose one.")
    from infra.engine.stack_plan import plan_stack_config, render_json, render_markdown

    if stack is not None:
        check_stack(stack)
    planned = plan_stack_config(path, stack)
    for warning in planned.config.warnings:
        typer.echo(warning, err=True)
    render = render_json if json_output else render_markdown if markdown else None
    if render is None:
        from infra.engine.plan import render_tree

        typer.echo(render_tree(planned.plan), nl=False)
        return
    typer.echo(render(planned), nl=False)


def _stack_hint(path: Path, stack: str | None) -> str:
    from infra.engine.stack_plan import STACK_FILE

    match = STACK_FILE.fullmatch(path.name)
    return stack or (match["stack"] if match else "<stack>")


def repository(forge: str, repo: str, forge_url: str | None,
               api_url: str | None) -> tuple[str, str | None, str | None]:
    """--repo as a path, with the forge web address and API root its URL names (else the flags
    as given): refused here alike for the dry run and the real up."""
    if not repo:
        return "", forge_url, api_url
    from infra.rules import default_api_url, names_server, repo_and_forge_url

    path, url = repo_and_forge_url(forge, repo, forge_url)
    if not names_server(repo):
        return path, forge_url, api_url
    return path, url, api_url or default_api_url(forge, url)


# The repository and forge address the real up takes from CI when --repo is not given
# (reporting.context: GitHub's GITHUB_REPOSITORY, GitLab's CI_PROJECT_PATH).
CI_REPOSITORY = {"github": ("GITHUB_REPOSITORY", "GITHUB_SERVER_URL"),
                 "gitlab": ("CI_PROJECT_PATH", "CI_SERVER_URL")}


# The forge's REST API root from CI when --api-url is not given (reporting.context).
CI_API_URL = {"github": "GITHUB_API_URL", "gitlab": "CI_API_V4_URL"}
API_EXAMPLE = {"github": "https://ghe.example.com/api/v3",
               "gitlab": "https://gitlab.example.com/api/v4"}


def check_ci_variables(forge: str, repo: str, forge_url: str | None,
                       env: Mapping[str, str]) -> None:
    """The CI job's repository and forge address, when up would take them (no --repo, no
    --forge-url), refused in a sentence that names the variable, alike for the dry run and the
    real up."""
    from infra.errors import SpecError
    from infra.rules import FORGE_NAMES, check_forge_url, parse_repo

    name, server = CI_REPOSITORY[forge]
    if not repo and env.get(name):
        try:
            parse_repo(forge, env[name])
        except SpecError:
            shape = "OWNER/NAME" if forge == "github" else "GROUP/PROJECT"
            raise SpecError(f"{name} {env[name]!r} is not a {FORGE_NAMES[forge]} repository; "
                            f"set it to {shape} or pass --repo.") from None
    if not forge_url and env.get(server):
        try:
            check_forge_url(forge, env[server], server)
        except SpecError as exc:
            raise SpecError(f"{str(exc).rstrip('.')}, or pass --forge-url.") from None


def check_forge_inputs(forge: str, api_url: str | None, gitlab_runner_url: str | None,
                       gitlab_runner_sha256: str | None, env: Mapping[str, str]) -> None:
    """--api-url (else the CI variable), --gitlab-runner-url and --gitlab-runner-sha256: one
    check for the dry run and the real up, on every cloud and this machine (infra.rules, as
    stack config's forgeApiUrl, gitlabRunnerUrl and gitlabRunnerSha256)."""
    from infra.rules import check_runner_binary, check_web_url

    if api_url is not None:
        check_web_url(api_url, "--api-url", API_EXAMPLE[forge])
    else:
        variable = CI_API_URL[forge]
        check_web_url(env.get(variable) or None, variable, API_EXAMPLE[forge])
    check_runner_binary(gitlab_runner_url, gitlab_runner_sha256)


def dry_run_repository(forge: str, repo: str, forge_url: str | None,
                       env: Mapping[str, str]) -> tuple[str, str | None]:
    """The repository a dry run shows: --repo, else the CI job's, as the real up would take."""
    if repo:
        return repo, forge_url
    name, server = CI_REPOSITORY[forge]
    if env.get(name):
        return env[name], forge_url or env.get(server) or None
    return "", forge_url


def warn_without_repo(spec: RunnerSpec) -> None:
    """The plan of a pool without a repository is not what the real up would do: it stops."""
    if not spec.repo:
        typer.echo(f"Warning: no repository is known (no --repo, no "
                   f"{CI_REPOSITORY[spec.forge][0]} from CI), so this plan registers the runners "
                   "with none; pass --repo OWNER/NAME to plan the real up.", err=True)


def check_stack(stack: str | None) -> None:
    """A --stack Pulumi would refuse, told before anything runs."""
    if stack is not None:
        from infra.engine.naming import check_stack_name

        check_stack_name(stack)


def print_plan(spec: RunnerSpec, stack: str | None, json_output: bool) -> None:
    from infra.engine.plan import render_json, render_tree, run_plan

    plan = run_plan([spec], stack=stack or default_stack(spec.name, os.environ))
    warn_without_repo(spec)
    typer.echo(render_json(plan) if json_output else render_tree(plan), nl=False)


def wait_seconds(wait: bool, timeout: str, max_runtime_s: int, given: bool = True) -> int | None:
    """The runner wait in seconds, or None with --no-wait. A --wait-timeout given is at most
    the machines' maximum runtime, when they are gone anyway (checked with --no-wait and
    --dry-run too); the default 10m is cut to it."""
    from infra.rules import bounded_duration, format_duration, parse_duration

    if not given:
        return min(parse_duration(timeout, "wait timeout"), max_runtime_s) if wait else None
    seconds = bounded_duration(timeout, "--wait-timeout", "wait timeout", max_runtime_s,
                               f"the maximum runtime ({format_duration(max_runtime_s)})")
    return seconds if wait else None


def is_given(ctx: typer.Context, name: str) -> bool:
    """Whether the flag `name` (its parameter name) was given, not left at its default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


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
