"""What `comment` and `check` share: the context flags and building the forge client.

This is the one place that builds real PyGithub and python-gitlab clients; both are
imported only when a command runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

if TYPE_CHECKING:
    from infra.forges.registration import ForgeSettings
    from reporting.context import CIContext
    from reporting.forges.base import Forge


class DriverChoice(str, Enum):
    github = "github"
    gitlab = "gitlab"


RepoOption = Annotated[str | None, typer.Option(
    "--repo", metavar="REPO",
    help="Repository as OWNER/NAME or URL (default: the CI job's repository; outside CI, "
    "the checkout's origin remote).")]
# CML's --driver-token is its global token flag, with --token as its alias (iterative/cml
# bin/cml.js); both take the same token here.
TokenOption = Annotated[str | None, typer.Option(
    "--token", "--driver-token", metavar="TOKEN",
    help="Forge token (default: REPO_TOKEN, then GITHUB_TOKEN / "
    "GITLAB_TOKEN / CI_JOB_TOKEN).", show_default=False)]
DriverOption = Annotated[DriverChoice | None, typer.Option(
    "--driver", help="Forge type, when it cannot be told from the environment.")]
ApiUrlOption = Annotated[str | None, typer.Option(
    "--api-url", metavar="URL", help="REST API root, e.g. https://ghe.example.com/api/v3 "
    "(default: GITHUB_API_URL / CI_API_V4_URL).")]
PublishOption = Annotated[bool, typer.Option(
    "--publish/--no-publish", help="Upload local images to the forge and link them; "
    "--no-publish (CML: --publish=false) leaves image links as they are.")]


# CML's booleans are yargs options, which also take `--publish=false` and `--publish false`
# (https://github.com/iterative/cml.dev/blob/master/content/docs/ref/comment.md); the flag
# each value means here (None: the flag is left out).
_CML_BOOLEANS = {"--publish": ("--publish", "--no-publish")}
_CML_SWITCHES = ("--watch", "--pr", "--update", "--rm-watermark", "--native",
                 "--publish-native")
_BOOL_WORDS = {"true": True, "false": False}


def cml_booleans(args: list[str]) -> list[str]:
    """`args` with CML's `--flag=true|false` and `--flag true|false` as plain flags."""
    out: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            out += [arg, *rest]
            break
        name, eq, value = arg.partition("=")
        if name in _CML_BOOLEANS or name in _CML_SWITCHES:
            if not eq:
                following = next(rest, None)
                if following is not None and following.lower() in _BOOL_WORDS:
                    value = following
                else:
                    out.append(arg)
                    if following is not None:
                        out.append(following)
                    continue
            if value.lower() not in _BOOL_WORDS:
                raise typer.BadParameter(f"{name} takes true or false, not {value!r}.")
            on, off = _CML_BOOLEANS.get(name, (name, None))
            flag = on if _BOOL_WORDS[value.lower()] else off
            out += [flag] if flag else []
            continue
        out.append(arg)
    return out


class CmlCommand(TyperCommand):
    """A command that reads CML's boolean forms before click parses the line."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click
        return super().parse_args(ctx, cml_booleans(list(args)))


class LogLevel(str, Enum):
    """CML's --log levels (https://github.com/iterative/cml.dev/blob/master/content/docs/ref/index.md)."""

    error = "error"
    warn = "warn"
    info = "info"
    debug = "debug"


LogOption = Annotated[LogLevel, typer.Option(
    "--log", help="What to print on stderr besides errors: warn adds warnings, info (the "
    "default) each retry wait, debug the traceback behind an error.")]
_ORDER = list(LogLevel)


def printer(log: LogLevel, level: LogLevel) -> Callable[[str], None]:
    """Print a line on stderr (secrets masked) when `log` lets lines of `level` through."""
    from cml_cli.redact import redact

    if _ORDER.index(level) > _ORDER.index(log):
        return lambda line: None
    return lambda line: typer.echo(redact(line), err=True)


def log_printers(log: LogLevel) -> tuple[Callable[[str], None], Callable[[str], None]]:
    """The (warning, info) printers of --log; debug also shows the traceback of an error."""
    if log is LogLevel.debug:
        os.environ["CML_INFRA_DEBUG"] = "1"  # what cml_cli.app.debug_enabled reads
    return printer(log, LogLevel.warn), printer(log, LogLevel.info)


def read_context(repo: str | None, token: str | None, driver: DriverChoice | None,
                 api_url: str | None, *, token_flag: str | None = None,
                 token_source: str = "--token") -> CIContext:
    """The CI context; `token_flag` is the flag that takes a token, when the command has one."""
    from cml_cli.redact import register_secret
    from reporting.context import Driver, Overrides, context_from_env

    register_secret(token)
    flags = Overrides(repo=repo, token=token, api_url=api_url,
                      driver=Driver(driver.value) if driver else None,
                      token_source=token_source, token_flag=token_flag)
    return context_from_env(os.environ, flags)


def reporting_context(repo: str | None, token: str | None, driver: DriverChoice | None,
                      api_url: str | None, warn: Callable[[str], None]) -> CIContext:
    """The context of `comment` and `check`, which take --token; a guess is told."""
    ctx = read_context(repo, token, driver, api_url, token_flag="--token")
    if ctx.note:
        warn(f"Warning: {ctx.note[:1].upper()}{ctx.note[1:]}.")
    return ctx


def watch_interval() -> float:
    """Seconds between looks at a watched report; CML_INFRA_WATCH_INTERVAL shortens it in tests."""
    try:
        return max(0.05, float(os.environ.get("CML_INFRA_WATCH_INTERVAL", "1")))
    except ValueError:
        return 1.0


def retry_backoff() -> float:
    """Seconds of the first retry wait; CML_INFRA_RETRY_BACKOFF shortens it in tests."""
    try:
        return max(0.0, float(os.environ.get("CML_INFRA_RETRY_BACKOFF", "1")))
    except ValueError:
        return 1.0


def build_forge(ctx: CIContext, say: Callable[[str], None] | None = None) -> Forge:
    """The reporting commands' forge, around the client of `build_runner_client`."""
    from reporting.context import Driver

    say = say or printer(LogLevel.info, LogLevel.info)
    client = build_runner_client(ctx, say)
    if ctx.driver is Driver.GITHUB:
        from reporting.forges.github import GitHubForge
        from reporting.forges.github_errors import PERSONAL_PREFIXES

        return GitHubForge(client, ctx.repo, server_url=ctx.server_url,
                           token_source=ctx.token_source,
                           personal_token=ctx.token.startswith(PERSONAL_PREFIXES))
    from reporting.forges.gitlab import GitLabForge

    return GitLabForge(client, ctx.repo, server_url=ctx.server_url,
                       token_source=ctx.token_source, backoff=retry_backoff(), say=say)


def build_runner_client(ctx: CIContext, say: Callable[[str], None] | None = None) -> Any:
    """The one place a PyGithub or python-gitlab client is built, for the reporting forges
    and for runner calls (infra.forges.runners) alike; `say` tells each retry wait
    (default: a line on stderr)."""
    from reporting.context import Driver

    say = say or printer(LogLevel.info, LogLevel.info)
    if ctx.driver is Driver.GITHUB:
        import logging

        from github import Auth, Github

        from reporting.forges.github import github_retry

        # GithubRetry logs each retry at INFO; a retry that works is not the user's business.
        logging.getLogger("github").setLevel(logging.WARNING)
        # No client-side throttling: a report makes a handful of writes, and secondary
        # rate limits are honoured through Retry-After by the retry policy.
        return Github(base_url=ctx.api_url, auth=Auth.Token(ctx.token), per_page=100,
                      retry=github_retry(retry_backoff(), say=say), timeout=30,
                      seconds_between_requests=None, seconds_between_writes=None, lazy=True)
    from reporting.forges.gitlab_client import AnnouncedGitlab

    job = ctx.token if ctx.is_job_token else None
    return AnnouncedGitlab(url=ctx.api_url.removesuffix("/api/v4"), per_page=100, timeout=30,
                           retry_transient_errors=True, job_token=job,
                           private_token=None if job else ctx.token, say=say,
                           backoff=retry_backoff())


def runner_forge(forge: str, repo: str, token: str | None, api_url: str | None,
                 forge_url: str | None, gitlab_runner_url: str | None = None,
                 gitlab_runner_sha256: str | None = None) -> tuple[str, str, ForgeSettings]:
    """The repository, the forge's web address and the settings `cml-infra up` registers
    runners with, from the same flags and variables as the reporting commands (a repository
    URL names the instance too); fails before anything is created."""
    from infra.errors import ForgeError
    from infra.forges.registration import ForgeSettings, default_api_url

    if forge_url and not api_url:
        api_url = default_api_url(forge, forge_url)
    # `up` takes its token from a variable or --token-file, never from --token.
    source = next((name for name in ("REPO_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN")
                   if token and os.environ.get(name) == token), "--token-file")
    ctx = read_context(repo or None, token, DriverChoice(forge), api_url, token_source=source)
    if ctx.is_job_token:
        raise ForgeError("A CI job token cannot create runners; set REPO_TOKEN (or pass "
                         "--token-file) to a token with the create_runner scope.")
    from cml_cli.redact import register_secret

    register_secret(ctx.token)
    binary = {"gitlab_runner_url": gitlab_runner_url} if gitlab_runner_url else {}
    return ctx.repo, forge_url or ctx.server_url, ForgeSettings(
        token=ctx.token, api_url=ctx.api_url, gitlab_runner_sha256=gitlab_runner_sha256,
        **binary)
