"""Fixes from the second user-view review of the reporting commands, one class per section:
each enumerates its cases and fails if any of them goes back to the old behaviour."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest
from github import Auth, Github

from reporting.context import Driver, Overrides, context_from_env
from reporting.errors import ContextError, ForgeError, ForgeUnavailableError, GateError
from reporting.forges.base import Thread, ThreadKind
from reporting.forges.github import GitHubForge, github_retry
from reporting.forges.gitlab import GitLabForge
from reporting.forges.gitlab_client import AnnouncedGitlab
from reporting.retries import ATTEMPTS, UNRESOLVED_ATTEMPTS, cause_of_error
from reporting.target import MAX_NUMBER, parse_target
from reporting.validate import checked_token, positive_number
from tests.conftest import run_cli
from tests.fakes.fixtures import GITHUB_APP_TOKEN, GITLAB_TOKEN
from tests.fakes.http import Fault
from tests.forge_scenarios import (
    HEAD_SHA,
    MR_IID,
    PR_NUMBER,
    github_actions_env,
    gitlab_ci_env,
    write_report,
)

OTHER_SHA = "d" * 40
CLASS_NAMES = ("ConnectionError", "RetryError", "KeyError", "TypeError", "Exception", "Traceback")


@pytest.fixture
def gh(fake_github):
    fake_github.add_repo("acme/models")
    fake_github.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
    fake_github.repos["acme/models"].commits.add(OTHER_SHA)
    yield fake_github


@pytest.fixture
def gl(fake_gitlab):
    fake_gitlab.add_project("acme/models")
    fake_gitlab.add_mr("acme/models", MR_IID, HEAD_SHA)
    fake_gitlab.projects["acme/models"].commits.add(OTHER_SHA)
    yield fake_gitlab


def _env(fake, tmp_path, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    if hasattr(fake, "repos"):
        return {**github_actions_env(fake, tmp_path, GITHUB_APP_TOKEN), **extra}
    return gitlab_ci_env(fake, GITLAB_TOKEN, **extra)


def _one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exactly one line, a sentence, and no traceback."""
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


# 1. A CI variable naming the repository is checked by --repo's parser --------------------

GHA, GLC = "GITHUB_ACTIONS", "GITLAB_CI"


@pytest.mark.parametrize(("name", "value", "ci"), [
    ("GITHUB_REPOSITORY", "a/b/c", GHA), ("GITHUB_REPOSITORY", "../x", GHA),
    ("GITHUB_REPOSITORY", "/name", GHA), ("GITHUB_REPOSITORY", "owner/", GHA),
    ("GITHUB_REPOSITORY", "https://github.com/a/b", GHA),
    ("CI_PROJECT_PATH", "group/../x", GLC), ("CI_PROJECT_PATH", "group//x", GLC),
    ("CI_PROJECT_PATH", "/group/x", GLC), ("CI_PROJECT_PATH", "group/x/", GLC)])
def test_a_bad_ci_repository_variable_is_refused_naming_it(name, value, ci):
    env = {ci: "true", name: value, "REPO_TOKEN": "t", "CI_PROJECT_ID": "3" if ci == "GITLAB_CI"
           else ""}
    with pytest.raises(ContextError) as caught:
        context_from_env(env)
    assert str(caught.value).startswith(f"{name} is {value!r}, not a ")


@pytest.mark.parametrize(("name", "value"), [("GITHUB_REPOSITORY", "acme/models"),
                                             ("CI_PROJECT_PATH", "group/sub/project")])
def test_a_good_ci_repository_variable_is_taken(name, value):
    ci = "GITHUB_ACTIONS" if name.startswith("GITHUB") else "GITLAB_CI"
    assert context_from_env({ci: "true", name: value, "REPO_TOKEN": "t"}).repo == value


def test_a_bad_github_repository_makes_no_request(gh, tmp_path):
    result = run_cli("comment", "create", str(write_report(tmp_path)),
                     env=_env(gh, tmp_path, GITHUB_REPOSITORY="a/b/c"))
    assert "GITHUB_REPOSITORY is 'a/b/c'" in _one_sentence(result)
    assert gh.server.log == []


# 2. Report files: regular, non-empty, before any request ---------------------------------

def _bad_report(kind: str, tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / f"bad-{kind}"
    if kind == "devnull":
        return "/dev/null", "is not a regular file"
    if kind == "fifo":
        os.mkfifo(path)
        return str(path), "is not a regular file"
    if kind == "directory":
        path.mkdir()
        return str(path), "is a directory"
    path.write_text({"empty": "", "blank": " \n\t\n"}[kind])
    return str(path), "is empty; write the report into it"


REPORT_KINDS = ["devnull", "fifo", "directory", "empty", "blank"]
COMMANDS = [("comment", "create"), ("comment", "update"), ("check", "create")]


@pytest.mark.parametrize("kind", REPORT_KINDS)
@pytest.mark.parametrize("command", COMMANDS)
def test_an_unusable_report_is_refused_before_any_request(gh, tmp_path, kind, command):
    path, says = _bad_report(kind, tmp_path)
    result = run_cli(*command, path, env=_env(gh, tmp_path), timeout=30)  # a FIFO must not hang
    assert says in _one_sentence(result)
    assert gh.server.log == []


@pytest.mark.parametrize("kind", ["devnull", "fifo", "directory"])
def test_watch_refuses_an_unusable_report_at_once(tmp_path, kind):
    from reporting.errors import ReportFileError
    from reporting.watch import watch

    path, says = _bad_report(kind, tmp_path)
    with pytest.raises(ReportFileError, match=says):
        watch(__import__("pathlib").Path(path), lambda first: None, say=lambda line: None,
              sleep=lambda s: None, keep_going=lambda: False)


# 3. Targets and numbers beyond what a forge stores are refused locally --------------------

@pytest.mark.parametrize("value", ["pr/0", "issue/0", "pr/-1", "issue/99999999999999999999",
                                   f"pr/{MAX_NUMBER + 1}", "pr/1e3", "issue/²"])
def test_an_out_of_range_target_is_refused(value):
    with pytest.raises(ContextError, match=r"needs a number from 1 to 2,147,483,647"):
        parse_target(value)


@pytest.mark.parametrize("value", ["pr/1", f"issue/{MAX_NUMBER}"])
def test_a_target_in_range_is_taken(value):
    assert parse_target(value).ref == value.split("/")[1]


@pytest.mark.parametrize("value", [0, -3, MAX_NUMBER + 1, str(MAX_NUMBER + 1), "99999999999999"])
def test_a_ci_number_out_of_range_is_refused(value):
    with pytest.raises(ContextError, match="not a merge request number"):
        positive_number(value, "CI_MERGE_REQUEST_IID", "unset it", noun="merge request")


def test_an_out_of_range_target_makes_no_request(gh, tmp_path):
    result = run_cli("comment", "create", str(write_report(tmp_path)), "--target",
                     "issue/99999999999999999999", env=_env(gh, tmp_path))
    _one_sentence(result)
    assert gh.server.log == []


# 4. --summary: checked to be appendable before anything is posted -----------------------

@pytest.mark.parametrize(("kind", "says"), [
    ("directory", "is a directory"), ("no-folder", "its folder does not exist"),
    ("fifo", "cannot be written")])
@pytest.mark.parametrize("command", [("comment", "create"), ("metrics", "diff")])
def test_an_unusable_summary_fails_before_anything_is_posted(gh, tmp_path, kind, says, command):
    summary = tmp_path / "summary"
    if kind == "directory":
        summary.mkdir()
    elif kind == "fifo":
        os.mkfifo(summary)
    else:
        summary = tmp_path / "missing" / "summary.md"
    args = [str(write_report(tmp_path))] if command[0] == "comment" else ["m.json"]
    result = run_cli(*command, *args, "--summary", cwd=tmp_path, timeout=30,
                     env=_env(gh, tmp_path, GITHUB_STEP_SUMMARY=str(summary)))
    assert says in _one_sentence(result) and "GITHUB_STEP_SUMMARY" in result.stderr
    assert gh.server.log == []


# 5. An answer that is not the forge's API -------------------------------------------------

def _github_forge(fake) -> GitHubForge:  # type: ignore[no-untyped-def]
    client = Github(base_url=fake.api_url, auth=Auth.Token(GITHUB_APP_TOKEN),
                    retry=github_retry(0.001), per_page=100, timeout=5, lazy=True,
                    seconds_between_requests=None, seconds_between_writes=None)
    return GitHubForge(client, "acme/models", server_url=fake.server.url)


def _gitlab_forge(fake, lines=None) -> GitLabForge:  # type: ignore[no-untyped-def]
    say = (lines.append if lines is not None else (lambda line: None))
    client = AnnouncedGitlab(url=fake.server.url, private_token=GITLAB_TOKEN, per_page=100,
                             retry_transient_errors=True, timeout=5, backoff=0.001, say=say)
    return GitLabForge(client, "acme/models", server_url=fake.server.url, backoff=0.001, say=say)


WRONG_SHAPES = [{"message": "hello"}, [1, 2], "a string", b"<html><body>Sign in</body></html>"]


@pytest.mark.parametrize("body", WRONG_SHAPES)
@pytest.mark.parametrize("forge", ["GitHub", "GitLab"])
def test_an_answer_of_another_shape_says_it_is_not_the_api(gh, gl, forge, body):
    fake = gh if forge == "GitHub" else gl
    headers = {"Content-Type": "text/html"} if isinstance(body, bytes) else {}
    fake.server.faults.add(Fault(status=200, body=body, headers=headers, times=50,
                                 path_contains="comments" if forge == "GitHub" else "notes"))
    adapter = _github_forge(gh) if forge == "GitHub" else _gitlab_forge(gl)
    with pytest.raises(ForgeError) as caught:
        adapter.list_comments(Thread(ThreadKind.PR, str(PR_NUMBER if forge == "GitHub"
                                                        else MR_IID)))
    api = "--api-url (or GITHUB_API_URL)" if forge == "GitHub" else "--api-url (or CI_API_V4_URL)"
    assert str(caught.value) == (f"{forge} at {fake.api_url} answered something that is not "
                                 f"{forge}'s API; check {api}.")


# 6. Network failures: the real cause, the same wait lines, DNS given up soon -------------

@pytest.mark.parametrize("forge", ["GitHub", "GitLab"])
def test_repeated_502s_are_told_as_502s_with_the_same_attempts_on_both_forges(gh, gl, forge):
    fake = gh if forge == "GitHub" else gl
    fake.server.faults.add(Fault(status=502, times=100))
    lines: list[str] = []
    if forge == "GitHub":
        client = Github(base_url=gh.api_url, auth=Auth.Token(GITHUB_APP_TOKEN), lazy=True,
                        retry=github_retry(0.001, say=lines.append), timeout=5)
        adapter = GitHubForge(client, "acme/models", server_url=gh.server.url)
    else:
        adapter = _gitlab_forge(gl, lines)
    with pytest.raises(ForgeUnavailableError) as caught:
        adapter.list_comments(Thread(ThreadKind.PR, "7"))
    assert [line.split(", attempt ")[1] for line in lines] == \
        [f"{k} of {ATTEMPTS}" for k in range(2, ATTEMPTS + 1)]
    assert all(line.startswith(f"{forge} answered 502; retrying ") for line in lines)
    assert str(caught.value).startswith(
        f"{forge} answered 502 on every one of {ATTEMPTS} attempts to read comments; run")
    assert not any(name in str(caught.value) for name in CLASS_NAMES)


@pytest.mark.parametrize("driver", ["github", "gitlab"])
def test_a_refused_connection_is_named_and_retried(tmp_path, driver):
    (tmp_path / "r.md").write_text("# r\n")
    result = run_cli("comment", "create", "r.md", "--repo", "acme/models", "--driver", driver,
                     "--token", "abc", "--api-url", "http://127.0.0.1:9", "--target", "pr/3",
                     cwd=tmp_path, env={"CML_INFRA_RETRY_BACKOFF": "0.001", "GITHUB_ACTIONS": "",
                                        "GITLAB_CI": ""})
    forge = {"github": "GitHub", "gitlab": "GitLab"}[driver]
    waits = [line for line in result.stderr.splitlines() if "retrying" in line]
    assert len(waits) == ATTEMPTS - 1 and all(
        w.startswith(f"{forge} at 127.0.0.1:9 refused the connection; retrying ") for w in waits)
    assert waits[-1].endswith(f", attempt {ATTEMPTS} of {ATTEMPTS}")
    line = _one_sentence(result)
    assert line.startswith("Error: Connection refused by 127.0.0.1:9 while trying to read "
                           "comments; check --api-url")
    assert not any(name in result.stderr for name in CLASS_NAMES)


def _unresolvable(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    calls: list[str] = []

    def fail(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    return calls


@pytest.mark.parametrize("forge", ["GitHub", "GitLab"])
def test_a_name_that_does_not_resolve_is_tried_twice_and_named(monkeypatch, forge):
    calls = _unresolvable(monkeypatch)
    lines: list[str] = []
    if forge == "GitHub":
        client = Github(base_url="https://api.nowhere.invalid", auth=Auth.Token("t"), lazy=True,
                        retry=github_retry(0.001, say=lines.append), timeout=5)
        adapter = GitHubForge(client, "acme/models", server_url="https://nowhere.invalid")
    else:
        client = AnnouncedGitlab(url="https://api.nowhere.invalid", private_token="t",
                                 retry_transient_errors=True, backoff=0.001, say=lines.append)
        adapter = GitLabForge(client, "acme/models", server_url="https://nowhere.invalid")
    with pytest.raises(ForgeUnavailableError) as caught:
        adapter.list_comments(Thread(ThreadKind.PR, "7"))
    assert len(calls) == UNRESOLVED_ATTEMPTS
    [line] = lines
    assert line.startswith(f"{forge} cannot be reached: the name api.nowhere.invalid does not "
                           "resolve; retrying ")
    assert line.endswith(f", attempt 2 of {UNRESOLVED_ATTEMPTS}")
    assert str(caught.value).startswith("Cannot reach api.nowhere.invalid: the name does not "
                                        "resolve")
    assert "check the network or --api-url" in str(caught.value)


@pytest.mark.parametrize(("error", "cause"), [
    (ConnectionResetError(104, "Connection reset by peer"), "dropped the connection"),
    (None, "gave no answer")])
def test_wait_causes_name_no_class(error, cause):
    assert cause_of_error(error) == cause


# 7. Outside CI: the repository is asked for first; a mismatched origin in one sentence ---

def _git(cwd, *args: str) -> None:  # type: ignore[no-untyped-def]
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.parametrize("driver", [None, "github", "gitlab"])
def test_without_origin_the_repository_is_asked_for_first(tmp_path, monkeypatch, driver):
    _git(tmp_path, "init", "-q")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ContextError) as caught:
        context_from_env({"REPO_TOKEN": "t"}, Overrides(driver=Driver(driver) if driver else None))
    assert str(caught.value).startswith("No repository given; pass --repo OWNER/NAME")


@pytest.mark.parametrize(("origin", "driver", "other"), [
    ("https://github.com/acme/models", Driver.GITLAB, "GitHub"),
    ("git@gitlab.com:acme/models.git", Driver.GITHUB, "GitLab")])
def test_an_origin_on_the_other_forge_is_one_clear_sentence(tmp_path, monkeypatch, origin,
                                                            driver, other):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "remote", "add", "origin", origin)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ContextError) as caught:
        context_from_env({"REPO_TOKEN": "t"}, Overrides(driver=driver))
    mine = "GitLab project" if driver is Driver.GITLAB else "GitHub repository"
    assert str(caught.value).endswith(
        f"is a {other} repository, but --driver {driver.value} was given; pass --repo with the "
        f"{mine}, or drop --driver.")
    assert str(caught.value).count(";") == 1


# 8. CML's --pr with --commit-sha: the pull request of that commit -------------------------

@pytest.mark.parametrize("forge", ["github", "gitlab"])
def test_pr_with_commit_sha_posts_to_that_commits_pull_request(request, tmp_path, forge):
    fake = request.getfixturevalue({"github": "gh", "gitlab": "gl"}[forge])
    env = _env(fake, tmp_path)
    result = run_cli("comment", "create", str(write_report(tmp_path)), "--pr", "--commit-sha",
                     HEAD_SHA, env=env)
    assert result.returncode == 0, result.stderr
    if forge == "github":
        assert len(fake.comments_on("acme/models", f"issue/{PR_NUMBER}")) == 1
    else:
        assert any(fake.projects["acme/models"].notes.values())


@pytest.mark.parametrize("forge", ["github", "gitlab"])
def test_pr_with_a_commit_without_pull_request_is_refused(request, tmp_path, forge):
    fake = request.getfixturevalue({"github": "gh", "gitlab": "gl"}[forge])
    result = run_cli("comment", "create", str(write_report(tmp_path)), "--pr", "--commit-sha",
                     OTHER_SHA, env=_env(fake, tmp_path))
    noun = "pull request" if forge == "github" else "merge request"
    assert f"No open {noun} found for commit {OTHER_SHA[:12]}" in _one_sentence(result)


# 9. Smaller messages ----------------------------------------------------------------------

def _rows():  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    return [SimpleNamespace(file="metrics.json", metric="accuracy", old=0.8, new=0.9)]


@pytest.mark.parametrize(("metric", "says"), [
    ("other.json:accuracy", "names the file other.json, which is not one of the files compared "
                            "(metrics.json); add it to the files or drop the prefix."),
    ("metrics.json:recall", "names the metric 'metrics.json:recall', which no metrics file has")])
def test_a_file_prefix_not_compared_is_named_as_a_file(metric, says):
    from reporting.gates import find_row, parse_gate

    with pytest.raises(GateError) as caught:
        find_row(parse_gate(f"{metric} < 0.9"), _rows())
    assert says in str(caught.value)


@pytest.mark.parametrize(("name", "quoted"), [("main;rm", "'main;rm'"),
                                              ("$(id)", "'$(id)'"), ("main", "main")])
def test_fetch_suggestions_quote_the_ref(name, quoted):
    from reporting.metrics.git import _fetch_command

    assert _fetch_command(name, "+refs/heads/*:refs/remotes/origin/*") == \
        f"git fetch origin {quoted}"
    narrow = _fetch_command(name, "+refs/heads/main:refs/remotes/origin/main")
    assert narrow == "git fetch origin " + __import__("shlex").quote(
        f"{name}:refs/remotes/origin/{name}")


def test_a_missing_base_with_shell_characters_is_suggested_quoted(tmp_path):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "remote", "add", "origin", "https://github.com/acme/models")
    (tmp_path / "m.json").write_text('{"a": 1}')
    result = run_cli("metrics", "diff", "m.json", cwd=tmp_path,
                     env={"GITHUB_BASE_REF": "main;rm", "GITLAB_CI": ""})
    assert "`git fetch origin 'main;rm'`" in _one_sentence(result)


@pytest.mark.parametrize("command", ["show", "diff"])
def test_no_metrics_files_suggests_the_same_command(tmp_path, command):
    from reporting.errors import ReportFileError
    from reporting.metrics.sources import resolve_sources

    with pytest.raises(ReportFileError, match=f"'cml-infra metrics {command} metrics.json'"):
        resolve_sources([], tmp_path, command)


@pytest.mark.parametrize(("token", "says"), [
    ("tok\n", "ends with a line break"), ("tok\r\n", "ends with a line break"),
    (" tok", "at its start;"), ("tok ", "at its end;"), ("\ttok ", "at its start and end;"),
    ("to k", "contains spaces or control characters")])
def test_token_whitespace_is_named_specifically(token, says):
    with pytest.raises(ContextError, match=says):
        checked_token(token, "REPO_TOKEN")


@pytest.mark.parametrize(("text", "loaded"), [
    ("1: 0.5\ntrue: 0.7\n", {"1": 0.5, "true": 0.7}),
    ("1: 0.5\n1.0: 0.7\n", {"1": 0.5, "1.0": 0.7}),
    ("0x10: 1\nb: {16: 2}\n", {"0x10": 1, "b.16": 2}),
    ("null: 1\nkey: 2\n", {"null": 1, "key": 2})])
def test_yaml_keys_of_different_types_are_different_keys(text, loaded):
    from reporting.metrics.parse import parse_metrics

    assert parse_metrics(text, "m.yaml") == loaded


def test_yaml_keys_that_become_one_name_are_refused_as_such():
    from reporting.errors import ReportFileError
    from reporting.metrics.parse import parse_metrics

    with pytest.raises(ReportFileError, match="has two metrics named '1'"):
        parse_metrics("1: 0.5\n'1': 0.6\n", "m.yaml")


@pytest.mark.parametrize(("text", "key"), [("true: 1\ntrue: 2\n", "true"), ("1: 1\n1: 2\n", "1"),
                                           ("a: 1\na: 2\n", "a"), ("true: 1\nTrue: 2\n", "True")])
def test_a_repeated_yaml_key_is_shown_as_written(text, key):
    from reporting.errors import ReportFileError
    from reporting.metrics.load import load_yaml

    with pytest.raises(ReportFileError, match=f"has the key '{key}' twice"):
        load_yaml(text, "m.yaml")


# 10. Help and output -----------------------------------------------------------------------

@pytest.mark.parametrize("command", [("plot",), ("metrics", "show"), ("metrics", "diff")])
def test_help_states_a_range_once(command):
    result = run_cli(*command, "--help", env={"COLUMNS": "200"})
    assert result.returncode == 0 and "<=x<=" not in result.stdout and "x<=" not in result.stdout


@pytest.mark.parametrize(("args", "says"), [
    (("plot", "s.csv", "--width", "10"), "10 is not from 50 to 4000"),
    (("metrics", "show", "--precision", "16"), "16 is not from 1 to 15")])
def test_a_value_out_of_range_is_still_refused(tmp_path, args, says):
    (tmp_path / "s.csv").write_text("a,b\n1,2\n")
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2 and says in result.stderr


@pytest.mark.parametrize("command", [("comment", "create"), ("check", "create")])
def test_repo_help_names_the_origin_default(command):
    result = run_cli(*command, "--help", env={"COLUMNS": "200"})
    assert "outside CI, the checkout's origin remote" in " ".join(result.stdout.split())


@pytest.mark.parametrize(("args", "name"), [(("comment", "create"), "REPORT"),
                                            (("check", "create"), "REPORT"), (("plot",), "SOURCE")])
def test_missing_arguments_are_named_in_capitals(args, name):
    result = run_cli(*args)
    assert f"Missing argument '{name}'." in result.stderr


def test_a_did_you_mean_has_no_double_punctuation():
    result = run_cli("commnt")
    assert "?." not in result.stderr and "Did you mean 'comment'? Run" in result.stderr


@pytest.mark.parametrize(("name", "content", "args", "says"), [
    ("w.csv", "a,b\n1,2\n", ("--scale", "2", "--out", "w.svg"), "drop --scale"),
    ("a.png", b"\x89PNG\r\n\x1a\n0000", (), "not an image like"),
    ("b.json", b"\x89PNG\r\n\x1a\n0000", (), "not an image like"),
    ("notspec.json", '{"data": {}}', (), "give a spec with one"),
])
def test_plot_inputs_are_refused_with_what_to_do(tmp_path, name, content, args, says):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run_cli("plot", name, *args, cwd=tmp_path)
    assert says in _one_sentence(result)


def test_a_dvc_yaml_metrics_entry_that_is_not_a_list_says_what_to_write(tmp_path):
    (tmp_path / "dvc.yaml").write_text("metrics: metrics.json\n")
    result = run_cli("metrics", "show", cwd=tmp_path)
    assert "write it as a list (metrics: [metrics.json])" in _one_sentence(result)


def test_debug_prints_the_sentence_last(tmp_path):
    result = run_cli("--debug", "comment", "create", "/dev/null", "--repo", "acme/models",
                     "--token", "abc", cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert lines[-1].startswith("Error: Report file /dev/null is not a regular file")
