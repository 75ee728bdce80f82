"""Per-job machines against an autoscaled pool, for one day of GPU jobs: how long each job waits
for a runner, and how many GPU-hours are paid for the GPU-hours jobs use.

This is a model, not a measurement: no cloud or cluster is reachable from the build machines,
so boot times are inputs (flags), with defaults that are assumptions to replace with your own
measurements (`cml-infra up` prints when each runner came online; `kubectl get events` shows a
node's scale-up). What comes from cml-infra's own code: runners per node and node counts
(`infra.autoscale.spec`, the same arithmetic the node pool is declared with), and that a
per-job machine serves one job and deletes itself.

- Per-job machines: each job waits `--vm-boot` seconds (machine, driver, runner) and pays its
  GPUs for boot + job + `--vm-teardown`.
- Autoscaled pool: a job starts in `--pod-start` seconds on a node with a free GPU (or one
  booting, when it is ready); otherwise a new node boots (`--node-boot`) while fewer than
  `maxNodes` run; otherwise it queues. A node leaves `--scale-down` seconds after its last job
  (the Cluster Autoscaler's `--scale-down-unneeded-time`, 10 minutes by default:
  https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md). `minRunners`
  keeps their nodes all day.

The trace: `--jobs` jobs of `--job-minutes` (each +-50 %, seeded) over a working day of
`--day-hours`, half of them in bursts of four (a pull request's matrix).

Run: PYTHONPATH=. python benchmarks/model_pool_tradeoffs.py [--jobs 60] [--vm-boot 240] ...
"""

from __future__ import annotations

import argparse
import random
import statistics
from dataclasses import dataclass, field

from infra.autoscale.spec import autoscale_spec_from_config


@dataclass(frozen=True)
class Timing:
    vm_boot: float
    vm_teardown: float
    node_boot: float
    pod_start: float
    scale_down: float


@dataclass
class Outcome:
    waits: list[float] = field(default_factory=list)
    paid_gpu_s: float = 0.0
    used_gpu_s: float = 0.0
    machines: int = 0
    """Machines (per-job) or nodes (autoscaled) started during the day."""

    def row(self, name: str) -> str:
        waits = sorted(self.waits)
        p95 = waits[min(len(waits) - 1, int(0.95 * len(waits)))]
        return (f"| {name} | {statistics.median(waits) / 60:.1f} | {p95 / 60:.1f} | "
                f"{self.paid_gpu_s / 3600:.1f} | {self.used_gpu_s / self.paid_gpu_s:.0%} | "
                f"{self.machines} |")


def trace(jobs: int, job_minutes: float, day_hours: float, seed: int) -> list[tuple[float, float]]:
    """(arrival s, duration s) of each job, sorted by arrival."""
    rng = random.Random(seed)
    out: list[tuple[float, float]] = []
    day = day_hours * 3600
    while len(out) < jobs:
        at = rng.uniform(0, day)
        # a quarter of arrivals are bursts of four: about half of the jobs come in bursts
        burst = 4 if rng.random() < 0.25 and jobs - len(out) >= 4 else 1
        out += [(at + i * 5, job_minutes * 60 * rng.uniform(0.5, 1.5)) for i in range(burst)]
    return sorted(out)


def per_job(jobs: list[tuple[float, float]], gpus: int, t: Timing) -> Outcome:
    result = Outcome(machines=len(jobs))
    for _, duration in jobs:
        result.waits.append(t.vm_boot)
        result.paid_gpu_s += (t.vm_boot + duration + t.vm_teardown) * gpus
        result.used_gpu_s += duration * gpus
    return result


@dataclass
class Node:
    ready_at: float
    free_at: list[float]
    """When each runner slot of the node is free again."""
    warm: bool = False
    gone_at: float | None = None

    def idle_from(self) -> float:
        return max(self.ready_at, *self.free_at)


def autoscaled(jobs: list[tuple[float, float]], gpus: int, per_node: int, gpus_per_node: int,
               max_nodes: int, min_nodes: int, t: Timing, day: float) -> Outcome:
    """A pending pod takes a free slot (a booting node's too: the autoscaler counts it); with
    none, the autoscaler adds a node while fewer than `max_nodes` live; else it waits."""
    result = Outcome()
    nodes = [Node(0.0, [0.0] * per_node, warm=True) for _ in range(min_nodes)]
    for arrival, duration in jobs:
        for node in nodes:  # the autoscaler removes nodes idle for scale_down
            if not node.warm and node.gone_at is None and \
                    node.idle_from() + t.scale_down <= arrival:
                node.gone_at = node.idle_from() + t.scale_down
        live = [n for n in nodes if n.gone_at is None]
        free = [(n.ready_at, n, i) for n in live for i, f in enumerate(n.free_at)
                if f <= arrival]
        if free:
            ready, node, slot = min(free, key=lambda s: s[0])
            start = max(ready, arrival)
        elif len(live) < max_nodes:
            node, slot = Node(arrival + t.node_boot, [0.0] * per_node), 0
            nodes.append(node)
            result.machines += 1
            start = node.ready_at
        else:
            start, node, slot = min(((max(n.ready_at, f), n, i) for n in live
                                     for i, f in enumerate(n.free_at)), key=lambda s: s[0])
        start += t.pod_start
        node.free_at[slot] = start + duration
        result.waits.append(start - arrival)
        result.used_gpu_s += duration * gpus
    for node in nodes:
        if node.warm:  # minRunners' nodes run around the clock
            result.paid_gpu_s += max(day, node.idle_from()) * gpus_per_node
            continue
        gone = node.gone_at if node.gone_at is not None else node.idle_from() + t.scale_down
        result.paid_gpu_s += (gone - (node.ready_at - t.node_boot)) * gpus_per_node
    return result


def pool(gpu_count: int, node_type: str, max_runners: int, min_runners: int) -> tuple[int, int,
                                                                                       int, int]:
    """(runners per node, GPUs per node, max nodes, min nodes) as the autoscale pool has them."""
    spec = autoscale_spec_from_config({
        "name": "model", "kind": "autoscale", "cloud": "aws", "repo": "acme/models",
        "gpuModel": "l4", "gpuCount": gpu_count, "nodeMachineType": node_type,
        "maxRunners": max_runners, "minRunners": min_runners,
        "cluster": {"name": "gpu", "context": "gpu"}}, {}, 1)
    per_node = spec.runners_per_node
    return per_node, spec.gpus_per_node, spec.max_nodes, -(-min_runners // per_node)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--job-minutes", type=float, default=20)
    parser.add_argument("--day-hours", type=float, default=10)
    parser.add_argument("--vm-boot", type=float, default=240, help="seconds (assumption)")
    parser.add_argument("--vm-teardown", type=float, default=60, help="seconds (assumption)")
    parser.add_argument("--node-boot", type=float, default=300, help="seconds (assumption)")
    parser.add_argument("--pod-start", type=float, default=30, help="seconds (assumption)")
    parser.add_argument("--scale-down", type=float, default=600,
                        help="seconds (Cluster Autoscaler default)")
    parser.add_argument("--max-runners", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    t = Timing(args.vm_boot, args.vm_teardown, args.node_boot, args.pod_start, args.scale_down)
    jobs = trace(args.jobs, args.job_minutes, args.day_hours, args.seed)
    day = 24 * 3600
    print(f"{len(jobs)} one-GPU jobs of {args.job_minutes:g} min (+-50 %) over "
          f"{args.day_hours:g} h; boot {args.vm_boot:g} s (machine), {args.node_boot:g} s "
          f"(node), pod start {args.pod_start:g} s, scale-down {args.scale_down:g} s\n")
    print("| how | median wait (min) | p95 wait (min) | GPU-hours paid | used/paid | "
          "machines or nodes started |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(per_job(jobs, 1, t).row("per-job machines (g6.xlarge, 1 L4)"))
    for node_type, warm in (("g6.xlarge", 0), ("g6.12xlarge", 0), ("g6.12xlarge", 4)):
        per_node, gpus_node, max_nodes, min_nodes = pool(1, node_type, args.max_runners, warm)
        out = autoscaled(jobs, 1, per_node, gpus_node, max_nodes, min_nodes, t, day)
        print(out.row(f"autoscaled, {node_type} ({per_node} job(s) a node), "
                      f"minRunners {warm}"))


if __name__ == "__main__":
    main()
