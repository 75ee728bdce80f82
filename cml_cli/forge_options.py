"""What `comment` and `check` share: the context flags and building the forge client.

This is the one place that builds real PyGithub and python-gitlab clients; both are
imported only when a command runs.
"""

from __future__ import annotations

import os
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from infra.forges.registration import ForgeSettings
    from reporting.context import CIContext
    from reporting.forges.base import Forge


class DriverChoice(str, Enum):
    github = "github"
    gitlab = "gitlab"


RepoOption = Annotated[str | None, typer.Option(
    "--repo", help="Repository as OWNER/NAME or URL (default: the CI job's repository).")]
TokenOption = Annotated[str | None, typer.Option(
    "--token", help="Forge token (default: REPO_TOKEN, then GITHUB_TOKEN / GITLAB_TOKEN / "
    "CI_JOB_TOKEN).", show_default=False)]
DriverOption = Annotated[DriverChoice | None, typer.Option(
    "--driver", help="Forge type, when it cannot be told from the environment.")]
ApiUrlOption = Annotated[str | None, typer.Option(
    "--api-url", help="REST API root, e.g. https://ghe.example.com/api/v3 "
    "(default: GITHUB_API_URL / CI_API_V4_URL).")]
PublishOption = Annotated[bool, typer.Option(
    "--publish/--no-publish", help="Upload local images to the forge and link them.")]


def read_context(repo: str | None, token: str | None, driver: DriverChoice | None,
                 api_url: str | None) -> CIContext:
    from cml_cli.redact import register_secret
    from reporting.context import Driver, Overrides, context_from_env

    register_secret(token)
    flags = Overrides(repo=repo, token=token, api_url=api_url,
                      driver=Driver(driver.value) if driver else None)
    return context_from_env(os.environ, flags)


def retry_backoff() -> float:
    """Seconds of the first retry wait; CML_INFRA_RETRY_BACKOFF shortens it in tests."""
    try:
        return max(0.0, float(os.environ.get("CML_INFRA_RETRY_BACKOFF", "1")))
    except ValueError:
        return 1.0


def build_forge(ctx: CIContext) -> Forge:
    """The reporting commands' forge, around the client of `build_runner_client`."""
    from reporting.context import Driver

    client = build_runner_client(ctx)
    if ctx.driver is Driver.GITHUB:
        from reporting.forges.github import GitHubForge

        return GitHubForge(client, ctx.repo, server_url=ctx.server_url,
                           token_source=ctx.token_source)
    from reporting.forges.gitlab import GitLabForge

    return GitLabForge(client, ctx.repo, server_url=ctx.server_url,
                       token_source=ctx.token_source, backoff=retry_backoff())


def build_runner_client(ctx: CIContext) -> Any:
    """The one place a PyGithub or python-gitlab client is built, for the reporting forges
    and for runner calls (infra.forges.runners) alike."""
    from reporting.context import Driver

    if ctx.driver is Driver.GITHUB:
        import logging

        from github import Auth, Github

        from reporting.forges.github import github_retry

        # GithubRetry logs each retry at INFO; a retry that works is not the user's business.
        logging.getLogger("github").setLevel(logging.WARNING)
        # No client-side throttling: a report makes a handful of writes, and secondary
        # rate limits are honoured through Retry-After by the retry policy.
        return Github(base_url=ctx.api_url, auth=Auth.Token(ctx.token), per_page=100,
                      retry=github_retry(retry_backoff()), timeout=30,
                      seconds_between_requests=None, seconds_between_writes=None, lazy=True)
    import gitlab

    job = ctx.token if ctx.is_job_token else None
    return gitlab.Gitlab(url=ctx.api_url.removesuffix("/api/v4"), per_page=100, timeout=30,
                         retry_transient_errors=True, job_token=job,
                         private_token=None if job else ctx.token)


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
    ctx = read_context(repo or None, token, DriverChoice(forge), api_url)
    if ctx.is_job_token:
        raise ForgeError("A CI job token cannot create runners; pass --token or set REPO_TOKEN "
                         "to a token with the create_runner scope.")
    from cml_cli.redact import register_secret

    register_secret(ctx.token)
    binary = {"gitlab_runner_url": gitlab_runner_url} if gitlab_runner_url else {}
    return ctx.repo, forge_url or ctx.server_url, ForgeSettings(
        token=ctx.token, api_url=ctx.api_url, gitlab_runner_sha256=gitlab_runner_sha256,
        **binary)
