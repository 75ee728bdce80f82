"""Median wall time of `cml-infra up --dry-run --stack-config FILE --json` for a stack config
file of four `kind: autoscale` GitHub pools, one per cloud (EKS, GKE, AKS, ACK): per pool its
cluster provider, GPU node pool, credential Secret and Helm releases (ARC controller and scale
set, NVIDIA device plugin on EKS and AKS).

Each measurement is a fresh `cml-infra` process, as a CI job runs it (see
benchmarks/bench_stack_plan.py, whose timing this reuses). Target: under 5 s.

Run: PYTHONPATH=. python benchmarks/bench_autoscale_plan.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_stack_plan import ROOT, median_of

CASE = """config:
  cml-infra:githubAppId: "12345"
  cml-infra:githubAppInstallationId: "67890"
  cml-infra:githubAppPrivateKey:
    secure: v1:9fZ1cUpl8M8tJxVc:BXqgtTcUk1QQ3ka5kPuVvuxRGHK2mYb0o6xg
  cml-infra:pools:
    - {name: eks-l4, kind: autoscale, cloud: aws, gpuModel: l4, maxRunners: 4,
       repo: acme/models, credentials: token, cluster: {name: gpu-eks, context: eks}}
    - {name: gke-l4, kind: autoscale, cloud: gcp, gpuModel: l4, maxRunners: 2,
       repo: acme/models, cluster: {name: gpu-gke, context: gke}}
    - {name: aks-t4, kind: autoscale, cloud: azure, gpuModel: t4, minRunners: 1,
       maxRunners: 3, organization: acme, spot: true,
       cluster: {name: gpu-rg/gpu-aks, context: aks}}
    - {name: ack-a10, kind: autoscale, cloud: alicloud, gpuModel: a10, maxRunners: 2,
       repo: acme/models, credentials: token,
       cluster: {name: c0ffee, stackOutput: ack-cluster#kubeconfig}}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder)
        shutil.copy(ROOT / "Pulumi.yaml", where / "Pulumi.yaml")
        baseline = median_of([sys.executable, "-c", "pass"], options.runs, where)
        print(f"baseline (interpreter start): {baseline:.3f} s, median of {options.runs}")
        (where / "Pulumi.bench.yaml").write_text(CASE)
        plan = median_of([sys.executable, "-m", "cml_cli", "up", "--dry-run", "--stack-config",
                          "Pulumi.bench.yaml", "--json"], options.runs, where)
        print(f"four autoscale pools, one per cloud (--json): {plan:.2f} s, median of "
              f"{options.runs}", flush=True)


if __name__ == "__main__":
    main()
