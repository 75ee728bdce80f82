"""Done-when scenarios on GitLab: `comment create|update` and `check create` in a merge
request pipeline, against the fake GitLab."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import run_cli
from tests.fakes.fixtures import GITLAB_JOB_TOKEN, GITLAB_TOKEN
from tests.fakes.http import Fault
from tests.forge_scenarios import HEAD_SHA, MR_IID, gitlab_ci_env, png, write_report

THREAD = f"mr/{MR_IID}"


@pytest.fixture
def project(fake_gitlab):
    fake_gitlab.add_project("acme/models")
    fake_gitlab.add_mr("acme/models", MR_IID, HEAD_SHA)
    return fake_gitlab


def _fetch_all(body: str) -> list[bytes]:
    urls = re.findall(r"\((http[^)\s]+)\)|src=\"(http[^\"]+)\"", body)
    assert len(urls) == 2, body
    answers = [requests.get(a or b, headers={"PRIVATE-TOKEN": GITLAB_TOKEN}, timeout=10)
               for a, b in urls]
    assert [a.status_code for a in answers] == [200, 200]
    return [a.content for a in answers]


def test_comment_create_then_update_leaves_one_note_with_working_images(project, tmp_path):
    env = gitlab_ci_env(project, GITLAB_TOKEN)
    report = write_report(tmp_path)
    first = run_cli("comment", "create", str(report), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    [note] = project.notes_on("acme/models", THREAD)
    assert _fetch_all(note["body"]) == [(tmp_path / "plots" / "loss.png").read_bytes(),
                                        (tmp_path / "confusion.png").read_bytes()]
    (tmp_path / "confusion.png").write_bytes(png(3, 3, (9, 9, 9)))
    report.write_text(report.read_text().replace("0.925", "0.931"))
    second = run_cli("comment", "update", str(report), env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    [note] = project.notes_on("acme/models", THREAD)
    url = f"{project.server.url}/acme/models/-/merge_requests/{MR_IID}#note_{note['id']}\n"
    assert first.stdout == second.stdout == url  # GitLab's API gives notes no URL
    assert "0.931" in note["body"] and "| loss | 0.301 |" in note["body"]
    assert _fetch_all(note["body"])[1] == png(3, 3, (9, 9, 9))


def test_same_with_a_fifth_of_requests_failing_and_a_rate_limit(project, tmp_path):
    env = gitlab_ci_env(project, GITLAB_TOKEN)
    report = write_report(tmp_path)
    project.server.faults.add(Fault(status=429, headers={"Retry-After": "0"},
                                    path_contains="/notes"))
    project.server.faults.fail_randomly(0.2, seed=3)
    for command in ("create", "update", "update"):
        result = run_cli("comment", command, str(report), env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert len(project.server.faults.injected) >= 3
    project.server.faults.clear()
    [note] = project.notes_on("acme/models", THREAD)
    _fetch_all(note["body"])


def test_lost_answer_after_the_note_was_stored_leaves_one_copy(project, tmp_path):
    env = gitlab_ci_env(project, GITLAB_TOKEN)
    project.server.faults.add(Fault(drop=True, after=True, method="POST", path_contains="/notes"))
    result = run_cli("comment", "create", str(write_report(tmp_path)), "--no-publish", env=env)
    assert result.returncode == 0, result.stderr
    assert len(project.notes_on("acme/models", THREAD)) == 1


def test_commit_target_uses_a_commit_discussion_and_update_edits_it(project, tmp_path):
    env = gitlab_ci_env(project, GITLAB_TOKEN)
    report = write_report(tmp_path)
    outputs = []
    for command in ("create", "update"):
        result = run_cli("comment", command, str(report), "--target", "commit", "--no-publish",
                         env=env)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    [note] = project.notes_on("acme/models", f"commit/{HEAD_SHA}")
    url = f"{project.server.url}/acme/models/-/commit/{HEAD_SHA}#note_{note['id']}\n"
    assert outputs == [url, url]


def test_issue_note_urls() -> None:
    from types import SimpleNamespace

    from reporting.forges.base import Thread, ThreadKind
    from reporting.forges.gitlab import GitLabForge

    client = SimpleNamespace(projects=SimpleNamespace(get=lambda repo, lazy: object()))
    forge = GitLabForge(client, "ml/eval", server_url="https://gitlab.acme.io/")  # type: ignore[arg-type]
    assert forge._note_url(Thread(ThreadKind.ISSUE, "7"), 42) == \
        "https://gitlab.acme.io/ml/eval/-/issues/7#note_42"


def test_check_create_sets_a_status_and_posts_the_report_as_a_note(project, tmp_path):
    env = gitlab_ci_env(project, GITLAB_TOKEN)
    result = run_cli("check", "create", str(write_report(tmp_path)), "--title", "Metrics",
                     "--conclusion", "failure", env=env)
    assert result.returncode == 0, result.stderr
    [status] = project.projects["acme/models"].statuses
    assert (status["sha"], status["name"], status["state"]) == (HEAD_SHA, "Metrics", "failed")
    [note] = project.notes_on("acme/models", THREAD)
    assert "| accuracy | 0.912 | 0.925 | +0.013 |" in note["body"]


def test_job_token_gets_a_sentence_naming_the_token_that_can(project, tmp_path):
    env = gitlab_ci_env(project, "", CI_JOB_TOKEN=GITLAB_JOB_TOKEN)
    result = run_cli("check", "create", str(write_report(tmp_path)), "--no-publish", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: CI_JOB_TOKEN may not set a commit status; set REPO_TOKEN to a project access "
        "token with the api scope (Developer role).")
    assert project.projects["acme/models"].statuses == []
