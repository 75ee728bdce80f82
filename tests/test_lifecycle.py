"""The runner lifecycle end to end: `up`, `down`, `status`, `gc`, failures and cancellation,
run as a CI job would against the stand-in Pulumi engine (which runs the program and keeps
state and locks) and the fake GitHub, asserting what is left in the state, the fake cloud, the
lock files and at the forge."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.fakes.fixtures import GITHUB_PAT
from tests.lifecycle_world import UP, Booter, World, wait_for

BASE = "cml-infra-base-cml-runner-aws-us-east-1"
VPC = "aws:ec2/vpc:Vpc"


@pytest.fixture
def world(fake_pulumi, github, tmp_path) -> World:  # type: ignore[no-untyped-def]
    return World(fake_pulumi, github, tmp_path)


def ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, result.stdout + result.stderr
    return str(result.stdout)


def test_two_runs_share_one_base_and_down_removes_only_its_run(world: World) -> None:
    ok(world.cli(*UP, "--no-wait", run="101"))
    second = ok(world.cli(*UP, "--no-wait", run="102"))
    assert f"base {BASE}: in place, reused" in second
    assert world.stacks() == [BASE, "cml-runner-gh-101", "cml-runner-gh-102"]
    assert len(world.fake.cloud.objects(VPC)) == 1 and len(world.machines()) == 2
    assert len(world.forge_runners()) == 2
    status = json.loads(ok(world.cli("status", "--json")))
    base = next(s for s in status["stacks"] if s["kind"] == "base")
    assert base["used_by"] == ["cml-runner-gh-101", "cml-runner-gh-102"]
    runner = next(s for s in status["stacks"] if s["name"] == "cml-runner-gh-101")
    assert runner["pools"]["cml-runner"]["cloud"] == "aws"
    assert [m["forge_state"] for m in runner["machines"]] == ["offline"]
    assert runner["machines"][0]["machine_type"] == "g4dn.xlarge"

    out = ok(world.cli("down", run="101"))
    assert "Removed 1 stack(s): cml-runner-gh-101." in out
    assert world.stacks() == [BASE, "cml-runner-gh-102"]
    assert len(world.machines()) == 1 and len(world.forge_runners()) == 1
    assert world.locks("cml-runner-gh-101") == []


def test_two_racing_runs_create_the_base_once(world: World) -> None:
    world.fake.cloud.set_delay(VPC, create=1.0)
    first, second = world.start(*UP, "--no-wait", run="201"), \
        world.start(*UP, "--no-wait", run="202")
    outputs = [process.communicate(timeout=180)[0] for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert len(world.fake.cloud.objects(VPC)) == 1
    assert len(world.machines()) == 2 and len(world.forge_runners()) == 2
    # Both ran on one machine with one home: each had workspace folders of its own, gone now.
    assert list((world.tmp / "home" / "workspaces").glob("run-*")) == []


def test_down_on_another_machine_than_up(world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """In CI the always-run job is a fresh machine: nothing of up's home is there."""
    ok(world.cli(*UP, "--no-wait", run="211"))
    ok(world.cli("down", run="211", CML_INFRA_HOME=str(tmp_path / "another-machine")))
    assert world.stacks() == [BASE] and world.forge_runners() == {}


def test_down_of_a_self_deleted_and_of_a_missing_stack_ends_well(world: World) -> None:
    ok(world.cli(*UP, "--no-wait", run="301"))
    [machine] = world.machines()
    world.fake.cloud.delete(machine["id"])  # the machine ended itself after its job
    out = ok(world.cli("down", run="301"))
    assert "Removed 1 stack(s)" in out and world.stacks() == [BASE]
    assert world.forge_runners() == {}
    again = ok(world.cli("down", run="301"))
    assert "not found; nothing to remove" in again and "nothing to remove." in again


def test_down_base_is_refused_while_a_runner_stack_uses_it(world: World) -> None:
    ok(world.cli(*UP, "--no-wait", run="401"))
    refused = world.cli("down", "--base", BASE)
    assert refused.returncode == 1
    assert "is used by 1 runner stack(s) (cml-runner-gh-401)" in refused.stderr
    ok(world.cli("down", run="401"))
    ok(world.cli("down", "--base", BASE))
    assert world.stacks() == [] and world.fake.cloud.objects() == []


def test_down_refuses_a_base_given_as_a_runner_stack(world: World) -> None:
    ok(world.cli(*UP, "--no-wait", run="402"))
    result = world.cli("down", BASE)
    assert result.returncode == 1 and "is a pool base" in result.stderr
    assert BASE in world.stacks()


def test_gc_takes_exactly_the_expired_and_the_orphaned(world: World) -> None:
    ok(world.cli(*UP, "--no-wait", "--idle-timeout", "1s", "--max-runtime", "2s", run="501"))
    ok(world.cli(*UP, "--no-wait", run="502"))  # its machine deletes itself
    ok(world.cli(*UP, "--no-wait", run="503"))  # alive
    gone = next(m for m in world.machines() if m["stack"] == "cml-runner-gh-502")
    world.fake.cloud.delete(gone["id"])
    ghost = max(world.forge_runners()) + 1000
    world.forge_runners()[ghost] = {"id": ghost, "name": "cml-runner-cml-runner-gh-9-0-abcdef",
                                    "status": "offline", "labels": [], "runner_group_id": 1}
    time.sleep(2.5)  # let run 501's machines pass their expiry
    dry = json.loads(ok(world.cli("gc", "--dry-run", "--json", "--grace", "0s", run=None)))
    assert [(a["kind"], a["target"]) for a in dry["actions"]] == [
        ("destroy", "cml-runner-gh-501"),
        ("delete-runner", f"cml-runner-cml-runner-gh-9-0-abcdef (id {ghost})")]
    assert len(world.stacks()) == 4, "a dry run changes nothing"
    out = ok(world.cli("gc", "--grace", "0s", run=None))
    assert "destroy stack cml-runner-gh-501: expired at" in out
    assert "destroy stack cml-runner-gh-502: its machines are gone" in out
    assert world.stacks() == [BASE, "cml-runner-gh-503"]
    names = sorted(r["name"] for r in world.forge_runners().values())
    assert len(names) == 1 and names[0].startswith("cml-runner-cml-runner-gh-503-0-")


def test_failed_update_destroys_its_stack_and_says_why(world: World) -> None:
    world.fake.cloud.fail("InvalidParameterValue: bad AMI", type="aws:ec2/instance:Instance",
                          times=None)
    result = world.cli(*UP, "--no-wait", run="601")
    assert result.returncode == 1
    assert "Pulumi could not update stack cml-runner-gh-601 (" in result.stderr
    assert "bad AMI" in result.stderr
    assert "it was destroyed and nothing is left." in result.stderr
    assert world.stacks() == [BASE] and world.forge_runners() == {}
    assert world.machines() == []


def test_spot_shortage_in_the_only_zone_is_retried_on_demand(world: World) -> None:
    world.fake.cloud.fail("InsufficientInstanceCapacity: no spot g4dn",
                          type="aws:ec2/instance:Instance", times=1)
    out = ok(world.cli(*UP, "--spot", "--no-wait", run="602"))
    assert "pool cml-runner: no spot capacity for g4dn.xlarge in us-east-1a; running it on " \
        "demand in us-east-1a; on demand can cost up to 10x the spot price" in out
    [machine] = world.machines()
    assert "instanceMarketOptions" not in machine["inputs"]
    assert len(world.forge_runners()) == 1


def test_spot_shortage_moves_to_the_next_zone_before_paying_on_demand(world: World) -> None:
    """The base has a subnet in each zone that sells the type (the fake region: b and c)."""
    up = [word for word in UP if word not in ("--zone", "us-east-1a")]
    world.fake.cloud.fail("InsufficientInstanceCapacity: no spot g4dn in us-east-1b",
                          type="aws:ec2/instance:Instance", times=1)
    out = ok(world.cli(*up, "--spot", "--no-wait", run="603"))
    assert "pool cml-runner: no spot capacity for g4dn.xlarge in us-east-1b; trying " \
        "us-east-1c" in out and "on demand" not in out
    subnets = {o["inputs"]["availabilityZone"]: o["id"]
               for o in world.fake.cloud.objects("aws:ec2/subnet:Subnet")}
    assert sorted(subnets) == ["us-east-1b", "us-east-1c"]
    [machine] = world.machines()
    assert "instanceMarketOptions" in machine["inputs"]
    assert machine["inputs"]["subnetId"] == subnets["us-east-1c"]
    assert len(world.forge_runners()) == 1


def test_the_token_reaches_no_engine_process(world: World) -> None:
    ok(world.cli(*UP, "--no-wait", run="701"))
    ok(world.cli("status", run="701"))
    ok(world.cli("down", run="701"))
    calls = world.calls()
    assert {call["argv"][0] for call in calls} >= {"version"}
    assert any("up" in call["argv"] for call in calls)
    for call in calls:
        assert not [k for k in ("REPO_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN") if k in
                    call["env"]], call["argv"]
        assert GITHUB_PAT not in json.dumps(call)


def test_all_missing_prerequisites_are_named_at_once(world: World) -> None:
    result = world.cli(*UP, run="801", PATH="/usr/bin:/bin", PULUMI_CONFIG_PASSPHRASE="",
                       REPO_TOKEN="")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    for part in ("install the Pulumi CLI", "PULUMI_CONFIG_PASSPHRASE", "REPO_TOKEN"):
        assert part in result.stderr
    assert world.github.server.log == [] and world.calls() == []


def test_token_flag_is_refused_for_up(world: World) -> None:
    result = world.cli(*UP, "--token", GITHUB_PAT, run="802")
    assert result.returncode == 1
    assert "does not take --token" in result.stderr and GITHUB_PAT not in result.stderr
    assert world.calls() == []


def test_engine_failing_before_any_event_shows_why(world: World) -> None:
    ok(world.cli(*UP, "--no-wait", run="803"))
    result = world.cli(*UP, "--no-wait", run="803", PULUMI_CONFIG_PASSPHRASE="wrong")
    assert result.returncode == 1
    assert "passphrase" in result.stderr.lower() and "Traceback" not in result.stderr


def test_up_waits_for_the_runners_to_come_online(world: World) -> None:
    booter = Booter(world)
    booter.start()
    try:
        out = ok(world.cli(*UP, "--wait-timeout", "60s", run="901"))
    finally:
        booter.stop.set()
    assert "all 1 runners are online" in out


def test_a_runner_that_never_comes_online_is_named_and_removed(world: World) -> None:
    result = world.cli(*UP, "--wait-timeout", "2s", run="902")
    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if "is not online" in line]
    assert "aws ec2 get-console-output --region us-east-1 --instance-id i-" in line
    assert "were not online after 2s" in result.stderr
    assert "it was destroyed and nothing is left." in result.stderr
    assert world.stacks() == [BASE] and world.forge_runners() == {}


def test_githubs_cancel_sequence_then_down_leaves_nothing(world: World) -> None:
    """SIGINT, SIGTERM 7.5 s later, SIGKILL of the process group 2.5 s after that, while the
    machine is being created; then the always-run job's `down`."""
    world.fake.cloud.set_delay("aws:ec2/instance:Instance", create=15.0)
    up = world.start(*UP, "--no-wait", run="1001")
    wait_for(lambda: any(o["type"] == "aws:ec2/instance:Instance" for o in
                         world.fake.cloud.objects()) or _creating(world, "cml-runner-gh-1001"),
             timeout=120)
    os.kill(up.pid, signal.SIGINT)
    time.sleep(7.5)
    if up.poll() is None:
        os.kill(up.pid, signal.SIGTERM)
        time.sleep(2.5)
    if up.poll() is None:
        os.killpg(up.pid, signal.SIGKILL)
    up.communicate(timeout=30)
    out = ok(world.cli("down", "--lock-wait", "60s", run="1001"))
    assert "cml-runner-gh-1001" in out
    assert "cml-runner-gh-1001" not in world.stacks()
    assert world.forge_runners() == {}
    assert world.locks("cml-runner-gh-1001") == []
    assert [m for m in world.machines() if m["stack"] == "cml-runner-gh-1001"] == []


def _creating(world: World, stack: str) -> bool:
    return any("aws:ec2/instance:Instance" in str(op) for op in
               world.fake.pending_operations(stack, "cml-infra"))


def test_gitlabs_sigterm_to_the_job_group_cleans_up_within_its_grace(world: World) -> None:
    """GitLab's shell executor sends SIGTERM to the job's process group and waits (10
    minutes by default) before killing it: the clean-up finishes in that time."""
    world.fake.cloud.set_delay("aws:ec2/instance:Instance", create=3.0)
    up = world.start(*UP, "--no-wait", run=None, CI_PIPELINE_ID="77")
    wait_for(lambda: _creating(world, "cml-runner-gl-77"), timeout=120)
    os.killpg(up.pid, signal.SIGTERM)
    out, _ = up.communicate(timeout=120)
    assert up.returncode == 130, out
    assert "SIGTERM received; cancelling" in out
    assert "Stack cml-runner-gl-77 was cancelled; it was destroyed and nothing is left." in out
    assert world.stacks() == [BASE] and world.forge_runners() == {}
    assert world.locks("cml-runner-gl-77") == [] and world.machines() == []


def test_gc_clears_the_lock_of_a_dead_run_and_skips_a_live_one(world: World) -> None:
    ok(world.cli(*UP, "--no-wait", "--idle-timeout", "1s", "--max-runtime", "2s", run="511"))
    ok(world.cli(*UP, "--no-wait", run="512"))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for run, at in (("511", "2026-01-01T00:00:00Z"), ("512", now)):
        folder = world.fake.backend_dir / ".pulumi/locks/organization/cml-infra" / \
            f"cml-runner-gh-{run}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "other.json").write_text(json.dumps({
            "pid": 999999, "username": "ci", "hostname": "other-runner", "timestamp": at}))
    time.sleep(2.5)
    out = ok(world.cli("gc", "--grace", "0s", run=None))
    assert "clear the lock of stack cml-runner-gh-511: its run is dead" in out
    assert "destroy stack cml-runner-gh-511: expired at" in out
    assert "skip stack cml-runner-gh-512: in use by ci@other-runner (pid 999999)" in out
    assert world.stacks() == [BASE, "cml-runner-gh-512"]
    assert world.locks("cml-runner-gh-511") == [] and len(world.locks("cml-runner-gh-512")) == 1


def test_gitlab_pipeline_up_status_gc_down(world: World, gitlab_fake) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.fixtures import GITLAB_TOKEN

    env = {"REPO_TOKEN": GITLAB_TOKEN, "CI_API_V4_URL": gitlab_fake.api_url,
           "CI_SERVER_URL": gitlab_fake.server.url, "CI_PIPELINE_ID": "4242"}
    up = ("up", "--cloud", "aws", "--gpu", "--zone", "us-east-1a", "--forge", "gitlab",
          "--repo", "acme/models", "--gitlab-runner-sha256", "ab" * 32, "--no-wait")
    ok(world.cli(*up, run=None, **env))
    [runner] = gitlab_fake.runners.values()
    assert runner["description"].startswith("cml-runner-cml-runner-gl-4242-0-")
    runner["status"] = "online"
    status = json.loads(ok(world.cli("status", "--json", run=None, **env)))
    stack = next(s for s in status["stacks"] if s["name"] == "cml-runner-gl-4242")
    assert [m["forge_state"] for m in stack["machines"]] == ["online"]
    ghost = gitlab_fake.next_id()
    gitlab_fake.runners[ghost] = {"id": ghost, "project_id": runner["project_id"],
                                  "description": "cml-runner-cml-runner-gl-1-0-0a0b0c",
                                  "token": "glrt-ghost", "status": "offline"}
    out = ok(world.cli("gc", run=None, **env))
    assert f"delete forge runner cml-runner-cml-runner-gl-1-0-0a0b0c (id {ghost})" in out
    assert set(gitlab_fake.runners) == {runner["id"]}
    ok(world.cli("down", run=None, **env))
    assert gitlab_fake.runners == {} and world.stacks() == [BASE]


def test_gc_leaves_the_runners_of_a_running_up_alone(world: World) -> None:
    world.fake.cloud.set_delay("aws:ec2/instance:Instance", create=6.0)
    up = world.start(*UP, "--no-wait", run="521")
    wait_for(lambda: _creating(world, "cml-runner-gh-521"), timeout=120)
    assert len(world.forge_runners()) == 1  # registered, offline, no outputs yet
    out = ok(world.cli("gc", "--grace", "0s", run=None))
    assert "delete forge runner" not in out
    up.communicate(timeout=120)
    assert up.returncode == 0
    assert len(world.forge_runners()) == 1 and len(world.machines()) == 1


def test_a_base_made_for_other_settings_is_refused_not_reshaped(world: World) -> None:
    ok(world.cli(*UP, "--no-wait", run="531"))
    before = world.fake.cloud.objects("aws:ec2/subnet:Subnet")
    other = [word if word != "us-east-1a" else "us-east-1b" for word in UP]
    result = world.cli(*other, "--no-wait", run="532")
    assert result.returncode == 1 and "was made for other settings" in result.stderr
    assert world.fake.cloud.objects("aws:ec2/subnet:Subnet") == before
    assert world.stacks() == [BASE, "cml-runner-gh-531"]


def test_down_base_refuses_a_runner_stack_and_down_finds_earlier_attempts(world: World) -> None:
    ok(world.cli(*UP, "--no-wait", run="541", GITHUB_RUN_ATTEMPT="1"))
    refused = world.cli("down", "--base", "cml-runner-gh-541-1")
    assert refused.returncode == 1 and "is not a pool base" in refused.stderr
    out = ok(world.cli("down", run="541", GITHUB_RUN_ATTEMPT="2"))
    assert "Removed 1 stack(s): cml-runner-gh-541-1." in out
    assert world.stacks() == [BASE] and world.forge_runners() == {}


def test_unreadable_stacks_are_never_destroyed(world: World) -> None:
    ok(world.cli(*UP, "--no-wait", run="551"))
    result = world.cli("gc", "--grace", "0s", run=None, PULUMI_CONFIG_PASSPHRASE="other")
    assert result.returncode == 1
    assert "cml-runner-gh-551" in result.stdout and "outputs cannot be read" in result.stdout
    status = world.cli("status", run=None, PULUMI_CONFIG_PASSPHRASE="other")
    assert status.returncode == 1 and "could not be read" in status.stderr
    assert "cml-runner-gh-551" in world.stacks() and len(world.machines()) == 1


def test_down_deletes_registrations_with_a_fresh_token_after_the_first_expired(
        world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ok(world.cli(*UP, "--no-wait", run="561"))
    del world.github.tokens[GITHUB_PAT]  # the token of `up` has expired
    stale = world.cli("down", run="561", REPO_TOKEN="")
    assert stale.returncode == 1 and "resources are left in cml-runner-gh-561" in stale.stderr
    assert len(world.forge_runners()) == 1
    fresh = "ghp_" + "n" * 36
    world.github.tokens[fresh] = "pat"
    token_file = tmp_path / "token"
    token_file.write_text(fresh)  # printf '%s': a line break is refused
    out = ok(world.cli("down", "--token-file", str(token_file), run="561", REPO_TOKEN=""))
    assert "deleted with the token given now" in out and fresh not in out
    assert world.forge_runners() == {} and world.stacks() == [BASE]


@pytest.mark.parametrize("how", ["api-variable", "repo-url", "repo-url-and-api-variable"])
def test_gc_repo_sweeps_the_ghosts_of_a_repository_no_stack_names(world: World, how: str) -> None:
    """`gc --repo` with a token: the API root is GITHUB_API_URL's, else the repository URL's
    forge's (never a bare '/api/v3'), for the dry run and the real sweep."""
    ghost = max(world.forge_runners(), default=0) + 1000
    world.forge_runners()[ghost] = {"id": ghost, "name": "cml-runner-cml-runner-gh-7-0-abcdef",
                                    "status": "offline", "labels": [], "runner_group_id": 1}
    repo = "acme/models" if how == "api-variable" else f"{world.github.server.url}/acme/models"
    extra = {"GITHUB_API_URL": None} if how == "repo-url" else {}
    dry = world.cli("gc", "--repo", repo, "--dry-run", "--json", run=None, **extra)
    actions = json.loads(ok(dry))["actions"]
    assert [(a["kind"], a["target"]) for a in actions] == [
        ("delete-runner", f"cml-runner-cml-runner-gh-7-0-abcdef (id {ghost})")]
    assert ghost in world.forge_runners(), "a dry run deletes nothing"
    out = ok(world.cli("gc", "--repo", repo, run=None, **extra))
    assert "delete forge runner cml-runner-cml-runner-gh-7-0-abcdef" in out
    assert ghost not in world.forge_runners()
