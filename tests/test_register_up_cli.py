"""`cml-infra up` without --dry-run: forge context checked first, the token only inside the
program (a secret input, never on the pulumi command line or in its environment), and a
failed update's creations destroyed again. The `pulumi` command is the recording stand-in
of tests/test_infra_stack.py."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import pytest
from pulumi.automation import CommandResult
from pulumi.automation.errors import create_command_error

import infra.engine.stack
from cml_cli.app import main
from tests.test_infra_stack import FakeCommand

TOKEN = "ghp_" + "k" * 36
URN = "urn:pulumi:gpu::cml-infra::pulumi-python:dynamic:Resource::gpu-0-registration"
CREATED = [{"sequence": 1, "timestamp": 1, "resOutputsEvent": {"metadata": {
    "op": "create", "urn": URN, "type": "pulumi-python:dynamic:Resource", "provider": ""}}}]


class FailingAfterCreate(FakeCommand):
    """`up` reports one resource created, then fails the way a cloud error does."""

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):
        if args[0] == "up":
            self.calls.append(list(args))
            self.envs.append(dict(additional_env))
            path = Path(args[args.index("--event-log") + 1])
            path.write_text("".join(json.dumps(e) + "\n" for e in CREATED))
            raise create_command_error(CommandResult("", "error: InvalidParameter", 255))
        return super().run(args, cwd, additional_env, on_output, on_error)


@pytest.fixture
def fake(monkeypatch, tmp_path):
    for name in ("REPO_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN",
                 "GITHUB_REPOSITORY", "GITHUB_ACTIONS", "GITLAB_CI", "CI_PROJECT_ID",
                 "GITHUB_API_URL", "CML_INFRA_DEBUG", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT",
                 "CI_PIPELINE_ID", "CI", "PULUMI_BACKEND_URL"):
        monkeypatch.delenv(name, raising=False)
    command = FakeCommand()

    def use(cmd: FakeCommand) -> FakeCommand:
        monkeypatch.setattr(infra.engine.stack, "up_stack", functools.partial(
            infra.engine.stack.up_stack, command=cmd, home=tmp_path,
            env={"PULUMI_CONFIG_PASSPHRASE": "pw"}))
        return cmd

    use(command)
    command.use = use  # type: ignore[attr-defined]
    return command


def cli(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(["up", "--name", "gpu", "--gpu", *args])
    return int(info.value.code or 0)


def test_missing_token_is_a_sentence_before_anything(fake, capsys) -> None:
    assert cli("--repo", "acme/models") == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: No token found; set REPO_TOKEN or GITHUB_TOKEN")
    assert err.count("\n") == 1
    assert fake.calls == []


def test_missing_repository_is_a_sentence_before_anything(fake, capsys) -> None:
    assert cli("--token", TOKEN) == 1
    assert capsys.readouterr().err.startswith("Error: No repository given; pass --repo")
    assert fake.calls == []


def test_job_token_cannot_create_runners(fake, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CI_JOB_TOKEN", "glcbt-" + "j" * 20)
    assert cli("--forge", "gitlab", "--repo", "ml/eval") == 1
    assert "A CI job token cannot create runners" in capsys.readouterr().err
    assert fake.calls == []


def test_token_stays_off_the_pulumi_command_line(fake, capsys, monkeypatch) -> None:
    monkeypatch.setenv("REPO_TOKEN", TOKEN)
    assert cli("--repo", "acme/models", "--stack", "gpu") == 0
    up = next(call for call in fake.calls if call[0] == "up")
    assert "--stack" in up and "gpu" in up
    assert not any(TOKEN in arg for call in fake.calls for arg in call)
    assert not any(TOKEN in value for env in fake.envs for value in env.values())
    assert {env.get("PULUMI_PYTHON_CMD") for env in fake.envs} == {sys.executable}
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err


def test_failed_update_destroys_what_it_created(fake, capsys) -> None:
    failing = fake.use(FailingAfterCreate())
    assert cli("--repo", "acme/models", "--token", TOKEN) == 1
    destroy = next(call for call in failing.calls if call[0] == "destroy")
    assert destroy[destroy.index("--target") + 1] == URN and "--target-dependents" in destroy
    err = capsys.readouterr().err
    assert "the 1 resources it created, forge runner registrations included, were destroyed" \
        in err and TOKEN not in err


def test_keep_on_failure_keeps_them(fake, capsys) -> None:
    failing = fake.use(FailingAfterCreate())
    assert cli("--repo", "acme/models", "--token", TOKEN, "--keep-on-failure") == 1
    assert not any(call[0] == "destroy" for call in failing.calls)
    assert "are kept (--keep-on-failure)" in capsys.readouterr().err


def test_repository_url_names_the_gitlab_instance(fake, monkeypatch) -> None:
    from infra.spec import RunnerSpec

    seen: list[RunnerSpec] = []
    real = infra.engine.stack.up_stack
    monkeypatch.setattr(infra.engine.stack, "up_stack", lambda pools, **kw: (
        seen.extend(pools), real(pools, **kw))[1])
    assert cli("--forge", "gitlab", "--repo", "https://gitlab.acme.io/ml/eval",
               "--token", "glpat-" + "p" * 20) == 0
    assert (seen[0].repo, seen[0].forge_url) == ("ml/eval", "https://gitlab.acme.io")


def _stack_of(fake) -> str:
    up = next(call for call in fake.calls if call[0] == "up")
    return up[up.index("--stack") + 1]


@pytest.mark.parametrize(("env", "stack"), [
    ({}, "gpu"),
    ({"GITHUB_RUN_ID": "9876543210", "GITHUB_RUN_ATTEMPT": "2"}, "gpu-gh-9876543210-2"),
    ({"GITHUB_RUN_ID": "9876543210"}, "gpu-gh-9876543210"),
    ({"CI_PIPELINE_ID": "4242"}, "gpu-gl-4242"),
])
def test_default_stack_is_unique_per_ci_run(fake, monkeypatch, env, stack) -> None:
    monkeypatch.setenv("REPO_TOKEN", TOKEN)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert cli("--repo", "acme/models") == 0
    assert _stack_of(fake) == stack


def test_stack_flag_overrides_the_ci_run_default(fake, monkeypatch) -> None:
    monkeypatch.setenv("REPO_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_RUN_ID", "1")
    assert cli("--repo", "acme/models", "--stack", "shared") == 0
    assert _stack_of(fake) == "shared"


def test_ci_without_a_backend_warns_that_state_is_lost(fake, monkeypatch, capsys) -> None:
    monkeypatch.setenv("REPO_TOKEN", TOKEN)
    monkeypatch.setenv("CI", "true")
    assert cli("--repo", "acme/models") == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "Warning" in line]
    assert len(warnings) == 1 and "PULUMI_BACKEND_URL is unset" in warnings[0]
    assert "lost" in warnings[0]
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://bucket")
    from cml_cli.up_support import state_warning

    assert state_warning({"CI": "true", "PULUMI_BACKEND_URL": "s3://b"}) is None
    assert state_warning({}) is None


def test_help_documents_the_stack_default() -> None:
    from tests.conftest import run_cli

    text = "".join(run_cli("up", "--help").stdout.split())  # rich wraps mid-word
    assert "<name>-gh-<GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT>or<name>-gl-<CI_PIPELINE_ID>" in text


def test_interrupt_says_what_was_cleaned_up(fake, capsys) -> None:
    from tests.test_infra_stack import InterruptedUp

    fake.use(InterruptedUp("sigint"))
    assert cli("--repo", "acme/models", "--token", TOKEN) == 130
    out = capsys.readouterr()
    assert out.err == "Error: Interrupted.\n"
    assert "was interrupted; the 1 resources it created, forge runner registrations " \
        "included, were destroyed again." in out.out


class LeakyEngine(FakeCommand):
    """The engine's error diagnostic quotes the token (a provider echoing its input)."""

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):
        if args[0] != "up":
            return super().run(args, cwd, additional_env, on_output, on_error)
        self.calls.append(list(args))
        Path(args[args.index("--event-log") + 1]).write_text(json.dumps(
            {"sequence": 1, "timestamp": 1, "diagnosticEvent": {
                "message": f"bad credentials {TOKEN}\n", "color": "never",
                "severity": "error"}}) + "\n")
        return CommandResult("", "", 0)


def test_engine_progress_lines_are_redacted(fake, capsys) -> None:
    fake.use(LeakyEngine())
    assert cli("--repo", "acme/models", "--token", TOKEN) == 0
    out = capsys.readouterr().out
    assert "error: bad credentials" in out and TOKEN not in out
