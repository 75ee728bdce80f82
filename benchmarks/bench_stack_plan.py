"""Median wall time of `cml-infra up --dry-run --stack-config FILE --json` for stack config
files of four pools: one per cloud (AWS T4 spot, GCP L4, Azure T4, Alibaba T4), and four on AWS
and GCP (GitHub and GitLab).

Each measurement is a fresh `cml-infra` process, as a CI job runs it: interpreter start,
imports of the four cloud SDKs, reading the file, the programs under the mock runtime, JSON.
Baseline: an interpreter that only starts, measured in the same run.

Run: PYTHONPATH=. python benchmarks/bench_stack_plan.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "four pools, one per cloud": """config:
  cml-infra:pools:
    - {name: gh-t4, cloud: aws, gpuModel: t4, spot: true, repo: acme/models}
    - {name: gh-l4, cloud: gcp, gpuModel: l4, repo: acme/eval}
    - {name: az-t4, cloud: azure, gpu: true, repo: acme/models}
    - {name: ali-t4, cloud: alicloud, region: ap-southeast, gpu: true, repo: acme/models}
""",
    "four pools on AWS and GCP": """config:
  cml-infra:pools:
    - {name: gh-t4, cloud: aws, gpuModel: t4, spot: true, count: 2, repo: acme/models}
    - {name: gh-l4, cloud: aws, gpuModel: l4, repo: acme/models}
    - {name: gh-l4-gcp, cloud: gcp, gpuModel: l4, repo: acme/eval}
    - {name: gh-t4-eu, cloud: gcp, gpu: true, region: eu-west, repo: acme/eval}
""",
    # Autoscaled pools (kind: autoscale): node pool, cluster provider, secret, Helm releases,
    # metadata NetworkPolicy, and a workload identity per cloud (with its cluster look-ups).
    "four autoscale pools, one per cloud": """config:
  cml-infra:githubAppId: "12345"
  cml-infra:githubAppInstallationId: "67890"
  cml-infra:githubAppPrivateKey:
    secure: v1:9fZ1cUpl8M8tJxVc:BXqgtTcUk1QQ3ka5kPuVvuxRGHK2mYb0o6xg
  cml-infra:pools:
    - {name: eks-l4, kind: autoscale, cloud: aws, gpuModel: l4, maxRunners: 4,
       repo: acme/models, credentials: token, cluster: {name: gpu-eks, context: eks},
       identity: "arn:aws:iam::123456789012:role/dvc-reader"}
    - {name: gke-l4, kind: autoscale, cloud: gcp, gpuModel: l4, maxRunners: 2,
       repo: acme/models, cluster: {name: gpu-gke, context: gke},
       identity: dvc-reader@acme-ml.iam.gserviceaccount.com}
    - {name: aks-t4, kind: autoscale, cloud: azure, gpuModel: t4, minRunners: 1,
       maxRunners: 3, organization: acme, spot: true,
       cluster: {name: gpu-rg/gpu-aks, context: aks},
       identity: "/subscriptions/0000/resourceGroups/ml-rg/providers/\\
         Microsoft.ManagedIdentity/userAssignedIdentities/dvc-reader"}
    - {name: ack-a10, kind: autoscale, cloud: alicloud, gpuModel: a10, maxRunners: 2,
       repo: acme/models, credentials: token,
       cluster: {name: c0ffee, stackOutput: ack-cluster#kubeconfig},
       identity: acs:ram::1234567890123456:role/dvc-reader}
""",
}


def timed(args: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REPO_TOKEN": "x" * 8}
    start = time.perf_counter()
    subprocess.run(args, check=True, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_of(args: list[str], runs: int, cwd: Path) -> float:
    return statistics.median(timed(args, cwd) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder)
        shutil.copy(ROOT / "Pulumi.yaml", where / "Pulumi.yaml")
        baseline = median_of([sys.executable, "-c", "pass"], options.runs, where)
        print(f"baseline (interpreter start): {baseline:.3f} s, median of {options.runs}")
        for case, text in CASES.items():
            (where / "Pulumi.bench.yaml").write_text(text)
            plan = median_of([sys.executable, "-m", "cml_cli", "up", "--dry-run",
                              "--stack-config", "Pulumi.bench.yaml", "--json"], options.runs,
                             where)
            print(f"{case} (--json): {plan:.2f} s, median of {options.runs}", flush=True)


if __name__ == "__main__":
    main()
