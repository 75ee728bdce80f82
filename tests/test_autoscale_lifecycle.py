"""A platform team's stack of autoscaled pools through `status`, `gc` and `down`, against the
stand-in Pulumi engine (which runs the real program, infra/__main__.py, with the stack's
config, and keeps state and locks) and the fake GitHub: status shows each pool and counts its
runners at the forge, gc never destroys the stack but clears a dead run's lock on it, and down
removes every resource it declared."""

from __future__ import annotations

import json
import runpy
import time
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.fakes.fixtures import GITHUB_PAT
from tests.lifecycle_world import World

pytest.importorskip("pulumi_kubernetes")

STACK = "platform"
POOLS = [
    {"name": "l4-train", "kind": "autoscale", "cloud": "gcp", "region": "us-east",
     "repo": "acme/models", "gpuModel": "l4", "maxRunners": 4, "credentials": "token",
     "cluster": {"name": "gpu-cluster", "context": "gke-gpu"}},
    {"name": "t4-eval", "kind": "autoscale", "cloud": "gcp", "region": "us-east",
     "repo": "acme/models", "gpuModel": "t4", "minRunners": 1, "maxRunners": 2,
     "credentials": "token", "gpuNodePool": "existing", "nodeSelector": {"pool": "t4"},
     "cluster": {"name": "gpu-cluster", "context": "gke-gpu"}},
]


@pytest.fixture
def world(fake_pulumi, github, tmp_path) -> World:  # type: ignore[no-untyped-def]
    return World(fake_pulumi, github, tmp_path)


def ok(result: Any) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return str(result.stdout)


def platform_stack(world: World, pools: list[dict[str, Any]], token: str,
                   api_url: str) -> Any:
    """The platform stack, configured: the project's program with the stack's config."""
    from pulumi import automation as auto

    stack = auto.create_or_select_stack(
        stack_name=STACK, project_name="cml-infra",
        program=lambda: runpy.run_path(str(ROOT / "infra" / "__main__.py")),
        opts=world.fake.options("cml-infra"))
    stack.set_config("cml-infra:pools", auto.ConfigValue(json.dumps(pools)))
    stack.set_config("cml-infra:forgeToken", auto.ConfigValue(token, secret=True))
    stack.set_config("cml-infra:forgeApiUrl", auto.ConfigValue(api_url))
    return stack


def deploy(world: World) -> Any:
    """`pulumi up` of the GitHub platform stack."""
    stack = platform_stack(world, POOLS, GITHUB_PAT, world.github.api_url)
    stack.up(on_output=lambda line: None)
    return stack


def test_status_gc_and_down_cover_a_stack_of_autoscaled_pools(world: World) -> None:
    deploy(world)
    declared = world.resources(STACK)
    types = {r["type"] for r in declared}
    assert {"kubernetes:helm.sh/v3:Release", "gcp:container/nodePool:NodePool",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy"} <= types
    runners = world.forge_runners()
    for number, (name, status, busy) in enumerate([
            ("l4-train-7x2kq-runner-b9w4c", "online", True),   # ARC's runner of a scale set
            ("l4-train-7x2kq-runner-m3d8s", "online", False),
            ("t4-eval-q8v2n-runner-x1y2z", "offline", False),
            ("l4-training-a1b2c-runner-d3e4f", "online", True),  # another scale set's
    ], 900):
        runners[number] = {"id": number, "name": name, "status": status, "busy": busy,
                           "labels": [], "runner_group_id": 1, "os": "Linux"}

    status = json.loads(ok(world.cli("status", "--json", run=None)))
    [platform] = [s for s in status["stacks"] if s["name"] == STACK]
    assert platform["kind"] == "runner" and platform["machines"] == []
    pool = platform["autoscaled"]["l4-train"]
    assert {k: pool[k] for k in ("cloud", "region", "cluster", "namespace", "gpu", "gpu_count",
                                 "min_runners", "max_runners", "forge", "repo")} == {
        "cloud": "gcp", "region": "us-east1", "cluster": "gpu-cluster",
        "namespace": "cml-l4-train", "gpu": "l4", "gpu_count": 1, "min_runners": 0,
        "max_runners": 4, "forge": "github", "repo": "acme/models"}
    assert pool["runners"] == {"busy": 1, "online": 1}
    assert platform["autoscaled"]["t4-eval"]["runners"] == {"offline": 1}
    text = ok(world.cli("status", run=None))
    assert f"runner {STACK}  2 autoscaled pool(s)" in text
    assert ("  l4-train  autoscaled: gcp us-east1 cluster gpu-cluster namespace cml-l4-train, "
            "1 l4 GPU(s) a job, 0-4 runners, github acme/models: 1 busy, 1 online") in text
    without_token = ok(world.cli("status", run=None, REPO_TOKEN=None))  # type: ignore[arg-type]
    assert "github acme/models: runners unknown" in without_token

    # gc: the stack outlives every sweep, dry or not, however old
    time.sleep(1.1)
    dry = json.loads(ok(world.cli("gc", "--dry-run", "--json", "--grace", "0s", run=None)))
    assert not [a for a in dry["actions"] if a["target"] == STACK]
    ok(world.cli("gc", "--grace", "0s", run=None))
    assert STACK in world.stacks()
    assert len(world.resources(STACK)) == len(declared)

    # a run killed while updating it left its lock: gc clears it, and keeps the stack
    folder = world.fake.backend_dir / ".pulumi/locks/organization/cml-infra" / STACK
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dead.json").write_text(json.dumps({
        "pid": 999999, "username": "ci", "hostname": "other-runner",
        "timestamp": "2026-01-01T00:00:00Z"}))
    out = ok(world.cli("gc", "--grace", "0s", run=None))
    assert f"clear the lock of stack {STACK}: its run is dead" in out
    assert world.locks(STACK) == [] and STACK in world.stacks()
    assert len(world.resources(STACK)) == len(declared)

    # down removes all of it: releases, node pool, policy, secret, namespace
    out = ok(world.cli("down", STACK, run=None))
    assert f"stack {STACK}: removed" in out
    assert STACK not in world.stacks()
    left = [o for o in world.fake.cloud.objects() if o.get("stack") == STACK]
    assert left == []


def test_gc_keeps_an_autoscale_stack_whose_outputs_were_never_written(world: World) -> None:
    stack = deploy(world)
    # as if its first update had died before writing outputs: state without them
    state = stack.export_stack()
    deployment = state.deployment
    for resource in deployment["resources"]:
        if resource["type"] == "pulumi:pulumi:Stack":
            resource["outputs"] = {}
    stack.import_stack(state)
    time.sleep(1.1)
    out = ok(world.cli("gc", "--grace", "0s", run=None))
    assert "destroy stack" not in out
    assert STACK in world.stacks()


def test_a_gitlab_pool_runner_is_created_with_the_stack_and_deleted_with_it(
        world: World, gitlab_fake) -> None:  # type: ignore[no-untyped-def]

    from tests.fakes.fixtures import GITLAB_TOKEN

    pools = [{"name": "l4-gl", "kind": "autoscale", "forge": "gitlab", "cloud": "gcp",
              "region": "us-east", "repo": "acme/models", "gpuModel": "l4", "maxRunners": 2,
              "labels": ["gpu", "l4"], "gpuNodePool": "existing",
              "nodeSelector": {"pool": "l4"},
              "cluster": {"name": "gpu-cluster", "context": "gke-gpu"}}]
    stack = platform_stack(world, pools, GITLAB_TOKEN, gitlab_fake.api_url)
    stack.up(on_output=lambda line: None)
    [runner] = gitlab_fake.runners.values()
    assert runner["description"].startswith(f"l4-gl-{STACK}-0-")
    assert sorted(runner["tag_list"]) == ["gpu", "l4"]
    runner["status"] = "online"
    env = {"REPO_TOKEN": GITLAB_TOKEN, "CI_API_V4_URL": gitlab_fake.api_url,
           "CI_SERVER_URL": gitlab_fake.server.url}
    status = json.loads(ok(world.cli("status", "--json", run=None, **env)))
    [platform] = [s for s in status["stacks"] if s["name"] == STACK]
    assert platform["autoscaled"]["l4-gl"]["runners"] == {"online": 1}
    # gc of the project's runners leaves the pool's runner: its stack owns it
    ok(world.cli("gc", "--name", "l4-gl", run=None, **env))
    assert len(gitlab_fake.runners) == 1
    ok(world.cli("down", STACK, run=None, **env))
    assert gitlab_fake.runners == {} and STACK not in world.stacks()


@pytest.mark.parametrize("owner", [True, False])
def test_a_gitlab_group_pool_gets_a_group_runner_that_down_deletes(
        world: World, gitlab_fake, owner: bool) -> None:  # type: ignore[no-untyped-def]
    from pulumi import automation as auto

    from tests.fakes.fixtures import GITLAB_TOKEN

    group = gitlab_fake.add_group("acme/ml", owner=owner)
    pools = [{"name": "ml-gpu", "kind": "autoscale", "forge": "gitlab", "cloud": "gcp",
              "region": "us-east", "organization": "acme/ml", "gpuModel": "l4",
              "maxRunners": 2, "gpuNodePool": "existing", "nodeSelector": {"pool": "l4"},
              "cluster": {"name": "gpu-cluster", "context": "gke-gpu"}}]
    stack = platform_stack(world, pools, GITLAB_TOKEN, gitlab_fake.api_url)
    if not owner:
        with pytest.raises(auto.CommandError) as caught:
            stack.up(on_output=lambda line: None)
        assert ("GitLab refused to create a runner in group "
                f"{group.id}; the token needs the create_runner scope and the group's Owner "
                "role.") in str(caught.value)
        assert gitlab_fake.runners == {}
        return
    stack.up(on_output=lambda line: None)
    [runner] = gitlab_fake.runners.values()
    assert (runner["group_id"], runner["project_id"]) == (group.id, None)
    runner["status"] = "online"
    env = {"REPO_TOKEN": GITLAB_TOKEN, "CI_API_V4_URL": gitlab_fake.api_url,
           "CI_SERVER_URL": gitlab_fake.server.url}
    status = json.loads(ok(world.cli("status", "--json", run=None, **env)))
    [platform] = [s for s in status["stacks"] if s["name"] == STACK]
    assert platform["autoscaled"]["ml-gpu"]["runners"] == {"online": 1}
    ok(world.cli("down", STACK, run=None, **env))
    assert gitlab_fake.runners == {} and STACK not in world.stacks()
