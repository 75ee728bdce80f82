"""Regression tests for the reviewer's findings on the cloud program (one block per finding)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from infra.engine.plan import GCP_PROJECT, run_plan
from infra.spec import build_spec

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
ROLE_PREFIX = "projects/placeholder-gcp-project-from-provider-config/roles/"


def plan_of(**kwargs):
    spec = build_spec(name=kwargs.pop("name", "gpu"), **kwargs)
    return run_plan([spec], clock=lambda: NOW, stack="test")


def of_type(plan, suffix):
    return {r["name"]: r["inputs"] for r in plan.resources if r["type"].endswith(suffix)}


# 1. A GCP VM always has a service account that may delete that VM and nothing else.
@pytest.mark.parametrize("identity", [None, "team@data.iam.gserviceaccount.com"])
def test_gcp_vm_may_delete_itself_only(identity):
    plan = plan_of(cloud="gcp", count=2, identity=identity)
    from infra.clouds.gcp_iam import account_id, role_id

    base = "cml-infra-base-gpu-gcp-us-east1"  # names follow the base stack, never a CI run
    email = identity or f"{account_id(base, 'gpu')}@{GCP_PROJECT}.iam.gserviceaccount.com"
    accounts = of_type(plan, "serviceaccount/account:Account")
    assert accounts == ({} if identity else {"gpu-base-sa": {
        "accountId": account_id(base, "gpu"), "displayName": "cml-infra runner pool gpu",
        "project": GCP_PROJECT}})
    assert of_type(plan, ":IAMCustomRole") == {"gpu-base-self-delete": {
        "roleId": role_id(base, "gpu"), "project": GCP_PROJECT, "stage": "GA",
        "permissions": ["compute.instances.delete", "compute.instances.get"],
        "title": "cml-infra self-delete (gpu)",
        "description": "Lets a cml-infra runner VM delete itself; granted per VM."}}
    for index, vm in enumerate(of_type(plan, "compute/instance:Instance").values()):
        assert vm["serviceAccount"] == {"email": email, "scopes": ["cloud-platform"]}
        assert of_type(plan, ":InstanceIAMMember")[f"gpu-{index}-self-delete"] == {
            "instanceName": f"gpu-{index}-vm", "zone": "us-east1-c", "project": GCP_PROJECT,
            "role": ROLE_PREFIX + role_id(base, "gpu"), "member": f"serviceAccount:{email}"}


def test_gcp_account_id_fits_for_a_long_pool_name():
    from infra.clouds.gcp_iam import account_id, role_id

    name = "a" * 15 + "-" + "b" * 24
    assert len(account_id("some-very-long-stack-name", name)) <= 30
    assert account_id("s1", name) != account_id("s2", name)
    assert account_id("s", name).rstrip("0123456789abcdef").endswith("a-")  # no "--"
    assert len(role_id("s", name)) <= 64


# 3. Idle mode reaches the startup script; GitHub cloud pools refuse it.
def test_idle_mode_reaches_the_startup_config_on_gitlab():
    from infra.engine.program import placeholder_registrar, startup_config

    spec = build_spec(name="gpu", cloud="aws", forge="gitlab", idle_mode=True)
    assert startup_config(spec, placeholder_registrar(spec, 0), "glrt-x").idle_mode is True
    plain = build_spec(name="gpu", cloud="aws", forge="gitlab")
    assert startup_config(plain, placeholder_registrar(plain, 0), "glrt-x").idle_mode is False


def test_idle_mode_is_refused_for_github_cloud_pools():
    from infra.errors import SpecError
    from infra.spec import spec_from_config

    message = ("Idle mode is not available for cloud runners on GitHub, whose single-use "
               "just-in-time registration takes one job; drop --idle-mode.")
    with pytest.raises(SpecError) as info:
        build_spec(cloud="gcp", idle_mode=True)
    assert str(info.value) == message
    with pytest.raises(SpecError) as info:
        spec_from_config({"name": "gpu", "cloud": "aws", "idleMode": True}, {})
    assert str(info.value) == message
    assert spec_from_config({"name": "gpu", "cloud": "aws", "forge": "gitlab",
                             "idleMode": True}, {}).idle_mode


# 4. The runner name always fits the startup script's 64 characters.
LONG_POOL = "p" * 39 + "x"
LONG_STACK = "organisation-production-eu-west-nightly-training"


@pytest.mark.parametrize(("pool", "stack", "index"), [
    (LONG_POOL, LONG_STACK, 49), (LONG_POOL, "dev", 0), ("gpu", LONG_STACK * 2, 7)])
def test_runner_name_fits_64_characters(pool, stack, index):
    from infra.engine.program import runner_name_prefix

    prefix = runner_name_prefix(pool, stack, index)
    assert len(f"{prefix}-abcdef") <= 64
    assert prefix.startswith(f"{pool}-") and prefix.endswith(f"-{index}")
    assert "--" not in prefix


def test_short_names_are_kept_and_long_stacks_stay_apart():
    from infra.engine.program import runner_name_prefix

    assert runner_name_prefix("gpu", "dev", 1) == "gpu-dev-1"
    assert runner_name_prefix(LONG_POOL, LONG_STACK, 0) != \
        runner_name_prefix(LONG_POOL, LONG_STACK + "-2", 0)


def test_long_pool_and_stack_render_a_valid_startup_script():
    """The placeholder has the real name shape, so a too-long name fails the dry run."""
    from infra.engine.program import placeholder_registrar, startup_config
    from infra.startup import render_startup_script

    spec = build_spec(name=LONG_POOL, cloud="aws", count=50)
    names = []

    def spy(spec, index):
        registration = placeholder_registrar(spec, index)
        names.append(registration.runner_name)
        render_startup_script(startup_config(spec, registration, "jit-config-blob"))
        return registration

    run_plan([spec], registrar=spy, clock=lambda: NOW, stack=LONG_STACK)
    assert len(names) == 50 and all(len(n) <= 64 for n in names)
    assert names[49].startswith(f"{LONG_POOL}-") and names[49].endswith("-49-000000")


# 5. A native type is looked up within the requested GPU family, with the requested count.
@pytest.mark.parametrize(("kwargs", "machine"), [
    ({"size": "n1-standard-8", "gpu_model": "v100"}, ("nvidia-tesla-v100", "v100", 1)),
    ({"size": "n1-standard-16", "gpu_model": "t4", "gpu_count": 2}, ("nvidia-tesla-t4", "t4", 2)),
    ({"size": "n1-standard-16", "gpu_model": "t4"}, ("nvidia-tesla-t4", "t4", 1)),
    ({"size": "g2-standard-24"}, (None, "l4", 2)),
    ({"size": "n1-standard-8"}, (None, None, 0)),
])
def test_native_gcp_type_takes_the_requested_gpu(kwargs, machine):
    got = build_spec(cloud="gcp", **kwargs).machine
    assert (got.accelerator, got.gpu_model, got.gpu_count) == machine


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"size": "n1-standard-16", "gpu_model": "t4", "gpu_count": 4},
     "Machine type n1-standard-16 takes t4 GPU counts 1, 2 on gcp, not 4; choose one of "
     "those GPU counts."),
    ({"size": "g2-standard-8", "gpu_model": "t4"},
     "Machine type g2-standard-8 comes with l4 GPUs, not t4; drop the GPU model or choose a "
     "type from: n1-standard-4, n1-standard-8, n1-standard-16, n1-standard-32, n1-standard-64."),
    ({"size": "n1-standard-2", "gpu_model": "t4", "gpu_count": 3},
     "t4 is attached on gcp in 1, 2, 4 GPUs per machine, not 3; choose one of those GPU counts."),
])
def test_native_type_conflicting_with_the_gpu_request_is_refused(kwargs, message):
    from infra.errors import SpecError

    with pytest.raises(SpecError) as info:
        build_spec(cloud="gcp", **kwargs)
    assert str(info.value) == message


def test_native_gcp_type_plans_the_requested_accelerator():
    plan = plan_of(cloud="gcp", size="n1-standard-16", gpu_model="t4", gpu_count=2)
    vm = of_type(plan, "compute/instance:Instance")["gpu-0-vm"]
    assert vm["guestAccelerators"] == [{"type": "nvidia-tesla-t4", "count": 2.0}]


# 6. The maximum runtime has an upper bound and the idle timeout a lower one, named as flags.
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_runtime": "100000h"},
     "--max-runtime (maxRuntime) may be at most 168h (7 days), not 100000h; lower it."),
    ({"max_runtime": "169h"},
     "--max-runtime (maxRuntime) may be at most 168h (7 days), not 169h; lower it."),
    ({"idle_timeout": "0s"},
     "--idle-timeout (idleTimeout) must be at least 1s; give a duration such as 5m."),
])
def test_durations_out_of_bounds_are_refused_naming_the_flag(kwargs, message):
    from infra.errors import SpecError

    with pytest.raises(SpecError) as info:
        build_spec(cloud="alicloud", **kwargs)
    assert str(info.value) == message


def test_a_week_of_runtime_is_allowed():
    assert build_spec(cloud="gcp", max_runtime="168h").max_runtime_s == 7 * 24 * 3600


# 7. A re-run keeps each machine's expiry: the expiry-bearing inputs are ignored after creation.
EXPECTED_IGNORED = {
    "aws:ec2/instance:Instance": ["tags", "volume_tags"],
    "alicloud:ecs/instance:Instance": ["tags", "volume_tags", "auto_release_time"],
    "gcp:compute/instance:Instance": ["labels", "bootDisk.initializeParams.labels"],
    "azure-native:compute:VirtualMachine": ["tags"],
    "azure-native:network:NetworkInterface": ["tags"],
    # The cloud-side deadlines: a re-run must not push them later either.
    "aws:scheduler/schedule:Schedule": ["schedule_expression"],
    "azure-native:devtestlab:GlobalSchedule": ["tags", "daily_recurrence"],
}


@pytest.mark.parametrize("cloud", ["aws", "alicloud", "gcp", "azure"])
def test_machines_ignore_later_changes_to_their_expiry(cloud):
    import pulumi

    from infra.engine.program import placeholder_registrar

    seen: dict[str, list[str] | None] = {}

    def spy(args):  # a stack transformation runs after the component's own
        seen[args.type_] = args.opts.ignore_changes
        return None

    def registrar(spec, index):
        pulumi.runtime.register_stack_transformation(spy)
        return placeholder_registrar(spec, index)

    run_plan([build_spec(name="gpu", cloud=cloud)], registrar=registrar, clock=lambda: NOW,
             stack="test")
    expected = {t: v for t, v in EXPECTED_IGNORED.items() if t.startswith(cloud)}
    assert expected and {t: seen[t] for t in expected} == expected


# 9. The plan shows where `up` creates each machine's registration, without any token.
def test_plan_lists_a_pseudo_registration_per_machine():
    from infra.engine.plan import render_json

    plan = plan_of(cloud="aws", count=2, repo="acme/models", labels="gpu")
    found = of_type(plan, "pulumi-python:dynamic:Resource")
    assert found == {f"gpu-{i}-registration": {
        "placeholder": "PLACEHOLDER: the forge runner registration created at deploy time",
        "forge": "github", "repo": "acme/models", "name_prefix": f"gpu-test-{i}",
        "labels": ["gpu"]} for i in range(2)}
    assert all("token" not in r["inputs"] for r in plan.resources) and "PLACEHOLDER-created" \
        not in render_json(plan)
