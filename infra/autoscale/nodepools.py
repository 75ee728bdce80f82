"""The GPU node pool of an autoscaled runner pool (`gpuNodePool: create`), one per cloud, and
where runner pods must go (node selector, tolerations) on it or on the team's own pool
(`gpuNodePool: existing`, for which nothing is declared).

Every created pool scales between `min_nodes` (0, or the nodes `minRunners` need) and
`spec.max_nodes`; its nodes carry the labels `cml-infra/pool=<name>` and
`nvidia.com/gpu.present=true` (the NVIDIA device plugin chart's default node affinity wants
that label when NFD is off) and the taint `nvidia.com/gpu=present:NoSchedule`.
Facts per cloud (argument names, scale-from-zero hints, device plugins):
../shared/notes/kubernetes.md sections 3, 4 and 7.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from infra.autoscale.charts import GPU_RESOURCE, GPU_TOLERATION
from infra.autoscale.spec import AutoscaleSpec, Toleration
from infra.errors import SpecError

POOL_LABEL = "cml-infra/pool"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
GPU_TAINT = {"key": GPU_RESOURCE, "value": "present", "effect": "NoSchedule"}
# AKS taints and labels every Spot node pool so (MS Learn aks/spot-node-pool).
AZURE_SPOT_TOLERATION: dict[str, Any] = {
    "key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot",
    "effect": "NoSchedule"}

# The GKE accelerator type of each GPU model of infra/catalog/gcp.py (N1 families name theirs
# in the catalog; G2, A2 and A3 have them built in): https://cloud.google.com/compute/docs/gpus
GKE_ACCELERATORS = {"t4": "nvidia-tesla-t4", "v100": "nvidia-tesla-v100", "l4": "nvidia-l4",
                    "a100": "nvidia-tesla-a100", "a100-80gb": "nvidia-a100-80gb",
                    "h100": "nvidia-h100-80gb"}

# EKS worker nodes' managed policies (EKS user guide create-node-role).
EKS_NODE_POLICIES = {
    "worker": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "ecr": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "cni": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
}
EKS_GPU_AMI = "AL2023_x86_64_NVIDIA"
EKS_METADATA_OPTIONS: dict[str, Any] = {
    "http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1}
CA_TEMPLATE = "k8s.io/cluster-autoscaler/node-template"

# An AKS Linux agent pool's name: https://learn.microsoft.com/azure/aks/create-node-pools
AKS_POOL_NAME = re.compile(r"[a-z][a-z0-9]{0,11}")
AZURE_CLUSTER = re.compile(r"([^/\s]+)/([^/\s]+)")


@dataclass(frozen=True)
class NodePoolInfo:
    """Where a pool's runner pods go, and what the cluster still needs for them."""

    node_selector: dict[str, str]
    tolerations: list[dict[str, Any]]
    """Kubernetes tolerations (camelCase keys), the GPU taint's among them."""
    needs_device_plugin: bool
    """True when the NVIDIA device plugin must be installed for the nodes to offer GPUs."""
    min_nodes: int | None = None
    """The created node pool's bounds; None for an existing pool."""
    max_nodes: int | None = None
    resources: list[pulumi.Resource] = field(default_factory=list)
    """The node pool and what it needs, for `depends_on`; [] for an existing pool."""


def min_nodes(spec: AutoscaleSpec) -> int:
    """The nodes `min_runners` idle runners need: ceil(min_runners / runners per node)."""
    return math.ceil(spec.min_runners / spec.runners_per_node)


def node_labels(spec: AutoscaleSpec) -> dict[str, str]:
    return {POOL_LABEL: spec.name, GPU_PRESENT_LABEL: "true"}


def toleration_dict(toleration: Toleration) -> dict[str, Any]:
    """A spec's toleration as Kubernetes writes it, without unset fields."""
    found: dict[str, Any] = {"key": toleration.key, "operator": toleration.operator,
                             "value": toleration.value, "effect": toleration.effect,
                             "tolerationSeconds": toleration.seconds}
    return {key: value for key, value in found.items() if value is not None}


def _tolerations(spec: AutoscaleSpec, *extra: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = [toleration_dict(t) for t in spec.tolerations]
    for item in (GPU_TOLERATION, *extra):
        if dict(item) not in found:
            found.append(dict(item))
    return found


def azure_cluster(spec: AutoscaleSpec) -> tuple[str, str]:
    """(resource group, cluster name) of an AKS cluster given as `<group>/<name>`."""
    match = AZURE_CLUSTER.fullmatch(spec.cluster.name)
    if not match:
        raise SpecError(f"Pool {spec.name!r}: cluster.name {spec.cluster.name!r} must be "
                        "<resource group>/<cluster name> on azure, such as "
                        "gpu-rg/gpu-cluster; give the AKS cluster's resource group and name.")
    return match.group(1), match.group(2)


def aks_pool_name(pool: str) -> str:
    """The pool's name as an AKS agent pool name (a lower-case letter, then at most 11
    letters or digits); a name that does not fit keeps a prefix and a hash of itself."""
    if AKS_POOL_NAME.fullmatch(pool):
        return pool
    clean = re.sub(r"[^a-z0-9]", "", pool.lower())
    if not clean[:1].isalpha():
        clean = "p" + clean
    return clean[:6] + hashlib.sha256(pool.encode()).hexdigest()[:6]


def gke_pool_name(pool: str) -> str:
    """`cml-<pool>`, or a prefix and a hash of the pool's name past GKE's 40 characters."""
    name = f"cml-{pool}"
    if len(name) <= 40:
        return name
    return f"{name[:33].rstrip('-')}-{hashlib.sha256(pool.encode()).hexdigest()[:6]}"


def gpu_node_pool(spec: AutoscaleSpec, parent: pulumi.Resource | None = None) -> NodePoolInfo:
    """The pool's GPU node pool on its cloud (`create`), or nothing (`existing`); where its
    runner pods must go either way."""
    if spec.gpu_node_pool != "create":
        return NodePoolInfo(node_selector=dict(spec.node_selector),
                            tolerations=_tolerations(spec), needs_device_plugin=False)
    if spec.cloud == "azure":
        azure_cluster(spec)  # refused before anything is declared
    # short names: Pulumi appends 8 characters to each, and an EKS node group's name takes 63
    pool = GpuNodePool(f"{spec.name}-gpu", spec,
                       pulumi.ResourceOptions(parent=parent))
    extra = (AZURE_SPOT_TOLERATION,) if spec.cloud == "azure" and spec.spot else ()
    return NodePoolInfo(node_selector={POOL_LABEL: spec.name},
                        tolerations=_tolerations(spec, *extra),
                        needs_device_plugin=spec.cloud in ("aws", "azure"),
                        min_nodes=min_nodes(spec), max_nodes=spec.max_nodes,
                        resources=[pool, *pool.children])


class GpuNodePool(pulumi.ComponentResource):
    """An autoscaled GPU node pool in an existing cluster, for one runner pool."""

    children: list[pulumi.Resource]

    def __init__(self, name: str, spec: AutoscaleSpec,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:autoscale:GpuNodePool", name, None, opts)
        self.children = []
        declare = {"aws": self._aws, "gcp": self._gcp, "azure": self._azure,
                   "alicloud": self._alicloud}[spec.cloud]
        declare(name, spec)
        self.register_outputs({})

    def _child(self, depends_on: Sequence[pulumi.Resource] = (),
               ignore_changes: list[str] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=list(depends_on),
                                      ignore_changes=ignore_changes)

    # ---- AWS: EKS managed node group + Cluster Autoscaler scale-from-zero hints ----------

    def _aws(self, name: str, spec: AutoscaleSpec) -> None:
        import pulumi_aws as aws

        role = aws.iam.Role(f"{name}-role", assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                           "Action": "sts:AssumeRole"}]}),
            description=f"cml-infra GPU nodes of pool {spec.name}", opts=self._child())
        attachments = [aws.iam.RolePolicyAttachment(f"{name}-{short}", role=role.name,
                                                    policy_arn=arn, opts=self._child())
                       for short, arn in EKS_NODE_POLICIES.items()]
        cluster = aws.eks.get_cluster_output(name=spec.cluster.name, region=spec.region,
                                             opts=pulumi.InvokeOutputOptions(parent=self))
        lowest = min_nodes(spec)
        labels = {**node_labels(spec), "k8s.amazonaws.com/accelerator": f"nvidia-{spec.gpu_model}"}
        scaling: aws.eks.NodeGroupScalingConfigArgsDict = {
            "min_size": lowest, "max_size": spec.max_nodes, "desired_size": lowest}
        taint: aws.eks.NodeGroupTaintArgsDict = {
            "key": GPU_RESOURCE, "value": "present", "effect": "NO_SCHEDULE"}
        # IMDSv2 only, one hop: a pod's packets take a second hop, so no runner pod reads the
        # node role's credentials (EKS best practices, security/iam "Restrict access to the
        # instance profile"); EKS Pod Identity answers pods at 169.254.170.23 instead. The
        # template holds no type, image, subnet or profile: the node group sets those
        # (EKS user guide, launch-templates).
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt", region=spec.region,
            description=f"cml-infra GPU nodes of pool {spec.name}: no metadata for pods",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(**EKS_METADATA_OPTIONS),
            tag_specifications=[aws.ec2.LaunchTemplateTagSpecificationArgs(
                resource_type="instance", tags={"cml-infra-pool": spec.name})],
            opts=self._child())
        group = aws.eks.NodeGroup(
            f"{name}-ng", region=spec.region, cluster_name=spec.cluster.name,
            node_role_arn=role.arn, subnet_ids=cluster.vpc_config.subnet_ids,
            launch_template={"id": template.id,
                             "version": template.latest_version.apply(str)},
            ami_type=EKS_GPU_AMI, instance_types=[spec.node_machine_type],
            capacity_type="SPOT" if spec.spot else "ON_DEMAND", scaling_config=scaling,
            labels=labels, taints=[taint], tags={"cml-infra-pool": spec.name},
            # nested paths are matched by their wire names (../shared/notes/kubernetes.md 3)
            opts=self._child(attachments, ignore_changes=["scalingConfig.desiredSize"]))
        asg = group.resources.apply(_asg_name)
        hints = {f"label/{key}": value for key, value in labels.items()}
        hints[f"taint/{GPU_RESOURCE}"] = "present:NoSchedule"
        hints[f"resources/{GPU_RESOURCE}"] = str(spec.gpus_per_node)
        tags = [aws.autoscaling.Tag(
            f"{name}-ca-{re.sub(r'[^a-z0-9]+', '-', key.lower()).strip('-')}",
            region=spec.region, autoscaling_group_name=asg,
            tag={"key": f"{CA_TEMPLATE}/{key}", "value": value, "propagate_at_launch": False},
            opts=self._child()) for key, value in hints.items()]
        self.children = [role, *attachments, template, group, *tags]

    # ---- GCP: GKE node pool --------------------------------------------------------------

    def _gcp(self, name: str, spec: AutoscaleSpec) -> None:
        import pulumi_gcp as gcp

        accelerator: gcp.container.NodePoolNodeConfigGuestAcceleratorArgsDict = {
            "type": GKE_ACCELERATORS.get(spec.gpu_model, spec.machine.accelerator or ""),
            "count": spec.gpus_per_node,
            "gpu_driver_installation_config": {"gpu_driver_version": "DEFAULT"}}
        taint: gcp.container.NodePoolNodeConfigTaintArgsDict = {
            "key": GPU_RESOURCE, "value": "present", "effect": "NO_SCHEDULE"}
        node_config: gcp.container.NodePoolNodeConfigArgsDict = {
            "machine_type": spec.node_machine_type, "spot": spec.spot,
            "guest_accelerators": [accelerator], "labels": node_labels(spec),
            "taints": [taint], "workload_metadata_config": {"mode": "GKE_METADATA"},
            "resource_labels": {"cml-infra-pool": spec.name}}
        autoscaling: gcp.container.NodePoolAutoscalingArgsDict = {
            "total_min_node_count": min_nodes(spec), "total_max_node_count": spec.max_nodes,
            "location_policy": "ANY"}
        pool = gcp.container.NodePool(
            f"{name}-pool", name=gke_pool_name(spec.name),
            cluster=spec.cluster.name, location=spec.cluster.location or spec.region,
            # a zonal cluster's nodes are in its zone; a regional one's where the GPU is sold
            node_locations=([spec.cluster.location] if spec.cluster.location else
                            list(spec.zones) or None), autoscaling=autoscaling,
            node_config=node_config, opts=self._child())
        self.children = [pool]

    # ---- Azure: AKS User agent pool ------------------------------------------------------

    def _azure(self, name: str, spec: AutoscaleSpec) -> None:
        from pulumi_azure_native import containerservice

        group, cluster = azure_cluster(spec)
        lowest = min_nodes(spec)
        pool = containerservice.AgentPool(
            f"{name}-pool", resource_group_name=group, resource_name_=cluster,
            agent_pool_name=aks_pool_name(spec.name), mode="User", os_type="Linux",
            vm_size=spec.node_machine_type, enable_auto_scaling=True, count=lowest,
            min_count=lowest, max_count=spec.max_nodes,
            node_taints=[f"{GPU_RESOURCE}=present:NoSchedule"], node_labels=node_labels(spec),
            scale_set_priority="Spot" if spec.spot else None,
            scale_set_eviction_policy="Delete" if spec.spot else None,
            spot_max_price=-1 if spec.spot else None,  # -1: up to the on-demand price
            tags={"cml-infra-pool": spec.name}, opts=self._child(ignore_changes=["count"]))
        self.children = [pool]

    # ---- Alibaba Cloud: ACK node pool ----------------------------------------------------

    def _alicloud(self, name: str, spec: AutoscaleSpec) -> None:
        import pulumi_alicloud as alicloud

        provider = alicloud.Provider(f"{name}-provider", region=spec.region,
                                     opts=self._child())
        found = alicloud.cs.get_clusters_output(
            cluster_id=spec.cluster.name,
            opts=pulumi.InvokeOutputOptions(parent=self, provider=provider))
        vswitches = found.clusters.apply(lambda clusters: _ack_vswitches(spec, clusters))
        scaling: alicloud.cs.NodePoolScalingConfigArgsDict = {
            "enable": True, "min_size": min_nodes(spec), "max_size": spec.max_nodes,
            "type": "spot" if spec.spot else "gpu"}
        taint: alicloud.cs.NodePoolTaintArgsDict = {
            "key": GPU_RESOURCE, "value": "present", "effect": "NoSchedule"}
        labels: list[alicloud.cs.NodePoolLabelArgsDict] = [
            {"key": key, "value": value} for key, value in node_labels(spec).items()]
        pool = alicloud.cs.NodePool(
            f"{name}-pool", cluster_id=spec.cluster.name,
            node_pool_name=f"cml-infra-{spec.name}", vswitch_ids=vswitches,
            instance_types=[spec.node_machine_type], scaling_config=scaling, labels=labels,
            taints=[taint], instance_metadata_options={"http_tokens": "required"},
            spot_strategy="SpotAsPriceGo" if spec.spot else None,
            tags={"cml-infra-pool": spec.name},
            opts=pulumi.ResourceOptions(parent=self, provider=provider))
        self.children = [provider, pool]


def _asg_name(resources: Sequence[Any]) -> str:
    """The Auto Scaling group EKS made for a node group (node-group tags do not reach it)."""
    groups = resources[0].autoscaling_groups if resources else None
    if not groups:
        raise SpecError("EKS reported no Auto Scaling group for the GPU node group; deploy "
                        "again once the node group is active.")
    return str(groups[0].name)


def _ack_vswitches(spec: AutoscaleSpec, clusters: Sequence[Any]) -> list[str]:
    """The vSwitches of the ACK cluster (its control plane's), for the node pool's nodes."""
    switches = [s for c in clusters for s in (c.vswitch_ids or [])] if len(clusters) == 1 else []
    if not switches:
        raise SpecError(f"Pool {spec.name!r}: ACK lists no vSwitches for cluster "
                        f"{spec.cluster.name!r} in {spec.region}, so cml-infra cannot place "
                        "its GPU node pool; check that cluster.name is the cluster's id, or "
                        "make the node pool yourself and set gpuNodePool: existing.")
    return switches
