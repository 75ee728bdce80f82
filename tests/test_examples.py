"""The CI examples are tested: they validate, each secret reaches only the jobs that need it,
every job has the least permissions, fork pull requests never reach a GPU runner, and the
cloud logins the GitLab example builds from its ID tokens produce what the SDKs read.
(tests/test_example_project.py runs the training project and its report end to end;
tests/test_ci_integrations.py runs actionlint and the schemas over every workflow.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"
RUNNER_SECRETS = ("CML_INFRA_TOKEN", "PULUMI_CONFIG_PASSPHRASE")


def _load(path: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(path.read_text())


def _schema_check(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run([str(exe), "--builtin-schema", schema, *map(str, paths)],
                          capture_output=True, text=True)


WORKFLOWS = sorted([*(EXAMPLES / "github").glob("*.yml"), *(EXAMPLES / "platform").glob("*.yml")])


def test_github_workflows_match_the_workflow_schema():
    result = _schema_check("vendor.github-workflows", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gitlab_pipeline_matches_the_ci_schema():
    result = _schema_check("vendor.gitlab-ci", EXAMPLES / "gitlab" / ".gitlab-ci.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_training_improves_with_more_epochs(tmp_path: Path):
    data = tmp_path / "points.csv"
    train = str(EXAMPLES / "project" / "train.py")
    subprocess.run([sys.executable, train, "--make-data", "--data", str(data)], check=True)

    def loss_after(epochs: int) -> float:
        out = tmp_path / str(epochs)
        out.mkdir()
        subprocess.run([sys.executable, train, "--epochs", str(epochs), "--data", str(data),
                        "--out", str(out)], check=True, capture_output=True)
        return json.loads((out / "metrics.json").read_text())["loss"]

    assert loss_after(30) < loss_after(2)


# GitHub ---------------------------------------------------------------------------------

@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_names_its_permissions_and_the_workflow_grants_none(workflow: Path):
    doc = _load(workflow)
    assert doc["permissions"] == {}
    for name, job in doc["jobs"].items():
        assert "permissions" in job, name
        assert "write-all" not in json.dumps(job["permissions"])
    assert "pull_request_target" not in json.dumps(doc[True])  # `on:` reads as True
    assert "secrets." not in json.dumps(doc.get("env", {}))


def _job_text(job: dict) -> str:  # type: ignore[type-arg]
    return json.dumps(job)


def test_github_runner_secrets_reach_only_the_runner_and_cleanup_jobs():
    jobs = _load(EXAMPLES / "github" / "train.yml")["jobs"]
    for name in ("runner", "cleanup"):
        for secret in RUNNER_SECRETS:
            assert f"secrets.{secret}" in _job_text(jobs[name]), (name, secret)
        assert jobs[name]["permissions"] == {"contents": "read", "id-token": "write"}
    train = _job_text(jobs["train"])
    for secret in RUNNER_SECRETS:
        assert secret not in train
    assert "github.token" in train and "id-token" not in train
    assert jobs["train"]["permissions"] == {
        "contents": "write", "pull-requests": "write", "checks": "write"}


def test_github_fork_pull_requests_never_start_a_runner():
    jobs = _load(EXAMPLES / "github" / "train.yml")["jobs"]
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    assert jobs["runner"]["if"] == same_repo
    assert same_repo in jobs["cleanup"]["if"] and "always()" in jobs["cleanup"]["if"]
    assert jobs["train"]["needs"] == "runner"  # skipped with the runner


def test_github_cleanup_always_runs_down_and_gc_runs_nightly():
    jobs = _load(EXAMPLES / "github" / "train.yml")["jobs"]
    assert jobs["cleanup"]["needs"] == ["runner", "train"]
    assert [s["run"] for s in jobs["cleanup"]["steps"] if "run" in s] == ["cml-infra down"]
    gc = _load(EXAMPLES / "github" / "gc.yml")
    assert gc[True]["schedule"] and "workflow_dispatch" in gc[True]
    [step] = [s for s in gc["jobs"]["gc"]["steps"] if "run" in s]
    assert step["run"].startswith("cml-infra gc")
    assert set(step["env"]) == {"REPO_TOKEN", "PULUMI_CONFIG_PASSPHRASE"}


def test_github_jobs_install_cml_infra_with_the_composite_action():
    """The runner jobs take a cloud extra and no plotting; the report job takes plots."""
    jobs = _load(EXAMPLES / "github" / "train.yml")["jobs"]
    extras = {name: [s["with"]["extras"] for s in job["steps"]
                     if s.get("uses", "").endswith("/cml-infra@v1")]
              for name, job in jobs.items()}
    assert extras == {"runner": ["aws"], "train": ["plots"], "cleanup": ["aws"]}


def test_platform_workflow_plans_on_pull_requests_and_applies_on_merge():
    jobs = _load(EXAMPLES / "platform" / "pools.yml")["jobs"]
    plan = "\n".join(s.get("run", "") for s in jobs["plan"]["steps"])
    assert "cml-infra up --dry-run --stack-config Pulumi.ci.yaml --markdown" in plan
    assert "cml-infra comment update plan.md" in plan
    assert "id-token" not in _job_text(jobs["plan"]) and "secrets." not in _job_text(jobs["plan"])
    apply = jobs["apply"]
    assert apply["if"] == "github.event_name == 'push'" and apply["environment"]
    [pulumi] = [s for s in apply["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "up" and pulumi["with"]["stack-name"] == "ci"
    assert (EXAMPLES / "platform" / "Pulumi.ci.yaml").is_file()


# GitLab ---------------------------------------------------------------------------------

def _gitlab() -> dict:  # type: ignore[type-arg]
    return _load(EXAMPLES / "gitlab" / ".gitlab-ci.yml")


def test_gitlab_runner_secrets_reach_only_the_jobs_of_their_environment():
    """The GPU job runs the merge request's code: it gets a report-only token, and no job of
    the runner environment runs there."""
    pipeline = _gitlab()
    for name in ("runner", "cleanup", "gc"):
        assert "CML_INFRA_TOKEN" in _job_text(pipeline[name]), name
        assert ".cloud-gcp" in pipeline[name]["extends"]
    assert pipeline[".cloud-gcp"]["environment"]["name"] == "cml-infra-runners"
    train = _job_text(pipeline["train"])
    assert "CML_INFRA_TOKEN" not in train and "PULUMI_CONFIG_PASSPHRASE" not in train
    assert "CML_REPORT_TOKEN" in train and "environment" not in pipeline["train"]
    assert not any(".cloud" in e for e in pipeline["train"].get("extends", []))
    assert "CML_INFRA_TOKEN" not in json.dumps(pipeline["variables"])


def test_gitlab_forks_never_start_a_runner_and_cleanup_always_runs():
    pipeline = _gitlab()
    same_project = "$CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_PROJECT_ID"
    assert same_project in pipeline[".merge-requests"]["rules"][0]["if"]
    assert ".merge-requests" in pipeline["runner"]["extends"]
    [rule] = pipeline["cleanup"]["rules"]
    assert same_project in rule["if"] and rule["when"] == "always"
    assert pipeline["cleanup"]["script"] == ['REPO_TOKEN="$CML_INFRA_TOKEN" cml-infra down']
    after = pipeline["runner"]["after_script"]
    assert "cml-infra down" in after[-1] and "CI_JOB_STATUS" in after[-1]


def test_gitlab_report_survives_a_failed_gate():
    """report.sh passes --exit-zero, so a failed gate still posts the report."""
    script = (EXAMPLES / "project" / "report.sh").read_text()
    assert "--exit-zero" in script and "set -euo pipefail" in script
    assert _gitlab()[".cloud-gcp"]["image"] == "python:3.12"  # Python and git for pip


def _run_login(job: dict, env: dict[str, str]) -> dict[str, str]:  # type: ignore[type-arg]
    """Run a job's before_script login lines (not the install) in bash; return the
    environment they export."""
    login = [line for line in job["before_script"] if "pip install" not in line]
    script = "\n".join(login) + "\nenv -0\n"
    full = {"PATH": os.environ["PATH"], "TMPDIR": env.pop("TMPDIR"), **job["variables"], **env}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=full,
                            capture_output=True, text=True, check=True)
    pairs = [item.split("=", 1) for item in result.stdout.split("\0") if "=" in item]
    return dict(pairs)


def test_gitlab_gcp_login_writes_a_workload_identity_credential_file(tmp_path):
    job = _gitlab()[".cloud-gcp"]
    token = "eyJhbGciOiJSUzI1NiJ9.payload.signature"
    exported = _run_login(job, {"GCP_ID_TOKEN": token, "TMPDIR": str(tmp_path)})
    config = json.loads(Path(exported["GOOGLE_APPLICATION_CREDENTIALS"]).read_text())
    assert config["type"] == "external_account"
    assert config["audience"] == job["variables"]["GCP_WORKLOAD_PROVIDER"]
    # The audience of the ID token is the provider's https:// name; the STS audience is the
    # same resource written with // (Google's credential configuration format).
    assert job["id_tokens"]["GCP_ID_TOKEN"]["aud"].removeprefix("https:") == config["audience"]
    assert config["subject_token_type"] == "urn:ietf:params:oauth:token-type:jwt"
    assert config["token_url"] == "https://sts.googleapis.com/v1/token"
    assert Path(config["credential_source"]["file"]).read_text() == token
    assert config["service_account_impersonation_url"] == (
        "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
        f"{job['variables']['GCP_SERVICE_ACCOUNT']}:generateAccessToken")
    assert token not in json.dumps(config)  # the file points at the token, never holds it


def test_gitlab_aws_login_sets_what_the_sdks_read_for_web_identity(tmp_path):
    job = _gitlab()[".cloud-aws"]
    token = "eyJhbGciOiJSUzI1NiJ9.aws.signature"
    exported = _run_login(job, {"AWS_ID_TOKEN": token, "TMPDIR": str(tmp_path)})
    assert Path(exported["AWS_WEB_IDENTITY_TOKEN_FILE"]).read_text() == token
    assert exported["AWS_ROLE_ARN"].startswith("arn:aws:iam::")
    assert job["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "sts.amazonaws.com"
