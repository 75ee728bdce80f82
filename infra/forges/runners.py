"""The forge calls a runner machine relies on, made by the CLI before the machine exists.

GitHub: the runner package and its checksum, a just-in-time runner configuration (the only
registration a machine gets), and deleting a runner. GitLab: creating a runner for one
machine (its glrt- token is the registration) and deleting it. Clients come in ready-made
(`github.Github`, `gitlab.Gitlab`); vendor errors leave as `ForgeError` with one sentence.

GitHub calls go through PyGithub's requester: one request each, the same code for repository
and organisation runners, and PyGithub has no repository variant of generate-jitconfig.
https://docs.github.com/en/rest/actions/self-hosted-runners
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from infra.errors import ForgeError, ForgeUnsureError

T = TypeVar("T")
Fetch = Callable[[str], str]
SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# gitlab-runner is not published through the GitLab API: the static binaries and a
# `release.sha256` listing per release live in GitLab's bucket ("Using binary file",
# https://docs.gitlab.com/runner/install/linux-manually/; verify the listing's format).
# `latest` follows GitLab's releases; pin a `vX.Y.Z` folder for reproducible machines.
GITLAB_RUNNER_URL = ("https://gitlab-runner-downloads.s3.amazonaws.com/latest/binaries/"
                     "gitlab-runner-linux-amd64")
# A runner's maximum job timeout must be at least 10 minutes (verify against
# https://docs.gitlab.com/ci/runners/configure_runners/#set-the-maximum-job-timeout).
GITLAB_MIN_TIMEOUT_S = 600
DEFAULT_RUNNER_GROUP = 1  # "Default" group; generate-jitconfig requires one
# generate-jitconfig's `labels`: 1 to 100 items (GitHub's OpenAPI description, minItems/maxItems)
# https://docs.github.com/en/rest/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-for-a-repository
MAX_JIT_LABELS = 100
# A just-in-time runner has only the labels it is created with (GitHub's own example passes
# "self-hosted" and the platform explicitly), and `runs-on: [self-hosted, gpu]` is how
# workflows pick a self-hosted runner, so every runner we create carries these three.
GITHUB_DEFAULT_LABELS = ("self-hosted", "linux", "x64")


@dataclass(frozen=True)
class GitHubScope:
    """Where runners live: a repository (`owner/repo`) or an organisation (`owner`)."""

    owner: str
    repo: str | None = None

    @classmethod
    def parse(cls, text: str) -> GitHubScope:
        owner, _, repo = text.strip("/").partition("/")
        if not owner or "/" in repo:
            raise ForgeError(f"Name the GitHub repository as owner/repo or the organisation "
                             f"as owner, not {text!r}.")
        return cls(owner, repo or None)

    @property
    def path(self) -> str:
        return f"/repos/{self.owner}/{self.repo}" if self.repo else f"/orgs/{self.owner}"

    def __str__(self) -> str:
        return f"{self.owner}/{self.repo}" if self.repo else self.owner


@dataclass(frozen=True)
class RunnerPackage:
    url: str
    sha256: str


@dataclass(frozen=True)
class JitRunner:
    runner_id: int
    encoded_jit_config: str = field(repr=False)


@dataclass(frozen=True)
class GitLabRunner:
    runner_id: int
    token: str = field(repr=False)


def runner_labels(labels: Iterable[str], gpu_model: str | None) -> tuple[str, ...]:
    """The spec's labels plus the GPU model, in order, without duplicates."""
    return tuple(dict.fromkeys([*labels, *([gpu_model] if gpu_model else [])]))


def runner_package(gh: Any, scope: GitHubScope, os_name: str = "linux",
                   arch: str = "x64") -> RunnerPackage:
    """The runner package for `os_name`/`arch` and its SHA-256, as this forge publishes them."""
    _, items = _github(f"list runner packages for {scope}", scope, lambda: gh.requester
                       .requestJsonAndCheck("GET", f"{scope.path}/actions/runners/downloads"))
    for item in items or []:
        if item.get("os") == os_name and item.get("architecture") == arch:
            return RunnerPackage(item["download_url"], item["sha256_checksum"])
    raise ForgeError(f"GitHub lists no runner package for {os_name}/{arch}; "
                     "choose a supported platform.")


def mint_jit_config(gh: Any, scope: GitHubScope, name: str, labels: Iterable[str],
                    runner_group_id: int = DEFAULT_RUNNER_GROUP,
                    work_folder: str = "_work") -> JitRunner:
    """A single-use runner registration: the runner takes one job, then GitHub removes it."""
    labels = list(dict.fromkeys([*GITHUB_DEFAULT_LABELS, *labels]))
    if len(labels) > MAX_JIT_LABELS:
        raise ForgeError(f"Give the runner between 1 and {MAX_JIT_LABELS} labels, not "
                         f"{len(labels)}; GitHub requires them for a just-in-time runner.")
    body = {"name": name, "runner_group_id": runner_group_id, "labels": labels,
            "work_folder": work_folder}
    _, data = _github(f"create the runner {name}", scope, lambda: gh.requester
                      .requestJsonAndCheck("POST", f"{scope.path}/actions/runners/"
                                           "generate-jitconfig", input=body), name=name)
    return JitRunner(int(data["runner"]["id"]), data["encoded_jit_config"])


def delete_github_runner(gh: Any, scope: GitHubScope, runner_id: int) -> None:
    """Delete a runner; one that is gone already is not an error (GitHub removes a
    just-in-time runner after its job), so teardown can always call this.
    https://docs.github.com/en/rest/actions/self-hosted-runners#delete-a-self-hosted-runner-from-a-repository"""
    _github(f"delete runner {runner_id}", scope, lambda: gh.requester.requestJsonAndCheck(
        "DELETE", f"{scope.path}/actions/runners/{runner_id}"), missing_ok=True)


def create_gitlab_runner(gl: Any, project_id: int | str | None, description: str,
                         tags: Iterable[str], maximum_timeout_s: int,
                         locked: bool = True, *, group_id: int | None = None) -> GitLabRunner:
    """A project runner for one machine (or, with `group_id`, a group runner for an autoscaled
    pool: its Owner may create it); tags, locking and timeout are fixed here, not later.
    https://docs.gitlab.com/ee/api/users.html#create-a-runner-linked-to-a-user"""
    from gitlab.v4.objects import CurrentUserRunnerManager

    # The manager directly: `gl.user` exists only after an extra `gl.auth()` request.
    runners = CurrentUserRunnerManager(gl)
    scope: dict[str, Any] = ({"runner_type": "group_type", "group_id": group_id}
                             if group_id is not None else
                             {"runner_type": "project_type", "project_id": project_id,
                              "locked": locked})  # locking binds a runner to its project
    where = f"group {group_id}" if group_id is not None else f"project {project_id}"
    runner = _gitlab(f"create a runner in {where}", lambda: runners.create({
        **scope, "description": description, "tag_list": list(tags), "run_untagged": False,
        "maximum_timeout": maximum_timeout_s}))
    return GitLabRunner(int(runner.id), runner.token)


def gitlab_project_id(gl: Any, project: str) -> int:
    """The numeric id `POST /user/runners` needs, for a project path such as group/name."""
    if project.isdigit():
        return int(project)
    return int(_gitlab(f"find project {project}", lambda: gl.projects.get(project)).id)


def gitlab_group_id(gl: Any, group: str) -> int:
    """The numeric id of a group path such as acme/ml, for a group runner."""
    if group.isdigit():
        return int(group)
    return int(_gitlab(f"find group {group}", lambda: gl.groups.get(group)).id)


def gitlab_runner_sha256(binary_url: str, fetch: Fetch) -> str:
    """The binary's SHA-256 from `release.sha256` in the release folder above `binaries/`."""
    base, sep, name = binary_url.rpartition("/binaries/")
    digest = checksum_for(fetch(f"{base}/release.sha256"), f"binaries/{name}") if sep else None
    if digest is None:
        raise ForgeError(f"Found no published checksum for {binary_url}; give the binary's "
                         "SHA-256 with --gitlab-runner-sha256 (cml-infra:gitlabRunnerSha256 "
                         "under pulumi up).")
    return digest


def checksum_for(listing: str, path: str) -> str | None:
    """The SHA-256 of `path` in a `sha256sum`-style listing (`<digest>  path` or `*path`)."""
    for line in listing.splitlines():
        fields = line.split(None, 1)  # a space or a tab, as sha256sum writes either
        digest, name = (fields[0], fields[1]) if len(fields) == 2 else ("", "")
        if name.strip().lstrip("*").removeprefix("./") == path and SHA256.fullmatch(digest):
            return digest.lower()
    return None


def delete_gitlab_runner(gl: Any, runner_id: int) -> None:
    """Delete a runner; one that is gone already (the machine removed itself with its own
    token at teardown) is not an error."""
    _gitlab(f"delete runner {runner_id}", lambda: gl.runners.delete(runner_id), missing_ok=True)


def _github(action: str, scope: GitHubScope, call: Callable[[], T], name: str = "",
            missing_ok: bool = False) -> T:
    from github import GithubException
    from requests import RequestException

    try:
        return call()
    except GithubException as exc:
        if missing_ok and exc.status == 404:  # only deletes, which return nothing, pass it
            return cast(T, None)
        error = ForgeUnsureError if exc.status >= 500 else ForgeError
        raise error(_github_sentence(exc.status, action, scope, name)) from None
    except RequestException:
        raise ForgeUnsureError(f"Could not reach GitHub to {action}; check the network and the "
                         "API URL.") from None


def _github_sentence(status: int, action: str, scope: GitHubScope, name: str) -> str:
    if status == 401:
        return "GitHub rejected the token; pass a valid, unexpired token."
    if status == 403:
        return (f"GitHub refused to {action}; the token needs Administration write on the "
                "repository or self-hosted runners write on the organisation.")
    if status == 404:
        return (f"GitHub found no repository or organisation {scope} for this token; check "
                "the name and the token's access.")
    if status == 409:
        return f"A runner named {name} already exists on {scope}; pick another name."
    if status == 422:
        return f"GitHub refused to {action}; check the runner group and the labels."
    return f"GitHub answered {status} when asked to {action}; try again in a minute."


def _gitlab(action: str, call: Callable[[], T], missing_ok: bool = False) -> T:
    from gitlab.exceptions import GitlabError
    from requests import RequestException

    try:
        return call()
    except GitlabError as exc:
        if missing_ok and exc.response_code == 404:  # only deletes pass it
            return cast(T, None)
        error = ForgeUnsureError if (exc.response_code or 0) >= 500 else ForgeError
        raise error(_gitlab_sentence(exc.response_code, action)) from None
    except RequestException:
        raise ForgeUnsureError(f"Could not reach GitLab to {action}; check the network and the "
                         "instance URL.") from None


def _gitlab_sentence(status: int | None, action: str) -> str:
    if status == 401:
        return "GitLab rejected the token; pass a valid token with the create_runner scope."
    group = " group " in f" {action} "
    if status == 403:
        # group runners take the group's Owner role (docs.gitlab.com/ci/runners/runners_scope)
        role = "the group's Owner role" if group else "the Maintainer role"
        return (f"GitLab refused to {action}; the token needs the create_runner scope and "
                f"{role}.")
    if status == 404:
        return (f"GitLab could not {action}: not found; check the "
                f"{'group' if group else 'project'} and the token's access.")
    return f"GitLab answered {status} when asked to {action}; try again in a minute."
