"""Switching from CML: the first `comment update` edits CML's report instead of adding one.

CML's watermark, as iterative/cml src/watermark.js writes it (and its tests spell it:
'some report\\n\\n![](https://cml.dev/watermark.png#deadbeef "CML watermark some-label")'),
with `_`, `*`, `[` and `<` of the label escaped by a backslash.
"""

from __future__ import annotations

import pytest

from reporting.cml_watermark import is_cml_report
from reporting.report import marker, parse_marker
from tests.conftest import run_cli
from tests.fakes.fixtures import GITHUB_APP_TOKEN, GITLAB_TOKEN
from tests.forge_scenarios import (
    HEAD_SHA,
    MR_IID,
    PR_NUMBER,
    github_actions_env,
    gitlab_ci_env,
    write_report,
)


def cml_body(report: str, label: str = "", sha: str | None = "deadbeef") -> str:
    """A report as CML posted it (the escaping of src/watermark.js `title`)."""
    title = f"CML watermark {label}".strip()
    for char in "_*[<":
        title = title.replace(char, "\\" + char)
    url = "https://cml.dev/watermark.png" + (f"#{sha}" if sha else "")
    return f'{report}\n\n![]({url} "{title}")'


LABELS = ["", "Training", "custom_1[*]-vm", "<b> report", "first 12 report"]


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("sha", ["deadbeef", "C0FFEE0123456789", None])
def test_cmls_watermark_is_recognised_with_its_title(label, sha):
    assert is_cml_report(cml_body("# Report", label, sha), label)


@pytest.mark.parametrize(("label", "other"), [("", "Training"), ("Training", ""),
                                              ("a_b", "a\\_b"), ("eval", "eval2")])
def test_another_title_is_not_this_report(label, other):
    assert not is_cml_report(cml_body("# Report", label), other)


@pytest.mark.parametrize("body", [
    "![](https://cml.dev/watermark.png#zz \"CML watermark\")",  # not a hex SHA
    "![logo](https://cml.dev/watermark.png#dead \"CML watermark\")",  # alt text
    "see https://cml.dev/watermark.png \"CML watermark\"",
    marker("", "run1") + "\nour own report",
])
def test_other_bodies_are_not_cml_reports(body):
    assert not is_cml_report(body, "")


def _setup(request, forge, tmp_path):  # type: ignore[no-untyped-def]
    if forge == "github":
        fake = request.getfixturevalue("fake_github")
        fake.add_repo("acme/models")
        fake.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
        thread = fake.repos["acme/models"].comments.setdefault(f"issue/{PR_NUMBER}", [])
        env = github_actions_env(fake, tmp_path, GITHUB_APP_TOKEN)
        return fake, thread, env, f"issue/{PR_NUMBER}"
    fake = request.getfixturevalue("fake_gitlab")
    fake.add_project("acme/models")
    fake.add_mr("acme/models", MR_IID, HEAD_SHA)
    thread = fake.projects["acme/models"].notes.setdefault(f"mr/{MR_IID}", [])
    return fake, thread, gitlab_ci_env(fake, GITLAB_TOKEN), f"mr/{MR_IID}"


def _add(thread: list[dict], thread_name: str, comment_id: int, body: str) -> None:
    thread.append({"id": comment_id, "thread": thread_name, "body": body, "discussion": "d"})


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize("label", ["", "custom_1[*]-vm"])
def test_update_adopts_cmls_report_then_keeps_editing_it(request, tmp_path, forge, label):
    fake, thread, env, name = _setup(request, forge, tmp_path)
    _add(thread, name, 11, "a human's review")
    _add(thread, name, 12, cml_body("# old CML report", label))
    _add(thread, name, 13, "another human comment")
    report = write_report(tmp_path)
    for _ in range(2):
        result = run_cli("comment", "update", str(report), "--no-publish", "--watermark-title",
                         label, env=env)
        assert result.returncode == 0, result.stderr
    assert [c["id"] for c in thread] == [11, 12, 13]
    assert parse_marker(thread[1]["body"])[0] == label  # type: ignore[index]
    assert "old CML report" not in thread[1]["body"] and "accuracy" in thread[1]["body"]
    assert getattr(fake, "rejections", []) == []


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize(("command", "cml_label", "label"), [
    ("create", "", ""),  # create always adds a comment, as in CML
    ("update", "Training", ""),  # another report of CML's
    ("update", "", "eval"),
])
def test_cmls_report_is_left_alone_when_it_is_not_this_report(request, tmp_path, forge,
                                                              command, cml_label, label):
    _, thread, env, name = _setup(request, forge, tmp_path)
    cml = cml_body("# CML report", cml_label)
    _add(thread, name, 12, cml)
    result = run_cli("comment", command, str(write_report(tmp_path)), "--no-publish",
                     "--watermark-title", label, env=env)
    assert result.returncode == 0, result.stderr
    assert thread[0]["body"] == cml and len(thread) == 2


def test_our_newer_report_wins_over_cmls(request, tmp_path):
    _, thread, env, name = _setup(request, "github", tmp_path)
    _add(thread, name, 12, cml_body("# CML report"))
    _add(thread, name, 13, marker("", "old") + "\nours")
    result = run_cli("comment", "update", str(write_report(tmp_path)), "--no-publish", env=env)
    assert result.returncode == 0, result.stderr
    assert thread[0]["body"] == cml_body("# CML report") and "accuracy" in thread[1]["body"]
