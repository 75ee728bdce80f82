"""Median wall time of the offline plan (`cml-infra up ... --dry-run --json`) per cloud.

Each measurement is a fresh Python process, as a user's command is: imports included. Sizes
1, 10 and 100 runners (pools of at most 50, the per-pool limit); the baseline is an
interpreter that only starts, measured in the same run. Per additional runner:
(t[100] - t[1]) / 99.

Run: PYTHONPATH=. python benchmarks/bench_plan.py [--runs 5] [--clouds aws,gcp]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1, 10, 100)
SNIPPET = """
import sys
from infra.spec import build_spec
from infra.engine.plan import render_json, run_plan
cloud, total = sys.argv[1], int(sys.argv[2])
pools, left, n = [], total, 0
while left:
    size = min(left, 50)
    pools.append(build_spec(name=f"pool{n}", cloud=cloud, gpu=True, count=size))
    left, n = left - size, n + 1
render_json(run_plan(pools))
"""


def timed(args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run(args, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_of(args: list[str], runs: int) -> float:
    return statistics.median(timed(args) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clouds", default="aws,gcp,azure,alicloud")
    options = parser.parse_args()
    baseline = median_of([sys.executable, "-c", "pass"], options.runs)
    print(f"baseline (interpreter start): {baseline:.3f} s, median of {options.runs}")
    print("| cloud | 1 runner | 10 runners | 100 runners | per additional runner |")
    print("| --- | --- | --- | --- | --- |")
    for cloud in options.clouds.split(","):
        times = {n: median_of([sys.executable, "-c", SNIPPET, cloud, str(n)], options.runs)
                 for n in SIZES}
        per = (times[100] - times[1]) / 99 * 1000
        print(f"| {cloud} | {times[1]:.2f} s | {times[10]:.2f} s | {times[100]:.2f} s "
              f"| {per:.1f} ms |", flush=True)


if __name__ == "__main__":
    main()
