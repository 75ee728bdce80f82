"""pytest fixtures that start the fake forges on 127.0.0.1 and stop them afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.github import FakeGitHub

GITHUB_APP_TOKEN = "ghs_" + "a" * 36  # shaped like an Actions GITHUB_TOKEN
GITHUB_PAT = "ghp_" + "b" * 36
GITHUB_READ_TOKEN = "ghp_" + "c" * 36


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.tokens.update({GITHUB_APP_TOKEN: "app", GITHUB_PAT: "pat", GITHUB_READ_TOKEN: "read"})
    fake.server.start()
    try:
        yield fake
    finally:
        fake.server.stop()
