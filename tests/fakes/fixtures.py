"""pytest fixtures that start the fake forges on 127.0.0.1 and stop them afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.github import FakeGitHub
from tests.fakes.gitlab import FakeGitLab

GITHUB_APP_TOKEN = "ghs_" + "a" * 36  # shaped like an Actions GITHUB_TOKEN
GITHUB_PAT = "ghp_" + "b" * 36
GITHUB_READ_TOKEN = "ghp_" + "c" * 36
GITLAB_TOKEN = "glpat-" + "d" * 20
GITLAB_READ_TOKEN = "glpat-" + "e" * 20
GITLAB_JOB_TOKEN = "glcbt-" + "f" * 20
GITLAB_RUNNER_TOKEN = "glpat-" + "g" * 20  # only the create_runner scope


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.tokens.update({GITHUB_APP_TOKEN: "app", GITHUB_PAT: "pat", GITHUB_READ_TOKEN: "read"})
    fake.server.start()
    try:
        yield fake
    finally:
        fake.server.stop()


@pytest.fixture
def fake_gitlab() -> Iterator[FakeGitLab]:
    fake = FakeGitLab()
    fake.tokens.update({GITLAB_TOKEN: "api", GITLAB_READ_TOKEN: "read", GITLAB_JOB_TOKEN: "job",
                        GITLAB_RUNNER_TOKEN: "create_runner"})
    fake.server.start()
    try:
        yield fake
    finally:
        fake.server.stop()


@pytest.fixture
def github(fake_github: FakeGitHub) -> Iterator[FakeGitHub]:
    """The fake GitHub with repository acme/models and organisation acme; afterwards, no
    request may have broken GitHub's OpenAPI description and no handler may have failed."""
    fake_github.add_repo("acme/models")
    fake_github.add_org("acme")
    yield fake_github
    assert fake_github.rejections == []
    assert fake_github.server.errors == []


@pytest.fixture
def gitlab_fake(fake_gitlab: FakeGitLab) -> Iterator[FakeGitLab]:
    """The fake GitLab with project acme/models; afterwards, no handler may have failed."""
    fake_gitlab.add_project("acme/models")
    yield fake_gitlab
    assert fake_gitlab.server.errors == []
