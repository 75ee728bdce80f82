"""Time from startup-script start to the runner process running, in the sandbox.

Downloads are served from 127.0.0.1, so this measures the script's own overhead (network
wait, GPU check, user, metadata block, download + SHA-256, extract, launch), not the cloud's
boot or the internet. Target: median under 3 s.

    PYTHONPATH=. python benchmarks/bench_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.sandbox.runner import Sandbox

TARGET_S = 3.0


def time_to_runner(forge: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        sb = Sandbox(Path(folder), forge=forge, cloud="aws", waits="0", job_s=0,
                     gpu="GPU 0: Tesla T4 (UUID: GPU-0)\n")
        config = sb.config(gpu_model="t4", gpu_count=1)
        started = time.time()
        outcome = sb.run(config)
        if outcome.returncode != 0:
            raise SystemExit(f"the sandbox run failed:\n{outcome.log}")
        return float((Path(folder) / "runner-started").read_text()) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print("| forge | runs | median s | min s | max s | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    for forge in ("github", "gitlab"):
        times = [time_to_runner(forge) for _ in range(args.runs)]
        median = statistics.median(times)
        verdict = "met" if median < TARGET_S else "MISSED"
        print(f"| {forge} | {args.runs} | {median:.2f} | {min(times):.2f} | {max(times):.2f} "
              f"| < {TARGET_S:.0f} s {verdict} |")


if __name__ == "__main__":
    main()
