"""The CI context: GitHub Actions and GitLab CI variables, flags, tokens, and GHES."""

from __future__ import annotations

import json

import pytest

from reporting.context import CIContext, Driver, Overrides, context_from_env
from reporting.errors import ContextError

TOKEN = "ghs_" + "x" * 36


def _gha(tmp_path, event_name="pull_request", **extra):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 5, "head": {"sha": "head1"}}}))
    return {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/models",
            "GITHUB_API_URL": "https://api.github.com", "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_EVENT_NAME": event_name, "GITHUB_EVENT_PATH": str(event),
            "GITHUB_SHA": "merge1", "GITHUB_TOKEN": TOKEN, **extra}


def test_github_pull_request_job_reads_number_and_head_sha_from_the_event(tmp_path):
    ctx = context_from_env(_gha(tmp_path))
    assert (ctx.driver, ctx.repo, ctx.pr_number, ctx.sha) == (
        Driver.GITHUB, "acme/models", 5, "head1")
    assert (ctx.api_url, ctx.server_url, ctx.token_source) == (
        "https://api.github.com", "https://github.com", "GITHUB_TOKEN")


@pytest.mark.parametrize("event", ["push", "workflow_dispatch"])
def test_github_push_job_has_no_pull_request_and_uses_github_sha(tmp_path, event):
    ctx = context_from_env(_gha(tmp_path, event_name=event))
    assert (ctx.pr_number, ctx.sha) == (None, "merge1")


def test_pull_request_target_is_a_pull_request_event_too(tmp_path):
    assert context_from_env(_gha(tmp_path, event_name="pull_request_target")).pr_number == 5


def test_repo_token_wins_over_github_token_and_flag_wins_over_both(tmp_path):
    env = _gha(tmp_path, REPO_TOKEN="ghp_" + "r" * 36)
    assert context_from_env(env).token_source == "REPO_TOKEN"
    ctx = context_from_env(env, Overrides(token="flagtoken"))
    assert (ctx.token, ctx.token_source) == ("flagtoken", "--token")


def test_token_is_not_in_repr(tmp_path):
    ctx = context_from_env(_gha(tmp_path))
    assert TOKEN not in repr(ctx) and TOKEN not in repr(Overrides(token=TOKEN))


def test_enterprise_server_from_the_same_variables(tmp_path):
    env = _gha(tmp_path, GITHUB_API_URL="https://ghe.corp/api/v3",
               GITHUB_SERVER_URL="https://ghe.corp")
    ctx = context_from_env(env)
    assert (ctx.api_url, ctx.server_url) == ("https://ghe.corp/api/v3", "https://ghe.corp")


def test_outside_ci_a_repo_url_and_a_token_are_enough():
    flags = Overrides(repo="https://ghe.corp/acme/models.git", token="t", driver=Driver.GITHUB)
    ctx = context_from_env({}, flags)
    assert (ctx.driver, ctx.repo, ctx.api_url, ctx.server_url, ctx.pr_number, ctx.sha) == (
        Driver.GITHUB, "acme/models", "https://ghe.corp/api/v3", "https://ghe.corp", None, None)


def test_outside_ci_a_slug_means_github_com():
    ctx = context_from_env({"REPO_TOKEN": "t"}, Overrides(repo="acme/models"))
    assert (ctx.api_url, ctx.server_url) == ("https://api.github.com", "https://github.com")


def test_another_repository_than_the_jobs_drops_the_jobs_pull_request(tmp_path):
    ctx = context_from_env(_gha(tmp_path), Overrides(repo="acme/other"))
    assert (ctx.repo, ctx.pr_number, ctx.sha) == ("acme/other", None, None)


def test_api_url_flag_overrides_the_environment(tmp_path):
    ctx = context_from_env(_gha(tmp_path), Overrides(api_url="http://127.0.0.1:9/api/v3/"))
    assert ctx.api_url == "http://127.0.0.1:9/api/v3"


def test_gitlab_merge_request_pipeline_self_managed():
    env = {"GITLAB_CI": "true", "CI_API_V4_URL": "https://git.corp/api/v4",
           "CI_SERVER_URL": "https://git.corp", "CI_PROJECT_ID": "12",
           "CI_PROJECT_PATH": "ml/models", "CI_MERGE_REQUEST_IID": "3",
           "CI_COMMIT_SHA": "abc", "CI_JOB_TOKEN": "job"}
    ctx = context_from_env(env)
    assert (ctx.driver, ctx.repo, ctx.api_url, ctx.server_url, ctx.pr_number, ctx.sha) == (
        Driver.GITLAB, "ml/models", "https://git.corp/api/v4", "https://git.corp", 3, "abc")
    assert ctx.is_job_token
    assert context_from_env({**env, "REPO_TOKEN": "glpat"}).token_source == "REPO_TOKEN"


def test_gitlab_url_outside_ci_and_driver_flag():
    ctx = context_from_env({}, Overrides(repo="https://gitlab.com/g/sub/proj", token="t"))
    assert (ctx.driver, ctx.repo, ctx.api_url) == (
        Driver.GITLAB, "g/sub/proj", "https://gitlab.com/api/v4")
    ctx = context_from_env({}, Overrides(repo="https://git.corp/g/p", token="t",
                                         driver=Driver.GITLAB))
    assert ctx.api_url == "https://git.corp/api/v4"


@pytest.mark.parametrize(("env", "flags", "sentence"), [
    ({"GITHUB_REPOSITORY": "a/b"}, Overrides(),
     "No token found; set REPO_TOKEN or GITHUB_TOKEN in the job's environment, or pass --token."),
    ({"GITHUB_TOKEN": "t", "GITHUB_ACTIONS": "true"}, Overrides(),
     "No repository given; pass --repo OWNER/NAME or a repository URL."),
    ({}, Overrides(repo="https://git.corp/a/b", token="t"),
     "Cannot tell whether the repository is on GitHub or GitLab; pass --driver github or "
     "--driver gitlab."),
    ({"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "t"}, Overrides(repo="justaname"),
     "--repo 'justaname' is not OWNER/NAME or a repository URL."),
])
def test_missing_pieces_are_one_sentence(env, flags, sentence):
    with pytest.raises(ContextError) as caught:
        context_from_env(env, flags)
    assert str(caught.value) == sentence


def test_unreadable_event_file_is_named(tmp_path):
    env = {**_gha(tmp_path), "GITHUB_EVENT_PATH": str(tmp_path / "gone.json")}
    with pytest.raises(ContextError, match=r"gone\.json"):
        context_from_env(env)


def test_context_is_frozen(tmp_path):
    ctx = context_from_env(_gha(tmp_path))
    with pytest.raises(AttributeError):
        ctx.repo = "x"  # type: ignore[misc]
    assert isinstance(ctx, CIContext)


def test_outside_ci_a_sha_variable_names_the_commit_of_the_given_repo():
    ctx = context_from_env({"GITHUB_SHA": "abc1234", "REPO_TOKEN": "t"},
                           Overrides(repo="acme/models"))
    assert (ctx.repo, ctx.sha) == ("acme/models", "abc1234")
