"""The stand-in `pulumi` (tests/fakes/engine) driven only through the real Automation API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto
from semver import VersionInfo

from tests.fakes.engine.fixtures import FakePulumi
from tests.fakes.engine.install import ROOT
from tests.fakes.engine.sample_dynamic import Marker

SG = "aws:ec2/securityGroup:SecurityGroup"
VM = "aws:ec2/instance:Instance"
TOKEN = "ghp_" + "Z" * 36


def stack_for(fake: FakePulumi, program: Callable[[], None], name: str = "dev",
              project: str = "proj", **kw: Any) -> auto.Stack:
    return auto.create_or_select_stack(name, project_name=project, program=program,
                                       opts=fake.options(project, **kw))


class Events(list):
    """on_event collector; `ops` are the resourcePreEvent ops by resource name."""

    def ops(self) -> dict[str, list[str]]:
        seen: dict[str, list[str]] = {}
        for e in self:
            if e.resource_pre_event:
                meta = e.resource_pre_event.metadata
                seen.setdefault(meta.urn.rsplit("::", 1)[-1], []).append(meta.op.value)
        return seen

    def ended(self) -> bool:
        return bool(self) and self[-1].cancel_event is not None and any(
            e.summary_event for e in self)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def test_create_update_same_delete(fake_pulumi: FakePulumi) -> None:
    wanted = {"a": "one", "b": "two"}

    def program() -> None:
        ami = pulumi.runtime.invoke("aws:ssm/getParameter:getParameter", {"name": "/ami-id"})
        for name, tag in wanted.items():
            sg = pulumi.CustomResource(SG, name, {"description": "no inbound", "arn": None,
                                                  "tags": {"t": tag, "ami": ami.value["value"]}})
            pulumi.export(f"{name}_arn", sg.arn)  # type: ignore[attr-defined]

    stack = stack_for(fake_pulumi, program)
    events = Events()
    result = stack.up(on_event=events.append)
    assert events.ended()
    assert result.summary.result == "succeeded"
    assert result.summary.resource_changes == {"create": 3}
    objects = fake_pulumi.cloud.objects(type=SG, stack="dev")
    assert sorted(o["name"] for o in objects) == ["a", "b"]
    assert result.outputs["a_arn"].value.startswith("arn:aws:ec2:")

    events = Events()
    result = stack.up(on_event=events.append)
    assert events.ended() and result.summary.resource_changes == {"same": 3}

    wanted["a"] = "changed"
    events = Events()
    result = stack.up(on_event=events.append)
    assert events.ops()["a"] == ["update"]
    assert result.summary.resource_changes == {"same": 2, "update": 1}
    ids = {o["name"]: o["id"] for o in fake_pulumi.cloud.objects(type=SG)}
    assert fake_pulumi.cloud.get(ids["a"])["inputs"]["tags"]["t"] == "changed"

    del wanted["b"]
    events = Events()
    result = stack.up(on_event=events.append)
    assert events.ops()["b"] == ["delete"] and events.ended()
    assert [o["name"] for o in fake_pulumi.cloud.objects(type=SG)] == ["a"]
    assert "b_arn" not in result.outputs
    assert not any(u.endswith("::b") for u in fake_pulumi.urns("dev"))
    assert fake_pulumi.lock_files("dev") == []


def test_replace_on_forced_input_keeps_create_before_delete(fake_pulumi: FakePulumi) -> None:
    description = ["first"]

    def program() -> None:
        pulumi.CustomResource(SG, "sg", {"description": description[0]})
        pulumi.CustomResource("fake:index:Thing", "t", {"size": len(description[0])},
                              opts=pulumi.ResourceOptions(replace_on_changes=["size"],
                                                          delete_before_replace=True))

    stack = stack_for(fake_pulumi, program)
    stack.up()
    old_id = fake_pulumi.cloud.objects(type=SG)[0]["id"]
    description[0] = "second!"
    events = Events()
    result = stack.up(on_event=events.append)
    assert events.ops()["sg"] == ["create-replacement", "replace", "delete-replaced"]
    assert events.ops()["t"] == ["delete-replaced", "create-replacement", "replace"]
    assert result.summary.resource_changes == {"replace": 2, "same": 1}
    assert [o["id"] for o in fake_pulumi.cloud.objects(type=SG)] != [old_id]
    assert len(fake_pulumi.cloud.objects(type=SG)) == 1


def test_secrets_are_encrypted_and_outputs_flagged(fake_pulumi: FakePulumi) -> None:
    def program() -> None:
        config = pulumi.Config()
        token = config.require_secret("token")
        pulumi.CustomResource("fake:index:Registration", "reg", {"token": token, "id2": None},
                              opts=pulumi.ResourceOptions(additional_secret_outputs=["name"]))
        pulumi.export("token", token)
        pulumi.export("plain", "visible")

    stack = stack_for(fake_pulumi, program)
    stack.set_config("token", auto.ConfigValue(TOKEN, secret=True))
    result = stack.up()
    assert result.outputs["token"].secret and result.outputs["token"].value == TOKEN
    assert not result.outputs["plain"].secret
    masked = stack.workspace.pulumi_command.run(  # the plain `stack output` needs no passphrase
        ["stack", "output", "--json", "--stack", "dev"], stack.workspace.work_dir,
        {k: v for k, v in fake_pulumi.env.items() if k != "PULUMI_CONFIG_PASSPHRASE"})
    assert json.loads(masked.stdout) == {"plain": "visible", "token": "[secret]"}
    reg = next(r for r in fake_pulumi.resources("dev") if r["type"].endswith("Registration"))
    assert "ciphertext" in reg["outputs"]["token"] and "ciphertext" in reg["outputs"]["name"]
    deployment = stack.export_stack().deployment
    assert TOKEN in json.dumps(deployment)  # --show-secrets
    for path in fake_pulumi.backend_files():
        assert TOKEN not in path.read_text(errors="replace"), path
    stack.import_stack(auto.Deployment(version=3, deployment=deployment))
    for path in fake_pulumi.backend_files():
        assert TOKEN not in path.read_text(errors="replace"), path
    assert stack.outputs()["token"].value == TOKEN


def test_wrong_or_missing_passphrase_fails_before_any_event(fake_pulumi: FakePulumi) -> None:
    stack_for(fake_pulumi, lambda: None).up()
    events = Events()
    wrong = stack_for(fake_pulumi, lambda: None, env={"PULUMI_CONFIG_PASSPHRASE": "nope"})
    with pytest.raises(auto.CommandError) as caught:
        wrong.up(on_event=events.append)
    assert "incorrect passphrase" in str(caught.value)
    assert events == [] and fake_pulumi.lock_files("dev") == []
    env = {k: v for k, v in fake_pulumi.env.items() if k != "PULUMI_CONFIG_PASSPHRASE"}
    options = fake_pulumi.options()
    options.env_vars = env
    missing = auto.select_stack("dev", project_name="proj", program=lambda: None, opts=options)
    with pytest.raises(auto.CommandError, match="passphrase must be set with "
                                                "PULUMI_CONFIG_PASSPHRASE"):
        missing.up(on_event=events.append)
    assert events == []


def test_refresh_drops_what_the_cloud_lost(fake_pulumi: FakePulumi) -> None:
    def program() -> None:
        pulumi.CustomResource(VM, "vm-1", {"instanceType": "g4dn.xlarge"})
        pulumi.CustomResource(VM, "vm-2", {"instanceType": "g4dn.xlarge"})

    stack = stack_for(fake_pulumi, program)
    stack.up()
    gone = next(o for o in fake_pulumi.cloud.objects(type=VM) if o["name"] == "vm-1")
    assert fake_pulumi.cloud.delete(gone["id"])  # the machine ended itself
    events = Events()
    result = stack.refresh(on_event=events.append)
    assert events.ended()
    assert result.summary.resource_changes == {"delete": 1, "same": 1}
    assert [u.rsplit("::", 1)[1] for u in fake_pulumi.urns("dev") if VM in u] == ["vm-2"]


def test_dynamic_provider_runs_in_the_python_shim(fake_pulumi: FakePulumi,
                                                  tmp_path: Path) -> None:
    folder = tmp_path / "markers"
    folder.mkdir()

    def program() -> None:
        marker = Marker("runner", str(folder), "runner-1", token=pulumi.Output.secret(TOKEN))
        pulumi.export("path", marker.path)

    stack = stack_for(fake_pulumi, program)
    result = stack.up()
    assert (folder / "runner-1.created").read_text() == TOKEN
    assert result.outputs["path"].value == str(folder / "runner-1.created")
    state = next(r for r in fake_pulumi.resources("dev") if r["type"].startswith("pulumi-py"))
    assert state["id"] == "runner-1" and state["inputs"]["__provider"]
    assert "ciphertext" in state["outputs"]["token"]
    assert stack.up().summary.resource_changes == {"same": 2}

    (folder / "runner-1.created").unlink()  # refresh asks the provider's read()
    assert stack.refresh().summary.resource_changes == {"delete": 1}
    stack.up()
    stack.destroy()
    assert (folder / "runner-1.deleted").exists()


def test_dynamic_provider_error_fails_the_update(fake_pulumi: FakePulumi,
                                                 tmp_path: Path) -> None:
    def program() -> None:
        Marker("bad", str(tmp_path), "bad", fail="422 runner is busy")

    stack = stack_for(fake_pulumi, program)
    events = Events()
    with pytest.raises(auto.CommandError) as caught:
        stack.up(on_event=events.append)
    assert "marker provider refused: 422 runner is busy" in str(caught.value)
    assert "error: update failed" in str(caught.value)
    assert events.ended()
    assert any("runner is busy" in e.diagnostic_event.message for e in events
               if e.diagnostic_event)
    assert fake_pulumi.lock_files("dev") == []
    assert stack.info().result == "failed"


def test_injected_cloud_failure_then_retry(fake_pulumi: FakePulumi) -> None:
    fake_pulumi.cloud.fail("InsufficientInstanceCapacity: no capacity", type=VM, times=1)

    def program() -> None:
        pulumi.CustomResource(VM, "gpu", {"instanceType": "p4d.24xlarge"})

    stack = stack_for(fake_pulumi, program)
    with pytest.raises(auto.CommandError, match="InsufficientInstanceCapacity: no capacity"):
        stack.up()
    assert fake_pulumi.cloud.objects(type=VM) == []
    assert stack.up().summary.resource_changes == {"create": 1, "same": 1}


def test_stack_reference_reads_another_stack(fake_pulumi: FakePulumi) -> None:
    def base() -> None:
        sg = pulumi.CustomResource(SG, "shared", {"description": "pool"})
        pulumi.export("sg_id", sg.id)
        pulumi.export("secret", pulumi.Output.secret("base-secret"))

    def app() -> None:
        ref = pulumi.StackReference("organization/base-proj/base")
        pulumi.export("from_base", ref.get_output("sg_id"))
        pulumi.export("secret_from_base", ref.get_output("secret"))

    base_outputs = stack_for(fake_pulumi, base, "base", project="base-proj").up().outputs
    result = stack_for(fake_pulumi, app, "app").up()
    assert result.outputs["from_base"].value == base_outputs["sg_id"].value
    assert result.outputs["secret_from_base"].value == "base-secret"
    assert result.outputs["secret_from_base"].secret


def test_destroy_then_remove_leaves_no_checkpoint(fake_pulumi: FakePulumi) -> None:
    def program() -> None:
        pulumi.CustomResource(SG, "sg", {"description": "x"})

    stack = stack_for(fake_pulumi, program)
    stack.up()
    stack.workspace.set_tag("dev", "pool", "gpu")
    assert stack.workspace.list_tags("dev") == {"pool": "gpu", "pulumi:project": "proj"}
    with pytest.raises(auto.CommandError, match="still contains resources"):
        stack.workspace.remove_stack("dev")
    [summary] = stack.workspace.list_stacks()
    assert summary.name == "dev" and summary.resource_count == 3
    result = stack.destroy(remove=True)
    assert result.summary.resource_changes == {"delete": 2}
    assert fake_pulumi.cloud.objects() == []
    assert fake_pulumi.checkpoint("dev") is None
    assert stack.workspace.list_stacks() == []
    with pytest.raises(auto.StackNotFoundError):
        auto.select_stack("dev", project_name="proj", program=program,
                          opts=fake_pulumi.options())


def test_held_lock_is_a_concurrent_update_and_cancel_only_deletes_it(
        fake_pulumi: FakePulumi) -> None:
    fake_pulumi.cloud.set_delay(VM, create=3)

    def program() -> None:
        pulumi.CustomResource(VM, "slow", {"instanceType": "g5.xlarge"})

    stack = stack_for(fake_pulumi, program)
    thread, box = in_thread(stack.up)
    [lock] = wait_for(lambda: fake_pulumi.lock_files("dev"), "the lock")
    holder = json.loads(lock.read_text())
    other = stack_for(fake_pulumi, program)
    with pytest.raises(auto.ConcurrentUpdateError) as caught:
        other.up()
    message = str(caught.value)
    assert "the stack is currently locked by 1 lock(s)" in message
    assert f"(pid {holder['pid']})" in message and f"@{holder['hostname']} " in message
    assert holder["pid"] in fake_pulumi.children()

    other.cancel()  # deletes the live lock; the running update carries on
    assert fake_pulumi.lock_files("dev") == []
    thread.join(60)
    assert box["result"].summary.result == "succeeded"
    assert len(fake_pulumi.cloud.objects(type=VM)) == 1


def _start_slow_update(fake: FakePulumi) -> tuple[threading.Thread, dict[str, Any], int,
                                                  Events]:
    fake.cloud.set_delay(VM, create=2)

    def program() -> None:
        vm = pulumi.CustomResource(VM, "first", {"instanceType": "g5.xlarge", "id2": None})
        pulumi.CustomResource(SG, "after", {"description": vm.id})  # type: ignore[attr-defined]

    stack = stack_for(fake, program)
    events = Events()
    thread, box = in_thread(lambda: stack.up(on_event=events.append))
    wait_for(lambda: any(p["type"] == "creating" and VM in p["resource"]["urn"]
                         for p in fake.pending_operations("dev")), "the create in flight")
    [pid] = fake.children()
    return thread, box, pid, events


def test_first_signal_cancels_gracefully(fake_pulumi: FakePulumi) -> None:
    thread, box, pid, events = _start_slow_update(fake_pulumi)
    os.kill(pid, signal.SIGINT)
    thread.join(60)
    error = box["error"]
    assert isinstance(error, auto.CommandError) and "update canceled" in str(error)
    assert fake_pulumi.lock_files("dev") == []
    assert fake_pulumi.pending_operations("dev") == []
    urns = fake_pulumi.urns("dev")
    assert any(u.endswith(f"{VM}::first") for u in urns)  # the in-flight create finished
    assert not any(u.endswith("::after") for u in urns)  # no new step started
    assert fake_pulumi.cloud.objects(type=SG) == []
    assert events.ended()


SLOW_UP_SCRIPT = """
import json, sys
from pathlib import Path
import pulumi
from pulumi import automation as auto
from tests.fakes.engine.cloud import FakeCloud
from tests.fakes.engine.fixtures import FakePulumi
from tests.fakes.engine.install import ROOT

spec = json.loads(sys.argv[1])

def program():
    vm = pulumi.CustomResource(spec["vm"], "first", {"instanceType": "g5.xlarge", "id2": None})
    pulumi.CustomResource(spec["sg"], "after", {"description": vm.id})

fake = FakePulumi(Path(spec["exe"]), Path(spec["backend"]), Path(spec["work"]),
                  FakeCloud(spec["backend"]), spec["env"])
stack = auto.create_or_select_stack("dev", project_name="proj", program=program,
                                    opts=fake.options())
try:
    stack.up()
except auto.CommandError as exc:
    sys.exit(str(exc))
"""


def _drive_slow_update(fake: FakePulumi) -> tuple[subprocess.Popen[str], int]:
    """A child process runs the Automation API's `up`; returns it and the stand-in's pid once
    the slow create is in flight."""
    fake.cloud.set_delay(VM, create=2)
    spec = {"vm": VM, "sg": SG, "exe": str(fake.executable), "env": fake.env,
            "backend": str(fake.backend_dir), "work": str(fake.work_dir)}
    driver = subprocess.Popen([sys.executable, "-c", SLOW_UP_SCRIPT, json.dumps(spec)],
                              cwd=ROOT, env={**os.environ, **fake.env},
                              stderr=subprocess.PIPE, text=True)
    wait_for(lambda: any(p["type"] == "creating" for p in fake.pending_operations("dev")),
             "the create in flight")
    [pid] = fake.children(parent=driver.pid)
    return driver, pid


def test_second_signal_terminates_leaving_lock_and_pending_create(
        fake_pulumi: FakePulumi) -> None:
    # The Automation API runs in a child process here: a program whose engine vanishes
    # mid-call leaves the SDK's event loop behind in the process that ran it.
    driver, pid = _drive_slow_update(fake_pulumi)
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGTERM)
    _, stderr = driver.communicate(timeout=60)
    assert driver.returncode != 0 and "code: 255" in stderr
    assert len(fake_pulumi.lock_files("dev")) == 1
    [pending] = fake_pulumi.pending_operations("dev")
    assert pending["type"] == "creating" and pending["resource"]["urn"].endswith("::first")
    assert not any(u.endswith("::after") for u in fake_pulumi.urns("dev"))

    stack = auto.select_stack("dev", project_name="proj", program=lambda: None,
                              opts=fake_pulumi.options())
    stack.cancel()
    assert fake_pulumi.lock_files("dev") == []
    stack.refresh(clear_pending_creates=True)
    assert fake_pulumi.pending_operations("dev") == []


def test_language_host_gone_finishes_in_flight_steps_and_unlocks(
        fake_pulumi: FakePulumi) -> None:
    driver, pid = _drive_slow_update(fake_pulumi)
    driver.kill()  # the process running the Automation API (and the program) dies
    driver.communicate(timeout=60)
    wait_for(lambda: not _alive(pid), "the stand-in to finish")
    assert fake_pulumi.lock_files("dev") == []
    assert fake_pulumi.pending_operations("dev") == []
    urns = fake_pulumi.urns("dev")
    assert any(u.endswith(f"{VM}::first") for u in urns)
    assert not any(u.endswith("::after") for u in urns)
    stack = auto.select_stack("dev", project_name="proj", program=lambda: None,
                              opts=fake_pulumi.options())
    assert stack.info().result == "failed"


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_file_event_log_for_older_clis_ends_with_cancel_event(fake_pulumi: FakePulumi) -> None:
    def program() -> None:
        pulumi.CustomResource(SG, "sg", {"description": "x"})

    stack = stack_for(fake_pulumi, program)
    stack.workspace.pulumi_command.version = VersionInfo.parse("3.200.0")  # file, not gRPC
    events = Events()
    stack.up(on_event=events.append)
    assert events.ended()
    assert events[0].prelude_event is not None


def test_unimplemented_commands_say_so(fake_pulumi: FakePulumi) -> None:
    stack = stack_for(fake_pulumi, lambda: None)
    with pytest.raises(auto.CommandError, match=r"stand-in pulumi .* does not implement"):
        stack.preview()
