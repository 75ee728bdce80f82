"""The model behind README's per-job machines against autoscaled pools
(benchmarks/model_pool_tradeoffs.py): its arithmetic on hand-made traces, where the answer can
be worked out by hand. Times here are model inputs, not measurements."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location(
    "model_pool_tradeoffs", ROOT / "benchmarks" / "model_pool_tradeoffs.py")
assert spec is not None and spec.loader is not None
model = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = model  # dataclasses look their module up there
spec.loader.exec_module(model)

T = model.Timing(vm_boot=240, vm_teardown=60, node_boot=300, pod_start=30, scale_down=600)
DAY = 24 * 3600


def test_the_pool_shape_comes_from_the_spec() -> None:
    assert model.pool(1, "g6.12xlarge", 16, 4) == (4, 4, 4, 1)
    assert model.pool(2, "g6.12xlarge", 16, 0) == (2, 4, 8, 0)
    assert model.pool(1, "g6.xlarge", 16, 0) == (1, 1, 16, 0)


def test_per_job_machines_each_boot_and_pay_boot_and_teardown() -> None:
    out = model.per_job([(0, 1200), (10, 600)], 1, T)
    assert out.waits == [240, 240] and out.machines == 2
    assert out.paid_gpu_s == (240 + 1200 + 60) + (240 + 600 + 60)
    assert out.used_gpu_s == 1800


def test_a_burst_of_four_shares_one_four_gpu_node() -> None:
    jobs = [(0, 1200), (5, 1200), (10, 1200), (15, 1200)]
    out = model.autoscaled(jobs, 1, 4, 4, 4, 0, T, DAY)
    assert out.machines == 1
    assert out.waits == [330, 325, 320, 315]  # the booting node serves all four
    # the node lives from its boot to its last job's end plus the scale-down delay
    assert out.paid_gpu_s == (300 + 30 + 1200 + 600) * 4


def test_a_free_slot_on_a_warm_node_needs_no_boot_and_costs_the_whole_day() -> None:
    out = model.autoscaled([(3600, 600)], 1, 4, 4, 4, 1, T, DAY)
    assert out.waits == [30] and out.machines == 0
    assert out.paid_gpu_s == DAY * 4


def test_an_idle_node_is_removed_and_the_next_job_boots_another() -> None:
    out = model.autoscaled([(0, 600), (5000, 600)], 1, 1, 1, 2, 0, T, DAY)
    assert out.machines == 2 and out.waits == [330, 330]


def test_at_max_nodes_a_job_waits_for_a_slot() -> None:
    out = model.autoscaled([(0, 1000), (1, 1000)], 1, 1, 1, 1, 0, T, DAY)
    assert out.machines == 1
    assert out.waits[1] == pytest.approx(330 + 1000 + 30 - 1)
