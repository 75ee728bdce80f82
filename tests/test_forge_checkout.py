"""Outside CI the commit under test is the checkout's HEAD, as in CML (`git rev-parse HEAD`),
and `--commit-sha` / `--target commit/REV` take git revisions; against the fake forges."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fakes.fixtures import GITHUB_APP_TOKEN, GITLAB_TOKEN
from tests.forge_scenarios import write_report


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "CI", "GIT_AUTHOR_EMAIL": "ci@example.com",
           "GIT_COMMITTER_NAME": "CI", "GIT_COMMITTER_EMAIL": "ci@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> tuple[Path, str, str]:
    """A git checkout with two commits: (folder, first SHA, HEAD SHA)."""
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for n in (1, 2):
        (repo / "train.py").write_text(f"epochs = {n}\n")
        _git(repo, "add", "train.py")
        _git(repo, "commit", "-q", "-m", f"step {n}")
    write_report(repo)
    return repo, _git(repo, "rev-parse", "HEAD~1"), _git(repo, "rev-parse", "HEAD")


def _outside_ci(fake, forge: str) -> tuple[dict[str, str], tuple[str, ...]]:  # type: ignore[no-untyped-def]
    env = {k: "" for k in os.environ if k.startswith(("GITHUB_", "CI_", "GITLAB"))}
    token = GITHUB_APP_TOKEN if forge == "github" else GITLAB_TOKEN
    env.update(REPO_TOKEN=token, CML_INFRA_RETRY_BACKOFF="0.001")
    return env, ("--repo", "acme/models", "--driver", forge, "--api-url", fake.api_url)


def _forge(request, forge: str, commits: tuple[str, ...]):  # type: ignore[no-untyped-def]
    fake = request.getfixturevalue("fake_" + forge)
    if forge == "github":
        fake.add_repo("acme/models").commits.update(commits)
    else:
        fake.add_project("acme/models").commits.update(commits)
    return fake


def _comment_threads(fake) -> list[str]:  # type: ignore[no-untyped-def]
    store = (fake.repos["acme/models"].comments if hasattr(fake, "repos")
             else fake.projects["acme/models"].notes)
    return [thread for thread, comments in store.items() if comments]


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize(("args", "which"), [
    (("--target", "commit"), "head"), ((), "head"), (("--target", "commit/HEAD~1"), "first"),
    (("--commit-sha", "HEAD~1"), "first"), (("--head-sha", "main"), "head"),
])
def test_comment_outside_ci_lands_on_the_checkouts_commit(request, checkout, forge, args,
                                                          which):
    repo, first, head = checkout
    fake = _forge(request, forge, (first, head))
    env, where = _outside_ci(fake, forge)
    result = run_cli("comment", "create", "report.md", "--no-publish", *where, *args, env=env,
                     cwd=repo)
    assert result.returncode == 0, result.stderr
    assert _comment_threads(fake) == [f"commit/{head if which == 'head' else first}"]
    assert getattr(fake, "rejections", []) == []


@pytest.mark.parametrize("target", [(), ("--target", "pr")])
def test_outside_ci_the_pull_request_of_head_is_found(request, checkout, target):
    repo, first, head = checkout
    fake = _forge(request, "github", (first, head))
    fake.add_pull("acme/models", 9, head)
    env, where = _outside_ci(fake, "github")
    result = run_cli("comment", "update", "report.md", "--no-publish", *where, *target,
                     env=env, cwd=repo)
    assert result.returncode == 0, result.stderr
    assert _comment_threads(fake) == ["issue/9"]


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize(("args", "which"), [((), "head"), (("--commit-sha", "HEAD~1"), "first"),
                                             (("--head-sha", "main~1"), "first")])
def test_check_outside_ci_is_on_the_checkouts_commit(request, checkout, forge, args, which):
    repo, first, head = checkout
    fake = _forge(request, forge, (first, head))
    if forge == "gitlab":
        fake.add_mr("acme/models", 4, head)
    env, where = _outside_ci(fake, forge)
    result = run_cli("check", "create", "report.md", "--no-publish", *where, *args, env=env,
                     cwd=repo)
    assert result.returncode == 0, result.stderr
    made = (fake.repos["acme/models"].check_runs if forge == "github"
            else fake.projects["acme/models"].statuses)
    assert [m.get("head_sha") or m.get("sha") for m in made] == [
        head if which == "head" else first]


@pytest.mark.parametrize(("command", "args", "instead"), [
    (("comment", "create"), (), "pass --target commit/SHA, pr/N or issue/N"),
    (("comment", "create"), ("--target", "commit"), "pass --target commit/SHA, pr/N or issue/N"),
    (("comment", "create"), ("--commit-sha", "HEAD"), "give the commit's SHA instead"),
    (("comment", "create"), ("--head-sha", "main"), "give the commit's SHA instead"),
    (("comment", "create"), ("--target", "commit/main"), "give the commit's SHA instead"),
    (("check", "create"), (), "pass --commit-sha SHA"),
    (("check", "create"), ("--head-sha", "main"), "give the commit's SHA instead"),
])
def test_outside_a_checkout_the_missing_commit_is_one_sentence(request, tmp_path, command, args,
                                                               instead):
    fake = _forge(request, "github", ())
    folder = tmp_path / "not-a-checkout"
    write_report(folder)
    env, where = _outside_ci(fake, "github")
    env["GIT_CEILING_DIRECTORIES"] = str(tmp_path)  # git must not find a repository above
    result = run_cli(*command, "report.md", "--no-publish", *where, *args, env=env, cwd=folder)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    rev = args[-1].removeprefix("commit/") if args and args[-1] != "commit" else "HEAD"
    assert result.stderr.strip() == (
        f"Error: {folder} is not a git checkout, so {rev} names no commit; run in the "
        f"project's checkout or {instead}.")
    assert fake.server.log == []


@pytest.mark.parametrize(("command", "args"), [
    (("comment", "create"), ("--target", "commit/no-such-branch")),
    (("check", "create"), ("--commit-sha", "no-such-branch")),
])
def test_a_revision_the_checkout_lacks_is_one_sentence(request, checkout, command, args):
    repo, first, head = checkout
    fake = _forge(request, "github", (first, head))
    env, where = _outside_ci(fake, "github")
    result = run_cli(*command, "report.md", "--no-publish", *where, *args, env=env, cwd=repo)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: no-such-branch is not a commit of the checkout in {repo}; check the name")
    assert fake.server.log == []
