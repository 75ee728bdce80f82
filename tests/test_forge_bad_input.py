"""Bad input: one sentence, a non-zero exit, and nothing posted, on both forges."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.fakes.fixtures import (
    GITHUB_APP_TOKEN,
    GITHUB_READ_TOKEN,
    GITLAB_READ_TOKEN,
    GITLAB_TOKEN,
)
from tests.forge_scenarios import (
    HEAD_SHA,
    MR_IID,
    PR_NUMBER,
    github_actions_env,
    gitlab_ci_env,
    write_report,
)

WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def github(fake_github):
    fake_github.add_repo("acme/models")
    fake_github.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
    return fake_github


@pytest.fixture
def gitlab(fake_gitlab):
    fake_gitlab.add_project("acme/models")
    fake_gitlab.add_mr("acme/models", MR_IID, HEAD_SHA)
    return fake_gitlab


def _fails(result, sentence_start: str) -> str:
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: " + sentence_start), lines[0]
    return lines[0]


def _nothing_written(fake) -> None:
    assert [entry for entry in fake.server.log if entry[0] in WRITES and entry[2] < 300] == []


@pytest.mark.parametrize(("make", "start"), [
    (lambda d: d / "missing.md", "Report file"),
    (lambda d: d, "Report file /"),
    (lambda d: (d / "latin1.md").write_bytes(b"caf\xe9") and d / "latin1.md",
     "Cannot read report file"),
])
def test_missing_or_unreadable_report(github, tmp_path, make, start):
    env = github_actions_env(github, tmp_path, GITHUB_APP_TOKEN)
    line = _fails(run_cli("comment", "create", str(make(tmp_path)), env=env), start)
    assert "directory" in line or "missing.md" in line or "latin1.md" in line
    assert github.server.log == []


def test_missing_image_is_named_before_any_request(github, tmp_path):
    env = github_actions_env(github, tmp_path, GITHUB_APP_TOKEN)
    report = write_report(tmp_path)
    (tmp_path / "confusion.png").unlink()
    _fails(run_cli("comment", "create", str(report), env=env),
           "Image confusion.png referenced in the report does not exist")
    assert github.server.log == []


def test_no_token(github, tmp_path):
    env = {**github_actions_env(github, tmp_path, ""), "GITHUB_TOKEN": ""}
    _fails(run_cli("comment", "create", str(write_report(tmp_path)), env=env),
           "No token found; set REPO_TOKEN or GITHUB_TOKEN")
    assert github.server.log == []


def test_invalid_target(github, tmp_path):
    env = github_actions_env(github, tmp_path, GITHUB_APP_TOKEN)
    _fails(run_cli("comment", "create", str(write_report(tmp_path)), "--target", "pull/3",
                   env=env), "--target 'pull/3' is not one of auto, pr, commit")
    assert github.server.log == []


def test_github_rejected_token(github, tmp_path):
    env = github_actions_env(github, tmp_path, "ghp_" + "9" * 36)
    line = _fails(run_cli("comment", "create", str(write_report(tmp_path)), env=env),
                  "GitHub rejected the token from GITHUB_TOKEN (401 Bad credentials)")
    assert "9999" not in line
    _nothing_written(github)


def test_rejected_token_given_as_a_flag_is_never_printed(github, tmp_path):
    env = github_actions_env(github, tmp_path, "")
    secret = "not-a-token-shape-" + "7" * 10
    result = run_cli("--debug", "comment", "create", str(write_report(tmp_path)), "--token",
                     secret, env=env)
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert secret not in result.stderr + result.stdout


def test_workflow_token_without_checks_permission(github, tmp_path):
    github.tokens["ghs_" + "r" * 36] = "read"
    env = github_actions_env(github, tmp_path, "ghs_" + "r" * 36)
    _fails(run_cli("check", "create", str(write_report(tmp_path)), "--no-publish", env=env),
           "The workflow's GITHUB_TOKEN may not create check runs (403 Resource not accessible "
           "by integration); add 'permissions: checks: write' to the job.")
    _nothing_written(github)


def test_github_token_without_permission(github, tmp_path):
    env = github_actions_env(github, tmp_path, GITHUB_READ_TOKEN)
    _fails(run_cli("comment", "create", str(write_report(tmp_path)), env=env),
           "The token from GITHUB_TOKEN may not create the assets branch in acme/models (403")
    _nothing_written(github)
    assert github.repos["acme/models"].refs == {}


def test_github_no_pull_request_for_target_pr(github, tmp_path):
    env = {**github_actions_env(github, tmp_path, GITHUB_APP_TOKEN),
           "GITHUB_EVENT_NAME": "push", "GITHUB_SHA": "1" * 40}
    github.repos["acme/models"].commits.add("1" * 40)
    _fails(run_cli("comment", "create", str(write_report(tmp_path)), "--target", "pr", env=env),
           "No open pull request found for commit 111111111111; use --target pr/N")
    _nothing_written(github)


def test_github_pull_request_that_does_not_exist(github, tmp_path):
    env = github_actions_env(github, tmp_path, GITHUB_APP_TOKEN)
    _fails(run_cli("comment", "create", str(write_report(tmp_path)), "--target", "pr/999",
                   env=env), "Pull request #999 was not found in acme/models; check --target.")
    _nothing_written(github)


def test_github_repository_not_found(github, tmp_path):
    env = github_actions_env(github, tmp_path, GITHUB_APP_TOKEN)
    _fails(run_cli("comment", "create", str(write_report(tmp_path)), "--repo", "acme/nope",
                   "--target", "issue/1", env=env),
           "Repository acme/nope was not found on GitHub, or the token from GITHUB_TOKEN "
           "cannot see it")
    _nothing_written(github)
    assert github.rejections == []


def test_gitlab_rejected_token(gitlab, tmp_path):
    env = gitlab_ci_env(gitlab, "glpat-" + "0" * 20)
    _fails(run_cli("comment", "create", str(write_report(tmp_path)), env=env),
           "GitLab rejected the token from REPO_TOKEN (401")
    _nothing_written(gitlab)


def test_gitlab_token_without_permission(gitlab, tmp_path):
    env = gitlab_ci_env(gitlab, GITLAB_READ_TOKEN)
    _fails(run_cli("comment", "create", str(write_report(tmp_path)), env=env),
           "The token from REPO_TOKEN may not upload an image in acme/models (403")
    _nothing_written(gitlab)


def test_gitlab_no_merge_request_for_target_pr(gitlab, tmp_path):
    gitlab.projects["acme/models"].commits.add("2" * 40)
    env = gitlab_ci_env(gitlab, GITLAB_TOKEN, CI_MERGE_REQUEST_IID="", CI_COMMIT_SHA="2" * 40)
    _fails(run_cli("comment", "create", str(write_report(tmp_path)), "--target", "pr", env=env),
           "No open merge request found for commit 222222222222")
    _nothing_written(gitlab)


def test_gitlab_project_not_found(gitlab, tmp_path):
    env = gitlab_ci_env(gitlab, GITLAB_TOKEN)
    _fails(run_cli("comment", "create", str(write_report(tmp_path)), "--repo", "acme/nope",
                   "--target", "pr/1", env=env),
           "Project acme/nope was not found on GitLab, or the token from REPO_TOKEN cannot see it")
    _nothing_written(gitlab)


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize("ref", ["/proc/self/environ", "../outside.png"])
def test_an_image_outside_the_workspace_is_refused_before_any_request(
        request, tmp_path, forge, ref):
    fake = request.getfixturevalue(forge)
    env = (github_actions_env(fake, tmp_path, GITHUB_APP_TOKEN) if forge == "github"
           else gitlab_ci_env(fake, GITLAB_TOKEN))
    folder = tmp_path / "report"
    report = write_report(folder)
    report.write_text(report.read_text() + f"\n![leak]({ref})\n")
    _fails(run_cli("comment", "create", str(report), env=env, cwd=folder),
           f"Image {ref} referenced in the report is not allowed")
    assert fake.server.log == []


def _event_with_number(tmp_path, number):  # type: ignore[no-untyped-def]
    import json

    event = tmp_path / "odd-event.json"
    event.write_text(json.dumps({"pull_request": {"number": number, "head": {"sha": HEAD_SHA}}}))
    return {"GITHUB_EVENT_PATH": str(event)}


# (forge, environment changes, extra flags, start of the sentence)
CRASHES = [
    ("gitlab", lambda p: {"CI_MERGE_REQUEST_IID": "seven"}, (),
     "CI_MERGE_REQUEST_IID is 'seven', not a merge request number"),
    ("github", lambda p: _event_with_number(p, "42a"), (), "pull_request.number in the GitHub "
     "event file"),
    ("github", lambda p: _event_with_number(p, [42]), (), "pull_request.number in the GitHub "
     "event file"),
    ("github", lambda p: {"GITHUB_API_URL": "api.github.com"}, (),
     "GITHUB_API_URL 'api.github.com' is not a URL"),
    ("gitlab", lambda p: {"CI_API_V4_URL": "gitlab/api/v4"}, (),
     "CI_API_V4_URL 'gitlab/api/v4' is not a URL"),
    ("github", lambda p: {}, ("--api-url", "localhost:3000"),
     "--api-url 'localhost:3000' is not a URL"),
    ("github", lambda p: {}, ("--repo", "ftp://github.com/acme/models"),
     "Repository address 'ftp://github.com/acme/models' is not a repository URL"),
    ("gitlab", lambda p: {}, ("--repo", "ftp://git.corp/acme/models"),
     "Repository address 'ftp://git.corp/acme/models' is not a repository URL"),
]


@pytest.mark.parametrize("command", [("comment", "create"), ("check", "create")])
@pytest.mark.parametrize(("forge", "change", "flags", "start"), CRASHES)
def test_values_that_used_to_crash_are_one_sentence(request, tmp_path, command, forge, change,
                                                    flags, start):
    fake = request.getfixturevalue(forge)
    env = (github_actions_env(fake, tmp_path, GITHUB_APP_TOKEN) if forge == "github"
           else gitlab_ci_env(fake, GITLAB_TOKEN))
    result = run_cli(*command, str(write_report(tmp_path)), *flags,
                     env={**env, **change(tmp_path)})
    assert "Traceback" not in result.stderr
    _fails(result, start)
    assert fake.server.log == []


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_token_with_a_trailing_line_break_is_named_as_such(request, tmp_path, forge, ending):
    fake = request.getfixturevalue(forge)
    if forge == "github":
        env, source = {**github_actions_env(fake, tmp_path, GITHUB_APP_TOKEN + ending)}, \
            "GITHUB_TOKEN"
    else:
        env, source = gitlab_ci_env(fake, GITLAB_TOKEN + ending), "REPO_TOKEN"
    result = run_cli("comment", "create", str(write_report(tmp_path)), env=env)
    line = _fails(result, f"The token from {source} ends with a line break; store it "
                          "without one")
    assert GITHUB_APP_TOKEN not in line and GITLAB_TOKEN not in line
    assert fake.server.log == []
