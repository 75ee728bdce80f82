"""Done-when scenarios on GitHub: `comment create|update` and `check create` as a user
runs them in a GitHub Actions pull_request job, against the fake GitHub."""

from __future__ import annotations

import re

import pytest
import requests

from reporting.report import parse_marker
from tests.conftest import run_cli
from tests.fakes.fixtures import GITHUB_APP_TOKEN, GITHUB_PAT
from tests.fakes.http import Fault, secondary_rate_limit
from tests.forge_scenarios import HEAD_SHA, PR_NUMBER, github_actions_env, png, write_report

THREAD = f"issue/{PR_NUMBER}"


@pytest.fixture
def repo(fake_github):
    fake_github.add_repo("acme/models")
    fake_github.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
    return fake_github


def _images(body: str) -> list[str]:
    return re.findall(r"\((http[^)\s]+\.png)\)|src=\"(http[^\"]+)\"", body)


def _fetch_all(fake, body: str) -> list[bytes]:
    urls = [a or b for a, b in _images(body)]
    assert len(urls) == 2, body
    headers = {"Authorization": f"token {GITHUB_APP_TOKEN}"}
    answers = [requests.get(url, headers=headers, timeout=10) for url in urls]
    assert [a.status_code for a in answers] == [200, 200]
    return [a.content for a in answers]


def test_comment_create_then_update_leaves_one_comment_with_working_images(repo, tmp_path):
    env = github_actions_env(repo, tmp_path, GITHUB_APP_TOKEN)
    report = write_report(tmp_path)
    first = run_cli("comment", "create", str(report), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    comments = repo.comments_on("acme/models", THREAD)
    assert len(comments) == 1
    assert first.stdout.strip().endswith(f"#comment-{comments[0]['id']}")
    assert _fetch_all(repo, comments[0]["body"]) == [
        (tmp_path / "plots" / "loss.png").read_bytes(), (tmp_path / "confusion.png").read_bytes()]
    assert "| accuracy | 0.912 | 0.925 | +0.013 |" in comments[0]["body"]

    (tmp_path / "plots" / "loss.png").write_bytes(png(5, 5, (0, 200, 0)))
    report.write_text(report.read_text().replace("0.925", "0.931"))
    second = run_cli("comment", "update", str(report), env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    comments = repo.comments_on("acme/models", THREAD)
    assert len(comments) == 1
    assert "0.931" in comments[0]["body"] and "0.925" not in comments[0]["body"]
    assert _fetch_all(repo, comments[0]["body"])[0] == png(5, 5, (0, 200, 0))
    assert repo.rejections == []


def test_same_with_a_fifth_of_requests_failing_and_one_secondary_rate_limit(repo, tmp_path):
    env = github_actions_env(repo, tmp_path, GITHUB_APP_TOKEN)
    report = write_report(tmp_path)
    repo.server.faults.add(secondary_rate_limit(retry_after=0, path_contains="/comments"))
    repo.server.faults.fail_randomly(0.2, seed=7)
    for command in ("create", "update", "update"):
        result = run_cli("comment", command, str(report), env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    injected = [fault.status for _, _, fault in repo.server.faults.injected]
    assert 403 in injected and injected.count(502) >= 2
    repo.server.faults.clear()
    comments = repo.comments_on("acme/models", THREAD)
    assert len(comments) == 1
    _fetch_all(repo, comments[0]["body"])
    assert repo.rejections == []


def test_answer_lost_after_the_comment_was_stored_leaves_one_copy(repo, tmp_path):
    env = github_actions_env(repo, tmp_path, GITHUB_APP_TOKEN)
    report = write_report(tmp_path)
    repo.server.faults.add(Fault(drop=True, after=True, method="POST",
                                 path_contains="/issues/42/comments"))
    result = run_cli("comment", "create", str(report), "--no-publish", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(repo.comments_on("acme/models", THREAD)) == 1
    assert [m for m, p, s in repo.server.log if m == "POST" and "comments" in p] == ["POST"]


def test_create_adds_a_second_comment_update_edits_the_newest_of_its_watermark(repo, tmp_path):
    env = github_actions_env(repo, tmp_path, GITHUB_APP_TOKEN)
    report = write_report(tmp_path)
    for args in (("create",), ("create",), ("update", "--watermark-title", "eval"),
                 ("update", "--watermark-title", "eval"), ("update",)):
        result = run_cli("comment", *args, str(report), "--no-publish", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    marks = [parse_marker(c["body"]) for c in repo.comments_on("acme/models", THREAD)]
    assert [m[0] for m in marks if m] == ["", "", "eval"]
    assert repo.rejections == []


def test_check_create_posts_a_completed_check_run_on_the_head_commit(repo, tmp_path):
    env = github_actions_env(repo, tmp_path, GITHUB_APP_TOKEN)
    report = write_report(tmp_path)
    result = run_cli("check", "create", str(report), "--title", "Metrics",
                     "--conclusion", "failure", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [run] = repo.repos["acme/models"].check_runs
    assert (run["name"], run["head_sha"], run["conclusion"], run["status"]) == (
        "Metrics", HEAD_SHA, "failure", "completed")
    assert "| loss | 0.301 | 0.284 | -0.017 |" in run["output"]["summary"]
    assert repo.rejections == []


@pytest.mark.parametrize(("where", "fix"), [
    ("REPO_TOKEN", "unset REPO_TOKEN for this step or pass --token \"$GITHUB_TOKEN\""),
    ("GITHUB_TOKEN", "set GITHUB_TOKEN to the workflow's own token (${{ github.token }}) for "
                     "this step"),
    ("--token", "pass the workflow's token instead (--token \"$GITHUB_TOKEN\")"),
    ("--driver-token", "pass the workflow's token instead (--token \"$GITHUB_TOKEN\")"),
])
def test_check_create_with_a_personal_token_names_the_token_that_can(repo, tmp_path, where, fix):
    env = github_actions_env(repo, tmp_path, GITHUB_APP_TOKEN)
    args = ["check", "create", str(write_report(tmp_path)), "--no-publish"]
    if where.startswith("--"):
        env["GITHUB_TOKEN"] = ""
        args += [where, GITHUB_PAT]
    else:
        env[where] = GITHUB_PAT
    result = run_cli(*args, env=env)
    assert result.returncode == 1
    source = "--token" if where.startswith("--") else where
    assert result.stderr.strip() == (
        "Error: GitHub check runs need the workflow's GITHUB_TOKEN (with 'checks: write' "
        "permission) or a GitHub App token (https://docs.github.com/rest/checks/runs); the "
        f"token from {source} is a personal or OAuth app token, which cannot create them, so "
        f"{fix}."
    )
    assert repo.repos["acme/models"].check_runs == []
