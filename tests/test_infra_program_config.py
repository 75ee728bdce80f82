"""`pulumi up` from the repository: infra/__main__.py reads the pools from stack config."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pulumi
import pytest
import yaml

from infra.engine.plan import PROJECT, Plan
from infra.errors import SpecError
from tests.conftest import ROOT
from tests.register_mocks import TOKEN, ForgeMocks, fake_bases

EXAMPLE = ROOT / "examples" / "Pulumi.dev.yaml"


def run_main(config: dict[str, str]) -> Plan:
    record = Plan()
    pulumi.runtime.set_all_config({"cml-infra:forgeToken": TOKEN, **config})
    try:
        mocks = ForgeMocks(record, fake_bases("train-l4", "eval-t4", "p1"))
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", preview=False)
        pulumi.runtime.test(lambda: runpy.run_path(str(ROOT / "infra" / "__main__.py")))()
    finally:
        pulumi.runtime.set_all_config({})
    return record


def example_config() -> dict[str, str]:
    values = yaml.safe_load(Path(EXAMPLE).read_text())["config"]
    return {key: json.dumps(value) if not isinstance(value, str) else value
            for key, value in values.items()}


def test_example_stack_builds_both_pools():
    plan = run_main(example_config())
    components = sorted((r["type"], r["name"]) for r in plan.resources
                        if r["type"].startswith("cml-infra:"))
    assert components == [("cml-infra:clouds:AwsRunner", "train-l4-0"),
                          ("cml-infra:clouds:GcpRunner", "eval-t4-0"),
                          ("cml-infra:clouds:GcpRunner", "eval-t4-1")]
    refs = {r["name"]: r["inputs"] for r in plan.reads}
    assert refs == {"train-l4-base-ref": {"name": "cml-infra-base-train-l4-aws-us-east-1"},
                    "eval-t4-base-ref": {"name": "cml-infra-base-eval-t4-gcp-europe-west4"}}
    aws_vm = aws_vm_of(plan)
    assert aws_vm["subnetId"] == "train-l4-base-subnet_id"
    assert aws_vm["instanceType"] == "g6.xlarge" and aws_vm["iamInstanceProfile"] \
        == "cml-training-data"


def aws_vm_of(plan: Plan) -> dict:
    return next(r for r in plan.resources if r["name"] == "train-l4-0-vm")["inputs"]


def test_base_kind_builds_only_the_bases_and_exports_them():
    plan = run_main({**example_config(), "cml-infra:kind": "base"})
    components = sorted((r["type"], r["name"]) for r in plan.resources
                        if r["type"].startswith("cml-infra:"))
    assert components == [("cml-infra:clouds:AwsBase", "train-l4-base"),
                          ("cml-infra:clouds:GcpBase", "eval-t4-base")]
    assert not [r for r in plan.resources if r["type"] == "pulumi-python:dynamic:Resource"]


def test_a_pool_may_name_its_base_stack():
    pools = json.loads(example_config()["cml-infra:pools"])
    pools[0]["base"] = "platform-bases-prod"
    plan = run_main({**example_config(), "cml-infra:pools": json.dumps(pools)})
    assert {r["name"]: r["inputs"]["name"] for r in plan.reads}["train-l4-base-ref"] \
        == "platform-bases-prod"


def test_unknown_kind_is_one_sentence():
    with pytest.raises(SpecError, match=r"^cml-infra:kind is 'both'; set it to runner or base"):
        run_main({**example_config(), "cml-infra:kind": "both"})


def test_bad_pool_in_config_is_the_cli_sentence():
    config = {"cml-infra:pools": json.dumps([{"name": "p1", "cloud": "azure", "gpuModel": "l4"}])}
    with pytest.raises(SpecError) as info:
        run_main(config)
    assert str(info.value) == ("GPU model l4 is not offered on azure; choose one of: t4, a10, "
                               "a100, a100-80gb, h100.")


def test_pulumi_up_refuses_pools_of_two_forges_in_one_runner_stack():
    pools = json.loads(example_config()["cml-infra:pools"])
    pools[1].update(forge="gitlab", repo="ml/eval")
    with pytest.raises(SpecError) as info:
        run_main({**example_config(), "cml-infra:pools": json.dumps(pools)})
    assert str(info.value).startswith("The pools of one runner stack share one forge token, "
                                      "but 'train-l4' (github at https://github.com), "
                                      "'eval-t4' (gitlab at https://gitlab.com) register")


def test_pulumi_yaml_points_at_infra():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["main"] == "infra/" and project["name"] == PROJECT


# Each project default, with a value Pulumi hands over (a string) that is not of its type.
BAD_DEFAULTS = {
    "defaultCloud": ("moon", "cml-infra:defaultCloud must be one of aws, gcp, azure, alicloud, "
                             "not the string 'moon'."),
    "defaultRegion": ("mars", "Unknown region mars for aws; use a portable region (us-east, "
                              "us-west, eu-west, eu-north, ap-southeast) or a native one such as "
                              "us-east-1."),
    "maxRuntime": ("300", "cml-infra:maxRuntime must be a duration such as 30s, 5m or 2h, not "
                          "the string '300'."),
    "idleTimeout": ("5 minutes", "cml-infra:idleTimeout must be a duration such as 30s, 5m or "
                                 "2h, not the string '5 minutes'."),
    "forgeUrl": ("github.com", "cml-infra:forgeUrl must be a web address such as "
                               "https://gitlab.example.com, not the string 'github.com'."),
}


def test_every_project_default_of_pulumi_yaml_is_checked():
    from infra.settings import DEFAULT_KEYS

    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert {key.removeprefix("cml-infra:") for key in declared} == set(DEFAULT_KEYS) \
        == set(BAD_DEFAULTS)


@pytest.mark.parametrize("key", sorted(BAD_DEFAULTS))
def test_a_bad_project_default_is_one_sentence(key):
    value, message = BAD_DEFAULTS[key]
    pools = json.dumps([{"name": "p1", "repo": "acme/models"}])
    with pytest.raises(SpecError) as info:
        run_main({"cml-infra:pools": pools, f"cml-infra:{key}": value})
    assert str(info.value) == message


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("spot", "false", "Pool 'p1': spot must be true or false, not the string 'false'."),
    ("count", 2.7, "Pool 'p1': count must be a whole number, not the number 2.7."),
    ("base", "org/bases", "Pool 'p1': base must be a stack name of 1 to 100 letters, digits, "
                          "'-', '_' and '.', not the string 'org/bases'."),
])
def test_pulumi_up_refuses_a_pool_setting_of_another_type(setting, value, message):
    pools = json.dumps([{"name": "p1", "repo": "acme/models", setting: value}])
    with pytest.raises(SpecError) as info:
        run_main({"cml-infra:pools": pools})
    assert str(info.value) == message
