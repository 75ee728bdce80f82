"""The example project, end to end as its CI jobs run it: `train.py` on DVC-tracked data, then
`report.sh` with the real CLI against the fake GitHub and the fake GitLab.

What a reviewer sees is checked from the forge's side: one sticky comment whose images load
and whose blocks each render (no image inside the table), a check run or commit status with
the gates' verdict, the GitHub job summary, and GitLab's metrics (OpenMetrics) and test
(JUnit) reports parsed back with real parsers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import ROOT
from tests.fakes.fixtures import GITHUB_APP_TOKEN, GITLAB_TOKEN
from tests.forge_scenarios import (
    HEAD_SHA,
    MR_IID,
    PR_NUMBER,
    github_actions_env,
    gitlab_ci_env,
)

PROJECT = ROOT / "examples" / "project"
BIN = Path(sys.executable).parent  # the cml-infra entry point of this environment


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _train(repo: Path, epochs: int) -> dict[str, float]:
    subprocess.run([sys.executable, "train.py", "--epochs", str(epochs)], cwd=repo, check=True,
                   capture_output=True)
    return json.loads((repo / "metrics.json").read_text())


def _project(tmp_path: Path, base_epochs: int, epochs: int) -> Path:
    """The example project as a repository: `main` has the metrics of a `base_epochs` run
    committed; the checked-out feature branch has just trained for `epochs`."""
    repo = tmp_path / "repo"
    shutil.copytree(PROJECT, repo, ignore=shutil.ignore_patterns("__pycache__", "points.csv"))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "ci@example.com")
    _git(repo, "config", "user.name", "CI")
    # What `dvc pull` fetches: the file the .dvc pointer names, byte for byte.
    subprocess.run([sys.executable, "train.py", "--make-data"], cwd=repo, check=True)
    _train(repo, base_epochs)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "checkout", "-q", "-b", "feature")
    _train(repo, epochs)
    return repo


def _report(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "report.sh"], cwd=repo, env=full, capture_output=True,
                          text=True, timeout=300)


def _blocks_render_alone(body: str) -> None:
    """Each image line is a paragraph of its own: never a row of the table above it."""
    lines = body.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("!["):
            assert i > 0 and lines[i - 1].strip() == "", body
    assert "## Training curve" in body and "## Confusion matrix" in body


def _image_urls(body: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\((http[^)\s]+)\)", body)


def test_the_dvc_pointer_names_the_data_train_py_writes(tmp_path):
    """`--make-data` writes exactly the file `data/points.csv.dvc` records, so the example
    runs the same with `dvc pull` and without a DVC remote."""
    out = tmp_path / "points.csv"
    subprocess.run([sys.executable, str(PROJECT / "train.py"), "--make-data", "--data",
                    str(out)], check=True)
    pointer = yaml.safe_load((PROJECT / "data" / "points.csv.dvc").read_text())
    [entry] = pointer["outs"]
    assert entry["path"] == "points.csv"
    assert entry["md5"] == hashlib.md5(out.read_bytes()).hexdigest()
    assert entry["size"] == out.stat().st_size
    assert (PROJECT / "data" / ".gitignore").read_text().split() == ["/points.csv"]


def test_train_py_without_its_data_says_to_pull_it(tmp_path):
    result = subprocess.run([sys.executable, str(PROJECT / "train.py"), "--data",
                             str(tmp_path / "none.csv")], capture_output=True, text=True)
    assert result.returncode == 1
    assert "run `dvc pull`" in result.stderr and "Traceback" not in result.stderr


def test_training_writes_metrics_a_curve_and_a_confusion_matrix(tmp_path):
    repo = _project(tmp_path, 2, 30)
    metrics = json.loads((repo / "metrics.json").read_text())
    assert set(metrics) == {"accuracy", "loss", "precision", "recall"}
    rows = (repo / "history.csv").read_text().splitlines()
    assert rows[0] == "epoch,train_loss,test_loss" and len(rows) == 31
    spec = json.loads((repo / "plots" / "confusion.json").read_text())
    counts = {(v["actual"], v["predicted"]): v["count"] for v in spec["data"]["values"]}
    assert sum(counts.values()) == 120  # the test set: a fifth of 600 points
    correct = counts[("0", "0")] + counts[("1", "1")]
    assert correct / 120 == pytest.approx(metrics["accuracy"], abs=1e-4)


def test_github_pull_request_gets_one_report_a_check_and_a_job_summary(github, tmp_path):
    github.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
    repo = _project(tmp_path, 30, 60)  # more epochs: no gate fails
    env = {**github_actions_env(github, tmp_path, GITHUB_APP_TOKEN), "GITHUB_BASE_REF": "main"}
    for attempt in (1, 2):  # a re-run edits the same comment
        env["GITHUB_STEP_SUMMARY"] = str(tmp_path / f"summary-{attempt}.md")
        result = _report(repo, env)
        assert result.returncode == 0, result.stderr
        if attempt == 1:  # the second run shows a change in the comment
            _train(repo, 45)

    [comment] = github.comments_on("acme/models", f"issue/{PR_NUMBER}")
    body = comment["body"]
    accuracy = json.loads((repo / "metrics.json").read_text())["accuracy"]
    assert re.search(rf"\| metrics\.json \| accuracy[^|]* \| [0-9.]+ \| {accuracy} \|", body)
    _blocks_render_alone(body)
    urls = _image_urls(body)
    assert len(urls) == 2, body
    headers = {"Authorization": f"token {GITHUB_APP_TOKEN}"}
    fetched = [requests.get(url, headers=headers, timeout=10).content for url in urls]
    assert fetched == [(repo / "plots" / "loss.png").read_bytes(),
                       (repo / "plots" / "confusion.png").read_bytes()]

    runs = github.repos["acme/models"].check_runs
    assert [(r["name"], r["head_sha"], r["status"], r["conclusion"]) for r in runs] == [
        ("Training report", HEAD_SHA, "completed", "success")] * 2
    summary = (tmp_path / "summary-2.md").read_text()
    assert "| metrics.json | accuracy" in summary and "## Confusion matrix" in summary
    assert GITHUB_APP_TOKEN not in summary + result.stdout + result.stderr


def test_gitlab_merge_request_gets_one_report_a_status_and_widget_reports(gitlab_fake,
                                                                          tmp_path):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    gitlab_fake.add_mr("acme/models", MR_IID, HEAD_SHA)
    repo = _project(tmp_path, 30, 2)  # two epochs: accuracy drops, a gate fails
    env = gitlab_ci_env(gitlab_fake, GITLAB_TOKEN,
                        CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main")
    result = _report(repo, env)
    assert result.returncode == 0, result.stderr  # --exit-zero: the report is still posted

    [note] = gitlab_fake.notes_on("acme/models", f"mr/{MR_IID}")
    _blocks_render_alone(note["body"])
    urls = _image_urls(note["body"])
    assert len(urls) == 2, note["body"]
    fetched = [requests.get(u, headers={"PRIVATE-TOKEN": GITLAB_TOKEN}, timeout=10).content
               for u in urls]
    assert fetched == [(repo / "plots" / "loss.png").read_bytes(),
                       (repo / "plots" / "confusion.png").read_bytes()]

    [status] = gitlab_fake.projects["acme/models"].statuses
    assert (status["sha"], status["name"], status["state"]) == (
        HEAD_SHA, "Training report", "failed")

    metrics = json.loads((repo / "metrics.json").read_text())
    families = list(text_string_to_metric_families((repo / "metrics.txt").read_text()))
    samples = {s.name: s.value for f in families for s in f.samples}
    assert samples == pytest.approx(metrics)

    suite = ET.parse(repo / "gates.xml").getroot()
    cases = suite.iter("testcase")
    outcome = {case.get("name"): case.find("failure") is not None for case in cases}
    base = json.loads(subprocess.run(["git", "show", "main:metrics.json"], cwd=repo, check=True,
                                     capture_output=True, text=True).stdout)
    assert outcome == {
        "accuracy drops > 0.02": base["accuracy"] - metrics["accuracy"] > 0.02,
        "loss rises > 10%": metrics["loss"] > base["loss"] * 1.1,
    }
    assert outcome["loss rises > 10%"]  # the run this test makes fails a gate


def test_the_ci_examples_run_this_project_and_its_report():
    """The workflows run what the tests above run: train.py and report.sh, with the data
    pulled by DVC, on changes to the code and to DVC-tracked data."""
    github = yaml.safe_load((ROOT / "examples" / "github" / "train.yml").read_text())
    train = github["jobs"]["train"]
    runs = [step.get("run", "") for step in train["steps"]]
    assert train["defaults"]["run"]["working-directory"] == "examples/project"
    assert any("dvc pull" in r for r in runs) and "python train.py" in runs
    assert "bash report.sh" in runs
    paths = github[True]["pull_request"]["paths"]  # PyYAML reads the key `on` as True
    assert {"**.dvc", "dvc.lock"} <= set(paths)

    gitlab = yaml.safe_load((ROOT / "examples" / "gitlab" / ".gitlab-ci.yml").read_text())
    script = gitlab["train"]["script"]
    assert "cd examples/project" in script and "dvc pull" in script
    assert "python train.py" in script and any("bash report.sh" in s for s in script)
    changes = gitlab[".merge-requests"]["rules"][0]["changes"]
    assert {"**/*.dvc", "dvc.lock"} <= set(changes)
    reports = gitlab["train"]["artifacts"]["reports"]
    assert reports == {"metrics": "examples/project/metrics.txt",
                       "junit": "examples/project/gates.xml"}
