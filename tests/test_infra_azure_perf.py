"""What keeps the offline plan fast, asserted by counting work, never by timing it.

Per additional runner the plan should cost under 30 ms (issue 4); benchmarks/bench_plan.py
measures it. These tests pin the three causes of the old 0.5 s per Azure runner.
"""

from __future__ import annotations

import gc
from datetime import datetime, timezone

import pulumi
import pytest
from pulumi.runtime import resource as runtime_resource

from infra import catalog
from infra.engine.plan import run_plan
from infra.spec import build_spec

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
# Resources each additional machine adds, its component included.
# Each: component, VM and the plan's pseudo registration; GCP adds the self-delete binding;
# Azure's CUDA sizes need no driver extension; AWS and Azure add their cloud-side deadline
# (a one-time schedule, an auto-shutdown schedule); Alibaba its self-delete role, policy and
# attachment.
PER_MACHINE = {"aws": 4, "gcp": 4, "azure": 10, "alicloud": 6}


def plan(cloud: str, count: int):
    spec = build_spec(name="gpu", cloud=cloud, gpu=True, count=count)
    return run_plan([spec], clock=lambda: NOW, stack="perf")


@pytest.mark.parametrize("cloud", catalog.CLOUDS)
def test_each_machine_adds_only_its_own_resources(cloud):
    one, three = len(plan(cloud, 1).resources), len(plan(cloud, 3).resources)
    assert (three - one) / 2 == PER_MACHINE[cloud]


def test_aliases_are_never_collapsed_into_urns(monkeypatch):
    calls = []
    original = runtime_resource.collapse_alias_to_urn

    def counting(*args, **kwargs):
        calls.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(pulumi.resource, "collapse_alias_to_urn", counting)
    resources = plan("azure", 2).resources
    assert len(resources) == 26 and calls == []


def test_the_mock_engine_reports_alias_specs_like_the_real_one():
    from pulumi.runtime.proto import resource_pb2
    from pulumi.runtime.settings import monitor_supports_feature

    plan("aws", 1)
    assert monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS)


@pytest.mark.parametrize("cloud", catalog.CLOUDS)
def test_image_and_zone_look_ups_are_per_pool(cloud):
    assert len(plan(cloud, 3).invokes) == len(plan(cloud, 1).invokes)
    # AWS and Alibaba: the image and the zone that sells the type; GCP: the image (the
    # catalog names the zone).
    assert len(plan(cloud, 1).invokes) == {"aws": 2, "gcp": 1, "azure": 0, "alicloud": 2}[cloud]


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collection_is_restored_after_the_plan(enabled):
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        plan("gcp", 1)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
