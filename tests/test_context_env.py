"""The CI context: GitHub Actions and GitLab CI variables, flags, tokens, and GHES."""

from __future__ import annotations

import json
from pathlib import Path

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
     "No repository given; pass --repo OWNER/NAME or a repository URL (outside CI, the "
     "checkout's origin remote names it)."),
    ({}, Overrides(repo="https://git.corp/a/b", token="t"),
     "Cannot tell whether the repository is on GitHub or GitLab; pass --driver github or "
     "--driver gitlab."),
    ({"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "t"}, Overrides(repo="justaname"),
     "Repository 'justaname' is not a GitHub repository; write it as OWNER/NAME or as its "
     "https:// address."),
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


GITLAB = {"GITLAB_CI": "true", "CI_API_V4_URL": "https://git.corp/api/v4",
          "CI_SERVER_URL": "https://git.corp", "CI_PROJECT_ID": "12",
          "CI_PROJECT_PATH": "ml/models", "CI_COMMIT_SHA": "abc", "REPO_TOKEN": "glpat"}


def _sentence(env, flags=None) -> str:
    with pytest.raises(ContextError) as caught:
        context_from_env(env, flags)
    return str(caught.value)


def _checkout(path: Path, origin: str | None) -> Path:
    import subprocess

    subprocess.run(["git", "init", "-q", str(path)], check=True)
    if origin:
        subprocess.run(["git", "-C", str(path), "remote", "add", "origin", origin], check=True)
    return path


@pytest.mark.parametrize(("origin", "driver", "repo", "server"), [
    ("git@github.com:acme/models.git", Driver.GITHUB, "acme/models", "https://github.com"),
    ("https://github.com/acme/models", Driver.GITHUB, "acme/models", "https://github.com"),
    ("https://x-access-token:secret@github.com/acme/models.git", Driver.GITHUB, "acme/models",
     "https://github.com"),
    ("ssh://git@gitlab.com:2222/ml/vision/models.git", Driver.GITLAB, "ml/vision/models",
     "https://gitlab.com"),
    ("https://gitlab.com/ml/models.git", Driver.GITLAB, "ml/models", "https://gitlab.com"),
])
def test_outside_ci_the_origin_remote_names_the_repository(tmp_path, monkeypatch, origin,
                                                            driver, repo, server):
    monkeypatch.chdir(_checkout(tmp_path, origin))
    ctx = context_from_env({}, Overrides(token="t"))
    assert (ctx.driver, ctx.repo, ctx.server_url, ctx.local) == (driver, repo, server, True)


@pytest.mark.parametrize("origin", [None, "/srv/git/models", "../models"])
def test_outside_ci_an_origin_that_is_not_a_forge_address_is_not_a_repository(
        tmp_path, monkeypatch, origin):
    monkeypatch.chdir(_checkout(tmp_path, origin))
    assert _sentence({}, Overrides(token="t", driver=Driver.GITHUB)).startswith(
        "No repository given; pass --repo")


def test_in_ci_the_origin_remote_is_not_read(tmp_path, monkeypatch):
    monkeypatch.chdir(_checkout(tmp_path, "git@github.com:someone/fork.git"))
    ctx = context_from_env({"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/models",
                            "GITHUB_TOKEN": "t"})
    assert ctx.repo == "acme/models"
    assert _sentence({"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "t"}).startswith(
        "No repository given")


def test_a_flag_wins_over_the_origin_remote(tmp_path, monkeypatch):
    monkeypatch.chdir(_checkout(tmp_path, "git@github.com:someone/fork.git"))
    assert context_from_env({}, Overrides(repo="acme/models", token="t")).repo == "acme/models"


def test_an_origin_remote_that_names_no_repository_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(_checkout(tmp_path, "https://github.com/acme/models/pull/5"))
    sentence = _sentence({}, Overrides(token="t"))
    assert sentence == ("The checkout's origin remote (https://github.com/acme/models/pull/5) "
                        "is not a GitHub repository address; pass --repo OWNER/NAME.")


@pytest.mark.parametrize("actions", ["true", None])
def test_a_broken_event_file_says_who_wrote_it(tmp_path, actions):
    env = _gha(tmp_path)
    if actions is None:
        env.pop("GITHUB_ACTIONS")
    Path(env["GITHUB_EVENT_PATH"]).write_text("{not json")
    sentence = _sentence(env)
    if actions:
        assert sentence.endswith("GitHub Actions writes this file, so check that no step "
                                 "overwrites it or sets GITHUB_EVENT_PATH.")
    else:
        assert sentence.endswith("outside GitHub Actions, unset GITHUB_EVENT_PATH and "
                                 "GITHUB_EVENT_NAME.")


@pytest.mark.parametrize("iid", ["abc", "1.5", "-3", "0", " ", "７", "12a"])
def test_a_merge_request_iid_that_is_not_a_number_is_one_sentence(iid):
    assert _sentence({**GITLAB, "CI_MERGE_REQUEST_IID": iid}) == (
        f"CI_MERGE_REQUEST_IID is {iid!r}, not a merge request number; unset it, or set it to "
        "the merge request's number (its IID).")


@pytest.mark.parametrize("number", ["12a", 1.5, True, [5], {"n": 5}, -1, 0, "five"])
def test_an_event_pull_request_number_that_is_not_a_number_is_one_sentence(tmp_path, number):
    env = _gha(tmp_path)
    Path(env["GITHUB_EVENT_PATH"]).write_text(json.dumps(
        {"pull_request": {"number": number, "head": {"sha": "h"}}}))
    assert _sentence(env) == (
        f"pull_request.number in the GitHub event file {env['GITHUB_EVENT_PATH']} "
        f"(GITHUB_EVENT_PATH) is {number!r}, not a pull request number; GitHub Actions "
        "writes this file, so check that no step overwrites it or sets GITHUB_EVENT_PATH.")


@pytest.mark.parametrize("pull", ["a string", 5, ["x"], None])
def test_an_event_without_a_pull_request_object_is_one_sentence(tmp_path, pull):
    env = _gha(tmp_path)
    Path(env["GITHUB_EVENT_PATH"]).write_text(json.dumps({"pull_request": pull}))
    assert _sentence(env).endswith("has no pull_request object; GitHub Actions writes this "
                                   "file, so check that no step overwrites it or sets "
                                   "GITHUB_EVENT_PATH.")


@pytest.mark.parametrize("head", ["sha", 5, {"sha": 7}, None])
def test_an_odd_head_falls_back_to_github_sha(tmp_path, head):
    env = _gha(tmp_path)
    Path(env["GITHUB_EVENT_PATH"]).write_text(json.dumps(
        {"pull_request": {"number": 5, "head": head}}))
    assert context_from_env(env).sha == "merge1"


BAD_URLS = ["api.github.com", "ftp://api.example.com", "https://", "https://host:port/api",
            "localhost:8080", "not a url"]


@pytest.mark.parametrize("value", BAD_URLS)
@pytest.mark.parametrize(("name", "base"), [
    ("GITHUB_API_URL", "github"), ("GITHUB_SERVER_URL", "github"),
    ("CI_API_V4_URL", "gitlab"), ("CI_SERVER_URL", "gitlab")])
def test_a_ci_url_that_is_not_a_url_is_one_sentence(tmp_path, value, name, base):
    env = _gha(tmp_path) if base == "github" else dict(GITLAB)
    sentence = _sentence({**env, name: value})
    assert sentence.startswith(f"{name} {value!r} is not a URL; set it to an http(s) address")


@pytest.mark.parametrize("value", BAD_URLS)
def test_an_api_url_flag_that_is_not_a_url_is_one_sentence(tmp_path, value):
    assert _sentence(_gha(tmp_path), Overrides(api_url=value)).startswith(
        f"--api-url {value!r} is not a URL; set it to an http(s) address like "
        "https://api.github.com.")


@pytest.mark.parametrize("value", ["ftp://github.com/acme/models", "file:///acme/models",
                                   "git://github.com/acme/models", "https://github.com/justone",
                                   "https:///acme/models"])
def test_a_repo_url_that_is_not_http_is_one_sentence(value):
    """The sentences `up` refuses the same --repo with (infra.rules.parse_repo)."""
    expected = (f"Repository {value!r} is not a GitHub repository; write it as OWNER/NAME or "
                "as its https:// address." if value == "https://github.com/justone" else
                f"Repository address {value!r} is not a repository URL; write it as "
                "https://HOST/OWNER/NAME.")
    assert _sentence({"REPO_TOKEN": "t"}, Overrides(repo=value, driver=Driver.GITHUB)) == (
        expected)


@pytest.mark.parametrize(("value", "server", "repo", "driver"), [
    ("git@github.com:acme/models.git", "https://github.com", "acme/models", Driver.GITHUB),
    ("ssh://git@git.corp:2222/ml/models.git", "https://git.corp", "ml/models", Driver.GITLAB),
    ("http://127.0.0.1:9/acme/models/", "http://127.0.0.1:9", "acme/models", Driver.GITLAB),
])
def test_ssh_remotes_and_urls_name_the_web_server(value, server, repo, driver):
    ctx = context_from_env({"REPO_TOKEN": "t"}, Overrides(repo=value, driver=driver))
    assert (ctx.server_url, ctx.repo) == (server, repo)
    assert "secret" not in repr(ctx)


@pytest.mark.parametrize("value", ["https://user:secret@git.corp:8443/ml/models",
                                   "ssh://git:secret@git.corp/ml/models.git"])
def test_a_repo_url_with_credentials_is_refused_without_echoing_them(value):
    """As `up` refuses it: the token belongs in REPO_TOKEN or --token, never in --repo."""
    sentence = _sentence({"REPO_TOKEN": "t"}, Overrides(repo=value, driver=Driver.GITLAB))
    assert sentence == ("The repository address holds credentials; drop them from the URL and "
                        "give the token through REPO_TOKEN or pass --token.")
    assert "secret" not in sentence


WHITESPACE = "has whitespace (spaces, tabs or line breaks) at its"
LINE_BREAK = "ends with a line break; store it without one"


@pytest.mark.parametrize(("token", "problem"), [
    ("ghs_abc\n", LINE_BREAK), ("ghs_abc\r\n", LINE_BREAK), ("ghs_abc \n", WHITESPACE + " end"),
    (" ghs_abc", WHITESPACE + " start;"), ("ghs_abc\t", WHITESPACE + " end;"),
    (" ghs_abc ", WHITESPACE + " start and end;"), ("ghs_a bc", "contains spaces or control"),
    ("ghs_a\x00bc", "contains spaces or control")])
@pytest.mark.parametrize("source", ["GITHUB_TOKEN", "REPO_TOKEN", "--token"])
def test_a_token_with_whitespace_is_named_as_such(tmp_path, token, problem, source):
    env, flags = _gha(tmp_path), Overrides()
    if source == "--token":
        flags = Overrides(token=token)
    else:
        env[source] = token
    sentence = _sentence(env, flags)
    assert sentence.startswith(f"The token from {source} {problem}")
    assert "ghs_a" not in sentence


@pytest.mark.parametrize(("flag", "ending"), [
    ("--token", "in the job's environment, or pass --token."),
    (None, "in the job's environment."),
])
def test_no_token_suggests_a_flag_only_when_the_command_takes_one(flag, ending):
    sentence = _sentence({"GITHUB_REPOSITORY": "a/b"}, Overrides(token_flag=flag))
    assert sentence == "No token found; set REPO_TOKEN or GITHUB_TOKEN " + ending


@pytest.mark.parametrize(("github", "gitlab", "driver", "why"), [
    ({"GITHUB_ACTIONS": "true"}, {"GITLAB_CI": "true"}, Driver.GITHUB, "GITHUB_ACTIONS=true"),
    ({"GITHUB_REPOSITORY": "acme/models"}, {"GITLAB_CI": "true"}, Driver.GITLAB,
     "GITLAB_CI=true"),
    ({"GITHUB_ACTIONS": "true"}, {"CI_PROJECT_ID": "12"}, Driver.GITHUB,
     "GITHUB_ACTIONS=true"),
    ({"GITHUB_REPOSITORY": "acme/models"}, {"CI_PROJECT_ID": "12"}, Driver.GITHUB,
     "GITHUB_REPOSITORY is set"),
])
def test_both_cis_variables_the_message_says_which_was_assumed_and_why(
        github, gitlab, driver, why):
    env = {**github, **gitlab, "GITHUB_REPOSITORY": "acme/models", "CI_PROJECT_PATH": "ml/m"}
    env = {k: v for k, v in env.items() if k in github or k in gitlab}
    other = "gitlab" if driver is Driver.GITHUB else "github"
    assumed = "GitHub Actions" if driver is Driver.GITHUB else "GitLab CI"
    sentence = _sentence(env)  # no token: the error carries the assumption
    assert sentence.endswith(f"and {assumed} was assumed because {why}; pass --driver {other} "
                             f"to report to {'GitLab' if other == 'gitlab' else 'GitHub'}.")
    assert "both GitHub Actions (" in sentence and "GitLab CI (" in sentence
    ctx = context_from_env({**env, "REPO_TOKEN": "t", "GITHUB_REPOSITORY": "a/b",
                            "CI_PROJECT_PATH": "g/p"})
    assert ctx.driver is driver and why in (ctx.note or "")
    assert context_from_env({**env, "REPO_TOKEN": "t", "GITHUB_REPOSITORY": "a/b",
                             "CI_PROJECT_PATH": "g/p"},
                            Overrides(driver=Driver(other))).note is None


@pytest.mark.parametrize(("env", "local"), [
    ({"REPO_TOKEN": "t"}, True),
    ({"REPO_TOKEN": "t", "GITHUB_REPOSITORY": "acme/models"}, False),
])
def test_outside_ci_the_context_is_local(env, local):
    assert context_from_env(env, Overrides(repo="acme/models")).local is local


@pytest.mark.parametrize("driver", ["github", "gitlab"])
def test_commands_without_a_token_flag_never_suggest_one(monkeypatch, driver):
    """`up`, `down`, `status` and `gc` refuse --token (cml_cli.lifecycle.refuse_token_flag);
    the context they read must not tell the user to pass it."""
    from cml_cli.forge_options import DriverChoice, read_context

    for name in ("REPO_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ContextError) as caught:
        read_context("acme/models", None, DriverChoice(driver), None)
    assert "--token" not in str(caught.value)


@pytest.mark.parametrize(("variable", "source"), [("REPO_TOKEN", "REPO_TOKEN"),
                                                  ("GITHUB_TOKEN", "GITHUB_TOKEN"),
                                                  (None, "--token-file")])
def test_runner_tokens_are_named_by_where_up_took_them(monkeypatch, variable, source):
    from cml_cli.forge_options import runner_forge

    token = "ghp_" + "q" * 36 + "\n"
    for name in ("REPO_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    if variable:
        monkeypatch.setenv(variable, token)
    with pytest.raises(ContextError) as caught:
        runner_forge("github", "acme/models", token, None, None)
    assert str(caught.value).startswith(f"The token from {source} {LINE_BREAK}")
