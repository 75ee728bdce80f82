"""CML's options of `comment` and `check`, with CML's meaning, against the fake forges.

CML's references: https://github.com/iterative/cml.dev/blob/master/content/docs/ref/comment.md,
check.md and index.md; hidden options from iterative/cml bin/cml/comment/create.js.
"""

from __future__ import annotations

import re

import pytest

from reporting.report import parse_marker
from tests.conftest import run_cli
from tests.fakes.fixtures import GITHUB_APP_TOKEN, GITLAB_TOKEN
from tests.fakes.http import Fault, secondary_rate_limit
from tests.forge_scenarios import (
    HEAD_SHA,
    MR_IID,
    PR_NUMBER,
    github_actions_env,
    gitlab_ci_env,
    write_report,
)

OTHER_SHA = "d" * 40


@pytest.fixture
def github(fake_github):
    repo = fake_github.add_repo("acme/models")
    fake_github.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
    repo.issues.add(3)
    repo.commits.add(OTHER_SHA)
    yield fake_github
    assert fake_github.rejections == [] and fake_github.server.errors == []


@pytest.fixture
def gitlab(fake_gitlab):
    fake_gitlab.add_project("acme/models")
    fake_gitlab.add_mr("acme/models", MR_IID, HEAD_SHA)
    fake_gitlab.projects["acme/models"].commits.add(OTHER_SHA)
    yield fake_gitlab
    assert fake_gitlab.server.errors == []


def _env(fake, tmp_path, **extra: str) -> dict[str, str]:
    if hasattr(fake, "repos"):
        return {**github_actions_env(fake, tmp_path, GITHUB_APP_TOKEN), **extra}
    return gitlab_ci_env(fake, GITLAB_TOKEN, **extra)


def _ok(*args: str, env: dict[str, str], cwd=None):  # type: ignore[no-untyped-def]
    result = run_cli(*args, env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result


def _threads(fake) -> dict[str, list[dict]]:  # type: ignore[no-untyped-def]
    if hasattr(fake, "repos"):
        return {k: v for k, v in fake.repos["acme/models"].comments.items() if v}
    return {k: v for k, v in fake.projects["acme/models"].notes.items() if v}


@pytest.mark.parametrize(("args", "thread"), [
    (("--pr",), f"issue/{PR_NUMBER}"),
    (("--commit-sha", OTHER_SHA), f"commit/{OTHER_SHA}"),
    (("--head-sha", OTHER_SHA), f"commit/{OTHER_SHA}"),
    (("--target", f"commit/{OTHER_SHA}"), f"commit/{OTHER_SHA}"),
    (("--target", "issue/3"), "issue/3"),
    ((), f"issue/{PR_NUMBER}"),
])
def test_cml_target_flags_put_the_comment_where_cml_does(github, tmp_path, args, thread):
    report = write_report(tmp_path)
    _ok("comment", "create", str(report), "--no-publish", *args,
        env=_env(github, tmp_path), cwd=tmp_path)
    assert list(_threads(github)) == [thread]


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize("second", [("create", "--update"), ("update",), ("update", "--update")])
def test_create_with_update_edits_like_comment_update(request, tmp_path, forge, second):
    fake = request.getfixturevalue(forge)
    env, report = _env(fake, tmp_path), write_report(tmp_path)
    _ok("comment", "create", str(report), "--no-publish", env=env)
    _ok("comment", *second, str(report), "--no-publish", env=env)
    assert [len(comments) for comments in _threads(fake).values()] == [1]


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize("flag", ["--token", "--driver-token"])
def test_driver_token_is_the_token_flag(request, tmp_path, forge, flag):
    fake = request.getfixturevalue(forge)
    token = GITHUB_APP_TOKEN if forge == "github" else GITLAB_TOKEN
    env = {**_env(fake, tmp_path), "GITHUB_TOKEN": "", "REPO_TOKEN": ""}
    result = _ok("comment", "create", str(write_report(tmp_path)), "--no-publish", flag, token,
                 env=env)
    assert token not in result.stdout + result.stderr
    assert len(_threads(fake)) == 1


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize("flag", ["--native", "--publish-native"])
def test_native_publishing_is_what_happens_anyway(request, tmp_path, forge, flag):
    fake = request.getfixturevalue(forge)
    _ok("comment", "create", str(write_report(tmp_path)), flag, env=_env(fake, tmp_path),
        cwd=tmp_path)
    [comments] = _threads(fake).values()
    assert "plots/loss.png" not in comments[0]["body"]  # the link points at the published copy


REFUSED = [
    (("comment", "create", "--publish-url", "https://asset.cml.dev"),
     "cml-infra never sends images to an image server, so it does not take --publish-url"),
    (("comment", "update", "--publish-url", "https://minio.corp"),
     "cml-infra never sends images to an image server"),
    (("comment", "create", "--pr", "--target", "pr"),
     "--target, --pr and --commit-sha each say where to comment; give only --target"),
    (("comment", "update", "--target", "pr", "--head-sha", "abc1234"),
     "--target, --pr and --commit-sha"),
    (("comment", "update", "--rm-watermark"),
     "--rm-watermark leaves nothing to find the comment by"),
    (("comment", "create", "--rm-watermark", "--update"), "--rm-watermark leaves nothing"),
    # --rm-watermark --watch is allowed, as in CML (tests/test_forge_user_review.py)
    (("comment", "create", "--rm-watermark", "--watermark-title", "x"),
     "--rm-watermark leaves nothing"),
    (("comment", "create", "--trigger-file", "go"), "--trigger-file says when --watch posts"),
    (("check", "create", "--status", "queued", "--conclusion", "failure"),
     "A check that is queued has no conclusion yet; drop --conclusion"),
    (("check", "create", "--status", "in_progress", "--conclusion", "success"),
     "A check that is in progress has no conclusion yet"),
]


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize(("args", "start"), REFUSED)
def test_refused_cml_flags_are_one_sentence_and_nothing_is_sent(
        request, tmp_path, forge, args, start):
    fake = request.getfixturevalue(forge)
    result = run_cli(*args, str(write_report(tmp_path)), env=_env(fake, tmp_path))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: " + start), line
    assert fake.server.log == []


def test_rm_watermark_posts_a_comment_no_update_finds(github, tmp_path):
    env, report = _env(github, tmp_path), write_report(tmp_path)
    for _ in range(2):
        _ok("comment", "create", str(report), "--no-publish", "--rm-watermark", env=env)
    _ok("comment", "update", str(report), "--no-publish", env=env)
    [comments] = _threads(github).values()
    assert [parse_marker(c["body"]) is None for c in comments] == [True, True, False]
    assert comments[0]["body"] == report.read_text()


@pytest.mark.parametrize("status", ["queued", "in_progress"])
def test_github_check_still_running_has_a_status_and_no_conclusion(github, tmp_path, status):
    _ok("check", "create", str(write_report(tmp_path)), "--no-publish", "--status", status,
        env=_env(github, tmp_path))
    [run] = github.repos["acme/models"].check_runs
    assert run["status"] == status and "conclusion" not in run


@pytest.mark.parametrize("conclusion", ["success", "failure", "neutral", "cancelled", "skipped",
                                        "timed_out"])
def test_github_check_conclusions_are_cmls(github, tmp_path, conclusion):
    _ok("check", "create", str(write_report(tmp_path)), "--no-publish", "--conclusion",
        conclusion, "--status", "completed", env=_env(github, tmp_path))
    [run] = github.repos["acme/models"].check_runs
    assert (run["status"], run["conclusion"]) == ("completed", conclusion)


@pytest.mark.parametrize(("args", "state"), [
    (("--status", "queued"), "pending"), (("--status", "in_progress"), "running"),
    ((), "success"), (("--conclusion", "success"), "success"),
    (("--conclusion", "failure"), "failed"), (("--conclusion", "neutral"), "success"),
    (("--conclusion", "cancelled"), "canceled"), (("--conclusion", "skipped"), "skipped"),
    (("--conclusion", "timed_out"), "failed")])
def test_gitlab_commit_status_states_for_cmls_status_and_conclusion(gitlab, tmp_path, args,
                                                                    state):
    _ok("check", "create", str(write_report(tmp_path)), "--no-publish", *args,
        env=_env(gitlab, tmp_path))
    [status] = gitlab.projects["acme/models"].statuses
    assert status["state"] == state


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize("flag", ["--commit-sha", "--head-sha"])
def test_check_commit_sha_names_the_commit_checked(request, tmp_path, forge, flag):
    fake = request.getfixturevalue(forge)
    _ok("check", "create", str(write_report(tmp_path)), "--no-publish", flag, OTHER_SHA,
        env=_env(fake, tmp_path))
    made = (fake.repos["acme/models"].check_runs if forge == "github"
            else fake.projects["acme/models"].statuses)
    assert [m.get("head_sha") or m.get("sha") for m in made] == [OTHER_SHA]


@pytest.mark.parametrize(("forge", "variables"), [
    ("github", {"GITHUB_WORKFLOW": "train", "GITHUB_RUN_ID": "77"}),
    ("gitlab", {"CI_PIPELINE_ID": "train", "CI_JOB_ID": "77"})])
def test_watermark_title_placeholders_are_cmls(request, tmp_path, forge, variables):
    fake = request.getfixturevalue(forge)
    env = {**_env(fake, tmp_path), **variables}
    _ok("comment", "update", str(write_report(tmp_path)), "--no-publish", "--watermark-title",
        "{workflow} report {run}", env=env)
    [comments] = _threads(fake).values()
    assert parse_marker(comments[0]["body"])[0] == "train report 77"  # type: ignore[index]


WAITS = [
    ("github", Fault(status=502, method="GET", path_contains="/comments"), "answered 502", 7),
    ("github", Fault(status=503, method="GET", path_contains="/contents/"), "answered 503", 7),
    ("github", Fault(drop=True, method="GET", path_contains="/comments"),
     "dropped the connection", 7),
    ("github", secondary_rate_limit(retry_after=0, path_contains="/comments"),
     "answered 403 (rate limit)", 7),
    ("github", Fault(status=429, headers={"Retry-After": "0"}, method="POST",
                     path_contains="/comments"), "answered 429 (rate limit)", 7),
    ("github", Fault(status=502, method="POST", path_contains="/comments"),
     "lost the answer to the new comment, which is not there", 5),
    ("gitlab", Fault(status=502, method="GET", path_contains="/notes"), "answered 502", 7),
    ("gitlab", Fault(status=429, headers={"Retry-After": "0"}, method="POST",
                     path_contains="/notes"), "answered 429 (rate limit)", 7),
    ("gitlab", Fault(drop=True, method="GET", path_contains="/notes"),
     "dropped the connection", 7),
    ("gitlab", Fault(status=503, method="POST", path_contains="/uploads"), "answered 503", 7),
    ("gitlab", Fault(status=502, method="POST", path_contains="/notes"),
     "lost the answer to the new comment, which is not there", 5),
]


@pytest.mark.parametrize(("forge", "fault", "cause", "attempts"), WAITS)
def test_each_retry_wait_is_one_line_on_stderr(request, tmp_path, forge, fault, cause,
                                                attempts):
    fake = request.getfixturevalue(forge)
    fake.server.faults.add(fault)
    result = _ok("comment", "create", str(write_report(tmp_path)), env=_env(fake, tmp_path),
                 cwd=tmp_path)
    name = "GitHub" if forge == "github" else "GitLab"
    pattern = rf"{name} {re.escape(cause)}; retrying (now|in under a second|in \d+ s), " \
              rf"attempt 2 of {attempts}"
    assert re.fullmatch(pattern, result.stderr.strip()), result.stderr
    assert len(_threads(fake)) == 1


@pytest.mark.parametrize("log", ["warn", "error"])
def test_log_warn_or_error_hides_the_retry_lines(github, tmp_path, log):
    github.server.faults.add(Fault(status=502, method="GET", path_contains="/comments"))
    result = _ok("comment", "create", str(write_report(tmp_path)), "--no-publish", "--log", log,
                 env=_env(github, tmp_path))
    assert result.stderr == ""


@pytest.mark.parametrize(("log", "shown"), [("info", True), ("warn", True), ("error", False)])
def test_a_guess_between_both_cis_is_a_warning_unless_log_error(github, tmp_path, log, shown):
    env = _env(github, tmp_path, GITLAB_CI="true", CI_PROJECT_ID="12")
    result = _ok("comment", "create", str(write_report(tmp_path)), "--no-publish", "--log", log,
                 env=env)
    warning = ("Warning: Both GitHub Actions (GITHUB_ACTIONS, GITHUB_REPOSITORY) and GitLab CI "
               "(GITLAB_CI, CI_PROJECT_ID) variables are set, and GitHub Actions was assumed "
               "because GITHUB_ACTIONS=true; pass --driver gitlab to report to GitLab.")
    assert result.stderr.strip() == (warning if shown else "")
    assert len(_threads(github)) == 1


@pytest.mark.parametrize("command", [("comment", "create"), ("check", "create")])
def test_log_debug_shows_the_traceback_without_the_token(github, tmp_path, command):
    env = {**_env(github, tmp_path), "GITHUB_TOKEN": "ghp_" + "9" * 36}
    result = run_cli(*command, str(write_report(tmp_path)), "--no-publish", "--log", "debug",
                     env=env)
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert "9999" not in result.stderr + result.stdout


UNPUBLISHED = ("![missing](plots/gone.png)\n![text](notes.png)\n<img src=\"../outside.png\">\n"
               "![remote](https://example.com/a.png)\n")


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize("command", [("comment", "create"), ("comment", "update"),
                                     ("check", "create")])
def test_no_publish_leaves_image_links_untouched_and_needs_no_images(
        request, tmp_path, forge, command):
    fake = request.getfixturevalue(forge)
    (tmp_path / "notes.png").write_text("not an image")
    report = tmp_path / "report.md"
    report.write_text("# Report\n\n" + UNPUBLISHED)
    _ok(*command, str(report), "--no-publish", env=_env(fake, tmp_path), cwd=tmp_path)
    if command[0] == "check" and forge == "github":
        [run] = fake.repos["acme/models"].check_runs
        body = run["output"]["summary"]
    else:
        [comments] = _threads(fake).values()
        body = comments[0]["body"]
    assert body.endswith("# Report\n\n" + UNPUBLISHED)
    writes = [p for m, p, s in fake.server.log if m in ("POST", "PUT") and
              ("/uploads" in p or "/contents/" in p or "/git/" in p)]
    assert writes == []
