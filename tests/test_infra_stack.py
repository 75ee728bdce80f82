"""The Automation API layer with a stand-in `pulumi` command that records its arguments."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest
from pulumi.automation import CommandResult, PulumiCommand
from pulumi.automation.errors import create_command_error
from semver import VersionInfo

from infra.engine.program import placeholder_registrar
from infra.engine.stack import backend_url, up_stack
from infra.errors import StackError
from infra.spec import build_spec

EVENTS = [
    {"sequence": 1, "timestamp": 1, "resourcePreEvent": {"metadata": {
        "op": "create", "urn": "urn:pulumi:gpu::cml-infra::aws:ec2/instance:Instance::gpu-0-vm",
        "type": "aws:ec2/instance:Instance", "provider": ""}}},
    {"sequence": 2, "timestamp": 2, "diagnosticEvent": {
        "message": "quota exceeded\n", "color": "never", "severity": "error"}},
    {"sequence": 3, "timestamp": 3, "summaryEvent": {
        "maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": {"create": 3},
        "PolicyPacks": {}}},
]


class FakeCommand(PulumiCommand):
    """Records every invocation; `up` writes engine events to the event log it is given."""

    def __init__(self, fail_with: str = "", failures: int = 99) -> None:
        self.command = "pulumi"
        self.version = VersionInfo(3, 200, 0)  # file-based event log
        self.calls: list[list[str]] = []
        self.envs: list[dict[str, str]] = []
        self.fail_with = fail_with
        self.failures = failures
        self.stacks: set[str] = set()

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):
        self.calls.append(list(args))
        self.envs.append(dict(additional_env))
        if args[:2] == ["stack", "select"] and args[-1] not in self.stacks:
            name = args[-1]
            raise create_command_error(CommandResult("", f"no stack named '{name}' found", 255))
        if args[:2] == ["stack", "init"]:
            self.stacks.add(args[args.index("--stack") + 1] if "--stack" in args else args[2])
        if self.fail_with and args[0] == "up" and self.failures > 0:
            self.failures -= 1
            raise create_command_error(CommandResult("", self.fail_with, 255))
        if args[0] == "up" and "--event-log" in args:
            path = Path(args[args.index("--event-log") + 1])
            path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
        if args[:2] == ["stack", "history"]:
            return CommandResult(json.dumps([{
                "kind": "update", "startTime": "2026-01-01T12:00:00.000Z", "message": "",
                "environment": {}, "config": {}, "result": "succeeded",
                "endTime": "2026-01-01T12:01:00.000Z", "resourceChanges": {"create": 3}}]), "", 0)
        if args[:2] == ["stack", "output"]:
            return CommandResult(json.dumps({"gpu-0": {"instance_id": "i-1"}}), "", 0)
        return CommandResult("", "", 0)


@pytest.fixture
def env(tmp_path):
    return {"PULUMI_CONFIG_PASSPHRASE": "test-passphrase"}


def test_up_uses_file_backend_passphrase_and_streams_events(tmp_path, env):
    fake = FakeCommand()
    lines: list[tuple[str, str]] = []
    outputs = up_stack([build_spec(name="gpu", gpu=True)], stack_name="gpu",
                       registrar=placeholder_registrar,
                       printer=lambda line: lines.append((line, threading.current_thread().name)),
                       env=env, home=tmp_path, command=fake)
    assert outputs == {"gpu-0": {"instance_id": "i-1"}}
    assert [line for line, _ in lines] == [
        "create: aws:ec2/instance:Instance gpu-0-vm", "error: quota exceeded", "done: 3 create"]
    assert {thread for _, thread in lines} == {threading.current_thread().name}
    flat = [" ".join(call) for call in fake.calls]
    init = next(c for c in flat if c.startswith("stack init"))
    assert "--secrets-provider passphrase" in init
    up = next(call for call in fake.calls if call[0] == "up")
    assert "--yes" in up and any(a.startswith("--client=127.0.0.1:") for a in up)
    assert all(e.get("PULUMI_CONFIG_PASSPHRASE") == "test-passphrase" for e in fake.envs)
    settings = (tmp_path / "workspaces" / "gpu" / "Pulumi.yaml").read_text()
    assert f"file://{(tmp_path / 'state').resolve()}" in settings


def test_backend_url_honours_the_environment(tmp_path):
    assert backend_url({"PULUMI_BACKEND_URL": "s3://bucket/state"}, tmp_path) == "s3://bucket/state"
    assert backend_url({}, tmp_path) == f"file://{(tmp_path / 'state').resolve()}"


@pytest.mark.parametrize("env", [{}, {"PULUMI_CONFIG_PASSPHRASE": ""},
                                 {"PULUMI_CONFIG_PASSPHRASE_FILE": ""}])
def test_missing_or_empty_passphrase_is_one_sentence(tmp_path, env):
    fake = FakeCommand()
    with pytest.raises(StackError, match=r"^Set PULUMI_CONFIG_PASSPHRASE to a non-empty secret"
                       r" .*stack state\.$"):
        up_stack([build_spec()], stack_name="s1", registrar=placeholder_registrar,
                 printer=print, env=env, home=tmp_path, command=fake)
    assert fake.calls == []


def test_state_and_workspaces_are_private(tmp_path, env):
    home = tmp_path / "home" / ".cml-infra"
    up_stack([build_spec(name="gpu")], stack_name="gpu", registrar=placeholder_registrar,
             printer=lambda line: None, env=env, home=home, command=FakeCommand())
    for folder in (home, home / "state", home / "workspaces"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder


def test_locked_stack_becomes_one_sentence(tmp_path, env):
    fake = FakeCommand(fail_with="error: the stack is currently locked by 1 lock(s)")
    with pytest.raises(StackError) as info:
        up_stack([build_spec()], stack_name="s1", registrar=placeholder_registrar,
                 printer=lambda line: None, env=env, home=tmp_path, command=fake)
    assert str(info.value).startswith("Stack s1 is being updated by another run;")


def test_engine_failure_becomes_one_sentence_without_its_output(tmp_path, env):
    fake = FakeCommand(fail_with="error: ghp_secretsecretsecret123 rejected")
    with pytest.raises(StackError) as info:
        up_stack([build_spec()], stack_name="s1", registrar=placeholder_registrar,
                 printer=lambda line: None, env=env, home=tmp_path, command=fake)
    assert "ghp_" not in str(info.value)
    assert str(info.value).startswith("Pulumi could not update stack s1;")


def test_missing_pulumi_binary(tmp_path, env, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackError, match=r"^The pulumi CLI is not installed"):
        up_stack([build_spec()], stack_name="s1", registrar=placeholder_registrar,
                 printer=print, env=env, home=tmp_path)


def test_spot_capacity_shortage_retries_on_demand_once(tmp_path, env):
    fake = FakeCommand(fail_with="error: InsufficientInstanceCapacity: no g4dn", failures=1)
    lines: list[str] = []
    outputs = up_stack([build_spec(name="gpu", gpu=True, spot=True, max_price=0.4)],
                       stack_name="gpu", registrar=placeholder_registrar,
                       printer=lines.append, env=env, home=tmp_path, command=fake)
    assert outputs == {"gpu-0": {"instance_id": "i-1"}}
    assert "spot capacity is short; retrying on demand" in lines
    assert len([call for call in fake.calls if call[0] == "up"]) == 2


def test_on_demand_shortage_is_not_retried(tmp_path, env):
    fake = FakeCommand(fail_with="error: InsufficientInstanceCapacity: no g4dn")
    with pytest.raises(StackError, match=r"^Pulumi could not update stack gpu;"):
        up_stack([build_spec(name="gpu", gpu=True)], stack_name="gpu",
                 registrar=placeholder_registrar, printer=lambda line: None, env=env,
                 home=tmp_path, command=fake)
    assert len([call for call in fake.calls if call[0] == "up"]) == 1


CREATED_URN = "urn:pulumi:gpu::cml-infra::pulumi-python:dynamic:Resource::gpu-0-registration"


class InterruptedUp(FakeCommand):
    """`up` reports one resource created, then is interrupted: by Ctrl-C (KeyboardInterrupt
    out of the engine call) or by SIGTERM to this process (a cancelled CI job)."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.cancelled = threading.Event()

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):
        if args[0] == "cancel":
            self.cancelled.set()
        if args[0] != "up":
            return super().run(args, cwd, additional_env, on_output, on_error)
        self.calls.append(list(args))
        Path(args[args.index("--event-log") + 1]).write_text(json.dumps(
            {"sequence": 1, "timestamp": 1, "resOutputsEvent": {"metadata": {
                "op": "create", "urn": CREATED_URN, "type": "x", "provider": ""}}}) + "\n")
        if self.how == "sigint":
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGTERM)
        self.cancelled.wait(10)  # the engine stops once cancelled
        raise create_command_error(CommandResult("", "error: update canceled", 255))


@pytest.mark.parametrize("how", ["sigint", "sigterm"])
def test_interrupted_up_cancels_and_destroys_what_it_created(tmp_path, env, how):
    fake, lines = InterruptedUp(how), []
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        up_stack([build_spec(name="gpu")], stack_name="gpu", registrar=placeholder_registrar,
                 printer=lines.append, env=env, home=tmp_path, command=fake)
    assert signal.getsignal(signal.SIGTERM) is previous
    commands = [call[0] for call in fake.calls]
    assert commands.index("up") < commands.index("cancel") < commands.index("destroy")
    destroy = next(call for call in fake.calls if call[0] == "destroy")
    assert destroy[destroy.index("--target") + 1] == CREATED_URN
    assert lines[-1] == ("Stack gpu was interrupted; the 1 resources it created, forge runner "
                         "registrations included, were destroyed again.")


def test_interrupted_up_keeps_them_with_keep_on_failure(tmp_path, env):
    fake, lines = InterruptedUp("sigint"), []
    with pytest.raises(KeyboardInterrupt):
        up_stack([build_spec(name="gpu")], stack_name="gpu", registrar=placeholder_registrar,
                 printer=lines.append, env=env, home=tmp_path, command=fake,
                 keep_on_failure=True)
    assert not any(call[0] == "destroy" for call in fake.calls)
    assert "are kept (--keep-on-failure)" in lines[-1]


def test_interrupt_before_anything_was_created_says_so(tmp_path, env):
    class Interrupted(FakeCommand):
        def run(self, args, cwd, additional_env, on_output=None, on_error=None):
            if args[0] == "up":
                raise KeyboardInterrupt
            return super().run(args, cwd, additional_env, on_output, on_error)

    fake, lines = Interrupted(), []
    with pytest.raises(KeyboardInterrupt):
        up_stack([build_spec(name="gpu")], stack_name="gpu", registrar=placeholder_registrar,
                 printer=lines.append, env=env, home=tmp_path, command=fake)
    assert lines[-1] == "Stack gpu was interrupted before it created anything."
    assert not any(call[0] == "destroy" for call in fake.calls)
