"""The forge calls of `infra.forges.registration`, with the clients it has to build itself.

See `infra/forges/registration.py` for why the dynamic provider, alone in `infra`, builds clients.
Creating is never retried after the request may have reached the forge (a repeated POST can
leave a second runner behind); reading and deleting are.
"""

from __future__ import annotations

from typing import Any

from infra.errors import ForgeError, ForgeUnsureError
from infra.forges.runners import (
    GitHubScope,
    create_gitlab_runner,
    delete_github_runner,
    delete_gitlab_runner,
    gitlab_group_id,
    gitlab_project_id,
    gitlab_runner_sha256,
    mint_jit_config,
    runner_package,
)

TIMEOUT_S = 30


def github_client(props: dict[str, Any]) -> Any:
    from github import Auth, Github, GithubRetry
    from urllib3.util.retry import Retry

    # GithubRetry adds POST to the retried methods; leaving it out means a 5xx or a lost
    # answer after a POST is never repeated (a repeat could mint a second runner).
    # https://urllib3.readthedocs.io/en/stable/reference/urllib3.util.html
    retry = GithubRetry(total=3, backoff_factor=1, status_forcelist=[429, *range(500, 600)],
                        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"GET"})
    return Github(base_url=props["api_url"], auth=Auth.Token(props["token"]),
                  timeout=TIMEOUT_S, retry=retry)


def gitlab_client(props: dict[str, Any], retry: bool) -> Any:
    import gitlab

    # retry_transient_errors would repeat a POST too; only deletes and reads get it.
    return gitlab.Gitlab(props["api_url"].removesuffix("/api/v4"), private_token=props["token"],
                         timeout=TIMEOUT_S, retry_transient_errors=retry)


def create_runner(props: dict[str, Any], name: str) -> dict[str, Any]:
    """Mint the registration of runner `name`: its id, secret, and runner package."""
    if props["forge"] == "github":
        gh = github_client(props)
        scope = GitHubScope.parse(props["repo"])
        package = runner_package(gh, scope)
        jit = mint_or_clean_up(gh, scope, name, props["labels"])
        return {"runner_id": str(jit.runner_id), "registration": jit.encoded_jit_config,
                "package_url": package.url, "package_sha256": package.sha256}
    # no binary for runners that run as pods (autoscaled pools run the chart's image)
    url = props.get("gitlab_runner_url") or ""
    sha256 = (props.get("gitlab_runner_sha256") or gitlab_runner_sha256(url, fetch_text)
              if url else "")
    reader = gitlab_client(props, retry=True)
    if props.get("group"):  # an autoscaled pool of a group
        runner = create_gitlab_runner(gitlab_client(props, retry=False), None, name,
                                      props["labels"], int(props["max_timeout_s"]),
                                      group_id=gitlab_group_id(reader, props["group"]))
    else:
        runner = create_gitlab_runner(gitlab_client(props, retry=False),
                                      gitlab_project_id(reader, props["repo"]), name,
                                      props["labels"], int(props["max_timeout_s"]))
    return {"runner_id": str(runner.runner_id), "registration": runner.token,
            "package_url": url, "package_sha256": sha256}


def mint_or_clean_up(gh: Any, scope: GitHubScope, name: str, labels: list[str]) -> Any:
    """Mint; when the answer is a 5xx or lost, the runner may exist all the same: delete
    whatever carries this machine's unique name, so a failed create leaves nothing."""
    try:
        return mint_jit_config(gh, scope, name, labels)
    except ForgeUnsureError:
        _delete_named(gh, scope, name)
        raise


def _delete_named(gh: Any, scope: GitHubScope, name: str) -> None:
    """Best effort: the error being reported matters more than this clean-up's own."""
    from github import GithubException
    from requests import RequestException

    try:
        _, found = gh.requester.requestJsonAndCheck(
            "GET", f"{scope.path}/actions/runners", parameters={"name": name})
        for runner in (found or {}).get("runners", []):
            delete_github_runner(gh, scope, int(runner["id"]))
    except (GithubException, RequestException, ForgeError):
        pass


def delete_runner(props: dict[str, Any]) -> None:
    """Delete the runner; one already gone (used, or removed by its machine) is fine."""
    runner_id = int(props["runner_id"])
    if props["forge"] == "github":
        delete_github_runner(github_client(props), GitHubScope.parse(props["repo"]), runner_id)
    else:
        delete_gitlab_runner(gitlab_client(props, retry=True), runner_id)


def fetch_text(url: str) -> str:
    """GET a small text file (a checksum listing); failures become one sentence."""
    import requests

    try:
        answer = requests.get(url, timeout=TIMEOUT_S)
        answer.raise_for_status()
    except requests.RequestException:
        raise ForgeError(f"Could not read {url}; give the gitlab-runner binary's SHA-256 with "
                         "cml-infra:gitlabRunnerSha256 (--gitlab-runner-sha256).") from None
    return answer.text
