"""Where reports land: --target on GitHub, auto-detection, checks under lost answers."""

from __future__ import annotations

import pytest
from github import Auth, Github

from reporting.checks import CheckOptions, create_check
from reporting.comments import CommentOptions, post_report
from reporting.context import CIContext, Driver
from reporting.forges.base import Conclusion
from reporting.forges.github import MAX_COMMENT_CHARS, GitHubForge, github_retry
from reporting.target import Target
from tests.fakes.fixtures import GITHUB_APP_TOKEN
from tests.fakes.http import Fault
from tests.forge_scenarios import HEAD_SHA, PR_NUMBER, write_report

OTHER_SHA = "d" * 40


@pytest.fixture
def setup(fake_github):
    repo = fake_github.add_repo("acme/models")
    fake_github.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
    repo.issues.add(3)
    repo.commits.add(OTHER_SHA)
    client = Github(base_url=fake_github.api_url, auth=Auth.Token(GITHUB_APP_TOKEN),
                    retry=github_retry(0.001), timeout=5, lazy=True,
                    seconds_between_requests=None, seconds_between_writes=None)
    return fake_github, GitHubForge(client, "acme/models", server_url=fake_github.server.url)


def _ctx(fake, sha=None, pr=None) -> CIContext:
    return CIContext(Driver.GITHUB, "acme/models", fake.api_url, fake.server.url,
                     GITHUB_APP_TOKEN, "GITHUB_TOKEN", sha, pr)


@pytest.mark.parametrize(("target", "sha", "pr", "thread"), [
    ("auto", HEAD_SHA, None, f"issue/{PR_NUMBER}"),  # push job: the PR containing the commit
    ("auto", OTHER_SHA, None, f"commit/{OTHER_SHA}"),  # no PR: a commit comment
    ("pr", HEAD_SHA, None, f"issue/{PR_NUMBER}"),
    ("commit", HEAD_SHA, PR_NUMBER, f"commit/{HEAD_SHA}"),
    ("issue/3", None, None, "issue/3"),
    (f"commit/{OTHER_SHA}", None, None, f"commit/{OTHER_SHA}"),
    (f"pr/{PR_NUMBER}", None, None, f"issue/{PR_NUMBER}"),
])
def test_targets_land_where_cml_puts_them(setup, tmp_path, target, sha, pr, thread):
    from reporting.target import parse_target

    fake, forge = setup
    options = CommentOptions(parse_target(target), publish=False, update=True)
    for _ in range(2):
        post_report(forge, _ctx(fake, sha, pr), write_report(tmp_path), options)
    assert [len(c) for c in fake.repos["acme/models"].comments.values()] == [1]
    assert len(fake.comments_on("acme/models", thread)) == 1
    assert fake.rejections == []


def test_a_report_over_the_limit_is_cut_with_a_note(setup, tmp_path):
    fake, forge = setup
    report = write_report(tmp_path)
    report.write_text(report.read_text() + "\n" + "| 1 | 2 |\n" * 9000)
    post_report(forge, _ctx(fake, HEAD_SHA, PR_NUMBER), report,
                CommentOptions(Target("auto"), publish=True))
    [comment] = fake.comments_on("acme/models", f"issue/{PR_NUMBER}")
    assert len(comment["body"]) <= MAX_COMMENT_CHARS
    assert "this report was cut to fit the GitHub limit of 65,536 characters" in comment["body"]


def test_check_run_whose_answer_is_lost_is_found_not_duplicated(setup, tmp_path):
    fake, forge = setup
    fake.server.faults.add(Fault(drop=True, after=True, method="POST",
                                 path_contains="/check-runs"))
    url = create_check(forge, _ctx(fake, HEAD_SHA, PR_NUMBER), write_report(tmp_path), HEAD_SHA,
                       CheckOptions("Metrics", conclusion=Conclusion.NEUTRAL),
                       sleep=lambda s: None)
    [run] = fake.repos["acme/models"].check_runs
    assert url.url.endswith(f"/runs/{run['id']}") and run["conclusion"] == "neutral"
    assert fake.rejections == []


def test_check_summary_over_the_limit_is_cut_and_passes_the_openapi_check(setup, tmp_path):
    fake, forge = setup
    report = write_report(tmp_path)
    report.write_text(report.read_text() + "\n" + "| 1 | 2 |\n" * 9000)
    create_check(forge, _ctx(fake, HEAD_SHA, PR_NUMBER), report, HEAD_SHA,
                 CheckOptions("Metrics", conclusion=Conclusion.SUCCESS), sleep=lambda s: None)
    [run] = fake.repos["acme/models"].check_runs
    assert len(run["output"]["summary"]) <= 65_535
    assert "limit of 65,535 characters" in run["output"]["summary"]
    assert fake.rejections == []
