"""The GPU node pool of an autoscaled pool (infra/autoscale/nodepools.py) under Pulumi's mock
runtime: the exact inputs per cloud as they arrive on the wire, the node counts, the Azure
cluster-name refusal, and nothing declared for `gpuNodePool: existing`."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from infra.autoscale.nodepools import (
    AZURE_SPOT_TOLERATION,
    GPU_TOLERATION,
    NodePoolInfo,
    aks_pool_name,
    gke_pool_name,
    gpu_node_pool,
)
from infra.autoscale.spec import AutoscaleSpec, autoscale_spec_from_config
from infra.errors import SpecError

SUBNETS = ["subnet-a", "subnet-b"]
VSWITCHES = ["vsw-a", "vsw-b"]
ASG = "eks-gpu-gpu-nodes-asg"
CLUSTERS = {"aws": "gpu-cluster", "gcp": "gpu-cluster", "azure": "gpu-rg/gpu-cluster",
            "alicloud": "c0ffee0123456789"}
MODELS = {"aws": "l4", "gcp": "l4", "azure": "t4", "alicloud": "a10"}
LABELS = {"cml-infra/pool": "gpu", "nvidia.com/gpu.present": "true"}


class Mocks(pulumi.runtime.Mocks):
    """Records every resource and invoke; answers the cluster look-ups with fixed data."""

    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = []
        self.invokes: list[dict[str, Any]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources.append({"type": args.typ, "name": args.name, "inputs": args.inputs})
        state = dict(args.inputs)
        if args.typ == "aws:iam/role:Role":
            state["arn"] = f"arn:aws:iam::123456789012:role/{args.name}"
            state["name"] = args.name
        if args.typ == "aws:eks/nodeGroup:NodeGroup":
            state["resources"] = [{"autoscalingGroups": [{"name": ASG}]}]
        if args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state["latestVersion"] = 3
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        self.invokes.append({"token": args.token, "args": args.args})
        if args.token == "aws:eks/getCluster:getCluster":
            return {"name": args.args["name"], "vpcConfig": {"subnetIds": SUBNETS}}, []
        if args.token == "alicloud:cs/getClusters:getClusters":
            return {"clusters": [{"clusterId": args.args["clusterId"],
                                  "vswitchIds": VSWITCHES}]}, []
        return {}, []


def spec_for(cloud: str, **changes: Any) -> AutoscaleSpec:
    entry: dict[str, Any] = {
        "name": "gpu", "kind": "autoscale", "repo": "acme/models", "cloud": cloud,
        "gpuModel": MODELS[cloud], "maxRunners": 4,
        "cluster": {"name": CLUSTERS[cloud], "context": "gpu-ctx"}}
    entry.update(changes)
    return autoscale_spec_from_config(entry, {}, 1)


def declare(spec: AutoscaleSpec) -> tuple[NodePoolInfo, Mocks, dict[str, list[str]]]:
    """Run gpu_node_pool under mocks: its answer, the mocks' records, and each resource's
    ignore_changes."""
    mocks = Mocks()
    ignored: dict[str, list[str]] = {}
    found: list[NodePoolInfo] = []

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        ignored[args.name] = list(args.opts.ignore_changes or [])
        return None

    def program() -> None:
        pulumi.runtime.register_stack_transformation(record)
        parent = pulumi.ComponentResource("test:index:Pool", "pool")
        found.append(gpu_node_pool(spec, parent))

    pulumi.runtime.set_mocks(mocks, project="cml-infra", stack="test", preview=False)
    pulumi.runtime.test(program)()
    return found[0], mocks, ignored


def of_type(mocks: Mocks, token: str) -> list[dict[str, Any]]:
    return [r for r in mocks.resources if r["type"] == token]


def only(mocks: Mocks, token: str) -> dict[str, Any]:
    found = of_type(mocks, token)
    assert len(found) == 1, [r["type"] for r in mocks.resources]
    return found[0]["inputs"]


# ---- AWS -----------------------------------------------------------------------------------

def test_aws_node_group_role_and_autoscaler_hints() -> None:
    info, mocks, ignored = declare(spec_for("aws"))
    assert sorted(r["type"] for r in mocks.resources) == sorted([
        "test:index:Pool", "cml-infra:autoscale:GpuNodePool", "aws:iam/role:Role",
        *["aws:iam/rolePolicyAttachment:RolePolicyAttachment"] * 3,
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:eks/nodeGroup:NodeGroup", *["aws:autoscaling/tag:Tag"] * 5])
    group = only(mocks, "aws:eks/nodeGroup:NodeGroup")
    assert group == {
        "region": "us-east-1", "clusterName": "gpu-cluster",
        "nodeRoleArn": "arn:aws:iam::123456789012:role/gpu-gpu-role",
        "launchTemplate": {"id": "gpu-gpu-lt-id", "version": "3"},
        "subnetIds": SUBNETS, "amiType": "AL2023_x86_64_NVIDIA", "instanceTypes": ["g6.xlarge"],
        "capacityType": "ON_DEMAND",
        "scalingConfig": {"minSize": 0, "maxSize": 4, "desiredSize": 0},
        "labels": {**LABELS, "k8s.amazonaws.com/accelerator": "nvidia-l4"},
        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}],
        "tags": {"cml-infra-pool": "gpu"},
    }
    assert ignored["gpu-gpu-ng"] == ["scalingConfig.desiredSize"]
    # IMDSv2 with one hop: pods (a second hop) never read the node role's credentials; the
    # template names no type, image, subnet or profile, which the node group sets
    template = only(mocks, "aws:ec2/launchTemplate:LaunchTemplate")
    assert template["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required",
                                           "httpPutResponseHopLimit": 1}
    assert not {"instanceType", "imageId", "iamInstanceProfile", "networkInterfaces",
                "vpcSecurityGroupIds"} & set(template)
    role = only(mocks, "aws:iam/role:Role")
    assert '"Service": "ec2.amazonaws.com"' in role["assumeRolePolicy"]
    assert sorted(a["inputs"]["policyArn"] for a in
                  of_type(mocks, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")) == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]
    assert [i["args"] for i in mocks.invokes if i["token"] == "aws:eks/getCluster:getCluster"] \
        == [{"name": "gpu-cluster", "region": "us-east-1"}]
    tags = sorted((t["inputs"]["tag"]["key"], t["inputs"]["tag"]["value"])
                  for t in of_type(mocks, "aws:autoscaling/tag:Tag"))
    hint = "k8s.io/cluster-autoscaler/node-template"
    assert tags == sorted([
        (f"{hint}/label/cml-infra/pool", "gpu"),
        (f"{hint}/label/nvidia.com/gpu.present", "true"),
        (f"{hint}/label/k8s.amazonaws.com/accelerator", "nvidia-l4"),
        (f"{hint}/taint/nvidia.com/gpu", "present:NoSchedule"),
        (f"{hint}/resources/nvidia.com/gpu", "1"),
    ])
    for tag in of_type(mocks, "aws:autoscaling/tag:Tag"):
        assert tag["inputs"]["autoscalingGroupName"] == ASG
        assert tag["inputs"]["tag"]["propagateAtLaunch"] is False
        assert tag["inputs"]["region"] == "us-east-1"
    assert info.node_selector == {"cml-infra/pool": "gpu"}
    assert info.tolerations == [GPU_TOLERATION]
    assert info.needs_device_plugin is True
    assert (info.min_nodes, info.max_nodes) == (0, 4)


def test_aws_spot_capacity() -> None:
    _, mocks, _ = declare(spec_for("aws", spot=True))
    assert only(mocks, "aws:eks/nodeGroup:NodeGroup")["capacityType"] == "SPOT"


# (minRunners, maxRunners, gpuCount) on 4-GPU g6.12xlarge nodes -> (min nodes, max nodes)
NODE_CASES = [
    ((0, 4, 1), (0, 1)),
    ((1, 4, 1), (1, 1)),
    ((5, 9, 1), (2, 3)),
    ((3, 3, 2), (2, 2)),
    ((0, 5, 3), (0, 5)),
]


@pytest.mark.parametrize(("runners", "nodes"), NODE_CASES)
def test_node_counts(runners: tuple[int, int, int], nodes: tuple[int, int]) -> None:
    minimum, maximum, gpus = runners
    spec = spec_for("aws", minRunners=minimum, maxRunners=maximum, gpuCount=gpus,
                    nodeMachineType="g6.12xlarge")
    info, mocks, _ = declare(spec)
    scaling = only(mocks, "aws:eks/nodeGroup:NodeGroup")["scalingConfig"]
    assert (scaling["minSize"], scaling["maxSize"]) == nodes
    assert scaling["desiredSize"] == nodes[0]
    assert (info.min_nodes, info.max_nodes) == nodes
    hints = {t["inputs"]["tag"]["key"]: t["inputs"]["tag"]["value"]
             for t in of_type(mocks, "aws:autoscaling/tag:Tag")}
    assert hints["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == "4"


# ---- GCP -----------------------------------------------------------------------------------

def test_gcp_node_pool() -> None:
    info, mocks, _ = declare(spec_for("gcp", minRunners=1, maxRunners=3, spot=True))
    assert only(mocks, "gcp:container/nodePool:NodePool") == {
        "name": "cml-gpu", "cluster": "gpu-cluster", "location": "us-east1",
        "nodeLocations": ["us-east1-c", "us-east1-b", "us-east1-d"],
        "autoscaling": {"totalMinNodeCount": 1, "totalMaxNodeCount": 3,
                        "locationPolicy": "ANY"},
        "nodeConfig": {
            "machineType": "g2-standard-4", "spot": True,
            "guestAccelerators": [{"type": "nvidia-l4", "count": 1,
                                   "gpuDriverInstallationConfig": {
                                       "gpuDriverVersion": "DEFAULT"}}],
            "labels": LABELS,
            "taints": [{"key": "nvidia.com/gpu", "value": "present",
                        "effect": "NO_SCHEDULE"}],
            "workloadMetadataConfig": {"mode": "GKE_METADATA"},
            "resourceLabels": {"cml-infra-pool": "gpu"},
        },
    }
    assert info.needs_device_plugin is False
    assert info.tolerations == [GPU_TOLERATION]


@pytest.mark.parametrize(("model", "count", "accelerator"), [
    ("t4", 1, "nvidia-tesla-t4"), ("a100", 2, "nvidia-tesla-a100"),
    ("a100-80gb", 1, "nvidia-a100-80gb"), ("h100", 8, "nvidia-h100-80gb"),
])
def test_gcp_accelerator_names(model: str, count: int, accelerator: str) -> None:
    _, mocks, _ = declare(spec_for("gcp", gpuModel=model, gpuCount=count, maxRunners=1,
                                   region="us-central1"))
    config = only(mocks, "gcp:container/nodePool:NodePool")["nodeConfig"]
    assert config["guestAccelerators"][0]["type"] == accelerator
    assert config["guestAccelerators"][0]["count"] == count


# ---- Azure ---------------------------------------------------------------------------------

def test_azure_agent_pool() -> None:
    info, mocks, ignored = declare(spec_for("azure", minRunners=2, maxRunners=5))
    assert only(mocks, "azure-native:containerservice:AgentPool") == {
        "resourceGroupName": "gpu-rg", "resourceName": "gpu-cluster", "agentPoolName": "gpu",
        "mode": "User", "osType": "Linux", "vmSize": "Standard_NC4as_T4_v3",
        "enableAutoScaling": True, "count": 2, "minCount": 2, "maxCount": 5,
        "nodeTaints": ["nvidia.com/gpu=present:NoSchedule"], "nodeLabels": LABELS,
        "tags": {"cml-infra-pool": "gpu"},
    }
    assert ignored["gpu-gpu-pool"] == ["count"]
    assert info.needs_device_plugin is True
    assert info.tolerations == [GPU_TOLERATION]


def test_azure_spot_pool_tolerates_the_spot_taint() -> None:
    info, mocks, _ = declare(spec_for("azure", spot=True))
    pool = only(mocks, "azure-native:containerservice:AgentPool")
    assert (pool["scaleSetPriority"], pool["scaleSetEvictionPolicy"], pool["spotMaxPrice"]) \
        == ("Spot", "Delete", -1)
    assert info.tolerations == [GPU_TOLERATION, AZURE_SPOT_TOLERATION]


@pytest.mark.parametrize("name", ["gpu-cluster", "rg/a/b", "/gpu-cluster", "gpu-rg/"])
def test_azure_cluster_name_refused(name: str) -> None:
    with pytest.raises(SpecError) as caught:  # refused as the pool is read
        spec_for("azure", cluster={"name": name, "context": "gpu-ctx"})
    assert str(caught.value) == (
        f"Pool 'gpu': cluster.name {name!r} must be <resource group>/<cluster name> on azure, "
        "such as gpu-rg/gpu-cluster; give the AKS cluster's resource group and name.")


def test_gke_pool_names() -> None:
    assert gke_pool_name("gpu") == "cml-gpu"
    long = "a" * 30 + "-" + "b" * 9
    name = gke_pool_name(long)
    assert len(name) <= 40 and name.startswith("cml-aaaa") and name != gke_pool_name(long[:-1])


def test_aks_pool_names() -> None:
    assert aks_pool_name("gpu") == "gpu"
    for pool in ("train-l4", "averylongpoolname", "gpu2"):
        name = aks_pool_name(pool)
        assert len(name) <= 12 and name.isalnum() and name[0].isalpha() and name.islower()
    assert aks_pool_name("train-l4") != aks_pool_name("train-l5")


# ---- Alibaba Cloud -------------------------------------------------------------------------

def test_alicloud_node_pool() -> None:
    info, mocks, _ = declare(spec_for("alicloud", spot=True, maxRunners=2))
    assert only(mocks, "alicloud:cs/nodePool:NodePool") == {
        "clusterId": "c0ffee0123456789", "nodePoolName": "cml-infra-gpu",
        "vswitchIds": VSWITCHES, "instanceTypes": ["ecs.gn7i-c8g1.2xlarge"],
        "scalingConfig": {"enable": True, "minSize": 0, "maxSize": 2, "type": "spot"},
        "labels": [{"key": "cml-infra/pool", "value": "gpu"},
                   {"key": "nvidia.com/gpu.present", "value": "true"}],
        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}],
        "instanceMetadataOptions": {"httpTokens": "required"},
        "spotStrategy": "SpotAsPriceGo", "tags": {"cml-infra-pool": "gpu"},
    }
    assert only(mocks, "pulumi:providers:alicloud")["region"] == "us-east-1"
    assert [i["args"] for i in mocks.invokes
            if i["token"] == "alicloud:cs/getClusters:getClusters"] \
        == [{"clusterId": "c0ffee0123456789"}]
    assert info.needs_device_plugin is False


def test_alicloud_on_demand_is_a_gpu_pool() -> None:
    _, mocks, _ = declare(spec_for("alicloud"))
    pool = only(mocks, "alicloud:cs/nodePool:NodePool")
    assert pool["scalingConfig"]["type"] == "gpu"
    assert "spotStrategy" not in pool


# ---- existing pools ------------------------------------------------------------------------

@pytest.mark.parametrize("cloud", list(CLUSTERS))
def test_existing_declares_nothing(cloud: str) -> None:
    spec = spec_for(cloud, gpuNodePool="existing", nodeSelector={"pool": "gpu"},
                    tolerations=[{"key": "dedicated", "operator": "Equal", "value": "ml",
                                  "effect": "NoSchedule"}])
    info, mocks, _ = declare(spec)
    assert [r["type"] for r in mocks.resources] == ["test:index:Pool"]  # the test's parent
    assert mocks.invokes == []
    assert info == NodePoolInfo(
        node_selector={"pool": "gpu"},
        tolerations=[{"key": "dedicated", "operator": "Equal", "value": "ml",
                      "effect": "NoSchedule"}, GPU_TOLERATION],
        needs_device_plugin=False)


def test_existing_keeps_a_gpu_toleration_given_once() -> None:
    spec = spec_for("aws", gpuNodePool="existing", nodeSelector={"pool": "gpu"},
                    tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists",
                                  "effect": "NoSchedule"}])
    info, _, _ = declare(spec)
    assert info.tolerations == [GPU_TOLERATION]
