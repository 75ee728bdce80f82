"""Metrics diffs against a base branch in a REAL temporary git repository, one per format."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from reporting.errors import BaseRevisionError, ReportFileError
from reporting.gates import evaluate_gates, parse_gate
from reporting.metrics import (
    base_name,
    diff_metrics,
    render_json,
    render_markdown,
    resolve_base,
    resolve_sources,
)

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}

BASE_FILES = {
    "metrics.json": '{"accuracy": 0.91, "loss": 0.35, "dropout": 0.1,'
                    ' "train": {"f1": [0.8, 0.7]}, "optimizer": "adam"}\n',
    "eval.yaml": "auc: 0.88\nthreshold: 1e-3\nconfusion:\n  tp: 90\n  fp: 10\n",
    "history.csv": "epoch,loss,acc\n1,0.5,0.8\n2,0.4,0.85\n",
    "results.csv": "split,accuracy,f1\ntrain,0.99,0.98\ntest,0.90,0.88\n",
    "dvc.yaml": (
        "metrics:\n  - dvclive/metrics.json\n"
        "stages:\n  train:\n    cmd: python train.py\n    metrics:\n"
        "      - scores.json:\n          cache: false\n      - cached.json\n"
    ),
    "dvclive/metrics.json": '{"step": 9, "train": {"loss": 0.2}, "eval": {"acc": 0.9}}\n',
    "scores.json": '{"precision": 0.7}\n',
    ".gitignore": "/cached.json\n",
}
FEATURE_FILES = {
    "metrics.json": '{"accuracy": 0.93, "loss": 0.3, "train": {"f1": [0.82, 0.7]},'
                    ' "optimizer": "sgd", "epochs": 10}\n',
    "eval.yaml": "auc: 0.9\nthreshold: 1e-3\nconfusion:\n  tp: 93\n  fp: 7\n",
    "history.csv": "epoch,loss,acc\n1,0.5,0.8\n2,0.4,0.85\n3,0.33,0.87\n",
    "results.csv": "split,accuracy,f1\ntrain,0.995,0.99\ntest,0.89,0.885\n",
    "dvclive/metrics.json": '{"step": 19, "train": {"loss": 0.15}, "eval": {"acc": 0.92}}\n',
    "scores.json": '{"precision": 0.75}\n',
    "new.json": '{"recall": 0.6}\n',
}
UNTRACKED_FILES = {"cached.json": '{"latency_ms": 12}\n'}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV})
    return done.stdout


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def make_repo(root: Path, base: dict[str, str] | None = None,
              feature: dict[str, str] | None = None) -> Path:
    """A repository whose `main` holds `base` and whose checked-out `feature` holds `feature`."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write(root, BASE_FILES if base is None else base)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "checkout", "-q", "-b", "feature")
    write(root, FEATURE_FILES if feature is None else feature)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "feature")
    write(root, UNTRACKED_FILES)
    return root


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("metrics") / "repo")


def diff_table(repo: Path, names: list[str], gates: tuple[str, ...] = ()) -> str:
    report = diff_metrics(resolve_sources(names, repo), resolve_base("main", repo), repo)
    return render_markdown(report, evaluate_gates([parse_gate(g) for g in gates], report.rows))


def test_json_diff_shows_old_new_change_new_and_removed(repo, golden):
    table = diff_table(repo, ["metrics.json"])
    assert "| metrics.json | accuracy | 0.91 | 0.93 | +0.02 (+2.2%) |" in table
    assert "| metrics.json | dropout | 0.1 | — | removed |" in table
    golden("metrics/diff_json.md", table)


def test_yaml_diff_reads_exponent_numbers_and_nested_keys(repo, golden):
    table = diff_table(repo, ["eval.yaml"])
    assert "| eval.yaml | threshold | 0.001 | 0.001 | 0 |" in table
    assert "| eval.yaml | confusion.tp | 90 | 93 | +3 (+3.3%) |" in table
    golden("metrics/diff_yaml.md", table)


def test_csv_diff_uses_last_row_or_the_named_row(repo, golden):
    table = diff_table(repo, ["history.csv", "results.csv#split=test"])
    assert "| history.csv | epoch | 2 | 3 | +1 (+50%) |" in table
    assert "| results.csv#split=test | accuracy | 0.9 | 0.89 | -0.01 (-1.1%) |" in table
    assert "split |" not in table
    golden("metrics/diff_csv.md", table)


def test_dvc_yaml_expands_to_its_metrics_and_explains_cached_outputs(repo, golden):
    table = diff_table(repo, ["dvc.yaml"])
    assert "| dvclive/metrics.json | eval.acc | 0.9 | 0.92 |" in table
    assert "| scores.json | precision | 0.7 | 0.75 |" in table
    assert "cached.json is kept in DVC's cache, not in git" in table
    golden("metrics/diff_dvc.md", table)


def test_no_names_means_dvc_yaml(repo):
    assert diff_table(repo, []) == diff_table(repo, ["dvc.yaml"])


def test_dvclive_directory_means_its_metrics_json(repo):
    table = diff_table(repo, ["dvclive"])
    assert "| dvclive/metrics.json | step | 9 | 19 | +10 (+111.1%) |" in table


def test_file_absent_at_base_is_new(repo):
    table = diff_table(repo, ["new.json"])
    assert "| new.json | recall | — | 0.6 | new |" in table
    assert "- new.json does not exist at main; its metrics are new." in table


def test_gates_appear_under_the_table_and_flag_the_metric(repo, golden):
    gates = ("accuracy < 0.9", "loss rises > 0.1", "auc drops > 1%", "recall drops")
    table = diff_table(repo, ["metrics.json", "eval.yaml", "new.json"], gates)
    assert "| `accuracy < 0.9` | ✅ passed: accuracy is 0.93 |" in table
    assert "❌" not in table.split("| Gate |")[0]
    golden("metrics/diff_gates.md", table)


def test_failed_gate_marks_its_row(repo):
    table = diff_table(repo, ["metrics.json"], ("accuracy rises > 0.01",))
    assert "| metrics.json | accuracy ❌ | 0.91 | 0.93 |" in table
    assert "❌ failed: accuracy rose by 0.02 (2.2%), from 0.91 to 0.93" in table


def test_json_rendering(repo, golden):
    report = diff_metrics(resolve_sources(["metrics.json"], repo), resolve_base("main", repo), repo)
    results = evaluate_gates([parse_gate("accuracy < 0.95")], report.rows)
    golden("metrics/diff.json", render_json(report, results))


def test_base_comes_from_flag_then_ci_variables_then_main():
    assert base_name("v1", {"GITHUB_BASE_REF": "dev"}) == "v1"
    assert base_name(None, {"GITHUB_BASE_REF": "dev"}) == "dev"
    gitlab = {"GITHUB_BASE_REF": "", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "x"}
    assert base_name(None, gitlab) == "x"
    assert base_name(None, {}) == "main"


def test_base_can_be_any_revision(repo):
    table = diff_table_at(repo, "feature~1")
    assert "| Old (feature~1) |" in table and "| accuracy | 0.91 | 0.93 |" in table


def diff_table_at(repo: Path, rev: str) -> str:
    report = diff_metrics(resolve_sources(["metrics.json"], repo), resolve_base(rev, repo), repo)
    return render_markdown(report)


def test_clone_without_local_base_branch_uses_origin(repo, tmp_path):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-b", "feature", str(repo), str(clone))
    base = resolve_base("main", clone)
    assert base.rev == "origin/main"
    assert "| 0.91 | 0.93 |" in render_markdown(
        diff_metrics(resolve_sources(["metrics.json"], clone), base, clone))


def fetch_advice(clone: Path) -> str:
    with pytest.raises(BaseRevisionError) as info:
        resolve_base("main", clone)
    message = str(info.value)
    assert "not in this shallow clone" in message and "fetch-depth: 0" in message
    return message.split("fetch it first with '")[1].split("'")[0]


def test_ci_style_shallow_checkout_says_how_to_fetch_the_base_and_that_works(repo, tmp_path):
    # actions/checkout: init, add the remote, fetch one commit of the branch under test.
    clone = tmp_path / "ci"
    clone.mkdir()
    git(clone, "init", "-q")
    git(clone, "remote", "add", "origin", repo.as_uri())
    git(clone, "fetch", "-q", "--depth", "1", "origin", "feature")
    git(clone, "checkout", "-q", "FETCH_HEAD")
    advice = fetch_advice(clone)
    assert advice == "git fetch origin main"
    git(clone, *advice.split()[1:], "--depth", "1")
    assert resolve_base("main", clone).rev == "origin/main"


def test_single_branch_clone_gets_a_refspec_that_works(repo, tmp_path):
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "-b", "feature", repo.as_uri(), str(clone))
    advice = fetch_advice(clone)
    assert advice == "git fetch origin main:refs/remotes/origin/main"
    git(clone, *advice.split()[1:], "--depth", "1")
    assert resolve_base("main", clone).rev == "origin/main"


def test_outside_a_repository_is_a_sentence(tmp_path):
    with pytest.raises(BaseRevisionError, match="not inside a git repository"):
        resolve_base("main", tmp_path)


def test_option_like_revision_is_refused(repo):
    with pytest.raises(BaseRevisionError, match="is not a revision"):
        resolve_base("--output=/tmp/x", repo)


def test_file_outside_the_repository_is_refused(repo, tmp_path):
    outside = tmp_path / "m.json"
    outside.write_text('{"a": 1}')
    with pytest.raises(ReportFileError, match="outside the git repository"):
        diff_metrics(resolve_sources([str(outside)], repo), resolve_base("main", repo), repo)


def test_malformed_file_at_base_is_a_note_not_a_failure(tmp_path):
    root = make_repo(tmp_path / "r", {"m.json": "{broken"}, {"m.json": '{"a": 1}'})
    table = diff_table(root, ["m.json"])
    assert "| m.json | a | — | 1 | new |" in table
    assert "- m.json could not be read at main: m.json is not valid JSON" in table


def test_metrics_file_dropped_from_dvc_yaml_shows_as_removed(tmp_path):
    base = {"dvc.yaml": "metrics:\n  - a.json\n  - old.json\n",
            "a.json": '{"x": 1}', "old.json": '{"y": 2}'}
    feature = {"dvc.yaml": "metrics:\n  - a.json\n", "a.json": '{"x": 2}'}
    root = make_repo(tmp_path / "r", base, feature)
    git(root, "rm", "-q", "old.json")
    table = diff_table(root, ["dvc.yaml"])
    assert "| a.json | x | 1 | 2 | +1 (+100%) |" in table
    assert "| old.json | y | 2 | — | removed |" in table
    assert "- old.json is no longer listed in dvc.yaml; its metrics are removed." in table


@pytest.mark.parametrize("name", ["m.json", "dvc.yaml"])
def test_a_base_file_that_is_not_text_is_a_note_not_a_failure(tmp_path, name):
    root = make_repo(tmp_path / "r", {"m.json": "{}", "dvc.yaml": "metrics:\n  - m.json\n"},
                     {"m.json": '{"a": 1}'})
    git(root, "checkout", "-q", "main")
    (root / name).write_bytes(b"\xff\xfe binary")
    git(root, "commit", "-qam", "binary at the base")
    git(root, "checkout", "-q", "feature")
    table = diff_table(root, [name])
    assert "| m.json | a | — | 1 | new |" in table
    if name == "m.json":
        assert "- m.json could not be read at main: m.json at main is not UTF-8 text" in table


def test_files_without_any_metric_are_refused(tmp_path):
    root = make_repo(tmp_path / "r", {"m.json": '{"a": {}}'}, {"m.json": '{"a": []}',
                                                              "n.json": "{}"})
    with pytest.raises(ReportFileError, match=r"^m\.json, n\.json hold no metrics, only empty"):
        diff_table(root, ["m.json", "n.json"])


def test_a_file_emptied_since_the_base_shows_its_metrics_as_removed(tmp_path):
    root = make_repo(tmp_path / "r", {"m.json": '{"a": 1}'}, {"m.json": "{}"})
    assert "| m.json | a | 1 | — | removed |" in diff_table(root, ["m.json"])
