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
from tests.register_mocks import TOKEN, ForgeMocks

EXAMPLE = ROOT / "examples" / "Pulumi.dev.yaml"


def run_main(config: dict[str, str]) -> Plan:
    record = Plan()
    pulumi.runtime.set_all_config({"cml-infra:forgeToken": TOKEN, **config})
    try:
        pulumi.runtime.set_mocks(ForgeMocks(record), project=PROJECT, stack="dev", preview=False)
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
    assert components == [("cml-infra:clouds:AwsPool", "train-l4-pool"),
                          ("cml-infra:clouds:AwsRunner", "train-l4-0"),
                          ("cml-infra:clouds:GcpPool", "eval-t4-pool"),
                          ("cml-infra:clouds:GcpRunner", "eval-t4-0"),
                          ("cml-infra:clouds:GcpRunner", "eval-t4-1")]
    aws_vm = next(r for r in plan.resources if r["name"] == "train-l4-0-vm")["inputs"]
    assert aws_vm["instanceType"] == "g6.xlarge" and aws_vm["iamInstanceProfile"] \
        == "cml-training-data"


def test_bad_pool_in_config_is_the_cli_sentence():
    config = {"cml-infra:pools": json.dumps([{"name": "p1", "cloud": "azure", "gpuModel": "l4"}])}
    with pytest.raises(SpecError) as info:
        run_main(config)
    assert str(info.value) == ("GPU model l4 is not offered on azure; choose one of: t4, a10, "
                               "a100, a100-80gb, h100.")


def test_pulumi_yaml_points_at_infra():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["main"] == "infra/" and project["name"] == PROJECT
