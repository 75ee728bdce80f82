"""infra.forge_runners with the real PyGithub and python-gitlab clients against a small
loopback server (tests/sandbox/servers.py); the team's full fake forges cover the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from infra.errors import ForgeError
from infra.forge_runners import (
    GitHubScope,
    create_gitlab_runner,
    delete_github_runner,
    delete_gitlab_runner,
    mint_jit_config,
    runner_labels,
    runner_package,
)
from tests.sandbox.servers import FakeServer, Request

DOWNLOADS = [
    {"os": "osx", "architecture": "arm64", "download_url": "https://x/osx.tgz",
     "sha256_checksum": "1" * 64},
    {"os": "linux", "architecture": "x64", "download_url": "https://x/linux-x64.tgz",
     "sha256_checksum": "2" * 64},
]


def _json(status: int, body: object) -> tuple[int, bytes]:
    return status, json.dumps(body).encode()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    yield fake
    fake.close()


@pytest.fixture
def gh(server: FakeServer):  # type: ignore[no-untyped-def]
    from github import Auth, Github

    return Github(auth=Auth.Token("t0ken"), base_url=server.url, retry=None)


@pytest.fixture
def gl(server: FakeServer):  # type: ignore[no-untyped-def]
    import gitlab

    return gitlab.Gitlab(server.url, private_token="t0ken", retry_transient_errors=False)


def test_scope_paths() -> None:
    assert GitHubScope.parse("acme/models").path == "/repos/acme/models"
    assert GitHubScope.parse("acme").path == "/orgs/acme"
    with pytest.raises(ForgeError, match="owner/repo"):
        GitHubScope.parse("a/b/c")


def test_labels_add_the_gpu_model_once() -> None:
    assert runner_labels(["self-hosted", "gpu"], "t4") == ("self-hosted", "gpu", "t4")
    assert runner_labels(["t4"], "t4") == ("t4",)
    assert runner_labels([], None) == ()


@pytest.mark.parametrize("scope", ["acme/models", "acme"])
def test_runner_package_picks_the_platform(server: FakeServer, gh, scope: str) -> None:
    path = GitHubScope.parse(scope).path + "/actions/runners/downloads"
    server.routes[("GET", path)] = lambda r: _json(200, DOWNLOADS)
    package = runner_package(gh, GitHubScope.parse(scope))
    assert (package.url, package.sha256) == ("https://x/linux-x64.tgz", "2" * 64)
    with pytest.raises(ForgeError, match="no runner package for linux/arm64"):
        runner_package(gh, GitHubScope.parse(scope), arch="arm64")


def test_mint_jit_config_sends_group_and_labels(server: FakeServer, gh) -> None:
    def generate(req: Request) -> tuple[int, bytes]:
        body = json.loads(req.body)
        assert body == {"name": "cml-1", "runner_group_id": 1, "labels": ["gpu", "t4"],
                        "work_folder": "_work"}
        return _json(201, {"runner": {"id": 42, "name": "cml-1"}, "encoded_jit_config": "ZW5j"})

    server.routes[("POST", "/repos/acme/models/actions/runners/generate-jitconfig")] = generate
    jit = mint_jit_config(gh, GitHubScope("acme", "models"), "cml-1", runner_labels(["gpu"], "t4"))
    assert (jit.runner_id, jit.encoded_jit_config) == (42, "ZW5j")
    assert "ZW5j" not in repr(jit)


@pytest.mark.parametrize(("status", "message"), [
    (401, "rejected the token"), (403, "Administration write"), (404, "found no repository"),
    (409, "already exists"), (422, "runner group"), (500, "answered 500")])
def test_github_errors_become_one_sentence(server: FakeServer, gh, status: int,
                                           message: str) -> None:
    server.routes[("POST", "/orgs/acme/actions/runners/generate-jitconfig")] = (
        lambda r: _json(status, {"message": "no"}))
    with pytest.raises(ForgeError, match=message) as info:
        mint_jit_config(gh, GitHubScope("acme"), "cml-1", ["gpu"])
    assert "t0ken" not in str(info.value) and str(info.value).endswith(".")


def test_delete_github_runner(server: FakeServer, gh) -> None:
    server.routes[("DELETE", "/repos/acme/models/actions/runners/42")] = lambda r: (204, b"")
    delete_github_runner(gh, GitHubScope("acme", "models"), 42)
    assert server.hits("DELETE", "/repos/acme/models/actions/runners/42")


def test_unreachable_github_is_one_sentence(gh, server: FakeServer) -> None:
    server.close()
    with pytest.raises(ForgeError, match="Could not reach GitHub"):
        delete_github_runner(gh, GitHubScope("acme"), 1)


def test_create_gitlab_runner_for_one_project(server: FakeServer, gl) -> None:
    server.routes[("POST", "/api/v4/user/runners")] = lambda r: _json(
        201, {"id": 7, "token": "glrt-t1_abcdefgh", "token_expires_at": None})
    runner = create_gitlab_runner(gl, 12, "cml gpu runner", ["gpu", "t4"], 3600)
    assert (runner.runner_id, runner.token) == (7, "glrt-t1_abcdefgh")
    sent = server.hits("POST", "/api/v4/user/runners")[0]
    body = json.loads(sent.body)
    assert body == {"runner_type": "project_type", "project_id": 12,
                    "description": "cml gpu runner", "tag_list": ["gpu", "t4"],
                    "run_untagged": False, "locked": True, "maximum_timeout": 3600}


@pytest.mark.parametrize(("status", "message"), [
    (401, "rejected the token"), (403, "create_runner scope"), (404, "not found"),
    (500, "answered 500")])
def test_gitlab_errors_become_one_sentence(server: FakeServer, gl, status: int,
                                           message: str) -> None:
    server.routes[("DELETE", "/api/v4/runners/7")] = lambda r: _json(status, {"message": "x"})
    with pytest.raises(ForgeError, match=message):
        delete_gitlab_runner(gl, 7)


def test_delete_gitlab_runner(server: FakeServer, gl) -> None:
    server.routes[("DELETE", "/api/v4/runners/7")] = lambda r: (204, b"")
    delete_gitlab_runner(gl, 7)
    assert server.hits("DELETE", "/api/v4/runners/7")
