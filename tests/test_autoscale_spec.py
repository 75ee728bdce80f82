"""The `kind: autoscale` pool of cml-infra:pools: valid pools on every cloud and forge, and
every refusal as its exact sentence, naming the pool and the setting."""

from __future__ import annotations

import math
from typing import Any

import pytest

from infra import catalog
from infra.autoscale import spec as autoscale
from infra.autoscale.spec import (
    AutoscaleSpec,
    ClusterRef,
    Toleration,
    autoscale_pools,
    autoscale_spec_from_config,
    split_pools,
)
from infra.catalog import Machine
from infra.errors import SpecError
from infra.settings import POOLS_SHAPE, default_kwargs

CLUSTER = {"name": "gpu-cluster", "context": "gpu-ctx"}
BASE: dict[str, Any] = {"name": "gpu", "kind": "autoscale", "repo": "acme/models",
                        "gpuModel": "t4", "maxRunners": 4, "cluster": CLUSTER}


def pool(**changes: Any) -> AutoscaleSpec:
    return autoscale_spec_from_config(entry(**changes), {}, 2)


def entry(**changes: Any) -> dict[str, Any]:
    """BASE with settings changed; a value of `...` drops the setting. An Azure cluster is
    named <resource group>/<cluster>, as AKS needs."""
    merged = {**BASE, **changes}
    if merged.get("cloud") == "azure" and isinstance(merged.get("cluster"), dict) \
            and "/" not in str(merged["cluster"].get("name")):
        merged["cluster"] = {**merged["cluster"], "name": f"gpu-rg/{merged['cluster']['name']}"}
    return {key: value for key, value in merged.items() if value is not ...}


def refused(**changes: Any) -> str:
    with pytest.raises(SpecError) as caught:
        pool(**changes)
    return str(caught.value)


# ---- valid pools ---------------------------------------------------------------------------

# an identity of each cloud, in the form its workload identity binds
IDENTITIES = {
    "aws": "arn:aws:iam::123456789012:role/ml/dvc-reader",
    "gcp": "dvc-reader@acme-ml.iam.gserviceaccount.com",
    "azure": "/subscriptions/0000-1111/resourceGroups/ml-rg/providers/"
             "Microsoft.ManagedIdentity/userAssignedIdentities/dvc-reader",
    "alicloud": "acs:ram::1234567890123456:role/dvc-reader",
}

# cloud -> (gpuModel, native region of us-east, default node type for 1 GPU, zones)
CLOUD_CASES = {
    "aws": ("l4", "us-east-1", "g6.xlarge", ()),
    "gcp": ("l4", "us-east1", "g2-standard-4", ("us-east1-c", "us-east1-b", "us-east1-d")),
    "azure": ("t4", "eastus", "Standard_NC4as_T4_v3", ()),
    "alicloud": ("a10", "us-east-1", "ecs.gn7i-c8g1.2xlarge", ()),
}


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize("cloud", list(CLOUD_CASES))
def test_minimal_pool_per_cloud_and_forge(cloud: str, forge: str) -> None:
    model, region, node_type, zones = CLOUD_CASES[cloud]
    spec = pool(cloud=cloud, forge=forge, gpuModel=model)
    family = catalog.table(cloud).GPUS[model]
    assert spec == AutoscaleSpec(
        name="gpu", cloud=cloud, region=region, zones=zones, forge=forge,
        forge_url="https://github.com" if forge == "github" else "https://gitlab.com",
        repo="acme/models", organization=None,
        labels=() if forge == "github" else ("cml-infra",),
        scale_set_name="gpu" if forge == "github" else None,
        gpu_model=model, gpu_count=1, min_runners=0, max_runners=4,
        cluster=ClusterRef("gpu-rg/gpu-cluster" if cloud == "azure" else "gpu-cluster",
                           "gpu-ctx", None), gpu_node_pool="create",
        node_selector=(), tolerations=(),
        machine=Machine(node_type, model, 1, family.accelerator, family.driver),
        gpus_per_node=1, max_nodes=4, spot=False, identity=None, max_runtime_s=6 * 3600,
        credentials="app" if forge == "github" else "token",
    )
    assert spec.node_machine_type == node_type
    assert spec.config_url == f"{spec.forge_url}/acme/models"


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize("cloud", list(CLOUD_CASES))
def test_full_pool_per_cloud_and_forge(cloud: str, forge: str) -> None:
    model = CLOUD_CASES[cloud][0]
    group = "acme" if forge == "github" else "acme/ml"
    spec = pool(cloud=cloud, forge=forge, gpuModel=model, repo=..., organization=group,
                forgeUrl="https://git.example.com", labels=["gpu", model],
                minRunners=1 if forge == "github" else 0,  # GitLab keeps no warm pods
                maxRunners=6, gpuCount=1, spot=True, identity=IDENTITIES[cloud],
                maxRuntime="2h", credentials="token", region="us-west",
                cluster={"name": "c1", "stackOutput": "acme/platform/prod#kubeconfig"},
                tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists",
                              "effect": "NoSchedule"}])
    assert (spec.repo, spec.organization, spec.forge_url) == (None, group,
                                                             "https://git.example.com")
    assert spec.config_url == f"https://git.example.com/{group}"
    assert spec.labels == ("gpu", model)
    assert (spec.min_runners, spec.max_runners, spec.spot) == (int(forge == "github"), 6, True)
    assert spec.region == catalog.table(cloud).REGIONS["us-west"][0]
    assert spec.cluster == ClusterRef("gpu-rg/c1" if cloud == "azure" else "c1", None,
                                      "acme/platform/prod#kubeconfig")
    assert spec.tolerations == (Toleration("nvidia.com/gpu", "Exists", None, "NoSchedule"),)
    assert (spec.identity, spec.max_runtime_s, spec.credentials) == (IDENTITIES[cloud], 7200,
                                                                    "token")


@pytest.mark.parametrize("cloud", list(CLOUD_CASES))
def test_existing_node_pool(cloud: str) -> None:
    spec = pool(cloud=cloud, gpuModel=CLOUD_CASES[cloud][0], gpuNodePool="existing",
                nodeSelector={"pool": "gpu", "nvidia.com/gpu.present": "true"})
    assert spec.gpu_node_pool == "existing"
    assert spec.node_selector == (("nvidia.com/gpu.present", "true"), ("pool", "gpu"))


@pytest.mark.parametrize(("cloud", "model", "count", "node_type", "per_node"), [
    ("aws", "t4", 1, "g4dn.xlarge", 1),
    ("aws", "t4", 2, "g4dn.12xlarge", 4),  # no 2-GPU G4dn: the smallest with more
    ("aws", "a10", 1, "g5.xlarge", 1),  # the A10 is the A10G on AWS
    ("aws", "a100", 1, "p4d.24xlarge", 8),
    ("gcp", "t4", 2, "n1-standard-16", 2),
    ("gcp", "a100-80gb", 8, "a2-ultragpu-8g", 8),
    ("azure", "a100", 1, "Standard_ND96asr_v4", 8),
    ("azure", "h100", 2, "Standard_NC80adis_H100_v5", 2),
    ("alicloud", "v100", 1, "ecs.gn6v-c8g1.2xlarge", 1),
    ("alicloud", "t4", 4, "ecs.gn6i-c24g1.24xlarge", 4),
])
def test_node_machine_is_the_smallest_with_enough_gpus(cloud: str, model: str, count: int,
                                                      node_type: str, per_node: int) -> None:
    spec = pool(cloud=cloud, gpuModel=model, gpuCount=count, maxRunners=5, region="eu-west")
    assert (spec.node_machine_type, spec.gpus_per_node) == (node_type, per_node)
    assert spec.max_nodes == math.ceil(5 * count / per_node)


def test_given_node_machine_type_sets_gpus_per_node() -> None:
    spec = pool(nodeMachineType="g4dn.12xlarge", gpuCount=2, maxRunners=5)
    assert (spec.gpus_per_node, spec.runners_per_node, spec.max_nodes) == (4, 2, 3)
    # an N1 type takes the fewest attached GPUs that hold a job
    spec = pool(cloud="gcp", nodeMachineType="n1-standard-16", gpuCount=1)
    assert (spec.gpus_per_node, spec.machine.accelerator) == (1, "nvidia-tesla-t4")


def test_max_nodes_fits_whole_jobs() -> None:
    # 3 GPUs a job on 4-GPU nodes: one job a node, not ceil(4 * 3 / 4) = 3 nodes for 4 jobs
    spec = pool(gpuCount=3, maxRunners=4)
    assert (spec.gpus_per_node, spec.max_nodes) == (4, 4)


def test_project_defaults_and_repo_urls() -> None:
    defaults = default_kwargs({"defaultCloud": "gcp", "defaultRegion": "us-west",
                               "maxRuntime": "12h", "forgeUrl": "https://ghe.example.com"})
    spec = autoscale_spec_from_config(entry(gpuModel="l4"), defaults, 1)
    assert (spec.cloud, spec.region, spec.max_runtime_s) == ("gcp", "us-west1", 12 * 3600)
    assert spec.forge_url == "https://ghe.example.com"
    # the project's GitHub address is not a GitLab pool's
    spec = autoscale_spec_from_config(entry(forge="gitlab", gpuModel="l4"), defaults, 1)
    assert spec.forge_url == "https://gitlab.com"
    spec = pool(forge="gitlab", repo="https://gitlab.example.com/ml/vision/models")
    assert (spec.repo, spec.forge_url) == ("ml/vision/models", "https://gitlab.example.com")
    spec = pool(scaleSetName="a" * 45, labels=["gpu"])
    assert (spec.scale_set_name, spec.labels) == ("a" * 45, ("gpu",))


# ---- cloud tables --------------------------------------------------------------------------

def test_every_cloud_scales_gpu_node_pools_from_zero() -> None:
    # EKS managed node groups, GKE node pools, AKS User pools and ACK node pools all take a
    # minimum of 0 nodes (../shared/notes/kubernetes.md section 3).
    assert set(autoscale.SCALES_FROM_ZERO) == set(catalog.CLOUDS)
    assert all(autoscale.SCALES_FROM_ZERO.values())


def test_min_runners_zero_refused_where_a_cloud_cannot_scale_from_zero(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(autoscale.SCALES_FROM_ZERO, "azure", False)
    with pytest.raises(SpecError) as caught:
        pool(cloud="azure")
    assert str(caught.value) == (
        "Pool 'gpu': minRunners 0 needs a GPU node pool that scales from zero nodes, which "
        "azure cannot; set minRunners to 1 or more.")
    assert pool(cloud="azure", minRunners=1).min_runners == 1
    assert pool(cloud="aws").min_runners == 0


# ---- refusals ------------------------------------------------------------------------------

def test_one_owner_cannot_have_two_scale_sets_of_one_name() -> None:
    first = {**BASE, "name": "l4-train", "organization": "acme", "repo": ...}
    second = {**BASE, "name": "l4-eval", "scaleSetName": "l4-train"}  # repo acme/models
    entries = [{k: v for k, v in e.items() if v is not ...} for e in (first, second)]
    with pytest.raises(SpecError) as caught:
        autoscale_pools(enumerate(entries, 1), {})
    assert str(caught.value) == (
        "Pool 'l4-eval': scaleSetName 'l4-train' is taken by pool 'l4-train' for acme, and "
        "runs-on could not tell them apart; give this pool its own scaleSetName.")
    other_owner = {**second, "repo": "other/models"}
    assert len(autoscale_pools(enumerate([entries[0], other_owner], 1), {})) == 2


REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("max runners above the ceiling", {"maxRunners": 16000},
     "Pool 'gpu': maxRunners may be at most 1000, not 16000; it caps what the pool may spend, "
     "so give the most jobs it should run at once."),
    ("gitlab warm runners", {"forge": "gitlab", "minRunners": 2},
     "Pool 'gpu': minRunners applies to GitHub scale sets; GitLab's Kubernetes executor starts "
     "a pod for each job and keeps none waiting, so drop it (or set it to 0)."),
    ("plain http forge", {"forgeUrl": "http://ghe.example.com"},
     "Pool 'gpu': forgeUrl 'http://ghe.example.com' must be an https:// address for an "
     "autoscale pool (ARC reaches the forge over TLS); give the server's https:// address."),
    ("node type of an existing pool", {"gpuNodePool": "existing", "nodeSelector": {"a": "b"},
                                       "nodeMachineType": "g4dn.12xlarge"},
     "Pool 'gpu': nodeMachineType is the machine of the node pool cml-infra creates; drop it "
     "with gpuNodePool: existing, whose nodes are what nodeSelector picks."),
    ("toleration value", {"tolerations": [{"key": "a", "value": "bad value!"}]},
     "Pool 'gpu': tolerations item 1: value 'bad value!' is not a Kubernetes taint value; use "
     "at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or "
     "digit."),
    ("eks cluster name", {"cluster": {"name": "rg/aks1", "context": "x"}},
     "Pool 'gpu': cluster.name 'rg/aks1' is not an EKS cluster name (letters, digits, '-' and "
     "'_', at most 100); give the cluster's name as the EKS console shows it."),
    ("gke cluster name", {"cloud": "gcp", "cluster": {"name": "GPU", "context": "x"}},
     "Pool 'gpu': cluster.name 'GPU' is not a GKE cluster name (lowercase letters, digits and "
     "'-', a letter first, at most 40); give the cluster's name as the GKE console shows it."),
    ("gpu not on the cloud's node pools", {"cloud": "azure", "gpuModel": "l4"},
     "Pool 'gpu': gpuModel l4 is not offered by azure GPU node pools; choose one of: t4, a10, "
     "a100, a100-80gb, h100."),
    ("gpu not on alicloud", {"cloud": "alicloud", "gpuModel": "h100"},
     "Pool 'gpu': gpuModel h100 is not offered by alicloud GPU node pools; choose one of: t4, "
     "a10, v100."),
    ("retired gpu", {"cloud": "azure", "gpuModel": "v100"},
     "Pool 'gpu': gpuModel v100 is retired on azure (NCv3 was retired in September 2025); "
     "choose one of: t4, a10, a100, a100-80gb, h100."),
    ("no gpu model", {"gpuModel": ...},
     "Pool 'gpu': gpuModel is required for an autoscale pool; set it to one of: t4, a10g, l4, "
     "l40s, a100, a100-80gb, h100."),
    ("max below min", {"minRunners": 5, "maxRunners": 2},
     "Pool 'gpu': maxRunners (2) is below minRunners (5); raise maxRunners or lower "
     "minRunners."),
    ("max zero", {"maxRunners": 0}, "Pool 'gpu': maxRunners must be 1 or more, not 0."),
    ("no max", {"maxRunners": ...},
     "Pool 'gpu': maxRunners is required for an autoscale pool; set the most runners it may "
     "run at once, such as 4."),
    ("min negative", {"minRunners": -1}, "Pool 'gpu': minRunners must be 0 or more, not -1."),
    ("gpu count zero", {"gpuCount": 0}, "Pool 'gpu': gpuCount must be 1 or more, not 0."),
    ("gpu count above any machine", {"gpuCount": 16},
     "Pool 'gpu': gpuCount 16 is more GPUs than any aws machine has of t4 (at most 8); "
     "lower it."),
    ("gpu count above any azure machine", {"cloud": "azure", "gpuModel": "a10", "gpuCount": 4},
     "Pool 'gpu': gpuCount 4 is more GPUs than any azure machine has of a10 (at most 2); "
     "lower it."),
    ("no cluster", {"cluster": ...},
     "Pool 'gpu': an autoscale pool needs cluster, such as {name: gpu-cluster, context: "
     "gpu-cluster}; give the cluster's name and its kubeconfig context or a stack output "
     "holding its kubeconfig."),
    ("cluster both ways", {"cluster": {"name": "c", "context": "c", "stackOutput": "s#o"}},
     "Pool 'gpu': cluster takes context or stackOutput, not both; keep the one that reaches "
     "the cluster."),
    ("cluster no way", {"cluster": {"name": "c"}},
     "Pool 'gpu': cluster needs context (a kubeconfig context) or stackOutput "
     "(<stack>#<output>, a stack output holding the kubeconfig); add one."),
    ("cluster without name", {"cluster": {"context": "c"}},
     "Pool 'gpu': cluster.name must be the cluster's name or id on aws, not null."),
    ("cluster empty name", {"cluster": {"name": "", "context": "c"}},
     "Pool 'gpu': cluster.name must be the cluster's name or id on aws, not the string ''."),
    ("cluster empty context", {"cluster": {"name": "c", "context": " "}},
     "Pool 'gpu': cluster.context is empty; give a context of the kubeconfig."),
    ("cluster typo", {"cluster": {"name": "c", "contxt": "c"}},
     "Pool 'gpu': unknown setting 'cluster.contxt'; did you mean 'cluster.context'?"),
    ("cluster value type", {"cluster": {"name": "c", "context": 5}},
     "Pool 'gpu': cluster.context must be a string, not the number 5."),
    ("stack output without output", {"cluster": {"name": "c", "stackOutput": "platform"}},
     "Pool 'gpu': cluster.stackOutput 'platform' is not <stack>#<output>; write a stack (or "
     "org/project/stack), '#' and the output's name, such as gpu-cluster#kubeconfig."),
    ("existing without selector", {"gpuNodePool": "existing"},
     "Pool 'gpu': gpuNodePool existing needs nodeSelector, the labels of that pool's nodes, "
     "such as {pool: gpu}; add it."),
    ("existing with empty selector", {"gpuNodePool": "existing", "nodeSelector": {}},
     "Pool 'gpu': gpuNodePool existing needs nodeSelector, the labels of that pool's nodes, "
     "such as {pool: gpu}; add it."),
    ("selector with create", {"nodeSelector": {"pool": "gpu"}},
     "Pool 'gpu': nodeSelector is derived from the GPU node pool cml-infra creates; drop it, "
     "or set gpuNodePool: existing to pick a pool of your own."),
    ("selector key", {"gpuNodePool": "existing", "nodeSelector": {"gpu pool": "yes"}},
     "Pool 'gpu': nodeSelector key 'gpu pool' is not a Kubernetes label key; use a name of at "
     "most 63 letters, digits, '-', '_' and '.', optionally after a DNS prefix and '/'."),
    ("selector value", {"gpuNodePool": "existing", "nodeSelector": {"pool": "gpu pool"}},
     "Pool 'gpu': nodeSelector value 'gpu pool' of pool is not a Kubernetes label value; use "
     "at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or "
     "digit."),
    ("unknown node pool mode", {"gpuNodePool": "new"},
     "Pool 'gpu': gpuNodePool must be create or existing, not 'new'."),
    ("spot on an existing pool", {"gpuNodePool": "existing", "nodeSelector": {"a": "b"},
                                  "spot": True},
     "Pool 'gpu': spot applies to the GPU node pool cml-infra creates; drop it with "
     "gpuNodePool: existing, whose machines are what that pool has."),
    ("gitlab app", {"forge": "gitlab", "credentials": "app"},
     "Pool 'gpu': credentials app means a GitHub App, which GitLab does not have; set "
     "credentials: token (a runner token) or drop it."),
    ("unknown credentials", {"credentials": "pat"},
     "Pool 'gpu': credentials must be app or token, not 'pat'."),
    ("unknown key", {"maxRunner": 4},
     "Pool 'gpu': unknown setting 'maxRunner'; did you mean 'maxRunners'?"),
    ("unknown key lower case", {"gpumodel": "t4"},
     "Pool 'gpu': unknown setting 'gpumodel'; did you mean 'gpuModel'?"),
    ("single-machine key", {"idleTimeout": "5m"},
     "Pool 'gpu': idleTimeout is a setting of single-machine pools, not of an autoscale "
     "pool; drop it."),
    ("stack key", {"base": "b"},
     "Pool 'gpu': base is a setting of single-machine pools, not of an autoscale pool; drop "
     "it."),
    ("derived gpus per node", {"gpusPerNode": 4},
     "Pool 'gpu': gpusPerNode is derived from the node machine type; drop it."),
    ("derived max nodes", {"maxNodes": 3},
     "Pool 'gpu': maxNodes is derived from maxRunners, gpuCount and the GPUs per node; drop "
     "it."),
    ("scale set name too long", {"scaleSetName": "a" * 46},
     f"Pool 'gpu': scaleSetName '{'a' * 46}' has 46 characters; ARC takes at most 45, so "
     "shorten it."),
    ("scale set name malformed", {"scaleSetName": "GPU_runners"},
     "Pool 'gpu': scaleSetName 'GPU_runners' is not valid; use lower-case letters, digits "
     "and '-', starting and ending with a letter or digit."),
    ("scale set name ends with a hyphen", {"scaleSetName": "gpu-"},
     "Pool 'gpu': scaleSetName 'gpu-' is not valid; use lower-case letters, digits and '-', "
     "starting and ending with a letter or digit."),
    ("scale set name on gitlab", {"forge": "gitlab", "scaleSetName": "gpu"},
     "Pool 'gpu': scaleSetName names a GitHub runner scale set; drop it from this GitLab "
     "pool, whose jobs pick runners by labels."),
    ("repo and organization", {"organization": "acme"},
     "Pool 'gpu': repo and organization are two scopes for the runners; keep one of them."),
    ("neither repo nor organization", {"repo": ...},
     "Pool 'gpu': an autoscale pool needs repo (OWNER/NAME) or organization (a GitHub "
     "organization or GitLab group); set one of them."),
    ("github organization with a path", {"repo": ..., "organization": "acme/ml"},
     "Pool 'gpu': organization 'acme/ml' is not a GitHub organization; give its name, and the "
     "server, if not the public one, as forgeUrl."),
    ("gitlab group as url", {"forge": "gitlab", "repo": ...,
                             "organization": "https://gitlab.com/acme"},
     "Pool 'gpu': organization 'https://gitlab.com/acme' is not a GitLab group; give its "
     "path, GROUP or GROUP/SUBGROUP, and the server, if not the public one, as forgeUrl."),
    ("repo shape", {"repo": "acme"},
     "Pool 'gpu': repository 'acme' is not a GitHub repository; write it as OWNER/NAME or as "
     "its https:// address."),
    ("repo on the other forge", {"repo": "https://gitlab.com/acme/models"},
     "Pool 'gpu': repository 'https://gitlab.com/acme/models' is on GitLab; add --forge "
     "gitlab (forge: gitlab in stack config)."),
    ("unknown forge", {"forge": "bitbucket"},
     "Pool 'gpu': forge must be github or gitlab, not 'bitbucket'."),
    ("local cloud", {"cloud": "local"},
     "Pool 'gpu': cloud must be one of aws, gcp, azure, alicloud, not 'local'."),
    ("unknown region", {"region": "mars"},
     "Pool 'gpu': unknown region mars for aws; use a portable region (us-east, us-west, "
     "eu-west, eu-north, ap-southeast) or a native one such as us-east-1."),
    ("portable region the cloud lacks", {"cloud": "alicloud", "region": "eu-north"},
     "Pool 'gpu': region eu-north is not offered on alicloud; choose one of: us-east, "
     "us-west, eu-west, ap-southeast or a native alicloud region."),
    ("node machine not sold in region", {"gpuModel": "l4", "region": "af-south-1"},
     "Pool 'gpu': the node machine g6.xlarge (1x l4) is not sold in af-south-1 on aws; "
     "choose a region that sells it: us-east, us-west, eu-north."),
    ("node type of another gpu", {"nodeMachineType": "g5.xlarge"},
     "Pool 'gpu': nodeMachineType 'g5.xlarge' is not a t4 machine type of the aws catalog; "
     "choose one of: g4dn.xlarge, g4dn.2xlarge, g4dn.4xlarge, g4dn.8xlarge, g4dn.12xlarge, "
     "g4dn.metal."),
    ("node type with too few gpus", {"gpuCount": 4, "nodeMachineType": "g4dn.xlarge"},
     "Pool 'gpu': nodeMachineType g4dn.xlarge has 1 t4 GPU, fewer than gpuCount 4; choose a "
     "type with at least 4 GPUs, such as g4dn.12xlarge."),
    ("max runtime above 7 days", {"maxRuntime": "200h"},
     "Pool 'gpu': maxRuntime may be at most 168h (7 days), not 200h; lower it."),
    ("max runtime zero", {"maxRuntime": "0s"},
     "Pool 'gpu': maxRuntime must be at least 1s; give a duration such as 6h."),
    ("empty label", {"labels": [""]},
     "Pool 'gpu': a runner label is empty; give at least one label such as gpu (--labels "
     "gpu,l4; labels: [gpu, l4] in stack config), or drop the setting for the default label "
     "cml-infra."),
    ("identity with spaces", {"identity": "my role"},
     "Pool 'gpu': identity 'my role' is not the ARN of an IAM role that EKS Pod Identity may "
     "assume (arn:aws:iam::123456789012:role/NAME) on aws; give one, or drop identity so jobs "
     "get no cloud identity."),
    ("wrong kind", {"kind": "runner"},
     "Pool 'gpu': kind must be autoscale, or left out for a single-machine pool, not "
     "'runner'."),
    ("toleration operator", {"tolerations": [{"key": "a", "operator": "Exist"}]},
     "Pool 'gpu': tolerations item 1: operator must be Exists or Equal, not 'Exist'."),
    ("toleration effect", {"tolerations": [{"key": "a", "effect": "NoSchedul"}]},
     "Pool 'gpu': tolerations item 1: effect must be one of NoSchedule, PreferNoSchedule, "
     "NoExecute, not 'NoSchedul'."),
    ("toleration typo", {"tolerations": [{"key": "a", "efect": "NoSchedule"}]},
     "Pool 'gpu': tolerations item 1: unknown setting 'efect'; did you mean 'effect'?"),
    ("toleration exists with value",
     {"tolerations": [{"key": "a", "operator": "Exists", "value": "b"}]},
     "Pool 'gpu': tolerations item 1: operator Exists takes no value; drop the value or use "
     "operator Equal."),
    ("toleration without key", {"tolerations": [{"effect": "NoSchedule"}]},
     "Pool 'gpu': tolerations item 1: a toleration without a key needs operator Exists (it "
     "then tolerates every taint); add a key or set operator: Exists."),
    ("toleration seconds", {"tolerations": [{"key": "a", "tolerationSeconds": 60}]},
     "Pool 'gpu': tolerations item 1: tolerationSeconds applies to effect NoExecute only; "
     "drop it or set effect: NoExecute."),
    ("toleration key", {"tolerations": [{"key": "a b", "operator": "Exists"}]},
     "Pool 'gpu': tolerations item 1: key 'a b' is not a Kubernetes taint key; use a name of "
     "at most 63 letters, digits, '-', '_' and '.', optionally after a DNS prefix and '/'."),
    ("pool name", {"name": "GPU"},
     "Pool name 'GPU' is not valid; use 2 to 40 lowercase letters, digits and hyphens, "
     "starting with a letter and not ending with a hyphen."),
    ("no name", {"name": ...},
     "Pool 2 of cml-infra:pools: an autoscale pool needs name; give it one such as "
     "train-l4."),
]


@pytest.mark.parametrize(("changes", "sentence"), [case[1:] for case in REFUSALS],
                         ids=[case[0] for case in REFUSALS])
def test_refusal(changes: dict[str, Any], sentence: str) -> None:
    assert refused(**changes) == sentence


# key -> (value of another type, how the sentence names what it must be, and the value)
WRONG_TYPES: list[tuple[str, object, str]] = [
    ("spot", "false", "must be true or false, not the string 'false'"),
    ("gpuCount", 2.0, "must be a whole number, not the number 2.0"),
    ("gpuCount", "2", "must be a whole number, not the string '2'"),
    ("minRunners", True, "must be a whole number, not true"),
    ("maxRunners", 2.7, "must be a whole number, not the number 2.7"),
    ("maxRuntime", 3600, "must be a duration such as 30s, 5m or 2h, not the number 3600"),
    ("labels", "gpu", "must be a list of strings such as [gpu, l4], not the string 'gpu'"),
    ("forgeUrl", "github.com",
     "must be a web address such as https://gitlab.example.com, not the string 'github.com'"),
    ("gpuModel", 4, "must be a string, not the number 4"),
    ("region", None, "must be a string, not null"),
    ("kind", ["autoscale"], "must be a string, not a list"),
    ("credentials", {"app": 1}, "must be a string, not a mapping"),
    ("cluster", "gpu-cluster",
     "must be a mapping such as {name: gpu-cluster, context: gpu-cluster}, not the string "
     "'gpu-cluster'"),
    ("nodeSelector", ["pool=gpu"],
     "must be a mapping of strings such as {pool: gpu}, not a list"),
    ("nodeSelector", {"nvidia.com/gpu.present": True},
     "must be a mapping of strings such as {pool: gpu}, not a mapping holding true"),
    ("tolerations", {"key": "a"},
     "must be a list of mappings such as [{key: nvidia.com/gpu, operator: Exists, effect: "
     "NoSchedule}], not a mapping"),
    ("tolerations", ["nvidia.com/gpu"],
     "must be a list of mappings such as [{key: nvidia.com/gpu, operator: Exists, effect: "
     "NoSchedule}], not a list holding the string 'nvidia.com/gpu'"),
]


@pytest.mark.parametrize(("key", "value", "words"), WRONG_TYPES)
def test_wrong_type(key: str, value: object, words: str) -> None:
    assert refused(**{key: value}) == f"Pool 'gpu': {key} {words}."


def test_toleration_value_types() -> None:
    assert refused(tolerations=[{"key": "a", "tolerationSeconds": "60"}]) == (
        "Pool 'gpu': tolerations item 1: tolerationSeconds must be a whole number, not the "
        "string '60'.")
    assert refused(tolerations=[{"key": "a", "effect": 1}]) == (
        "Pool 'gpu': tolerations item 1: effect must be a string, not the number 1.")


def test_entry_that_is_no_mapping() -> None:
    with pytest.raises(SpecError) as caught:
        autoscale_spec_from_config("gpu", {}, 3)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "Pool 3 of cml-infra:pools: each entry of cml-infra:pools must be a mapping such as "
        "{name: gpu, kind: autoscale, gpuModel: l4, maxRunners: 4, ...}.")


# ---- entries by kind -----------------------------------------------------------------------

def test_split_pools_by_kind() -> None:
    machine = {"name": "vm", "cloud": "aws", "gpu": True}
    machines, autoscaled = split_pools([machine, BASE, "not a pool"])
    assert machines == [(1, machine), (3, "not a pool")]
    assert autoscaled == [(2, BASE)]


@pytest.mark.parametrize("entries", [[], "pools", None, {"name": "gpu"}])
def test_split_pools_refuses_what_is_no_list(entries: object) -> None:
    with pytest.raises(SpecError) as caught:
        split_pools(entries)
    assert str(caught.value) == POOLS_SHAPE


def test_split_pools_refuses_other_kinds() -> None:
    with pytest.raises(SpecError) as caught:
        split_pools([{"name": "vm", "kind": "machine"}])
    assert str(caught.value) == ("Pool 'vm': kind must be autoscale, or left out for a "
                                 "single-machine pool, not 'machine'.")
    with pytest.raises(SpecError) as caught:
        split_pools([{"kind": 1}])
    assert str(caught.value) == ("Pool 1 of cml-infra:pools: kind must be a string, not the "
                                 "number 1.")


def test_autoscale_pools_have_unique_names() -> None:
    _, autoscaled = split_pools([BASE, {**BASE, "name": "gpu2"}])
    assert [spec.name for spec in autoscale_pools(autoscaled, {})] == ["gpu", "gpu2"]
    with pytest.raises(SpecError) as caught:
        autoscale_pools(autoscaled, {}, taken=["gpu2"])
    assert str(caught.value) == ("Pool name 'gpu2' is used twice; give every pool its own "
                                 "name.")


@pytest.mark.parametrize("image", ["ghcr.io/acme/cuda-runner:2.334.0", "acme/runner",
                                   "localhost:5000/runner@sha256:" + "a" * 64,
                                   "registry.example.com:443/ml/runner:v1"])
def test_runner_image_of_a_github_pool(image: str) -> None:
    assert pool(runnerImage=image).runner_image == image
    assert pool().runner_image is None


@pytest.mark.parametrize(("changes", "sentence"), [
    ({"runnerImage": "UPPER/runner"},
     "Pool 'gpu': runnerImage 'UPPER/runner' is not a container image reference; give one such "
     "as ghcr.io/acme/cuda-runner:2.334.0."),
    ({"runnerImage": "ghcr.io/x:"},
     "Pool 'gpu': runnerImage 'ghcr.io/x:' is not a container image reference; give one such "
     "as ghcr.io/acme/cuda-runner:2.334.0."),
    ({"forge": "gitlab", "runnerImage": "acme/runner"},
     "Pool 'gpu': runnerImage is the image of GitHub runner pods; a GitLab job names its own "
     "(image: in .gitlab-ci.yml), so drop it."),
])
def test_bad_runner_images(changes: dict[str, Any], sentence: str) -> None:
    assert refused(**changes) == sentence


def test_existing_nodes_need_no_node_machine_sold_in_the_region() -> None:
    """With gpuNodePool: existing the stack makes no node, so no zone or region must sell one."""
    spec = pool(cloud="gcp", region="europe-north1", gpuModel="l4", gpuNodePool="existing",
                nodeSelector={"pool": "l4"})
    assert (spec.region, spec.zones) == ("europe-north1", ())
    with pytest.raises(SpecError, match=r"the node machine .* not sold in europe-north1"):
        pool(cloud="gcp", region="europe-north1", gpuModel="l4")


def test_an_eks_cluster_name_with_a_space_says_what_a_name_is() -> None:
    assert refused(cluster={"name": "ml platform", "context": "x"}) == (
        "Pool 'gpu': cluster.name 'ml platform' is not an EKS cluster name (letters, digits, "
        "'-' and '_', at most 100); give the cluster's name as the EKS console shows it.")


def test_a_label_that_is_another_scale_sets_name_is_refused() -> None:
    entries = [{**BASE, "name": "p-aws"}, {**BASE, "name": "p-aws2", "labels": ["p-aws"]}]
    with pytest.raises(SpecError) as caught:
        autoscale_pools(enumerate(entries, 1), {})
    assert str(caught.value) == (
        "Pool 'p-aws2': label 'p-aws' is the scale set name of pool 'p-aws', and runs-on: p-aws "
        "would reach both; choose another label.")
