"""Results where reviewers look: the GitHub job summary (`metrics diff --summary`,
`comment create|update --summary`), GitLab's metrics report (`metrics diff --format
openmetrics`) and GitLab's test report (`metrics diff --junit`)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from reporting.errors import ContextError
from reporting.openmetrics import format_value, metric_name
from reporting.report import parse_marker
from reporting.summary import SUMMARY_LIMIT, append_summary, fit_bytes, summary_path
from reporting.truncation import _closing_fence
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
from tests.test_metrics_cli import assert_one_sentence
from tests.test_metrics_git import make_repo

NO_CI = {"GITHUB_BASE_REF": "", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "", "GITLAB_CI": "",
         "GITHUB_STEP_SUMMARY": "", "GITHUB_TOKEN": "", "REPO_TOKEN": ""}
NOTE = "this report was cut to fit the GitHub job summary limit"

BASE = {
    "metrics.json": '{"eval": {"accuracy": 0.91, "f1": [0.8, 0.7]}, "dropout": 0.1, '
                    '"optimizer": "adam"}\n',
    "eval.yaml": "auc: 0.88\nconfusion:\n  tp: 90\n  fp: 10\n",
    "results.csv": "split,acc,f1_score\ntrain,0.99,0.98\ntest,0.9,0.88\n",
}
FEATURE = {
    "metrics.json": '{"eval": {"accuracy": 0.93, "f1": [0.82, 0.7]}, "optimizer": "sgd", '
                    '"ok": true, "tiny": 1e-300, "precise": 0.12345678901234568, '
                    '"big": 12345678901234567890, "nan": NaN, "1st-loss": 0.5, '
                    '"inf": Infinity}\n',
    "eval.yaml": "auc: 0.9\nconfusion:\n  tp: 93\n  fp: 7\n",
    "results.csv": "split,acc,f1_score\ntrain,0.995,0.99\ntest,0.89,0.885\n",
    "collide.json": '{"eval.accuracy": 1, "eval_accuracy": 2}\n',
    "other.json": '{"auc": 0.5}\n',
    "escaped.json": '{"a<&\\"b": 0.4}\n',
    "secret.json": '{"accuracy": 0.9, "note": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"}\n',
}
# The numeric metrics of the new revision, by OpenMetrics name, as each file has them.
EXPECTED = {
    "metrics.json": {
        "eval_accuracy": 0.93, "eval_f1_0": 0.82, "eval_f1_1": 0.7, "tiny": 1e-300,
        "precise": 0.12345678901234568, "big": 12345678901234567890, "nan": math.nan,
        "_1st_loss": 0.5, "inf": math.inf,
    },
    "eval.yaml": {"auc": 0.9, "confusion_tp": 93, "confusion_fp": 7},
    "results.csv#split=test": {"acc": 0.89, "f1_score": 0.885},
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("outputs") / "repo", BASE, FEATURE)


def cli(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={**NO_CI, **env}, cwd=repo)


# --- the job summary file -------------------------------------------------------------------

@pytest.mark.parametrize("existing", ["", "# Earlier step\n", "no newline at the end",
                                      "déjà vu ✅\n\n"])
def test_append_keeps_what_the_file_holds_and_starts_a_new_line(tmp_path, existing):
    path = tmp_path / "summary.md"
    if existing:
        path.write_text(existing, encoding="utf-8")
    done = append_summary(path, "| a | b |\n")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(existing)
    assert text[len(existing):].lstrip("\n") == "| a | b |\n"
    assert text.endswith("\n| a | b |\n") or text == "| a | b |\n"
    assert done.warning(path) is None and done.written == len(text.encode()) - len(
        existing.encode())


def test_append_creates_a_missing_file(tmp_path):
    path = tmp_path / "summary.md"
    append_summary(path, "report")
    assert path.read_text() == "report\n"


def _report(size: int, char: str = "x") -> str:
    """A markdown report of about `size` characters whose cut falls inside a code fence."""
    line = char * 70
    body = "\n".join([line] * (size // 71))
    return f"# Report\n\n```text\n{body}\n```\n\nthe end\n"


@pytest.mark.parametrize("char", ["x", "é", "✅"], ids=["ascii", "2-byte", "3-byte"])
@pytest.mark.parametrize("free", [600, 5_000, 200_000])
def test_the_file_stays_within_1_mib_counting_what_it_holds(tmp_path, char, free):
    path = tmp_path / "summary.md"
    existing = ("e" * 99 + "\n") * ((SUMMARY_LIMIT - free) // 100)
    path.write_text(existing)
    report = _report(300_000, char)
    done = append_summary(path, report)
    data = path.read_bytes()
    assert len(data) <= SUMMARY_LIMIT
    assert data.startswith(existing.encode())
    added = data[len(existing):].decode("utf-8")  # never a character cut in half
    assert NOTE in added and done.cut and done.written == len(added.encode())
    head = added[:added.index("\n\n---\n> **Note:**")]
    assert _closing_fence(head) == ""  # the fence the cut left open is closed
    assert "cut to keep" in (done.warning(path) or "")
    assert SUMMARY_LIMIT - len(data) < 3 * 71 + 16  # as much as fits: at most a line less


def test_a_report_that_fits_exactly_is_not_cut(tmp_path):
    path = tmp_path / "summary.md"
    report = "ü" * 100 + "\n"  # 201 bytes
    path.write_bytes(b"x" * (SUMMARY_LIMIT - 201 - 1) + b"\n")
    done = append_summary(path, report)
    assert not done.cut and len(path.read_bytes()) == SUMMARY_LIMIT


@pytest.mark.parametrize("free", [0, 1, 50, 150])
def test_a_full_summary_gets_nothing_and_a_warning(tmp_path, free):
    path = tmp_path / "summary.md"
    path.write_bytes(b"x" * (SUMMARY_LIMIT - free))
    done = append_summary(path, _report(10_000))
    assert len(path.read_bytes()) == SUMMARY_LIMIT - free
    assert done.written == 0 and "was not added" in (done.warning(path) or "")


@pytest.mark.parametrize("room", [300, 301, 1_000, 4_096])
def test_fit_bytes_never_exceeds_the_room(room):
    fitted = fit_bytes("✅ " * 5_000, room)
    assert fitted and len(fitted.encode()) <= room and NOTE in fitted


@pytest.mark.parametrize(("env", "text"), [
    ({}, "$GITHUB_STEP_SUMMARY names, but it is not set"),
    ({"GITHUB_STEP_SUMMARY": ""}, "$GITHUB_STEP_SUMMARY names, but it is not set"),
    ({"GITLAB_CI": "true"}, "GitLab CI has no job summary"),
    ({"GITLAB_CI": "true", "GITHUB_STEP_SUMMARY": ""}, "GitLab CI has no job summary"),
])
def test_no_summary_file_is_one_sentence(env, text):
    with pytest.raises(ContextError) as caught:
        summary_path(env)
    assert text in str(caught.value) and str(caught.value).count(". ") == 0


def test_the_variable_wins_wherever_the_job_runs():
    env = {"GITHUB_STEP_SUMMARY": "/tmp/s.md", "GITLAB_CI": "true"}
    assert summary_path(env, gitlab=True) == Path("/tmp/s.md")


# --- metrics diff --summary -----------------------------------------------------------------

@pytest.mark.parametrize("output", ["md", "json", "openmetrics"])
def test_diff_appends_the_markdown_table_to_the_summary(repo, tmp_path, output):
    summary = tmp_path / "summary.md"
    summary.write_text("# Training\n")
    result = cli(repo, "metrics", "diff", "eval.yaml", "--fail-if", "auc < 0.95", "--summary",
                 "--format", output, GITHUB_STEP_SUMMARY=str(summary))
    assert result.returncode == 3, result.stderr
    markdown = cli(repo, "metrics", "diff", "eval.yaml", "--fail-if", "auc < 0.95").stdout
    assert summary.read_text() == "# Training\n" + markdown
    assert "| `auc < 0.95` | ❌ failed: auc is 0.9 |" in markdown


def test_diff_summary_near_the_limit_is_cut_with_a_warning(repo, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_bytes(b"x\n" * ((SUMMARY_LIMIT - 400) // 2))
    result = cli(repo, "metrics", "diff", "metrics.json", "--summary",
                 GITHUB_STEP_SUMMARY=str(summary))
    assert result.returncode == 0, result.stderr
    assert len(summary.read_bytes()) <= SUMMARY_LIMIT
    assert NOTE in summary.read_text()
    assert result.stderr.startswith("Warning: the report was cut") and \
        len(result.stderr.splitlines()) == 1


def test_diff_summary_masks_secrets(repo, tmp_path):
    summary = tmp_path / "summary.md"
    result = cli(repo, "metrics", "diff", "secret.json", "--summary",
                 GITHUB_STEP_SUMMARY=str(summary))
    assert result.returncode == 0, result.stderr
    assert "ghp_" not in summary.read_text() and "| *** |" in summary.read_text()


@pytest.mark.parametrize(("env", "text"), [
    ({}, "--summary writes to the file that $GITHUB_STEP_SUMMARY names, but it is not set"),
    ({"GITLAB_CI": "true"}, "GitLab CI has no job summary, so --summary cannot be used there"),
])
def test_diff_summary_without_a_summary_file_fails_before_any_work(repo, tmp_path, env, text):
    conclusion = tmp_path / "conclusion.txt"
    result = cli(repo, "metrics", "diff", "metrics.json", "--summary", "--conclusion-file",
                 str(conclusion), **env)
    assert_one_sentence(result, 1, text)
    assert result.stdout == "" and not conclusion.exists()


def test_the_summary_file_may_not_be_a_metrics_file(repo):
    before = (repo / "eval.yaml").read_text()
    result = cli(repo, "metrics", "diff", "eval.yaml", "--summary",
                 GITHUB_STEP_SUMMARY="./eval.yaml")
    assert_one_sentence(result, 1, "a metrics file that metrics diff reads")
    assert (repo / "eval.yaml").read_text() == before


# --- metrics diff --format openmetrics ------------------------------------------------------

def _parsed(text: str) -> dict[str, float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert sample.name not in samples and sample.labels == {}
            samples[sample.name] = sample.value
    return samples


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("source", list(EXPECTED))
def test_openmetrics_reads_back_as_the_new_metrics(repo, source):
    result = cli(repo, "metrics", "diff", source, "--format", "openmetrics", "--precision", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n# EOF\n")
    parsed = _parsed(result.stdout)
    expected = EXPECTED[source]
    assert list(parsed) == list(expected)  # in the table's order; text and removed left out
    assert all(_same(parsed[name], value) for name, value in expected.items()), parsed
    for line in result.stdout.splitlines()[:-1]:
        assert re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]* \S+", line), line


def test_openmetrics_of_several_files_is_one_exposition(repo):
    result = cli(repo, "metrics", "diff", "eval.yaml", "results.csv#split=test", "--format",
                 "openmetrics")
    assert result.returncode == 0, result.stderr
    assert _parsed(result.stdout) == {**EXPECTED["eval.yaml"],
                                      **EXPECTED["results.csv#split=test"]}
    assert result.stdout.count("# EOF") == 1


def test_openmetrics_with_gates_keeps_the_gate_exit_code(repo):
    result = cli(repo, "metrics", "diff", "eval.yaml", "--format", "openmetrics",
                 "--fail-if", "auc < 0.95")
    assert result.returncode == 3
    assert result.stdout.splitlines()[-1] == "# EOF" and "auc 0.9" in result.stdout


@pytest.mark.parametrize(("files", "text"), [
    (["collide.json"], "The metrics 'eval.accuracy' (collide.json) and 'eval_accuracy' "
                       "(collide.json) both become the OpenMetrics name 'eval_accuracy'"),
    (["eval.yaml", "other.json"], "The metric 'auc' of eval.yaml and of other.json both "
                                  "become the OpenMetrics name 'auc'"),
    (["metrics.json", "collide.json"], "The metric 'eval.accuracy' of metrics.json and of "
                                       "collide.json both become"),
])
def test_metrics_that_become_one_name_are_refused(repo, files, text):
    result = cli(repo, "metrics", "diff", *files, "--format", "openmetrics")
    assert_one_sentence(result, 1, text)
    assert result.stdout == ""


@pytest.mark.parametrize(("metric", "name"), [
    ("accuracy", "accuracy"), ("eval.accuracy", "eval_accuracy"), ("train/loss", "train_loss"),
    ("a b-c", "a_b_c"), ("ns:rate", "ns:rate"), ("1st", "_1st"), ("", "_"),
    ("précision", "pr_cision"), ("_private", "_private"), ("f1[0]", "f1_0_"),
])
def test_metric_names_are_sanitised(metric, name):
    assert metric_name(metric) == name
    assert re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", metric_name(metric))


@pytest.mark.parametrize(("value", "text"), [
    (0.1, "0.1"), (1e-05, "1e-05"), (0.12345678901234568, "0.12345678901234568"),
    (12345678901234567890, "12345678901234567890"), (3, "3"), (-2.5, "-2.5"),
    (math.nan, "NaN"), (math.inf, "+Inf"), (-math.inf, "-Inf"), (1e300, "1e+300"),
])
def test_values_are_written_in_full(value, text):
    assert format_value(value) == text
    assert _same(_parsed(f"m {text}\n# EOF\n")["m"], value)


# --- metrics diff --junit -------------------------------------------------------------------

def _junit(path: Path) -> tuple[ET.Element, list[ET.Element]]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "cml-infra metrics gates"
    return suite, suite.findall("testcase")


GATES = ["eval.accuracy < 0.9", "eval.accuracy < 0.95", "auc rises > 5%", "tiny changes",
         "precise drops"]


@pytest.mark.parametrize("exit_zero", [False, True])
def test_junit_has_one_case_per_gate_passed_failed_or_skipped(repo, tmp_path, exit_zero):
    report = tmp_path / "reports" / "gates.xml"
    gates = [arg for gate in GATES for arg in ("--fail-if", gate)]
    result = cli(repo, "metrics", "diff", "metrics.json", "eval.yaml", *gates, "--junit",
                 str(report), *(["--exit-zero"] if exit_zero else []))
    assert result.returncode == (0 if exit_zero else 3), result.stderr
    suite, cases = _junit(report)
    assert [c.get("name") for c in cases] == GATES
    assert {c.get("classname") for c in cases} == {"metrics"}
    assert [c.get("file") for c in cases] == ["metrics.json", "metrics.json", "eval.yaml",
                                              "metrics.json", "metrics.json"]
    outcome = ["failure" if c.find("failure") is not None else
               "skipped" if c.find("skipped") is not None else "passed" for c in cases]
    assert outcome == ["passed", "failure", "passed", "skipped", "skipped"]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"),
            suite.get("errors")) == ("5", "1", "2", "0")
    failure = cases[1].find("failure")
    assert failure.get("message") == ("eval.accuracy is 0.93 (old at main: 0.91, new: 0.93, "
                                      "change: +0.02 (+2.2%))")
    assert "old (main): 0.91\nnew: 0.93\nchange: +0.02 (+2.2%)" in failure.text
    assert cases[3].find("skipped").get("message") == "tiny has no base value to compare with"


def test_junit_escapes_the_gate_text(repo, tmp_path):
    report = tmp_path / "gates.xml"
    gate = """'a<&"b' < 0.5"""
    result = cli(repo, "metrics", "diff", "escaped.json", "--fail-if", gate, "--junit",
                 str(report))
    assert result.returncode == 3, result.stderr
    raw = report.read_text(encoding="utf-8")
    assert 'name="\'a&lt;&amp;&quot;b\' &lt; 0.5"' in raw
    _, [case] = _junit(report)
    assert case.get("name") == gate
    assert case.find("failure").get("message").startswith('a<&"b is 0.4 ')


def test_junit_without_gates_is_an_empty_suite(repo, tmp_path):
    report = tmp_path / "gates.xml"
    result = cli(repo, "metrics", "diff", "eval.yaml", "--junit", str(report))
    assert result.returncode == 0, result.stderr
    suite, cases = _junit(report)
    assert cases == [] and suite.get("tests") == "0"


def test_a_gate_that_cannot_be_evaluated_writes_no_report(repo, tmp_path):
    report = tmp_path / "gates.xml"
    result = cli(repo, "metrics", "diff", "eval.yaml", "--fail-if", "recall < 0.5", "--junit",
                 str(report))
    assert_one_sentence(result, 1, "names the metric 'recall', which no metrics file has")
    assert not report.exists()


@pytest.mark.parametrize("target", ["eval.yaml", "./eval.yaml", "sub/../eval.yaml"])
def test_junit_never_overwrites_a_metrics_file(repo, target):
    before = (repo / "eval.yaml").read_text()
    result = cli(repo, "metrics", "diff", "eval.yaml", "--junit", target)
    assert_one_sentence(result, 1, "give --junit another path")
    assert (repo / "eval.yaml").read_text() == before


def test_every_output_at_once(repo, tmp_path):
    summary, report, conclusion = (tmp_path / n for n in ("s.md", "j.xml", "c.txt"))
    result = cli(repo, "metrics", "diff", "eval.yaml", "--fail-if", "auc < 0.95", "--summary",
                 "--junit", str(report), "--conclusion-file", str(conclusion), "--format",
                 "json", GITHUB_STEP_SUMMARY=str(summary))
    assert result.returncode == 3
    assert json.loads(result.stdout)["conclusion"] == "failure"
    assert conclusion.read_text() == "failure\n" and "❌ failed" in summary.read_text()
    assert _junit(report)[0].get("failures") == "1"


@pytest.mark.parametrize("flag", ["--summary", "--junit", "--format"])
def test_help_says_what_each_flag_writes_and_who_reads_it(flag):
    result = run_cli("metrics", "diff", "--help", env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.replace("│", " ").split())
    reader = {"--summary": "GitHub Actions job summary", "--junit": "artifacts:reports:junit",
              "--format": "artifacts:reports:metrics"}[flag]
    assert flag in text and reader in text


# --- comment create|update --summary --------------------------------------------------------

@pytest.fixture
def github_repo(fake_github):
    fake_github.add_repo("acme/models")
    fake_github.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
    return fake_github


@pytest.mark.parametrize("command", ["create", "update"])
@pytest.mark.parametrize("publish", [True, False])
def test_comment_summary_is_the_report_as_posted(github_repo, tmp_path, command, publish):
    summary = tmp_path / "summary.md"
    summary.write_text("# Earlier step\n")
    env = {**github_actions_env(github_repo, tmp_path, GITHUB_APP_TOKEN),
           "GITHUB_STEP_SUMMARY": str(summary)}
    report = write_report(tmp_path)
    result = run_cli("comment", command, str(report), "--summary",
                     *([] if publish else ["--no-publish"]), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [comment] = github_repo.comments_on("acme/models", f"issue/{PR_NUMBER}")
    first, _, posted = comment["body"].partition("\n")
    assert parse_marker(first) is not None
    assert summary.read_text() == "# Earlier step\n" + posted + (
        "" if posted.endswith("\n") else "\n")
    links = re.findall(r"\]\(([^)]+)\)|src=\"([^\"]+)\"", posted)
    if publish:  # the summary links to the uploaded images, as the comment does
        assert all((a or b).startswith("http") for a, b in links) and len(links) == 2
    else:
        assert [a or b for a, b in links] == ["plots/loss.png", "confusion.png"]
    assert GITHUB_APP_TOKEN not in summary.read_text()


@pytest.mark.parametrize(("extra", "text"), [
    ({"GITHUB_STEP_SUMMARY": ""}, "$GITHUB_STEP_SUMMARY names, but it is not set"),
    ({"GITHUB_STEP_SUMMARY": "{summary}", "__watch": "1"}, "--watch posts it again"),
])
def test_comment_summary_problems_stop_before_posting(github_repo, tmp_path, extra, text):
    env = {**github_actions_env(github_repo, tmp_path, GITHUB_APP_TOKEN),
           **{k: v.format(summary=tmp_path / "s.md") for k, v in extra.items()
              if not k.startswith("__")}}
    report = write_report(tmp_path)
    watch = ["--watch"] if "__watch" in extra else []
    result = run_cli("comment", "create", str(report), "--summary", *watch, env=env,
                     cwd=tmp_path)
    assert_one_sentence(result, 1, text)
    assert github_repo.comments_on("acme/models", f"issue/{PR_NUMBER}") == []


def test_comment_summary_on_gitlab_says_there_is_none(fake_gitlab, tmp_path):
    fake_gitlab.add_project("acme/models")
    fake_gitlab.add_mr("acme/models", MR_IID, HEAD_SHA)
    env = gitlab_ci_env(fake_gitlab, GITLAB_TOKEN, GITHUB_STEP_SUMMARY="")
    report = write_report(tmp_path)
    result = run_cli("comment", "update", str(report), "--summary", env=env, cwd=tmp_path)
    assert_one_sentence(result, 1, "GitLab CI has no job summary")
    assert fake_gitlab.notes_on("acme/models", f"mr/{MR_IID}") == []
