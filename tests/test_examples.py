"""The examples are tested: the training project runs, the workflows parse and validate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"


def test_training_project_writes_metrics_and_history(tmp_path: Path):
    subprocess.run([sys.executable, str(EXAMPLES / "project" / "train.py"), "--epochs", "5",
                    "--out", str(tmp_path)], check=True, capture_output=True)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) == {"accuracy", "loss"}
    assert 0.5 < metrics["accuracy"] <= 1.0
    rows = (tmp_path / "history.csv").read_text().splitlines()
    assert rows[0] == "epoch,train_loss" and len(rows) == 6


def test_more_epochs_train_a_better_model(tmp_path: Path):
    def loss_after(epochs: int) -> float:
        out = tmp_path / str(epochs)
        subprocess.run([sys.executable, str(EXAMPLES / "project" / "train.py"), "--epochs",
                        str(epochs), "--out", str(out)], check=True, capture_output=True)
        return json.loads((out / "metrics.json").read_text())["loss"]

    assert loss_after(30) < loss_after(2)


def _schema_check(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run([str(exe), "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True)


@pytest.mark.parametrize("workflow", sorted((EXAMPLES / "github").glob("*.yml")),
                         ids=lambda p: p.name)
def test_github_workflows_match_the_workflow_schema(workflow: Path):
    result = _schema_check("vendor.github-workflows", workflow)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gitlab_pipeline_matches_the_ci_schema():
    result = _schema_check("vendor.gitlab-ci", EXAMPLES / "gitlab" / ".gitlab-ci.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def _yaml(path: Path) -> dict:  # type: ignore[type-arg]
    import yaml

    return yaml.safe_load(path.read_text())


def test_gitlab_runner_token_reaches_only_the_runner_job():
    """The GPU job runs the merge request's code: it gets a report-only token."""
    pipeline = _yaml(EXAMPLES / "gitlab" / ".gitlab-ci.yml")
    assert "CML_INFRA_TOKEN" in json.dumps(pipeline["runner"])
    assert pipeline["runner"]["environment"]["name"] == "cml-infra-runners"
    train = json.dumps(pipeline["train"])
    assert "CML_INFRA_TOKEN" not in train and "PULUMI_CONFIG_PASSPHRASE" not in train
    assert "CML_REPORT_TOKEN" in train and "environment" not in pipeline["train"]
    assert "CML_INFRA_TOKEN" not in json.dumps(pipeline.get("variables", {}))


def test_github_runner_secrets_reach_only_the_runner_job():
    workflow = _yaml(EXAMPLES / "github" / "train.yml")
    assert "env" not in workflow and "id-token" not in workflow["permissions"]
    runner = json.dumps(workflow["jobs"]["runner"])
    assert "CML_INFRA_TOKEN" in runner and "PULUMI_CONFIG_PASSPHRASE" in runner
    train = json.dumps(workflow["jobs"]["train"])
    assert "secrets.GITHUB_TOKEN" in train
    assert "CML_INFRA_TOKEN" not in train and "PASSPHRASE" not in train
    assert "permissions" not in workflow["jobs"]["train"]  # the workflow's, without id-token
