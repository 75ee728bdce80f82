"""Every command in the README's bash blocks runs, as written, in a test.

Commands run through bash with a `cml-infra` shim on PATH, in a setting that fits them:
dry-run plans as they are, reporting commands in a simulated GitHub Actions pull-request
job against the fake GitHub, metrics and plot commands in a real git repository with a
base branch. A command that fits no setting fails the test, so new README commands must
be given one here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.spec import stack_pools
from tests.conftest import ROOT
from tests.fakes.fixtures import GITHUB_APP_TOKEN, GITHUB_PAT
from tests.forge_scenarios import HEAD_SHA, PR_NUMBER, github_actions_env, write_report
from tests.lifecycle_world import World
from tests.sandbox.runner import Sandbox
from tests.test_local_up import HOST_ENDING, _github

README = (ROOT / "README.md").read_text()
SETUP_PREFIX = "python3 -m venv .venv && .venv/bin/pip install -e '.[aws]' && .venv/bin/"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.S | re.M)


def _commands() -> list[str]:
    commands = []
    for block in _blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s{2,}#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def _kind(command: str) -> str:
    if command.startswith(SETUP_PREFIX) or command == "bash .ci/run":
        return "setup"
    words = command.split()
    if words[:2] == ["cml-infra", "up"] and "--dry-run" in words:
        return "plan"
    if words[:4] == ["cml-infra", "up", "--cloud", "local"]:
        return "local"
    if words[:2] in (["cml-infra", "up"], ["cml-infra", "down"], ["cml-infra", "status"],
                     ["cml-infra", "gc"]):
        return "lifecycle"
    if words[0] == "pulumi":
        return "pulumi"
    if words[:2] in (["cml-infra", "comment"], ["cml-infra", "check"]):
        return "report"
    if words[:2] in (["cml-infra", "metrics"], ["cml-infra", "plot"]):
        return "metrics"
    return "unknown"


COMMANDS = _commands()


def test_readme_has_exactly_the_two_setup_commands():
    assert [c for c in COMMANDS if _kind(c) == "setup"] == [
        SETUP_PREFIX + "cml-infra up --cloud aws --gpu --dry-run", "bash .ci/run"]
    assert os.access(ROOT / ".ci" / "run", os.X_OK) or (ROOT / ".ci" / "run").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_setting(command: str):
    assert _kind(command) != "unknown", f"give this README command a setting: {command}"


@pytest.fixture
def shim(tmp_path: Path) -> dict[str, str]:
    """PATH and PYTHONPATH so that `cml-infra` in a bash line runs this checkout."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "cml-infra"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cml_cli "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_", "GITLAB"))}
    return {**env, "PATH": f"{bin_dir}:{env['PATH']}", "PYTHONPATH": str(ROOT),
            "REPO_TOKEN": ""}


def _bash(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_setup_command_runs_the_offline_plan(shim: dict[str, str], tmp_path: Path):
    result = _bash(COMMANDS[0].removeprefix(SETUP_PREFIX), shim, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "aws:ec2/instance:Instance" in result.stdout


@pytest.mark.parametrize("command", [c for c in COMMANDS if _kind(c) == "plan"])
def test_plan_commands(command: str, shim: dict[str, str], tmp_path: Path):
    result = _bash(command, shim, tmp_path)
    assert result.returncode == 0, result.stderr
    if "--json" in command:
        assert json.loads(result.stdout)["resources"]


@pytest.mark.parametrize("command", [c for c in COMMANDS if _kind(c) == "report"])
def test_report_commands(command: str, shim: dict[str, str], tmp_path: Path, fake_github):
    fake_github.add_repo("acme/models")
    fake_github.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
    write_report(tmp_path)
    env = {**shim, **github_actions_env(fake_github, tmp_path, GITHUB_APP_TOKEN)}
    result = _bash(command, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert fake_github.rejections == []


@pytest.fixture
def trained_repo(tmp_path: Path) -> Path:
    """A git repository whose main branch trained 2 epochs and whose branch trains 30."""
    repo = tmp_path / "project"
    repo.mkdir()

    def run(*args: str) -> None:
        subprocess.run(args, cwd=repo, check=True, capture_output=True)

    data = repo / "points.csv"
    run(sys.executable, str(ROOT / "examples" / "project" / "train.py"), "--make-data",
        "--data", str(data))

    def train(epochs: int) -> None:
        run(sys.executable, str(ROOT / "examples" / "project" / "train.py"), "--epochs",
            str(epochs), "--data", str(data), "--out", str(repo))

    run("git", "init", "-q", "-b", "main")
    run("git", "config", "user.email", "ci@example.com")
    run("git", "config", "user.name", "CI")
    train(2)
    run("git", "add", "metrics.json")
    run("git", "commit", "-q", "-m", "baseline")
    run("git", "checkout", "-q", "-b", "feature")
    train(30)
    return repo


@pytest.mark.parametrize("command", [c for c in COMMANDS if _kind(c) == "metrics"])
def test_metrics_commands(command: str, shim: dict[str, str], trained_repo: Path):
    result = _bash(command, shim, trained_repo)
    assert result.returncode == 0, result.stderr


def test_yaml_pools_in_the_readme_are_valid():
    docs = [yaml.safe_load(block) for block in _blocks("yaml")]
    pools = [doc["config"]["cml-infra:pools"] for doc in docs if "config" in doc]
    assert pools, "the README shows a stack config"
    for entries in pools:  # single-machine and autoscaled pools, read as the program reads them
        machines, autoscaled = stack_pools(entries, {})
        assert machines or autoscaled
    assert any(entry.get("kind") == "autoscale" for entries in pools for entry in entries)


def test_readme_workflows_validate_and_follow_the_lifecycle(tmp_path: Path):
    """The lifecycle snippets: `exec` for up (so the cancel signal reaches it), `down` in an
    always-run job, `gc` on a schedule; each validates against GitHub's workflow schema."""
    from tests.test_examples import _schema_check

    workflows = [block for block in _blocks("yaml") if "jobs:" in block]
    assert len(workflows) == 3
    for n, block in enumerate(workflows):
        path = tmp_path / f"w{n}.yml"
        path.write_text("on: push\n" * (not block.startswith("on:")) + block)
        result = _schema_check("vendor.github-workflows", path)
        assert result.returncode == 0, result.stdout + result.stderr
    lifecycle = yaml.safe_load(workflows[0])["jobs"]
    assert lifecycle["runner"]["steps"][0]["run"].startswith("exec cml-infra up ")
    assert lifecycle["cleanup"]["if"] == "always()"
    assert lifecycle["cleanup"]["steps"][-1]["run"] == "cml-infra down"
    assert "schedule" in yaml.safe_load(workflows[1])[True]
    # A reclaimed spot machine: the whole run again, so that its runner job makes a new stack.
    rerun = yaml.safe_load(workflows[2])
    assert rerun[True]["workflow_run"]["types"] == ["completed"]
    [step] = rerun["jobs"]["rerun"]["steps"]
    assert step["run"].startswith("gh run rerun ") and "--failed" not in step["run"]


def test_readme_gitlab_retry_validates_and_starts_a_runner_before_training_again(
        tmp_path: Path):
    from tests.test_examples import _schema_check

    [block] = [block for block in _blocks("yaml") if "retry-runner" in block]
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(block)
    result = _schema_check("vendor.gitlab-ci", path)
    assert result.returncode == 0, result.stdout + result.stderr
    pipeline = yaml.safe_load(block)
    stages = pipeline["stages"]
    again, train = pipeline["runner-again"], pipeline["train-again"]
    assert again["when"] == train["when"] == "on_failure"
    assert stages.index(again["stage"]) < stages.index(train["stage"])
    assert f"--labels {train['tags'][0]}" in again["script"][0]
    assert "cml-infra down --name cml-retry" in pipeline["cleanup"]["script"]


@pytest.mark.parametrize("command", [c for c in COMMANDS if _kind(c) == "local"])
def test_local_runner_commands(command: str, shim: dict[str, str], tmp_path: Path,
                               fake_github):
    """This machine registers against the fake GitHub, takes the job the stub runner
    simulates at once, then unregisters; the sandbox's stubs stand in for the host."""
    sandbox = Sandbox(tmp_path / "sandbox", forge="github", cloud="local", waits="0")
    try:
        env = {**shim, **_github(fake_github, sandbox)}
        env["PATH"] = f"{sandbox.root / 'bin'}:{shim['PATH']}"
        result = _bash(command, env, tmp_path)
    finally:
        sandbox.forge_server.stop()
        sandbox.cloud_server.stop()
    assert result.returncode == 0, result.stderr
    assert fake_github.rejections == []
    if "--dry-run" not in command:
        calls = [c[0] for c in sandbox.read_calls()]
        assert "job-start" in calls and not set(calls) & set(HOST_ENDING)
        assert fake_github.repos["acme/models"].runners == {}


def test_lifecycle_commands_in_order(fake_pulumi, github, tmp_path: Path):
    """The README's real `up`, `status`, `down` and `gc`, in the order written, as one CI run
    against the stand-in Pulumi engine and the fake GitHub; afterwards nothing is left of the
    run (no runner stack, machine or forge runner) and the token was never printed."""
    world = World(fake_pulumi, github, tmp_path)
    commands = [c for c in COMMANDS if _kind(c) == "lifecycle"]
    assert [c.split()[1] for c in commands] == ["up", "status", "down", "gc"]
    for command in commands:
        words = shlex.split(command)[1:]
        if words[0] == "up":
            words.append("--no-wait")  # no machine boots here to bring its runner online
        result = world.cli(*words, run="4242")
        assert result.returncode == 0, command + "\n" + result.stdout + result.stderr
        assert GITHUB_PAT not in result.stdout + result.stderr
    assert [s for s in world.stacks() if not s.startswith("cml-infra-base-")] == []
    assert world.machines() == [] and world.forge_runners() == {}


@pytest.mark.parametrize("command", [c for c in COMMANDS if _kind(c) == "pulumi"])
def test_pulumi_cli_commands(command: str):
    pytest.skip("the Pulumi CLI cannot be installed on the test machines; the program it runs "
                "is tested under the mock runtime in tests/test_infra_program_config.py and "
                "tests/test_register_program.py")
