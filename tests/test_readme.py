"""Every command in the README's bash blocks runs, as written, in a test.

Commands run through bash with a `cml-infra` shim on PATH, in a setting that fits them:
dry-run plans as they are, reporting commands in a simulated GitHub Actions pull-request
job against the fake GitHub, metrics and plot commands in a real git repository with a
base branch. A command that fits no setting fails the test, so new README commands must
be given one here.
"""

from __future__ import annotations

import functools
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

import infra.engine.stack
from cml_cli.app import main
from infra.spec import pools_from_config
from tests.conftest import ROOT
from tests.fakes.fixtures import GITHUB_APP_TOKEN
from tests.forge_scenarios import HEAD_SHA, PR_NUMBER, github_actions_env, write_report
from tests.sandbox.runner import Sandbox
from tests.test_infra_stack import FakeCommand
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
    if words[:2] == ["cml-infra", "up"]:
        return "up"
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

    def train(epochs: int) -> None:
        run(sys.executable, str(ROOT / "examples" / "project" / "train.py"), "--epochs",
            str(epochs), "--out", str(repo))

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
    pools = [yaml.safe_load(block)["config"]["cml-infra:pools"] for block in _blocks("yaml")]
    assert pools, "the README shows a stack config"
    for entries in pools:
        assert pools_from_config(entries, {})


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


@pytest.mark.parametrize("command", [c for c in COMMANDS if _kind(c) == "up"])
def test_up_commands(command: str, tmp_path: Path, monkeypatch, capsys):
    """The real `up`, in-process, with the recording stand-in for the `pulumi` command: the
    flags parse, the forge context resolves, the stack is updated, and the token stays in
    the program (the stand-in never runs it, so no forge is contacted)."""
    token = "github_pat_" + "r" * 40
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "CI_", "GITLAB")) or name == "CML_INFRA_DEBUG":
            monkeypatch.delenv(name)
    monkeypatch.setenv("REPO_TOKEN", token)
    pulumi = FakeCommand()
    monkeypatch.setattr(infra.engine.stack, "up_stack", functools.partial(
        infra.engine.stack.up_stack, command=pulumi, home=tmp_path,
        env={"PULUMI_CONFIG_PASSPHRASE": "readme"}))
    with pytest.raises(SystemExit) as exit_info:
        main(shlex.split(command)[1:])
    out = capsys.readouterr()
    assert exit_info.value.code == 0, out.err
    assert any(call[0] == "up" for call in pulumi.calls)
    assert token not in json.dumps(pulumi.calls) + json.dumps(pulumi.envs) + out.out + out.err


@pytest.mark.parametrize("command", [c for c in COMMANDS if _kind(c) == "pulumi"])
def test_pulumi_cli_commands(command: str):
    pytest.skip("the Pulumi CLI cannot be installed on the test machines; the program it runs "
                "is tested under the mock runtime in tests/test_infra_program_config.py and "
                "tests/test_register_program.py")
