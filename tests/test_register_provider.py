"""RunnerRegistrationProvider's create() and delete(), called as the engine would, against
the fake GitHub (OpenAPI-validated) and the fake GitLab."""

from __future__ import annotations

from typing import Any

import pytest

from infra.errors import ForgeError, ForgeUnsureError
from infra.forges.registration import RunnerRegistrationProvider, default_api_url
from infra.forges.runners import checksum_for
from tests.fakes.fixtures import GITHUB_PAT, GITHUB_READ_TOKEN, GITLAB_READ_TOKEN, GITLAB_TOKEN
from tests.fakes.github import FakeGitHub
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.http import Fault

SHA = "ab" * 32


def _props(forge: str, api_url: str, token: str, **extra: Any) -> dict[str, Any]:
    return {"forge": forge, "repo": "acme/models", "api_url": api_url, "token": token,
            "name_prefix": "gpu-dev-0", "labels": ["gpu", "t4"], "max_timeout_s": 3600,
            "machine": "f" * 16, "gitlab_runner_url": None, "gitlab_runner_sha256": None,
            **extra}


def _gitlab_props(fake: FakeGitLab, token: str = GITLAB_TOKEN) -> dict[str, Any]:
    return _props("gitlab", fake.api_url, token, gitlab_runner_url="https://dl.invalid/"
                  "binaries/gitlab-runner-linux-amd64", gitlab_runner_sha256=SHA)


def test_github_create_mints_one_jit_runner_then_delete_removes_it(github: FakeGitHub) -> None:
    provider = RunnerRegistrationProvider()
    result = provider.create(_props("github", github.api_url, GITHUB_PAT))
    outs = result.outs
    assert outs is not None
    runners = github.repos["acme/models"].runners
    runner = runners[int(result.id)]
    assert outs["runner_name"] == runner["name"] and outs["runner_name"].startswith("gpu-dev-0-")
    assert runner["labels"] == ["self-hosted", "linux", "x64", "gpu", "t4"]
    assert outs["registration"]
    linux = next(d for d in github.runner_downloads if (d["os"], d["architecture"])
                 == ("linux", "x64"))
    assert (outs["package_url"], outs["package_sha256"]) == (linux["download_url"],
                                                             linux["sha256_checksum"])
    provider.delete(result.id, outs)
    assert runners == {}


def test_two_machines_get_different_runner_names(github: FakeGitHub) -> None:
    provider = RunnerRegistrationProvider()
    first = provider.create(_props("github", github.api_url, GITHUB_PAT)).outs or {}
    second = provider.create(_props("github", github.api_url, GITHUB_PAT)).outs or {}
    assert first["runner_name"] != second["runner_name"]
    assert len(github.repos["acme/models"].runners) == 2


@pytest.mark.parametrize(("token", "message"), [
    ("ghp_" + "z" * 36, "GitHub rejected the token"),
    (GITHUB_READ_TOKEN, "needs Administration write"),
])
def test_github_refusal_is_one_sentence_and_creates_nothing(github: FakeGitHub, token: str,
                                                            message: str) -> None:
    with pytest.raises(ForgeError, match=message) as info:
        RunnerRegistrationProvider().create(_props("github", github.api_url, token))
    assert token not in str(info.value) and "\n" not in str(info.value)
    assert github.repos["acme/models"].runners == {}


def test_github_duplicate_name_is_one_sentence(github: FakeGitHub, monkeypatch) -> None:
    monkeypatch.setattr("infra.forges.registration.secrets.token_hex", lambda n: "abcdef")
    provider = RunnerRegistrationProvider()
    provider.create(_props("github", github.api_url, GITHUB_PAT))
    with pytest.raises(ForgeError, match="A runner named gpu-dev-0-abcdef already exists"):
        provider.create(_props("github", github.api_url, GITHUB_PAT))
    assert len(github.repos["acme/models"].runners) == 1


def test_github_delete_of_a_used_runner_is_fine(github: FakeGitHub) -> None:
    props = {**_props("github", github.api_url, GITHUB_PAT), "runner_id": "999"}
    RunnerRegistrationProvider().delete("999", props)
    assert ("DELETE", "/api/v3/repos/acme/models/actions/runners/999", 404) in github.server.log


def test_gitlab_create_then_delete(gitlab_fake: FakeGitLab) -> None:
    provider = RunnerRegistrationProvider()
    result = provider.create(_gitlab_props(gitlab_fake))
    outs = result.outs or {}
    stored = gitlab_fake.runners[int(result.id)]
    assert stored["token"] == outs["registration"] and outs["registration"].startswith("glrt-")
    assert stored["description"] == outs["runner_name"]
    assert stored["tag_list"] == ["gpu", "t4"] and stored["maximum_timeout"] == 3600
    assert stored["project_id"] == gitlab_fake.projects["acme/models"].id
    assert outs["package_sha256"] == SHA
    provider.delete(result.id, outs)
    assert gitlab_fake.runners == {}
    provider.delete(result.id, outs)  # gone already: fine
    assert gitlab_fake.server.log[-1][2] == 404


@pytest.mark.parametrize(("token", "message"), [
    ("glpat-" + "z" * 20, "GitLab rejected the token"),
    (GITLAB_READ_TOKEN, "needs the create_runner scope"),
])
def test_gitlab_refusal_is_one_sentence(gitlab_fake: FakeGitLab, token: str,
                                        message: str) -> None:
    with pytest.raises(ForgeError, match=message) as info:
        RunnerRegistrationProvider().create(_gitlab_props(gitlab_fake, token))
    assert token not in str(info.value)
    assert gitlab_fake.runners == {}


def test_token_rotation_updates_without_a_new_runner() -> None:
    provider = RunnerRegistrationProvider()
    olds = {**_props("github", "https://api.github.com", "old"), "runner_id": "7"}
    news = {**_props("github", "https://api.github.com", "new")}
    diff = provider.diff("7", olds, news)
    assert diff.changes and not diff.replaces
    assert provider.update("7", olds, news).outs == {**olds, "token": "new"}
    moved = provider.diff("7", olds, {**news, "machine": "0" * 16})
    assert moved.replaces == ["machine"]
    assert not provider.diff("7", olds, {**olds}).changes


def test_checksum_listing_and_api_roots() -> None:
    listing = f"{SHA}  binaries/gitlab-runner-linux-amd64\n{'cd' * 32} *binaries/other\n"
    assert checksum_for(listing, "binaries/gitlab-runner-linux-amd64") == SHA
    assert checksum_for(listing, "binaries/other") == "cd" * 32
    assert checksum_for(listing, "binaries/missing") is None
    tabbed = f"{'ef' * 32}\tbinaries/gitlab-runner-linux-arm64\n"  # GitLab's older listings
    assert checksum_for(tabbed, "binaries/gitlab-runner-linux-arm64") == "ef" * 32
    assert default_api_url("github", "https://github.com") == "https://api.github.com"
    assert default_api_url("github", "https://ghe.acme.io/") == "https://ghe.acme.io/api/v3"
    assert default_api_url("gitlab", "https://gitlab.com") == "https://gitlab.com/api/v4"


def test_github_answer_lost_after_minting_leaves_no_runner(github: FakeGitHub) -> None:
    """The POST reached GitHub but its answer was lost: the create fails (the engine records
    nothing) and the runner that was made all the same is found by its name and deleted."""
    github.server.faults.add(Fault(drop=True, after=True, method="POST",
                                   path_contains="/generate-jitconfig"))
    with pytest.raises(ForgeUnsureError, match="Could not reach GitHub to create the runner"):
        RunnerRegistrationProvider().create(_props("github", github.api_url, GITHUB_PAT))
    assert github.repos["acme/models"].runners == {}
    methods = [(method, status) for method, path, status in github.api_requests()
               if "/downloads" not in path]
    assert methods == [("POST", 0), ("GET", 200), ("DELETE", 204)]


def test_github_5xx_on_mint_is_cleaned_and_a_duplicate_name_is_not(github: FakeGitHub,
                                                                   monkeypatch) -> None:
    github.server.faults.add(Fault(status=502, after=True, method="POST",
                                   path_contains="/generate-jitconfig"))
    with pytest.raises(ForgeUnsureError, match="GitHub answered 502"):
        RunnerRegistrationProvider().create(_props("github", github.api_url, GITHUB_PAT))
    assert github.repos["acme/models"].runners == {}
    monkeypatch.setattr("infra.forges.registration.secrets.token_hex", lambda n: "abcdef")
    RunnerRegistrationProvider().create(_props("github", github.api_url, GITHUB_PAT))
    with pytest.raises(ForgeError) as info:  # someone else's runner: never deleted
        RunnerRegistrationProvider().create(_props("github", github.api_url, GITHUB_PAT))
    assert not isinstance(info.value, ForgeUnsureError)
    assert len(github.repos["acme/models"].runners) == 1


@pytest.mark.parametrize("forge", ["github", "gitlab"])
def test_running_up_again_changes_nothing(github: FakeGitHub, gitlab_fake: FakeGitLab,
                                          forge: str) -> None:
    """The engine diffs the stored outputs against the same inputs: no change, no mint."""
    provider = RunnerRegistrationProvider()
    props = (_props("github", github.api_url, GITHUB_PAT) if forge == "github"
             else _gitlab_props(gitlab_fake))
    outs = provider.create(dict(props)).outs or {}
    assert not provider.diff("1", outs, props).changes
