"""infra.forges.runners with the real PyGithub and python-gitlab clients against the team's
stateful fake forges (tests/fakes): state, token kinds, OpenAPI validation and faults."""

from __future__ import annotations

import pytest

from infra.errors import ForgeError
from infra.forges.runners import (
    GitHubScope,
    create_gitlab_runner,
    delete_github_runner,
    delete_gitlab_runner,
    mint_jit_config,
    runner_labels,
    runner_package,
)
from tests.fakes.fixtures import (
    GITHUB_APP_TOKEN,
    GITHUB_PAT,
    GITHUB_READ_TOKEN,
    GITLAB_READ_TOKEN,
    GITLAB_RUNNER_TOKEN,
    GITLAB_TOKEN,
)
from tests.fakes.github import FakeGitHub
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.http import Fault

REPO, ORG = GitHubScope("acme", "models"), GitHubScope("acme")


def _gh(fake: FakeGitHub, token: str = GITHUB_PAT, retry: bool = False):  # type: ignore[no-untyped-def]
    from github import Auth, Github, GithubRetry

    return Github(auth=Auth.Token(token), base_url=fake.api_url, timeout=5,
                  retry=GithubRetry(total=3, backoff_factor=0.001) if retry else None)


def _gl(fake: FakeGitLab, token: str = GITLAB_TOKEN, retry: bool = False):  # type: ignore[no-untyped-def]
    import gitlab

    return gitlab.Gitlab(fake.server.url, private_token=token, timeout=5,
                         retry_transient_errors=retry)


def _one_sentence(error: pytest.ExceptionInfo[ForgeError], *secrets: str) -> str:
    text = str(error.value)
    assert text.endswith(".") and "\n" not in text
    assert not any(secret in text for secret in secrets)
    return text


def test_scope_paths() -> None:
    assert GitHubScope.parse("acme/models").path == "/repos/acme/models"
    assert GitHubScope.parse("acme").path == "/orgs/acme"
    with pytest.raises(ForgeError, match="owner/repo"):
        GitHubScope.parse("a/b/c")


def test_labels_add_the_gpu_model_once() -> None:
    assert runner_labels(["self-hosted", "gpu"], "t4") == ("self-hosted", "gpu", "t4")
    assert runner_labels(["t4"], "t4") == ("t4",)
    assert runner_labels([], None) == ()


@pytest.mark.parametrize("scope", [REPO, ORG])
def test_runner_package_picks_the_platform(github: FakeGitHub, scope: GitHubScope) -> None:
    package = runner_package(_gh(github), scope)
    linux = next(d for d in github.runner_downloads
                 if (d["os"], d["architecture"]) == ("linux", "x64"))
    assert (package.url, package.sha256) == (linux["download_url"], linux["sha256_checksum"])
    arm = runner_package(_gh(github), scope, arch="arm64")
    assert arm.url.endswith("/actions-runner-linux-arm64-2.321.0.tar.gz")
    with pytest.raises(ForgeError, match="no runner package for linux/riscv64"):
        runner_package(_gh(github), scope, arch="riscv64")


@pytest.mark.parametrize("scope", [REPO, ORG])
def test_jit_runner_is_created_then_deleted(github: FakeGitHub, scope: GitHubScope) -> None:
    runners = github.repos["acme/models"].runners if scope.repo else github.orgs["acme"]
    jit = mint_jit_config(_gh(github), scope, "cml-1", runner_labels(["gpu"], "t4"))
    assert runners[jit.runner_id]["labels"] == ["self-hosted", "linux", "x64", "gpu", "t4"]
    assert runners[jit.runner_id]["runner_group_id"] == 1
    assert jit.encoded_jit_config and jit.encoded_jit_config not in repr(jit)
    delete_github_runner(_gh(github), scope, jit.runner_id)
    assert runners == {}


def test_duplicate_runner_name_is_409(github: FakeGitHub) -> None:
    mint_jit_config(_gh(github), REPO, "cml-1", ["gpu"])
    with pytest.raises(ForgeError, match="A runner named cml-1 already exists on acme/models"):
        mint_jit_config(_gh(github), REPO, "cml-1", ["gpu"])
    assert len(github.repos["acme/models"].runners) == 1


@pytest.mark.parametrize(("token", "scope", "message"), [
    ("ghp_" + "z" * 36, REPO, "GitHub rejected the token"),
    (GITHUB_READ_TOKEN, REPO, "needs Administration write"),
    (GITHUB_APP_TOKEN, ORG, "needs Administration write"),
    (GITHUB_PAT, GitHubScope("acme", "nope"), "found no repository or organisation acme/nope"),
    (GITHUB_PAT, GitHubScope("nobody"), "found no repository or organisation nobody"),
])
def test_github_refusals_are_one_sentence(github: FakeGitHub, token: str, scope: GitHubScope,
                                          message: str) -> None:
    with pytest.raises(ForgeError, match=message) as info:
        mint_jit_config(_gh(github, token), scope, "cml-1", ["gpu"])
    _one_sentence(info, token)
    assert github.repos["acme/models"].runners == {} and github.orgs["acme"] == {}


def test_label_count_is_checked_before_asking(github: FakeGitHub) -> None:
    labels = [f"l{i}" for i in range(98)]  # with the three defaults: one too many
    with pytest.raises(ForgeError, match="between 1 and 100 labels, not 101"):
        mint_jit_config(_gh(github), REPO, "cml-1", labels)
    assert github.api_requests() == []


def test_every_runner_carries_the_self_hosted_labels(github: FakeGitHub) -> None:
    """`runs-on: [self-hosted, ...]` must match: a JIT runner has only the labels given."""
    jit = mint_jit_config(_gh(github), REPO, "cml-1", ["x64", "gpu"])
    labels = github.repos["acme/models"].runners[jit.runner_id]["labels"]
    assert labels == ["self-hosted", "linux", "x64", "gpu"]


def test_the_fake_refuses_what_github_refuses(github: FakeGitHub) -> None:
    """Labels are required by GitHub's description: the fake answers 422 and records it."""
    from github import GithubException

    with pytest.raises(GithubException) as info:
        _gh(github).requester.requestJsonAndCheck(
            "POST", REPO.path + "/actions/runners/generate-jitconfig",
            input={"name": "x", "runner_group_id": 1, "labels": []})
    assert info.value.status == 422
    assert len(github.rejections) == 1 and "labels" in github.rejections[0]
    assert github.repos["acme/models"].runners == {}
    github.rejections.clear()


def test_deleting_a_runner_that_is_gone_is_not_an_error(github: FakeGitHub) -> None:
    """GitHub removes a just-in-time runner after its job; teardown deletes it anyway."""
    delete_github_runner(_gh(github), REPO, 999)
    assert ("DELETE", "/api/v3/repos/acme/models/actions/runners/999", 404) in github.server.log
    with pytest.raises(ForgeError, match="needs Administration write"):
        delete_github_runner(_gh(github, GITHUB_READ_TOKEN), REPO, 999)


def test_github_5xx_is_retried_when_the_client_retries(github: FakeGitHub) -> None:
    github.server.faults.add(Fault(status=502, path_contains="/downloads", times=2))
    assert runner_package(_gh(github, retry=True), REPO).sha256
    assert [entry[2] for entry in github.api_requests()] == [502, 502, 200]


@pytest.mark.parametrize("scope", [REPO, ORG])
def test_github_5xx_is_reported(github: FakeGitHub, scope: GitHubScope) -> None:
    github.server.faults.add(Fault(status=502, path_contains="/generate-jitconfig", times=9))
    with pytest.raises(ForgeError, match="GitHub answered 502 when asked to create the runner "
                                         "cml-1; try again in a minute") as info:
        mint_jit_config(_gh(github), scope, "cml-1", ["gpu"])
    _one_sentence(info, GITHUB_PAT)


def test_unreachable_github_is_one_sentence(github: FakeGitHub) -> None:
    github.server.faults.add(Fault(drop=True, method="DELETE"))
    with pytest.raises(ForgeError, match="Could not reach GitHub to delete runner 1"):
        delete_github_runner(_gh(github), REPO, 1)


def test_gitlab_runner_for_one_project(gitlab_fake: FakeGitLab) -> None:
    project = gitlab_fake.projects["acme/models"]
    runner = create_gitlab_runner(_gl(gitlab_fake, GITLAB_RUNNER_TOKEN), project.id,
                                  "cml gpu runner", ["gpu", "t4"], 3600)
    assert runner.token.startswith("glrt-") and runner.token not in repr(runner)
    stored = gitlab_fake.runners[runner.runner_id]
    assert stored == {"id": runner.runner_id, "token": runner.token, "project_id": project.id,
                      "description": "cml gpu runner", "tag_list": ["gpu", "t4"],
                      "run_untagged": False, "locked": True, "maximum_timeout": 3600}
    delete_gitlab_runner(_gl(gitlab_fake), runner.runner_id)
    assert gitlab_fake.runners == {}


def test_gitlab_runner_deletes_itself_with_its_own_token(gitlab_fake: FakeGitLab) -> None:
    """What the startup script's teardown does: no user token, the runner's glrt- token."""
    import requests

    project = gitlab_fake.projects["acme/models"]
    runner = create_gitlab_runner(_gl(gitlab_fake), project.id, "cml", ["gpu"], 60)
    url = gitlab_fake.api_url + "/runners"
    assert requests.delete(url, data={"token": "glrt-wrong"}, timeout=5).status_code == 403
    assert requests.delete(url, data={"token": runner.token}, timeout=5).status_code == 204
    assert gitlab_fake.runners == {}


@pytest.mark.parametrize(("token", "project", "message"), [
    ("glpat-" + "z" * 20, "acme/models", "GitLab rejected the token"),
    (GITLAB_READ_TOKEN, "acme/models", "needs the create_runner scope"),
    (GITLAB_TOKEN, 999, "needs the create_runner scope"),
])
def test_gitlab_refusals_are_one_sentence(gitlab_fake: FakeGitLab, token: str,
                                          project: str | int, message: str) -> None:
    ident = gitlab_fake.projects[project].id if isinstance(project, str) else project
    with pytest.raises(ForgeError, match=message) as info:
        create_gitlab_runner(_gl(gitlab_fake, token), ident, "cml", ["gpu"], 60)
    _one_sentence(info, token)
    assert gitlab_fake.runners == {}


def test_gitlab_runner_that_is_gone_is_not_an_error(gitlab_fake: FakeGitLab) -> None:
    delete_gitlab_runner(_gl(gitlab_fake), 7)
    assert ("DELETE", "/api/v4/runners/7", 404) in gitlab_fake.server.log


def test_gitlab_delete_without_permission(gitlab_fake: FakeGitLab) -> None:
    project = gitlab_fake.projects["acme/models"]
    runner = create_gitlab_runner(_gl(gitlab_fake), project.id, "cml", ["gpu"], 60)
    with pytest.raises(ForgeError, match="GitLab refused to delete runner") as info:
        delete_gitlab_runner(_gl(gitlab_fake, GITLAB_RUNNER_TOKEN), runner.runner_id)
    _one_sentence(info, GITLAB_RUNNER_TOKEN)
    assert list(gitlab_fake.runners) == [runner.runner_id]


def test_gitlab_5xx_retried_or_reported(gitlab_fake: FakeGitLab) -> None:
    project = gitlab_fake.projects["acme/models"]
    gitlab_fake.server.faults.add(Fault(status=502, path_contains="/user/runners", times=2))
    runner = create_gitlab_runner(_gl(gitlab_fake, retry=True), project.id, "cml", [], 60)
    assert [entry[2] for entry in gitlab_fake.server.log] == [502, 502, 201]
    gitlab_fake.server.faults.add(Fault(status=503, method="DELETE"))
    with pytest.raises(ForgeError, match="GitLab answered 503 when asked to delete runner"):
        delete_gitlab_runner(_gl(gitlab_fake), runner.runner_id)
    assert list(gitlab_fake.runners) == [runner.runner_id]
