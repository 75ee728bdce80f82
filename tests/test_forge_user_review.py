"""Fixes from a user-view review of comment/check: each class of case, parametrized."""

from __future__ import annotations

import pytest

from cml_cli.cml_flags import CommentFlags, StatusChoice, check_options, comment_options
from cml_cli.forge_options import cml_booleans
from reporting.context import Driver, Overrides, context_from_env
from reporting.errors import ContextError, ForgeUnavailableError, OptionError
from reporting.retries import cause_of_error, cause_of_status, check_wait
from reporting.target import Target, parse_target
from reporting.truncation import truncate
from tests.conftest import run_cli


@pytest.mark.parametrize("repo", ["../..", "a/b/c/d", "./acme/models",
                                  "http://github.com/acme/models",
                                  "https://github.com/acme/models/pull/7",
                                  "https://x:ghp_SECRET@github.com/acme/models"])
def test_repo_refused_as_up_refuses_it(repo, tmp_path):
    result = run_cli("comment", "create", "r.md", "--repo", repo, cwd=tmp_path,
                     env={"REPO_TOKEN": "t", "GITHUB_ACTIONS": "", "GITLAB_CI": ""})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "SECRET" not in result.stderr


@pytest.mark.parametrize(("wait", "waited"), [(1800, 0), (8203321695, 0), (30, 290)])
@pytest.mark.parametrize("forge", ["GitHub", "GitLab"])
def test_a_long_rate_limit_wait_fails_naming_it(forge, wait, waited):
    with pytest.raises(ForgeUnavailableError, match=r"rate limit .* resets at"):
        check_wait(forge, wait, waited)
    check_wait(forge, 5, 0)  # a short one is waited for


@pytest.mark.parametrize("status", [403, 429])
def test_the_retry_line_says_rate_limit(status):
    assert "rate limit" in cause_of_status(status)


def test_a_refused_connection_is_told_as_refused():
    assert cause_of_error(ConnectionRefusedError("[Errno 111] Connection refused")) == \
        "refused the connection"


@pytest.mark.parametrize("url", ["https://x y/api/v3", "https://ex ample.com", "http://a<b"])
def test_an_api_url_with_junk_is_refused_up_front(url):
    with pytest.raises(ContextError, match="is not a URL"):
        context_from_env({"REPO_TOKEN": "t"}, Overrides(repo="acme/models", api_url=url))


@pytest.mark.parametrize(("args", "expected"), [
    (["--publish=false"], ["--no-publish"]), (["--publish=TRUE"], ["--publish"]),
    (["--publish", "false", "r.md"], ["--no-publish", "r.md"]),
    (["--publish", "r.md"], ["--publish", "r.md"]), (["--watch=false"], []),
    (["--", "--publish=false"], ["--", "--publish=false"]),
])
def test_cml_boolean_forms(args, expected):
    assert cml_booleans(args) == expected


@pytest.mark.parametrize(("value", "target"), [
    ("PR", Target("pr")), ("Auto", Target("auto")), ("COMMIT", Target("commit")),
    ("PR/7", Target("pr", "7")), ("Commit/ABC", Target("commit", "ABC"))])
def test_target_kind_in_any_case(value, target):
    assert parse_target(value) == target


@pytest.mark.parametrize("title", ["", "  "])
def test_an_empty_check_title_is_refused(title):
    with pytest.raises(OptionError, match="--title is empty"):
        check_options(title, StatusChoice.completed, None, True)


@pytest.mark.parametrize(("flags", "ok"), [
    (CommentFlags(rm_watermark=True, watch=True), True),
    (CommentFlags(rm_watermark=True, update=True), False),
    (CommentFlags(rm_watermark=True, watermark_title="x"), False)])
def test_rm_watermark_refused_only_where_cml_refuses_it(flags, ok):
    if ok:
        assert comment_options(flags, env={}).marked is False
    else:
        with pytest.raises(OptionError):
            comment_options(flags, env={})


@pytest.mark.parametrize(("token", "source"), [("tok\n ", "REPO_TOKEN"), (" tok", "--token"),
                                               ("tok\t", "GITHUB_TOKEN")])
def test_token_whitespace_is_described_exactly(token, source):
    env = {"GITHUB_REPOSITORY": "acme/models"}
    flags = Overrides(token=token) if source == "--token" else Overrides()
    env.update({} if source == "--token" else {source: token})
    with pytest.raises(ContextError, match=r"whitespace .* at its (start|end)"):
        context_from_env(env, flags)


def test_an_empty_token_flag_says_it_is_empty():
    with pytest.raises(ContextError, match="given with --token is empty"):
        context_from_env({"GITHUB_REPOSITORY": "acme/models"}, Overrides(token=""))


@pytest.mark.parametrize("iid", ["abc", "0"])
def test_a_bad_merge_request_iid_says_merge_request(iid):
    env = {"GITLAB_CI": "true", "CI_PROJECT_PATH": "g/p", "CI_MERGE_REQUEST_IID": iid,
           "REPO_TOKEN": "t"}
    with pytest.raises(ContextError, match="not a merge request number"):
        context_from_env(env, Overrides(driver=Driver.GITLAB))


@pytest.mark.parametrize("opener", ["<details>", "<details><summary>Table</summary>",
                                    "<DETAILS open>\n<table>"])
def test_truncation_closes_open_html_blocks_before_the_note(opener):
    text = opener + "\n\n" + "row line\n" * 5000
    out = truncate(text, 3000, forge="GitHub")
    head, _note = out.split("\n\n---\n", 1)
    assert len(out) <= 3000 and head.rstrip().endswith("</details>")
    assert head.lower().count("<details") == head.count("</details>")


@pytest.mark.parametrize("option", ["--target TARGET", "--head-sha SHA",
                                    "--trigger-file FILE", "--repo REPO", "--api-url URL"])
def test_comment_help_metavars_are_readable(option):
    result = run_cli("comment", "create", "--help", env={"COLUMNS": "200"})
    assert option in result.stdout
