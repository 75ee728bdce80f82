"""`kind: autoscale` pools in a stack: the program (infra/__main__.py, under mocks) and the
offline plan (`cml-infra up --dry-run --stack-config FILE --json`) declare, per pool, its
cluster provider, GPU node pool, credential Secret and Helm releases; secrets never shown."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.rpc import is_rpc_secret

from infra.autoscale.program import cluster_prefix
from infra.autoscale.spec import autoscale_spec_from_config
from infra.engine.plan import PROJECT, Plan
from infra.errors import ForgeError, SpecError
from tests.conftest import ROOT
from tests.register_mocks import ForgeMocks, fake_bases
from tests.test_stack_config_plan import CIPHERTEXT, cli, stack_file

TOKEN = "ghp_" + "t" * 36
APP_KEY = "-----BEGIN RSA PRIVATE KEY-----\nvery-secret-key\n-----END RSA PRIVATE KEY-----\n"
RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
ARC_CONTROLLER = ("oci://ghcr.io/actions/actions-runner-controller-charts/"
                  "gha-runner-scale-set-controller", "0.14.2")
ARC_SCALE_SET = ("oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set",
                 "0.14.2")
DEVICE_PLUGIN = ("nvidia-device-plugin", "0.20.0")
GITLAB_RUNNER = ("gitlab-runner", "0.86.0")

POOLS: list[dict[str, Any]] = [
    {"name": "eks-l4", "kind": "autoscale", "cloud": "aws", "gpuModel": "l4", "maxRunners": 4,
     "repo": "acme/models", "credentials": "token",
     "cluster": {"name": "gpu-eks", "context": "eks-ctx"}},
    {"name": "gke-l4", "kind": "autoscale", "cloud": "gcp", "gpuModel": "l4", "maxRunners": 2,
     "repo": "acme/models", "cluster": {"name": "gpu-gke", "context": "gke-ctx"}},
    {"name": "aks-t4", "kind": "autoscale", "cloud": "azure", "gpuModel": "t4",
     "minRunners": 1, "maxRunners": 3, "organization": "acme", "spot": True,
     "cluster": {"name": "gpu-rg/gpu-aks", "context": "aks-ctx"}},
    {"name": "ack-a10", "kind": "autoscale", "cloud": "alicloud", "gpuModel": "a10",
     "maxRunners": 2, "repo": "acme/models", "credentials": "token",
     "cluster": {"name": "c0ffee", "stackOutput": "ack-cluster#kubeconfig"}},
]
NODE_POOLS = {"eks-l4": ("aws:eks/nodeGroup:NodeGroup", "eks-l4-gpu-ng"),
              "gke-l4": ("gcp:container/nodePool:NodePool", "gke-l4-gpu-pool"),
              "aks-t4": ("azure-native:containerservice:AgentPool", "aks-t4-gpu-pool"),
              "ack-a10": ("alicloud:cs/nodePool:NodePool", "ack-a10-gpu-pool")}
# EKS and AKS nodes need NVIDIA's device plugin; GKE and ACK install their own.
RELEASES = {
    "eks-l4": {ARC_CONTROLLER, ARC_SCALE_SET, DEVICE_PLUGIN},
    "gke-l4": {ARC_CONTROLLER, ARC_SCALE_SET},
    "aks-t4": {ARC_CONTROLLER, ARC_SCALE_SET, DEVICE_PLUGIN},
    "ack-a10": {ARC_CONTROLLER, ARC_SCALE_SET},
}
FOUR_POOLS: dict[str, Any] = {
    "cml-infra:forgeToken": {"secure": CIPHERTEXT},
    "cml-infra:githubAppId": "12345",
    "cml-infra:githubAppInstallationId": "67890",
    "cml-infra:githubAppPrivateKey": {"secure": CIPHERTEXT},
    "cml-infra:pools": POOLS,
}
GITLAB_POOL = {"name": "gl-l4", "kind": "autoscale", "forge": "gitlab", "cloud": "gcp",
               "gpuModel": "l4", "maxRunners": 2, "repo": "ml/eval",
               "cluster": {"name": "gpu-gke", "context": "gke-ctx"}}


def planned_json(tmp_path: Path, config: dict[str, Any], **env: str) -> dict[str, Any]:
    result = cli(tmp_path, "--dry-run", "--stack-config",
                 str(stack_file(tmp_path, config)), "--json", **env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


# ---- the offline plan -----------------------------------------------------------------------


def test_four_autoscale_pools_are_planned_with_releases_node_pools_and_masked_secrets(
        tmp_path):
    document = planned_json(tmp_path, FOUR_POOLS, REPO_TOKEN=TOKEN)
    pools = {pool["name"]: pool for pool in document["pools"]}
    assert list(pools) == ["eks-l4", "gke-l4", "aks-t4", "ack-a10"]
    assert [s["kind"] for s in document["stacks"]] == ["runner"]  # no base stack
    for name, pool in pools.items():
        assert pool["kind"] == "autoscale"
        assert {(r["chart"], r["version"]) for r in pool["helmReleases"]} == RELEASES[name]
        for release in pool["helmReleases"]:
            assert release["namespace"] and isinstance(release["values"], dict)
        scale_set = next(r for r in pool["helmReleases"] if r["chart"] == ARC_SCALE_SET[0])
        assert scale_set["namespace"] == f"cml-{name}"
        assert scale_set["values"]["githubConfigSecret"] == "cml-forge-credential"
        assert (pool["nodePool"]["type"], pool["nodePool"]["name"]) == NODE_POOLS[name]
        assert pool["secret"]["data"] == "[secret]"
        secret = next(r for r in pool["resources"] if r["type"] == SECRET)
        assert secret["inputs"]["stringData"] == "[secret]"
        assert all(r["name"] in (name, cluster_of(name))
                   or r["name"].startswith((name + "-", cluster_of(name) + "-"))
                   for r in pool["resources"])
    assert pools["eks-l4"]["secret"]["keys"] == ["github_token"]
    assert pools["gke-l4"]["secret"]["keys"] == ["github_app_id", "github_app_installation_id",
                                                 "github_app_private_key"]
    aks = pools["aks-t4"]["nodePool"]["inputs"]
    assert (aks["vmSize"], aks["minCount"], aks["maxCount"], aks["scaleSetPriority"]) \
        == ("Standard_NC4as_T4_v3", 1, 3, "Spot")
    assert pools["eks-l4"]["nodePool"]["inputs"]["subnetIds"] \
        == ["PLACEHOLDER-subnet-of-the-cluster"]
    assert pools["ack-a10"]["nodePool"]["inputs"]["vswitchIds"] \
        == ["PLACEHOLDER-vswitch-of-the-cluster"]
    summary = pools["gke-l4"]["summary"]
    assert (summary["cloud"], summary["cluster"], summary["gpuModel"], summary["gpuCount"],
            summary["minRunners"], summary["maxRunners"], summary["nodeMachineType"],
            summary["maxNodes"]) == ("gcp", "gpu-gke", "l4", 1, 0, 2, "g2-standard-4", 2)
    assert document["settings"]["cml-infra:githubAppPrivateKey"] == "[secret]"


def test_the_plan_never_prints_a_credential(tmp_path):
    config = {**FOUR_POOLS, "cml-infra:githubAppPrivateKey": APP_KEY}
    for form in ("--json", "--markdown"):
        result = cli(tmp_path, "--dry-run", "--stack-config",
                     str(stack_file(tmp_path, config)), form, REPO_TOKEN=TOKEN)
        assert result.returncode == 0, result.stderr
        for secret in (TOKEN, "very-secret-key", CIPHERTEXT, "PLACEHOLDER-forge-token",
                       "PLACEHOLDER-github-app-private-key"):
            assert secret not in result.stdout
        assert "githubAppPrivateKey is written in clear" in result.stderr


def test_markdown_has_a_heading_and_summary_per_autoscale_pool(tmp_path):
    result = cli(tmp_path, "--dry-run", "--stack-config", str(stack_file(tmp_path, FOUR_POOLS)),
                 "--markdown", REPO_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for pool in POOLS:
        assert f"## Pool `{pool['name']}` (autoscale)" in text
    assert "| where | azure region eastus, cluster gpu-rg/gpu-aks |" in text
    assert "| GPUs per job | 1 x t4 |" in text
    assert "| runners | 1 to 3 |" in text
    assert "| node machine | Standard_NC4as_T4_v3 (1 GPU), spot |" in text
    assert "| nodes | at most 3; node pool: cml-infra creates it |" in text


def test_a_gitlab_autoscale_stack_plans_the_gitlab_runner_chart(tmp_path):
    document = planned_json(tmp_path, {"cml-infra:pools": [GITLAB_POOL]}, REPO_TOKEN=TOKEN)
    [pool] = document["pools"]
    assert {(r["chart"], r["version"]) for r in pool["helmReleases"]} == {GITLAB_RUNNER}
    [release] = pool["helmReleases"]
    assert release["repository"] == "https://charts.gitlab.io"
    assert release["namespace"] == "cml-gl-l4"
    assert pool["nodePool"]["type"] == "gcp:container/nodePool:NodePool"
    assert pool["secret"]["keys"] == ["runner-registration-token", "runner-token"]
    assert pool["secret"]["data"] == "[secret]"
    assert TOKEN not in json.dumps(document)
    # the runner pulumi up creates through GitLab's API, shown with what it will be
    [runner] = [r for r in pool["resources"] if r["name"] == "gl-l4-gitlab-registration"]
    assert {k: runner["inputs"][k] for k in ("forge", "repo", "labels", "token")} == {
        "forge": "gitlab", "repo": "ml/eval", "labels": ["cml-infra", "l4"], "token": "[secret]"}


def test_a_mixed_stack_plans_both_kinds(tmp_path):
    machine = {"name": "train", "cloud": "aws", "gpuModel": "l4", "repo": "acme/models"}
    config = {**FOUR_POOLS, "cml-infra:pools": [machine, POOLS[1]]}
    document = planned_json(tmp_path, config, REPO_TOKEN=TOKEN)
    assert [pool["name"] for pool in document["pools"]] == ["train", "gke-l4"]
    train, gke = document["pools"]
    assert "kind" not in train and gke["kind"] == "autoscale"
    assert any(r["name"] == "train-0" for r in train["resources"])
    assert {(r["chart"], r["version"]) for r in gke["helmReleases"]} == RELEASES["gke-l4"]
    assert [s["kind"] for s in document["stacks"]] == ["base", "runner"]


def test_an_app_pool_without_the_app_settings_is_a_warning(tmp_path):
    config = {"cml-infra:pools": [POOLS[1]]}
    result = cli(tmp_path, "--dry-run", "--stack-config", str(stack_file(tmp_path, config)),
                 "--json")
    assert result.returncode == 0, result.stderr
    assert "cml-infra:githubAppId" in result.stderr
    assert "No forge token" not in result.stderr  # an app pool needs none


@pytest.mark.parametrize(("pools", "sentence"), [
    ([{**POOLS[0], "maxRunners": 0}],
     "Error: Pool 'eks-l4': maxRunners must be 1 or more, not 0.\n"),
    ([{**POOLS[0], "kind": "autoscaled"}],
     "Error: Pool 'eks-l4': kind must be autoscale, or left out for a single-machine pool, "
     "not 'autoscaled'.\n"),
    ([POOLS[0], {**POOLS[1], "name": "eks-l4"}],
     "Error: Pool name 'eks-l4' is used twice; give every pool its own name.\n"),
    ([{"name": "eks-l4", "cloud": "aws", "repo": "acme/models"}, POOLS[0]],
     "Error: Pool name 'eks-l4' is used twice; give every pool its own name.\n"),
    ([{**POOLS[0], "idleTimeout": "5m"}],
     "Error: Pool 'eks-l4': idleTimeout is a setting of single-machine pools, not of an "
     "autoscale pool; drop it.\n"),
])
def test_a_bad_autoscale_pool_is_one_sentence(tmp_path, pools, sentence):
    pools = [{k: v for k, v in pool.items() if v is not None} for pool in pools]
    result = cli(tmp_path, "--dry-run", "--stack-config",
                 str(stack_file(tmp_path, {"cml-infra:pools": pools})), "--json",
                 REPO_TOKEN=TOKEN)
    assert result.returncode == 1
    assert result.stderr == sentence
    assert result.stdout == ""


def test_mixed_forges_are_refused_across_kinds(tmp_path):
    pools = [POOLS[0], GITLAB_POOL]
    result = cli(tmp_path, "--dry-run", "--stack-config",
                 str(stack_file(tmp_path, {"cml-infra:pools": pools})), "--json",
                 REPO_TOKEN=TOKEN)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: The pools of one runner stack share one forge "
                                    "token")
    assert "Traceback" not in result.stderr


# ---- the program, as pulumi up runs it --------------------------------------------------------


def run_main(config: dict[str, str], secret_token: bool = True) -> Plan:
    record = Plan()
    record.reference_outputs["kubeconfig"] = "apiVersion: v1\nkind: Config\n"
    given = {"cml-infra:forgeToken": TOKEN} if secret_token else {}
    pulumi.runtime.set_all_config({**given, **config})
    try:
        mocks = ForgeMocks(record, fake_bases("train"))
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", preview=False)
        pulumi.runtime.test(lambda: runpy.run_path(str(ROOT / "infra" / "__main__.py")))()
    finally:
        pulumi.runtime.set_all_config({})
    return record


def program_config(pools: list[dict[str, Any]], **more: str) -> dict[str, str]:
    return {"cml-infra:pools": json.dumps(pools), "cml-infra:githubAppId": "12345",
            "cml-infra:githubAppInstallationId": "67890",
            "cml-infra:githubAppPrivateKey": APP_KEY, **more}


def cluster_of(pool: str) -> str:
    """The prefix of what the pool's cluster gets once (its provider, ARC's controller, the
    device plugin): named after the cluster, so pools can come and go."""
    entry = next(p for p in POOLS if p["name"] == pool)
    return cluster_prefix(autoscale_spec_from_config(entry, {}, 1))


def releases_of(record: Plan, pool: str) -> set[tuple[str, str]]:
    """The pool's releases and its cluster's (each pool of POOLS has a cluster of its own)."""
    return {(r["inputs"]["chart"], r["inputs"]["version"]) for r in record.resources
            if r["type"] == RELEASE and (r["name"].startswith(pool + "-")
                                         or r["name"].startswith(cluster_of(pool) + "-"))}


def test_the_program_declares_the_four_pools_as_the_plan_does():
    record = run_main(program_config(POOLS))
    for name, expected in RELEASES.items():
        assert releases_of(record, name) == expected
        node_type, node_name = NODE_POOLS[name]
        assert [r["name"] for r in record.resources if r["type"] == node_type] == [node_name]
    assert not record.reads or all(r["inputs"]["name"] == "ack-cluster" for r in record.reads)
    secrets = {r["name"]: r["inputs"]["stringData"] for r in record.resources
               if r["type"] == SECRET}
    assert all(is_rpc_secret(value) for value in secrets.values())
    assert secrets["eks-l4-forge-credential"]["value"] == {"github_token": TOKEN}
    assert secrets["gke-l4-forge-credential"]["value"] == {
        "github_app_id": "12345", "github_app_installation_id": "67890",
        "github_app_private_key": APP_KEY}
    for release in (r for r in record.resources if r["type"] == RELEASE):
        text = json.dumps(release["inputs"], default=str)
        assert TOKEN not in text and "very-secret-key" not in text


def test_one_arc_controller_and_device_plugin_per_cluster():
    second = {**POOLS[0], "name": "eks-t4", "gpuModel": "t4"}
    record = run_main(program_config([POOLS[0], second]))
    controllers = [r["name"] for r in record.resources
                   if r["type"] == RELEASE and r["inputs"]["chart"] == ARC_CONTROLLER[0]]
    plugins = [r["name"] for r in record.resources
               if r["type"] == RELEASE and r["inputs"]["chart"] == DEVICE_PLUGIN[0]]
    assert controllers == [f"{cluster_of('eks-l4')}-arc-controller"]
    assert plugins == [f"{cluster_of('eks-l4')}-device-plugin"]
    assert controllers[0].startswith("cluster-gpu-eks-")
    mine = {(r["inputs"]["chart"], r["inputs"]["version"]) for r in record.resources
            if r["type"] == RELEASE and r["name"].startswith("eks-t4-")}
    assert mine == {ARC_SCALE_SET}
    # the pools share one provider, named after the cluster
    providers = [r["name"] for r in record.resources if r["type"] == "pulumi:providers:kubernetes"]
    assert providers == [cluster_of("eks-l4")]


def test_an_autoscale_only_stack_reads_no_base_and_needs_no_token_for_app_pools():
    record = run_main(program_config([POOLS[1]]), secret_token=False)
    assert record.reads == []
    assert releases_of(record, "gke-l4") == RELEASES["gke-l4"]


def test_a_token_pool_needs_the_forge_token(monkeypatch):
    monkeypatch.delenv("REPO_TOKEN", raising=False)
    with pytest.raises(ForgeError, match="No forge token"):
        run_main(program_config([POOLS[0]]), secret_token=False)


def test_an_app_pool_needs_the_app_settings():
    with pytest.raises(ForgeError, match=r"^The pool 'gke-l4' authenticates with a GitHub App"):
        run_main({"cml-infra:pools": json.dumps([POOLS[1]])})


def test_a_mixed_stack_runs_both_programs():
    machine = {"name": "train", "cloud": "aws", "gpuModel": "l4", "repo": "acme/models"}
    record = run_main(program_config([machine, POOLS[1]]))
    components = sorted((r["type"], r["name"]) for r in record.resources
                        if r["type"].startswith("cml-infra:"))
    assert components == [("cml-infra:autoscale:GpuNodePool", "gke-l4-gpu"),
                          ("cml-infra:autoscale:Runners", "gke-l4"),
                          ("cml-infra:clouds:AwsRunner", "train-0")]
    assert [r["inputs"]["name"] for r in record.reads] \
        == ["cml-infra-base-train-aws-us-east-1"]


def test_a_base_stack_declares_no_autoscale_pool():
    machine = {"name": "train", "cloud": "aws", "gpuModel": "l4", "repo": "acme/models"}
    record = run_main(program_config([machine, POOLS[1]], **{"cml-infra:kind": "base"}))
    assert not [r for r in record.resources if r["type"].startswith(("kubernetes:",
                                                                     "cml-infra:autoscale"))]


def test_mixed_forges_are_refused_by_the_program():
    with pytest.raises(SpecError, match="share one forge token"):
        run_main(program_config([POOLS[0], GITLAB_POOL]))


def test_the_example_stack_of_autoscaled_pools_plans(tmp_path):
    """examples/platform/Pulumi.gpu-pools.yaml as a platform team copies it."""
    path = ROOT / "examples" / "platform" / "Pulumi.gpu-pools.yaml"
    result = cli(tmp_path, "--dry-run", "--stack-config", str(path), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    pools = {pool["name"]: pool for pool in document["pools"]}
    assert list(pools) == ["l4-train", "a100-eval"]
    train = pools["l4-train"]
    assert (train["summary"]["nodeMachineType"], train["summary"]["maxNodes"]) == (
        "g6.12xlarge", 4)
    assert train["summary"]["identity"] == "arn:aws:iam::123456789012:role/cml-dvc-reader"
    types = {r["type"] for r in train["resources"]}
    assert {"aws:eks/podIdentityAssociation:PodIdentityAssociation",
            "kubernetes:core/v1:ServiceAccount", "aws:ec2/launchTemplate:LaunchTemplate",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy"} <= types
    assert "nodePool" not in pools["a100-eval"] or not pools["a100-eval"]["nodePool"]
    # without the GitHub App's settings the plan warns, naming what to set
    assert "cml-infra:githubAppPrivateKey" in result.stderr


def test_the_text_plan_summarises_each_autoscaled_pool(tmp_path):
    config = {**FOUR_POOLS, "cml-infra:pools": [
        {**POOLS[0], "identity": "arn:aws:iam::123456789012:role/reader", "minRunners": 1},
        {**GITLAB_POOL, "name": "gl-grp", "repo": None, "organization": "ml",
         "labels": ["gpu"]}]}
    config["cml-infra:pools"] = [{k: v for k, v in p.items() if v is not None}
                                 for p in config["cml-infra:pools"]]
    result = cli(tmp_path, "--dry-run", "--stack-config", str(stack_file(tmp_path, config)),
                 REPO_TOKEN=TOKEN)
    # two forges in one stack are refused; plan them apart
    assert result.returncode == 1 and "one forge" in result.stderr
    config["cml-infra:pools"] = config["cml-infra:pools"][:1]
    text = cli(tmp_path, "--dry-run", "--stack-config", str(stack_file(tmp_path, config)),
               REPO_TOKEN=TOKEN).stdout
    stack = Path(stack_file(tmp_path, config)).name.split(".")[1]
    assert f"  stack       {stack} (runner), autoscaled pool eks-l4" in text
    assert ("  runners     1 to 4 pods of 1 x l4, one job each, each ended at most 6h after "
            "it starts") in text
    assert ("  nodes       g6.xlarge (1 x l4), 1 job(s) a node, 1 to 4 node(s) in a node pool "
            "this stack creates") in text
    assert ("  identity    arn:aws:iam::123456789012:role/reader through EKS Pod Identity\n"
            "  metadata    IMDSv2 with one hop on the nodes, and a NetworkPolicy cutting the "
            "metadata service, where the cluster enforces NetworkPolicies\n") in text
    assert f"Runner stack {stack}: " in text and "its autoscaled pools" in text
    gitlab = {"cml-infra:pools": [{k: v for k, v in GITLAB_POOL.items()} | {
        "organization": "ml", "labels": ["gpu"]}]}
    del gitlab["cml-infra:pools"][0]["repo"]
    text = cli(tmp_path, "--dry-run", "--stack-config", str(stack_file(tmp_path, gitlab)),
               REPO_TOKEN=TOKEN).stdout
    assert "  jobs        gitlab, group ml on https://gitlab.com; tags gpu, l4" in text


def test_a_cluster_that_already_runs_arc_and_a_device_plugin_gets_neither_again(tmp_path):
    existing = {"name": "gpu-eks", "context": "eks-ctx", "arcController": "existing",
                "devicePlugin": "existing"}
    pools = [{**POOLS[0], "cluster": existing},
             {**POOLS[0], "name": "eks-l4-eval", "cluster": existing}]
    document = planned_json(tmp_path, {**FOUR_POOLS, "cml-infra:pools": pools},
                            REPO_TOKEN=TOKEN)
    for pool in document["pools"]:
        assert {(r["chart"], r["version"]) for r in pool["helmReleases"]} == {ARC_SCALE_SET}
        [scale_set] = pool["helmReleases"]
        # the running controller is named (ARC's quickstart names by default), never looked
        # up: the chart's lookup finds nothing in a dry run and fails the preview
        assert scale_set["values"]["controllerServiceAccount"] == {
            "namespace": "arc-systems", "name": "arc-gha-rs-controller"}


def test_an_existing_arc_controller_of_another_name_is_named(tmp_path):
    cluster = {"name": "gpu-eks", "context": "eks-ctx", "arcController": "existing",
               "arcControllerNamespace": "actions", "arcControllerServiceAccount": "gha-ctl"}
    document = planned_json(tmp_path, {**FOUR_POOLS, "cml-infra:pools": [
        {**POOLS[0], "cluster": cluster}]}, REPO_TOKEN=TOKEN)
    [scale_set] = [r for r in document["pools"][0]["helmReleases"]
                   if r["chart"] == ARC_SCALE_SET[0]]
    assert scale_set["values"]["controllerServiceAccount"] == {"namespace": "actions",
                                                               "name": "gha-ctl"}
    result = cli(tmp_path, "--dry-run", "--stack-config", str(stack_file(tmp_path, {
        **FOUR_POOLS, "cml-infra:pools": [{**POOLS[0], "cluster": {
            **cluster, "arcController": "install"}}]})), REPO_TOKEN=TOKEN)
    assert result.stderr == (
        "Error: Pool 'eks-l4': cluster.arcControllerNamespace names a controller the cluster "
        "already runs; set arcController: existing with it, or drop it.\n")


@pytest.mark.parametrize(("pools", "sentence"), [
    ([{**POOLS[0], "cluster": {"name": "gpu-eks", "context": "eks-ctx",
                               "arcController": "existing"}},
      {**POOLS[0], "name": "eks-l4-eval"}],
     "Error: Pool 'eks-l4-eval': cluster.arcController is install but pool 'eks-l4' on the "
     "same cluster says existing; one cluster has one, so give both pools the same value.\n"),
    ([{**GITLAB_POOL, "cluster": {"name": "gpu-gke", "context": "gke-ctx",
                                  "arcController": "existing"}}],
     "Error: Pool 'gl-l4': cluster.arcController concerns GitHub pools (Actions Runner "
     "Controller); drop it from this GitLab pool.\n"),
    ([{**POOLS[0], "cluster": {"name": "gpu-eks", "context": "eks-ctx",
                               "devicePlugin": "yes"}}],
     "Error: Pool 'eks-l4': cluster.devicePlugin must be install or existing, not 'yes'.\n"),
])
def test_cluster_add_ons_are_checked(tmp_path, pools, sentence):
    result = cli(tmp_path, "--dry-run", "--stack-config",
                 str(stack_file(tmp_path, {**FOUR_POOLS, "cml-infra:pools": pools})), "--json",
                 REPO_TOKEN=TOKEN)
    assert (result.returncode, result.stderr) == (1, sentence)


def test_removing_a_clusters_first_pool_moves_nothing_the_cluster_shares():
    """A moved Helm release would be created before its old self is deleted, and Helm refuses
    a release name in use: what a cluster gets once keeps its name whatever its pools."""
    second = {**POOLS[0], "name": "eks-t4", "gpuModel": "t4"}

    def shared(pools: list[dict[str, Any]]) -> list[str]:
        record = run_main(program_config(pools))
        return sorted(r["name"] for r in record.resources
                      if r["name"].startswith("cluster-"))

    both, alone = shared([POOLS[0], second]), shared([second])
    assert both == alone and len(both) == 3  # provider, ARC controller, device plugin


def test_one_device_plugin_tolerates_every_gpu_pool_of_its_cluster():
    spot = {**POOLS[2], "name": "aks-t4-spot", "spot": True}
    on_demand = {**POOLS[2], "name": "aks-t4-od", "spot": False}
    record = run_main(program_config([on_demand, spot]))
    [plugin] = [r for r in record.resources
                if r["type"] == RELEASE and r["inputs"]["chart"] == DEVICE_PLUGIN[0]]
    tolerations = plugin["inputs"]["values"]["tolerations"]
    assert {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal",
            "value": "spot", "effect": "NoSchedule"} in tolerations
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations


def test_the_text_plan_shows_what_each_cluster_gets_once(tmp_path):
    text = cli(tmp_path, "--dry-run", "--stack-config",
               str(ROOT / "examples" / "platform" / "Pulumi.gpu-pools.yaml")).stdout
    shared = text[text.index("shared by the stack's pools (once per cluster)"):]
    assert "-arc-controller  (kubernetes:helm.sh/v3:Release)" in shared
    assert "-device-plugin  (kubernetes:helm.sh/v3:Release)" in shared
    assert "(pulumi:providers:kubernetes)" in shared
    assert ("  add-ons     ARC controller installed by this stack (arc-systems); NVIDIA device "
            "plugin installed by this stack") in text
    assert "  add-ons     ARC controller installed by this stack (arc-systems); NVIDIA device " \
           "plugin the cluster's own" in text
    # every resource the summary counts is in the tree
    count = int(text.split("Plan: ", 1)[1].split(" ", 1)[0])
    assert sum(1 for line in text.splitlines() if line.startswith(("├─", "└─"))) == count - len(
        [line for line in text.splitlines() if line.endswith("(cml-infra:autoscale:Runners)")
         or line.endswith("(cml-infra:autoscale:GpuNodePool)")])


def test_the_json_summary_says_what_keeps_pods_off_node_metadata(tmp_path):
    document = planned_json(tmp_path, FOUR_POOLS, REPO_TOKEN=TOKEN)
    summary = {p["name"]: p["summary"] for p in document["pools"]}
    assert summary["eks-l4"]["metadata"].startswith("IMDSv2 with one hop on the nodes")
    assert summary["gke-l4"]["addOns"] == ("ARC controller installed by this stack "
                                           "(arc-systems); NVIDIA device plugin the cloud's own")


@pytest.mark.parametrize(("pools", "sentence"), [
    ([POOLS[0], {**POOLS[0], "name": "eks-l4-eval",
                 "cluster": {"name": "gpu-eks", "context": "other-ctx"}}],
     "Error: Pool 'eks-l4-eval': cluster 'gpu-eks' is reached otherwise by pool 'eks-l4'; give "
     "both pools the same context or stackOutput.\n"),
    ([{**POOLS[0], "cluster": {"name": "gpu-eks", "context": "eks-ctx",
                               "arcController": "existing"}},
      {**POOLS[0], "name": "eks-l4-eval", "cluster": {
          "name": "gpu-eks", "context": "eks-ctx", "arcController": "existing",
          "arcControllerNamespace": "arc-other"}}],
     "Error: Pool 'eks-l4-eval': cluster.arcControllerNamespace is arc-other but pool 'eks-l4' "
     "on the same cluster says arc-systems; one cluster has one, so give both pools the same "
     "value.\n"),
])
def test_one_cluster_is_one_cluster(tmp_path, pools, sentence):
    result = cli(tmp_path, "--dry-run", "--stack-config",
                 str(stack_file(tmp_path, {**FOUR_POOLS, "cml-infra:pools": pools})), "--json",
                 REPO_TOKEN=TOKEN)
    assert (result.returncode, result.stderr) == (1, sentence)


@pytest.mark.parametrize(("key", "value", "sentence"), [
    ("cml-infra:githubAppId", "abc",
     "Error: cml-infra:githubAppId must be the GitHub App's numeric App ID (on the App's "
     "settings page), not 'abc'; set it with 'pulumi config set cml-infra:githubAppId "
     "NUMBER'.\n"),
    ("cml-infra:githubAppInstallationId", "acme",
     "Error: cml-infra:githubAppInstallationId must be the GitHub App's numeric installation "
     "ID (the number ending the installation's settings URL), not 'acme'; set it with "
     "'pulumi config set cml-infra:githubAppInstallationId NUMBER'.\n"),
])
def test_the_github_apps_ids_must_be_numbers(tmp_path, key, value, sentence):
    """ARC would authenticate with them only after deploy: a typo must stop the plan."""
    result = cli(tmp_path, "--dry-run", "--stack-config",
                 str(stack_file(tmp_path, {**FOUR_POOLS, key: value})), REPO_TOKEN=TOKEN)
    assert (result.returncode, result.stderr) == (1, sentence)
    # encrypted ids are not read by the plan; pulumi up checks them without showing them
    encrypted = cli(tmp_path, "--dry-run", "--stack-config", str(stack_file(
        tmp_path, {**FOUR_POOLS, key: {"secure": CIPHERTEXT}})), REPO_TOKEN=TOKEN)
    assert encrypted.returncode == 0, encrypted.stderr


def test_the_program_refuses_app_ids_that_are_no_numbers_without_showing_secret_ones():
    with pytest.raises(SpecError) as caught:
        run_main(program_config([POOLS[1]], **{"cml-infra:githubAppId": "12a45"}))
    assert "not '12a45'" in str(caught.value)
    pulumi.runtime.set_all_config({}, secret_keys=[])
    config = program_config([POOLS[1]], **{"cml-infra:githubAppInstallationId": "my-install"})
    record = Plan()
    pulumi.runtime.set_all_config({"cml-infra:forgeToken": TOKEN, **config},
                                  secret_keys=["cml-infra:githubAppInstallationId"])
    try:
        pulumi.runtime.set_mocks(ForgeMocks(record, fake_bases("train")), project=PROJECT,
                                 stack="dev", preview=False)
        with pytest.raises(SpecError) as caught:
            pulumi.runtime.test(lambda: runpy.run_path(str(ROOT / "infra" / "__main__.py")))()
    finally:
        pulumi.runtime.set_all_config({})
    assert "my-install" not in str(caught.value)
    assert str(caught.value).startswith("cml-infra:githubAppInstallationId must be the GitHub "
                                        "App's numeric installation ID")


# cml-infra as if pulumi_kubernetes were not installed (a finder placed first refuses it)
WITHOUT_KUBERNETES = """\
import json, sys

class NoKubernetes:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] == "pulumi_kubernetes":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoKubernetes)
from cml_cli.app import main
main(json.loads(sys.argv[1]))
"""


def test_a_plan_without_the_kubernetes_extra_names_the_pip_command(tmp_path):
    path = stack_file(tmp_path, FOUR_POOLS)
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_KUBERNETES,
         json.dumps(["up", "--dry-run", "--stack-config", str(path)])],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**{k: v for k, v in os.environ.items() if k != "CML_INFRA_DEBUG"},
             "PYTHONPATH": str(ROOT), "REPO_TOKEN": TOKEN})
    assert (result.returncode, result.stderr) == (1, (
        "Error: Autoscaled pools need the kubernetes SDK, which is not installed; run: pip "
        "install 'cml-infra[kubernetes]' (or add kubernetes to the extras you install).\n"))
