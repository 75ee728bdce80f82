"""What an autoscaled pool's jobs may reach of the cloud: the identity the pool grants them
(workload identity, per cloud) and nothing of the nodes' own (instance metadata blocked).

A pool's `identity` is the cloud identity its jobs act as, in the form the cloud's workload
identity binds (checked by `check_identity` when the pool is read):

- aws, an IAM role ARN: an EKS Pod Identity association of the pool's service account;
- gcp, a service account e-mail: GKE Workload Identity, the account's
  `roles/iam.workloadIdentityUser` granted to the pool's service account, which names it in
  `iam.gke.io/gcp-service-account`;
- azure, a user-assigned managed identity's resource id: a federated credential of that
  identity for the pool's service account (the cluster's OIDC issuer),
  `azure.workload.identity/client-id` on the account, `azure.workload.identity/use` on pods;
- alicloud, a RAM role's name or ARN: ACK RRSA, the ack-pod-identity-webhook injecting the
  role of the account's `pod-identity.alibabacloud.com/role-name` in a namespace labelled
  `pod-identity.alibabacloud.com/injection: "on"`.

Without an identity the pods run under a service account that is bound to nothing and mount no
API token. Either way they must not reach the node's credentials: every pool's namespace gets a
NetworkPolicy whose egress excludes the metadata service (AWS, Azure and GCP 169.254.169.254,
Alibaba 100.100.100.200; GKE pools that grant an identity keep it, since the GKE metadata
server that serves workload identity answers there). Where a NetworkPolicy is not enforced the
nodes cml-infra creates still block it: EKS launch templates with IMDSv2 and a hop limit of 1,
GKE node pools with `GKE_METADATA`. AKS has no such node setting, so an AKS cluster without a
network policy engine is refused (`cluster_facts`).

Facts and sources: ../shared/notes/kubernetes.md section 7; EKS Pod Identity
https://docs.aws.amazon.com/eks/latest/userguide/pod-identities.html ; GKE
https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity ; AKS
https://learn.microsoft.com/azure/aks/workload-identity-deploy-cluster ; ACK RRSA
https://www.alibabacloud.com/help/en/ack/ack-managed-and-ack-dedicated/user-guide/use-rrsa-to-authorize-pods-to-access-different-cloud-services
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infra.errors import SpecError

if TYPE_CHECKING:
    import pulumi

    from infra.autoscale.spec import AutoscaleSpec

JOB_POD_LABEL = {"cml-infra/pod": "job"}
RUNNER_SERVICE_ACCOUNT = "cml-runner"
"""The service account runner pods (ARC) and build pods (GitLab) run under when a pool
grants an identity."""

# The link-local metadata services, per cloud (IPv4, and AWS's IPv6 endpoint).
METADATA_CIDRS: dict[str, tuple[str, ...]] = {
    "aws": ("169.254.169.254/32", "fd00:ec2::254/128"),
    "gcp": ("169.254.169.254/32",),
    "azure": ("169.254.169.254/32",),
    "alicloud": ("100.100.100.200/32",),
}

AWS_ROLE = re.compile(r"arn:aws(?:-[a-z]+)*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
# a user-managed account (NAME@PROJECT.iam.gserviceaccount.com: IAM's naming rules) or a
# Google-managed default one (PROJECT_NUMBER-compute@developer.gserviceaccount.com)
GCP_ACCOUNT = re.compile(
    r"(?:[a-z][a-z0-9-]{4,28}[a-z0-9]@(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])"
    r"\.iam\.gserviceaccount\.com|\d+-compute@developer\.gserviceaccount\.com)")
AZURE_IDENTITY = re.compile(
    r"/subscriptions/(?P<sub>[^/\s]+)/resourceGroups/(?P<group>[^/\s]+)/providers/"
    r"Microsoft\.ManagedIdentity/userAssignedIdentities/(?P<name>[^/\s]+)", re.IGNORECASE)
ALICLOUD_ROLE = re.compile(r"(?:acs:ram::\d+:role/)?(?P<name>[A-Za-z0-9.-]{1,64})")

IDENTITY_FORMS = {
    "aws": "the ARN of an IAM role that EKS Pod Identity may assume "
           "(arn:aws:iam::123456789012:role/NAME)",
    "gcp": "a Google service account's e-mail (NAME@PROJECT.iam.gserviceaccount.com, NAME "
           "and PROJECT each 6 to 30 lowercase letters, digits and hyphens)",
    "azure": "the resource id of a user-assigned managed identity (/subscriptions/SUB/"
             "resourceGroups/GROUP/providers/Microsoft.ManagedIdentity/"
             "userAssignedIdentities/NAME)",
    "alicloud": "a RAM role's name or ARN (acs:ram::UID:role/NAME) that trusts the "
                "cluster's RRSA OIDC provider",
}
_PATTERNS = {"aws": AWS_ROLE, "gcp": GCP_ACCOUNT, "azure": AZURE_IDENTITY,
             "alicloud": ALICLOUD_ROLE}

# AKS network policy engines that enforce Kubernetes NetworkPolicy (MS Learn,
# aks/use-network-policies): Azure NPM, Calico, Cilium.
AKS_POLICY_ENGINES = ("azure", "calico", "cilium")
AZURE_AUDIENCE = "api://AzureADTokenExchange"
AZURE_USE_LABEL = "azure.workload.identity/use"
AZURE_CLIENT_ID = "azure.workload.identity/client-id"
GKE_ACCOUNT_ANNOTATION = "iam.gke.io/gcp-service-account"
ACK_ROLE_ANNOTATION = "pod-identity.alibabacloud.com/role-name"
ACK_INJECTION_LABEL = "pod-identity.alibabacloud.com/injection"


def check_identity(where: str, cloud: str, value: object) -> str:
    """The pool's `identity` setting, refused unless it has the form `cloud` binds."""
    text = str(value).strip()
    if not _PATTERNS[cloud].fullmatch(text):
        raise SpecError(f"{where}: identity {value!r} is not {IDENTITY_FORMS[cloud]} on "
                        f"{cloud}; give one, or drop identity so jobs get no cloud identity.")
    return text


def alicloud_role_name(identity: str) -> str:
    match = ALICLOUD_ROLE.fullmatch(identity)
    assert match is not None  # checked by check_identity
    return match.group("name")


@dataclass(frozen=True)
class ClusterFacts:
    """What the cluster says that the pool's identity binding needs (looked up at deploy
    time, before anything of the pool is declared)."""

    workload_pool: str | None = None
    """GKE: `<project>.svc.id.goog`, when the pool grants an identity."""
    oidc_issuer: str | None = None
    """AKS: the cluster's OIDC issuer URL, when the pool grants an identity."""
    client_id: str | None = None
    """AKS: the managed identity's client id, when the pool grants an identity."""


def cluster_facts(spec: AutoscaleSpec) -> ClusterFacts:
    """Look the cluster up where the pool needs it, refusing in one sentence a cluster that
    cannot give runner pods what the pool promises (synchronous invokes: call before the
    pool declares anything, so a refusal leaves nothing half-made)."""
    where = f"Pool {spec.name!r}"
    if spec.cloud == "gcp" and (spec.identity or spec.gpu_node_pool == "create"):
        import pulumi_gcp as gcp

        found = gcp.container.get_cluster(name=spec.cluster.name,
                                          location=spec.cluster.location or spec.region)
        pools = [c.workload_pool for c in (found.workload_identity_configs or [])
                 if c.workload_pool]
        if not pools:
            # GKE_METADATA, which hides the node's account from pods, needs Workload Identity
            # on the cluster (pulumi_gcp NodePool workload_metadata_config)
            why = ("jobs cannot act as the pool's identity" if spec.identity else
                   "its GPU node pool cannot hide the node's account from pods (GKE_METADATA)")
            raise SpecError(f"{where}: GKE cluster {spec.cluster.name!r} has no Workload "
                            f"Identity, so {why}; enable it (gcloud container clusters update "
                            f"{spec.cluster.name} --workload-pool=PROJECT.svc.id.goog), then "
                            "deploy again.")
        return ClusterFacts(workload_pool=pools[0])
    if spec.cloud == "azure":
        return _aks_facts(spec, where)
    return ClusterFacts()


def _aks_facts(spec: AutoscaleSpec, where: str) -> ClusterFacts:
    from pulumi_azure_native import containerservice, managedidentity

    from infra.autoscale.nodepools import azure_cluster

    group, name = azure_cluster(spec)
    cluster = containerservice.get_managed_cluster(resource_group_name=group,
                                                   resource_name=name)
    engine = (cluster.network_profile.network_policy or "").lower() \
        if cluster.network_profile else ""
    if engine not in AKS_POLICY_ENGINES:
        raise SpecError(f"{where}: AKS cluster {name!r} enforces no NetworkPolicy, so its "
                        "runner pods could read the nodes' metadata service; enable a network "
                        f"policy engine (az aks update -g {group} -n {name} --network-policy "
                        "cilium, azure or calico), then deploy again.")
    if not spec.identity:
        return ClusterFacts()
    issuer = cluster.oidc_issuer_profile.issuer_url if cluster.oidc_issuer_profile else None
    enabled = bool(cluster.security_profile and cluster.security_profile.workload_identity
                   and cluster.security_profile.workload_identity.enabled)
    if not issuer or not enabled:
        raise SpecError(f"{where}: AKS cluster {name!r} has no workload identity, so jobs "
                        "cannot act as the pool's identity; enable it (az aks update -g "
                        f"{group} -n {name} --enable-oidc-issuer --enable-workload-identity), "
                        "or drop identity.")
    match = AZURE_IDENTITY.fullmatch(spec.identity)
    assert match is not None  # checked by check_identity
    identity = managedidentity.get_user_assigned_identity(
        resource_group_name=match.group("group"), resource_name=match.group("name"))
    return ClusterFacts(oidc_issuer=issuer, client_id=identity.client_id)


def service_account_metadata(spec: AutoscaleSpec, facts: ClusterFacts,
                             namespace: pulumi.Input[str]) -> dict[str, Any]:
    """The pool's service account's metadata: the annotation its cloud's webhook or
    metadata server reads (EKS Pod Identity needs none: the association names the account)."""
    annotations: dict[str, str] = {}
    if spec.cloud == "gcp":
        annotations[GKE_ACCOUNT_ANNOTATION] = str(spec.identity)
    elif spec.cloud == "azure":
        annotations[AZURE_CLIENT_ID] = str(facts.client_id)
    elif spec.cloud == "alicloud":
        annotations[ACK_ROLE_ANNOTATION] = alicloud_role_name(str(spec.identity))
    return {"name": RUNNER_SERVICE_ACCOUNT, "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "cml-infra"},
            **({"annotations": annotations} if annotations else {})}


def namespace_labels(spec: AutoscaleSpec) -> dict[str, str]:
    """Labels of the pool's namespace: ACK's webhook injects RRSA only where asked."""
    if spec.identity and spec.cloud == "alicloud":
        return {ACK_INJECTION_LABEL: "on"}
    return {}


def pod_labels(spec: AutoscaleSpec) -> dict[str, str]:
    """Labels of the pods that run jobs (ARC's runner pods, GitLab's build pods): the one the
    metadata NetworkPolicy selects them by, and for AKS workload identity the one its webhook
    mutates pods by."""
    labels = dict(JOB_POD_LABEL)
    if spec.identity and spec.cloud == "azure":
        labels[AZURE_USE_LABEL] = "true"
    return labels


def blocks_metadata(spec: AutoscaleSpec) -> bool:
    """Whether the namespace's NetworkPolicy cuts the metadata address: everywhere but in GKE
    pools with an identity, whose GKE metadata server (node pools in GKE_METADATA mode) serves
    it and never the node's own account."""
    return not (spec.cloud == "gcp" and spec.identity)


def metadata_protection(spec: AutoscaleSpec) -> str:
    """How the pool keeps the nodes' own credentials from its pods, as the plan says it."""
    created = spec.gpu_node_pool == "create"
    policy = "a NetworkPolicy cutting the metadata service"
    where_enforced = f"{policy}, where the cluster enforces NetworkPolicies"
    if spec.cloud == "gcp":
        if created:
            return "node pool in GKE_METADATA mode: pods never see the node's account"
        if spec.identity:
            return ("the existing nodes must run in GKE_METADATA mode (as Workload Identity "
                    "needs), or pods see the node's account")
        return (where_enforced + "; GKE_METADATA mode on the existing nodes, if they run in "
                "it, hides the node's account too")
    if spec.cloud == "aws":
        return ("IMDSv2 with one hop on the nodes, and " + where_enforced if created else
                where_enforced + "; otherwise the existing nodes' own metadata settings apply "
                "(IMDSv2 with one hop blocks pods)")
    if spec.cloud == "azure":
        return policy + " (pulumi up refuses a cluster without a network policy engine)"
    return where_enforced + " (Terway)"


def metadata_policy(spec: AutoscaleSpec, namespace: str) -> dict[str, Any]:
    """A NetworkPolicy for the pool's job pods (JOB_POD_LABEL; GitLab's runner manager, which
    needs the API server, is not one): egress anywhere outside the cluster but the cloud's
    metadata service, to any pod of the cluster, and to DNS on any address (CIDR rules of
    Cilium, AKS's and GKE Dataplane V2's engine, match only what is outside the cluster:
    docs.cilium.io, policy language, "IP/CIDR based"); no ingress from other pods or
    outside (traffic from the pod's own node, such as probes and exec, is always allowed:
    kubernetes.io/docs/concepts/services-networking/network-policies)."""
    cidrs = METADATA_CIDRS[spec.cloud] if blocks_metadata(spec) else ()
    v4 = [c for c in cidrs if ":" not in c]
    v6 = [c for c in cidrs if ":" in c]
    v4_block: dict[str, Any] = {"cidr": "0.0.0.0/0", **({"except": v4} if v4 else {})}
    v6_block: dict[str, Any] = {"cidr": "::/0", **({"except": v6} if v6 else {})}
    dns = [{"protocol": protocol, "port": 53} for protocol in ("UDP", "TCP")]
    return {
        "metadata": {"name": "cml-no-node-metadata", "namespace": namespace},
        "spec": {"podSelector": {"matchLabels": dict(JOB_POD_LABEL)},
                 "policyTypes": ["Ingress", "Egress"],
                 "egress": [{"to": [{"ipBlock": v4_block}, {"ipBlock": v6_block},
                                    {"namespaceSelector": {}}]},
                            {"ports": dns}]},
    }


@dataclass
class IdentityBinding:
    """What `bind_identity` declared: the service account pods run under, and resources."""

    service_account: str | None
    resources: list[pulumi.Resource] = field(default_factory=list)


def bind_identity(spec: AutoscaleSpec, facts: ClusterFacts, namespace: pulumi.Input[str],
                  parent: pulumi.Resource, provider: Any,
                  depends_on: list[pulumi.Resource]) -> IdentityBinding:
    """The pool's service account and the cloud's binding of it to `spec.identity`; nothing
    (and no service account: the charts' own, bound to nothing) without an identity."""
    if not spec.identity:
        return IdentityBinding(None)
    import pulumi
    import pulumi_kubernetes as kubernetes

    on_cluster = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=depends_on)
    account = kubernetes.core.v1.ServiceAccount(
        f"{spec.name}-runner-account",
        metadata=kubernetes.meta.v1.ObjectMetaArgs(
            **service_account_metadata(spec, facts, namespace)),
        opts=on_cluster)
    binding = _cloud_binding(spec, facts, namespace, pulumi.ResourceOptions(parent=parent))
    return IdentityBinding(RUNNER_SERVICE_ACCOUNT, [account, *binding])


def _cloud_binding(spec: AutoscaleSpec, facts: ClusterFacts, namespace: pulumi.Input[str],
                   opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
    import pulumi

    name = f"{spec.name}-identity"
    identity = str(spec.identity)
    if spec.cloud == "aws":
        import pulumi_aws as aws

        return [aws.eks.PodIdentityAssociation(
            name, region=spec.region, cluster_name=spec.cluster.name, namespace=namespace,
            service_account=RUNNER_SERVICE_ACCOUNT, role_arn=identity,
            tags={"cml-infra-pool": spec.name}, opts=opts)]
    if spec.cloud == "gcp":
        import pulumi_gcp as gcp

        match = GCP_ACCOUNT.fullmatch(identity)
        project = (match.group("project") if match else None) or "-"
        member = pulumi.Output.from_input(namespace).apply(
            lambda ns: f"serviceAccount:{facts.workload_pool}[{ns}/{RUNNER_SERVICE_ACCOUNT}]")
        return [gcp.serviceaccount.IAMMember(
            name, service_account_id=f"projects/{project}/serviceAccounts/{identity}",
            role="roles/iam.workloadIdentityUser", member=member, opts=opts)]
    if spec.cloud == "azure":
        from pulumi_azure_native import managedidentity

        match = AZURE_IDENTITY.fullmatch(identity)
        assert match is not None
        subject = pulumi.Output.from_input(namespace).apply(
            lambda ns: f"system:serviceaccount:{ns}:{RUNNER_SERVICE_ACCOUNT}")
        return [managedidentity.FederatedIdentityCredential(
            name, resource_group_name=match.group("group"), resource_name_=match.group("name"),
            federated_identity_credential_resource_name=f"cml-infra-{spec.name}",
            issuer=str(facts.oidc_issuer), subject=subject, audiences=[AZURE_AUDIENCE],
            opts=opts)]
    # alicloud: RRSA needs no cloud resource here; the role's trust policy names the cluster's
    # OIDC provider, which the team sets when it makes the role
    return []
