"""The engine layer's parts on their own: the backend and home, the `pulumi` child (its
environment, its session, the one SIGINT it gets), progress lines, lock messages,
cancellation, prerequisites and stack names."""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from infra.engine.cancel import Cancellation
from infra.engine.capacity import Placement, candidate_zones, capacity_short, failed_pools
from infra.engine.naming import base_stack_name, runner_stack_name
from infra.engine.prerequisites import missing
from infra.engine.state import Lock, lock_of
from infra.engine.workspace import EngineCommand, backend_url, child_env, private_dir
from infra.errors import PrerequisiteError
from infra.spec import build_spec

TOKEN = "ghp_" + "k" * 36
FAKE = """#!/bin/sh
if [ "$1" = version ]; then echo "v{version}"; exit 0; fi
{python} - "$@" <<'PY'
import json, os, sys
with open({log!r}, "a") as out:
    out.write(json.dumps({{"argv": sys.argv[1:], "env": sorted(os.environ),
                          "sid": os.getsid(0), "shell": os.getppid()}}) + "\\n")
PY
trap 'echo interrupted >> {log!r}.signals; exit 3' INT
if [ "$3" = wait ]; then
  touch {log!r}.ready
  while :; do sleep 0.05; done
fi
"""


def fake_pulumi(tmp_path: Path, version: str = "3.272.0") -> tuple[Path, Path]:
    log = tmp_path / "calls.jsonl"
    script = tmp_path / "pulumi"
    script.write_text(FAKE.format(version=version, python=sys.executable, log=str(log)))
    script.chmod(0o755)
    return script, log


def test_backend_url_honours_the_environment(tmp_path: Path) -> None:
    assert backend_url({"PULUMI_BACKEND_URL": "s3://b/state"}, tmp_path) == "s3://b/state"
    assert backend_url({}, tmp_path) == f"file://{(tmp_path / 'state').resolve()}"


def test_home_and_state_are_private(tmp_path: Path) -> None:
    private_dir(tmp_path / "home" / "state")
    for folder in (tmp_path / "home", tmp_path / "home" / "state"):
        assert folder.stat().st_mode & 0o777 == 0o700


def test_the_child_gets_no_forge_token_and_a_session_of_its_own(tmp_path: Path) -> None:
    script, log = fake_pulumi(tmp_path)
    env = {**os.environ, "REPO_TOKEN": TOKEN, "GITHUB_TOKEN": TOKEN, "GITLAB_TOKEN": TOKEN,
           "AWS_REGION": "us-east-1"}
    command = EngineCommand(script, env)
    command.run(["stack", "ls"], str(tmp_path), {"PULUMI_CONFIG_PASSPHRASE": "pw"})
    [call] = [json.loads(line) for line in log.read_text().splitlines()]
    assert call["argv"] == ["--non-interactive", "stack", "ls"]
    assert "REPO_TOKEN" not in call["env"] and "GITHUB_TOKEN" not in call["env"]
    assert "AWS_REGION" in call["env"] and "PULUMI_CONFIG_PASSPHRASE" in call["env"]
    assert call["sid"] == call["shell"] != os.getsid(0)  # the `pulumi` process leads it
    assert "REPO_TOKEN" not in child_env({"REPO_TOKEN": TOKEN})


def test_interrupt_sends_the_running_child_one_sigint(tmp_path: Path) -> None:
    import threading

    from pulumi.automation import CommandError

    script, log = fake_pulumi(tmp_path)
    command = EngineCommand(script, os.environ)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            command.run(["up", "wait"], str(tmp_path), {})
        except CommandError as exc:
            failed.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    ready = Path(f"{log}.ready")
    from tests.lifecycle_world import wait_for

    wait_for(lambda: ready.exists() and bool(command.running), timeout=30)
    assert command.interrupt() == 1
    worker.join(10)
    assert Path(f"{log}.signals").read_text() == "interrupted\n"
    assert failed and command.running == set()


@pytest.mark.parametrize("version", ["3.100.0", "4.0.0", "nonsense"])
def test_an_unusable_cli_is_one_sentence(tmp_path: Path, version: str) -> None:
    script, _ = fake_pulumi(tmp_path, version)
    with pytest.raises(PrerequisiteError, match=r"cml-infra needs 3\.206 or newer"):
        EngineCommand(script, os.environ)


def test_lock_messages_are_read() -> None:
    text = ("error: the stack is currently locked by 1 lock(s). Either wait for the other "
            "process(es) to end or delete the lock file with `pulumi cancel`.\n  file:///s/"
            ".pulumi/locks/organization/cml-infra/x/u.json: created by ci@runner-7 (pid 4242) "
            "at 2026-12-07T10:00:00Z")
    lock = lock_of(Exception(text))
    assert lock == Lock("ci", "runner-7", 4242, datetime(2026, 12, 7, 10, tzinfo=timezone.utc))
    assert lock.age_s(datetime(2026, 12, 7, 16, tzinfo=timezone.utc)) == 6 * 3600
    assert not lock.dead_here()
    assert lock_of(Exception("error: update failed")) is None


def test_a_lock_of_a_dead_process_here_is_dead() -> None:
    import socket
    import subprocess

    child = subprocess.Popen(["true"])
    child.wait()
    now = datetime.now(timezone.utc)
    assert Lock("me", socket.gethostname(), child.pid, now).dead_here()
    assert not Lock("me", socket.gethostname(), os.getpid(), now).dead_here()


def test_only_the_first_signal_interrupts_and_each_is_told() -> None:
    lines: list[str] = []
    calls: list[int] = []
    cancellation = Cancellation(lines.append, lambda: calls.append(1), "stopping")
    cancellation.handle(signal.SIGINT, None)
    cancellation.handle(signal.SIGTERM, None)
    cancellation.tick()
    assert calls == [1] and cancellation.requested
    assert lines == ["SIGINT received; stopping",
                     "SIGTERM received again; the clean-up goes on, it is not interrupted."]


def test_every_missing_prerequisite_is_named(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "CML_INFRA_NO_PULUMI_INSTALL": "1",
           "PULUMI_BACKEND_URL": "ftp://x"}
    problems = missing(env, tmp_path, need_token=True, token=None)
    assert len(problems) == 4
    assert [p.split()[0] for p in problems] == ["install", "set", "set", "set"]
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("secret\n")
    ok = {"PATH": str(tmp_path), "PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase)}
    assert missing(ok, tmp_path, need_token=True, token=TOKEN) == []


@pytest.mark.parametrize(("env", "stack"), [
    ({}, "gpu"),
    ({"GITHUB_RUN_ID": "9876543210", "GITHUB_RUN_ATTEMPT": "2"}, "gpu-gh-9876543210-2"),
    ({"GITHUB_RUN_ID": "9876543210"}, "gpu-gh-9876543210"),
    ({"CI_PIPELINE_ID": "4242"}, "gpu-gl-4242"),
])
def test_runner_stack_is_unique_per_ci_run(env: dict[str, str], stack: str) -> None:
    assert runner_stack_name("gpu", env) == stack


def test_base_stack_carries_pool_cloud_and_region_never_a_run() -> None:
    spec = build_spec(name="gpu", cloud="gcp", region="eu-west", gpu=True)
    assert base_stack_name(spec) == "cml-infra-base-gpu-gcp-europe-west4"


@pytest.mark.parametrize("message, short", [
    ("InsufficientInstanceCapacity: no g5.xlarge", True),  # AWS
    ("error: ZONE_RESOURCE_POOL_EXHAUSTED in us-east1-c", True),  # GCP
    ("ZonalAllocationFailed: Allocation failed", True),  # Azure
    ("OperationDenied.NoStock: sold out", True),  # Alibaba
    ("error: InvalidParameterValue", False),
    # Azure's "not sold to this subscription here" is no shortage a retry could end.
    ("SkuNotAvailable: The requested size is not available", False),
])
def test_capacity_errors_of_every_cloud_are_recognised(message: str, short: bool) -> None:
    assert capacity_short(message) is short


def test_a_spot_pool_tries_its_other_zones_then_on_demand_with_the_cost() -> None:
    spec = build_spec(name="gpu", cloud="gcp", gpu=True, spot=True, zone="us-east1-c")
    place = Placement(spec, ("us-east1-c", "us-east1-d"))
    assert place.current().zone == "us-east1-c" and place.current().spot
    line = place.advance()
    assert line == "pool gpu: no spot capacity for n1-standard-4 in us-east1-c; trying us-east1-d"
    assert place.current().zone == "us-east1-d" and place.current().spot
    line = place.advance() or ""
    assert line.startswith("pool gpu: no spot capacity for n1-standard-4 in us-east1-c, "
                           "us-east1-d; running it on demand in us-east1-c; on demand can cost "
                           "up to 11x the spot price")
    assert "https://cloud.google.com/compute/docs/instances/spot" in line
    assert place.current().zone == "us-east1-c" and not place.current().spot
    assert place.advance() == "pool gpu: no capacity for n1-standard-4 in us-east1-c; trying " \
        "us-east1-d"
    assert place.advance() is None


def test_an_on_demand_pool_in_its_only_zone_has_no_place_left() -> None:
    spec = build_spec(name="gpu", cloud="aws", gpu=True, zone="us-east-1a")
    assert Placement(spec, ("us-east-1a",)).advance() is None


def test_failures_are_laid_at_the_pool_whose_machine_failed() -> None:
    pools = [build_spec(name=n, cloud="aws") for n in ("gpu", "gpu-big", "cpu")]
    urns = ["urn:pulumi:s::cml-infra::cml-infra:clouds:AwsRunner$aws:ec2/instance:Instance::"
            "gpu-big-1-vm", "urn:pulumi:s::cml-infra::aws:ec2/instance:Instance::cpu-0-vm"]
    assert failed_pools(urns, pools) == {"gpu-big", "cpu"}
    assert failed_pools(["urn:pulumi:s::p::x::gpu-base-vpc"], pools) == set()


def test_zones_come_from_the_user_the_catalog_or_the_base() -> None:
    aws = build_spec(name="gpu", cloud="aws", gpu=True)
    assert candidate_zones(aws, {"zones": ["us-east-1a", "us-east-1b"]}) == ("us-east-1a",
                                                                             "us-east-1b")
    assert candidate_zones(aws, None) == (None,)
    named = build_spec(name="gpu", cloud="aws", gpu=True, zone="us-east-1c")
    assert candidate_zones(named, {"zones": ["us-east-1a"]}) == ("us-east-1c",)


def test_help_documents_the_stack_default_and_the_lifecycle() -> None:
    from tests.conftest import run_cli

    text = "".join(run_cli("up", "--help").stdout.split())
    assert ("thename,gh,GITHUB_RUN_IDandGITHUB_RUN_ATTEMPTjoinedbyhyphens,orthename,gland"
            "CI_PIPELINE_ID") in text
    assert "cml-infradown" in text and "--token-file" in text
    for command in ("down", "status", "gc"):
        assert "Example: cml-infra" in run_cli(command, "--help").stdout


def test_waiting_for_runners_stops_at_once_when_cancelled_and_trusts_only_seen_runners() -> None:
    from infra.engine.status import MachineStatus
    from infra.engine.wait import _pause, _ready

    slept: list[float] = []
    cancellation = Cancellation(lambda line: None, lambda: None, "stopping")

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            cancellation.handle(signal.SIGINT, None)

    _pause(10.0, cancellation, sleep)
    assert len(slept) == 3 and sum(slept) < 1, "a cancel must not wait out the poll interval"
    machine = MachineStatus("m", "p", "i-1", "t", False, "r", "42", "")
    assert _ready("online", machine, set()) and _ready("busy", machine, set())
    assert not _ready("gone", machine, set()), "gone before it was ever online is no runner"
    assert _ready("gone", machine, {"42"}) and not _ready("offline", machine, {"42"})


class _RacingStack:
    """A stack whose outputs appear between the Automation API's two reads `changes` times,
    as when another run's base update finishes meanwhile."""

    name = "cml-infra-base-p-aws-us-east-1"

    def __init__(self, changes: int) -> None:
        self.changes, self.calls = changes, 0

    def outputs(self):  # type: ignore[no-untyped-def]
        from pulumi.automation import OutputValue

        self.calls += 1
        if self.calls <= self.changes:
            raise KeyError("bases")  # masked_outputs[key] in stack_outputs
        return {"bases": OutputValue(value={"p": {"fingerprint": "f"}}, secret=False)}


@pytest.mark.parametrize("changes", [0, 1, 4])
def test_outputs_that_change_between_the_two_reads_are_read_again(changes):
    from infra.engine.bases import stable_outputs

    stack = _RacingStack(changes)
    assert stable_outputs(stack)["bases"].value == {"p": {"fingerprint": "f"}}
    assert stack.calls == changes + 1


def test_outputs_that_never_settle_are_one_sentence():
    from infra.engine.bases import stable_outputs
    from infra.errors import StackError

    with pytest.raises(StackError, match=r"^The outputs of stack cml-infra-base-p-aws-us-east-1 "
                                         r"kept changing while they were read; another run"):
        stable_outputs(_RacingStack(99))
