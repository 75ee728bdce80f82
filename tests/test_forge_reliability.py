"""Retries, pagination and idempotency of the adapters against the fakes, fault by fault."""

from __future__ import annotations

import contextlib

import pytest
from github import Auth, Github

from reporting.comments import CommentOptions, post_report
from reporting.context import CIContext, Driver
from reporting.errors import ForgeUnavailableError
from reporting.forges.github import GitHubForge, github_retry
from reporting.forges.gitlab import GitLabForge
from reporting.forges.gitlab_client import AnnouncedGitlab
from reporting.report import marker
from reporting.target import Target
from tests.fakes.fixtures import GITHUB_APP_TOKEN, GITLAB_TOKEN
from tests.fakes.http import Fault, secondary_rate_limit
from tests.forge_scenarios import HEAD_SHA, MR_IID, PR_NUMBER, write_report

UPDATE = CommentOptions(Target("auto"), watermark="", publish=True, update=True)
CREATE = CommentOptions(Target("auto"), watermark="", publish=False, update=False)


@pytest.fixture
def github(fake_github):
    fake_github.add_repo("acme/models")
    fake_github.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
    client = Github(base_url=fake_github.api_url, auth=Auth.Token(GITHUB_APP_TOKEN),
                    retry=github_retry(0.001), per_page=100, timeout=5,
                    seconds_between_requests=None, seconds_between_writes=None,
                        lazy=True)
    forge = GitHubForge(client, "acme/models", server_url=fake_github.server.url)
    ctx = CIContext(Driver.GITHUB, "acme/models", fake_github.api_url, fake_github.server.url,
                    GITHUB_APP_TOKEN, "GITHUB_TOKEN", HEAD_SHA, PR_NUMBER)
    return fake_github, forge, ctx


@pytest.fixture
def gitlab_(fake_gitlab):
    fake_gitlab.add_project("acme/models")
    fake_gitlab.add_mr("acme/models", MR_IID, HEAD_SHA)
    client = AnnouncedGitlab(url=fake_gitlab.server.url, private_token=GITLAB_TOKEN,
                             retry_transient_errors=True, per_page=100, timeout=5,
                             backoff=0.001)  # the client the CLI builds
    forge = GitLabForge(client, "acme/models", server_url=fake_gitlab.server.url,
                        backoff=0.001)
    ctx = CIContext(Driver.GITLAB, "acme/models", fake_gitlab.api_url, fake_gitlab.server.url,
                    GITLAB_TOKEN, "REPO_TOKEN", HEAD_SHA, MR_IID)
    return fake_gitlab, forge, ctx


def _post(setup, tmp_path, options=UPDATE):
    _, forge, ctx = setup
    return post_report(forge, ctx, write_report(tmp_path), options, sleep=lambda s: None)


def _issue_comments(fake):
    return fake.comments_on("acme/models", f"issue/{PR_NUMBER}")


@pytest.mark.parametrize("fault", [
    Fault(status=502), Fault(status=503, after=True), Fault(drop=True),
    Fault(status=429, headers={"Retry-After": "0"}), secondary_rate_limit(),
    Fault(delay=0.3),
], ids=["502", "503-after", "drop", "429", "secondary", "delay"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_github_each_fault_on_each_method_leaves_one_comment(github, tmp_path, fault, method):
    fake = github[0]
    fake.server.faults.add(Fault(**{**fault.__dict__, "method": method, "times": 2}))
    _post(github, tmp_path)
    assert len(_issue_comments(fake)) == 1
    assert fake.server.faults.injected, "the fault was never injected"
    assert fake.rejections == [] and fake.server.errors == []


def test_github_comment_stored_but_answer_lost_is_not_posted_twice(github, tmp_path):
    fake = github[0]
    fake.server.faults.add(Fault(status=502, after=True, method="POST", times=3))
    _post(github, tmp_path, CREATE)
    assert len(_issue_comments(fake)) == 1


def test_github_update_finds_our_comment_on_the_last_page(github, tmp_path):
    fake = github[0]
    thread = fake.repos["acme/models"].comments.setdefault(f"issue/{PR_NUMBER}", [])
    thread += [{"id": 10 + i, "thread": f"issue/{PR_NUMBER}", "body": f"human {i}"}
               for i in range(230)]
    thread.append({"id": 9999, "thread": f"issue/{PR_NUMBER}", "body": marker("", "old") + "\nv1"})
    posted = _post(github, tmp_path)
    assert not posted.created and posted.comment.id == 9999
    assert len(thread) == 231 and "accuracy" in thread[-1]["body"]
    pages = [p for m, p, s in fake.server.log if m == "GET" and p.endswith("/comments")]
    assert len(pages) == 3


def test_github_that_never_recovers_is_one_sentence_and_no_comment(github, tmp_path):
    fake = github[0]
    fake.server.faults.fail_randomly(1.0)
    with pytest.raises(ForgeUnavailableError, match="run the command again later"):
        _post(github, tmp_path, CREATE)
    fake.server.faults.clear()
    assert _issue_comments(fake) == []


@pytest.mark.parametrize("fault", [
    Fault(status=502), Fault(drop=True), Fault(status=429, headers={"Retry-After": "0"}),
    Fault(status=502, after=True), Fault(drop=True, after=True),
], ids=["502", "drop", "429", "502-after", "drop-after"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_gitlab_each_fault_on_each_method_leaves_one_note(gitlab_, tmp_path, fault, method):
    fake = gitlab_[0]
    fake.server.faults.add(Fault(**{**fault.__dict__, "method": method}))
    _post(gitlab_, tmp_path)
    _post(gitlab_, tmp_path)
    assert len(fake.notes_on("acme/models", f"mr/{MR_IID}")) == 1
    assert fake.server.errors == []


def test_gitlab_update_finds_our_note_on_the_last_page(gitlab_, tmp_path):
    fake = gitlab_[0]
    notes = fake.projects["acme/models"].notes.setdefault(f"mr/{MR_IID}", [])
    notes += [{"id": 10 + i, "body": f"human {i}", "discussion": "d"} for i in range(205)]
    notes.append({"id": 9999, "body": marker("", "old") + "\nv1", "discussion": "d"})
    posted = _post(gitlab_, tmp_path)
    assert not posted.created and posted.comment.id == 9999
    assert len(notes) == 206 and "accuracy" in notes[-1]["body"]


@pytest.mark.parametrize("setup_name", ["github", "gitlab_"])
@pytest.mark.parametrize("fault", [Fault(status=502, after=True, method="POST", times=2),
                                   Fault(drop=True, after=True, method="POST")],
                         ids=["502-after", "drop-after"])
def test_unmarked_comment_whose_answer_is_lost_is_found_by_its_body(request, tmp_path,
                                                                   setup_name, fault):
    """CML's --rm-watermark: no run id to look for, so the new comment is the one with the
    same body that was not there before; a human's identical older comment does not count."""
    setup = request.getfixturevalue(setup_name)
    fake, forge, ctx = setup
    report = write_report(tmp_path)
    options = CommentOptions(Target("auto"), publish=False, marked=False)
    post_report(forge, ctx, report, options, sleep=lambda s: None)  # an identical older one
    fake.server.faults.add(fault)
    lines: list[str] = []
    posted = post_report(forge, ctx, report, options, sleep=lambda s: None, say=lines.append)
    threads = (fake.comments_on("acme/models", f"issue/{PR_NUMBER}") if setup_name == "github"
               else fake.notes_on("acme/models", f"mr/{MR_IID}"))
    assert len(threads) == 2 and posted.comment.id == threads[1]["id"]
    assert lines == []  # found at once: nothing was waited for


@pytest.mark.parametrize(("headers", "low", "high"), [
    ({"Retry-After": "7"}, 7, 7),
    # the Unix time the quota resets, within the longest wait (MAX_WAIT); a later reset
    # fails at once (tests/test_forge_user_review.py)
    ({"RateLimit-Reset": "{reset}"}, 30, 41),
    ({}, 0.001, 0.001),  # the backoff
])
def test_gitlab_client_waits_as_the_rate_limit_says_and_tells_it(fake_gitlab, headers, low,
                                                                 high):
    import time

    fake_gitlab.add_project("acme/models")
    headers = {k: v.format(reset=int(time.time()) + 40) for k, v in headers.items()}
    fake_gitlab.server.faults.add(Fault(status=429, headers=headers, method="GET"))
    waits: list[float] = []
    lines: list[str] = []
    client = AnnouncedGitlab(url=fake_gitlab.server.url, private_token=GITLAB_TOKEN,
                             retry_transient_errors=True, timeout=5, backoff=0.001,
                             sleep=waits.append, say=lines.append)
    assert client.projects.get("acme/models").path_with_namespace == "acme/models"
    [wait] = waits
    assert low <= wait <= high
    assert lines == [f"GitLab answered 429 (rate limit); retrying "
                     f"{'in under a second' if wait < 1 else f'in {wait:.0f} s'}, attempt 2 of 7"]


@pytest.mark.parametrize(("fault", "transient", "retried"), [
    (Fault(status=502, method="POST"), False, False),  # a create: the caller looks first
    (Fault(status=502, method="POST"), True, True),
    (Fault(drop=True, method="POST"), False, False),
    (Fault(status=429, method="POST"), False, True),  # never processed, so always safe
    (Fault(status=403, method="POST"), True, False),  # not transient
])
def test_gitlab_client_retries_only_what_the_request_allows(fake_gitlab, fault, transient,
                                                             retried):
    from gitlab.exceptions import GitlabError

    project = fake_gitlab.add_project("acme/models")
    fake_gitlab.add_mr("acme/models", MR_IID, HEAD_SHA)
    fake_gitlab.server.faults.add(fault)
    client = AnnouncedGitlab(url=fake_gitlab.server.url, private_token=GITLAB_TOKEN,
                             retry_transient_errors=True, timeout=5, sleep=lambda s: None)
    mr = client.projects.get(project.id, lazy=True).mergerequests.get(MR_IID, lazy=True)
    with contextlib.suppress(GitlabError, OSError):
        mr.notes.create({"body": "x"}, retry_transient_errors=transient)
    posts = [entry for entry in fake_gitlab.server.log if entry[0] == "POST"]
    assert len(posts) == (2 if retried else 1)
