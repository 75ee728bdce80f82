"""What runner pods of an autoscaled pool may reach of the cloud (infra/autoscale/identity.py):
the identity a pool grants, bound per cloud (EKS Pod Identity, GKE Workload Identity, AKS
workload identity, ACK RRSA), and the nodes' metadata service cut off for every pod, under
Pulumi's mock runtime; cluster look-ups that refuse a cluster which cannot keep the promise
before anything is declared."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from infra.autoscale import charts, identity
from infra.autoscale.program import AutoscaleCredentials, autoscale_program
from infra.autoscale.spec import AutoscaleSpec, autoscale_spec_from_config
from infra.errors import SpecError
from tests.test_autoscale_kube import GLRT, TOKEN, unwrap
from tests.test_autoscale_spec import IDENTITIES

pytest.importorskip("pulumi_kubernetes")
tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

K8S_VERSION = "1.33"
JOB = {"cml-infra/pod": "job"}
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"

MODELS = {"aws": "l4", "gcp": "l4", "azure": "t4", "alicloud": "a10"}
CLUSTERS = {"aws": "gpu-cluster", "gcp": "gpu-cluster", "azure": "gpu-rg/gpu-cluster",
            "alicloud": "c0123456789abcdef"}
ISSUER = "https://eastus.oic.prod-aks.azure.com/tenant/cluster/"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
WORKLOAD_POOL = "acme-ml.svc.id.goog"


def pool(cloud: str, forge: str = "github", **changes: Any) -> AutoscaleSpec:
    entry = {"name": "gpu", "kind": "autoscale", "cloud": cloud, "forge": forge,
             "repo": "acme/models", "gpuModel": MODELS[cloud], "maxRunners": 4,
             "credentials": "token", "gpuNodePool": "existing",
             "nodeSelector": {"pool": "gpu"},
             "cluster": {"name": CLUSTERS[cloud], "context": "ctx"}, **changes}
    return autoscale_spec_from_config({k: v for k, v in entry.items() if v is not ...}, {}, 1)


class Mocks(pulumi.runtime.Mocks):
    """Records resources and invokes; answers the cluster look-ups from `clusters`."""

    def __init__(self, answers: dict[str, dict[str, Any]] | None = None) -> None:
        self.resources: list[dict[str, Any]] = []
        self.invokes: list[str] = []
        self.answers: dict[str, dict[str, Any]] = answers if answers is not None else {
            "gcp:container/getCluster:getCluster": {
                "workloadIdentityConfigs": [{"workloadPool": WORKLOAD_POOL}]},
            "azure-native:containerservice:getManagedCluster": {
                "networkProfile": {"networkPolicy": "cilium"},
                "oidcIssuerProfile": {"enabled": True, "issuerURL": ISSUER},
                "securityProfile": {"workloadIdentity": {"enabled": True}}},
            "azure-native:managedidentity:getUserAssignedIdentity": {"clientId": CLIENT_ID},
        }

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources.append({"type": args.typ, "name": args.name, "inputs": args.inputs})
        state = dict(args.inputs)
        if args.typ == "pulumi-python:dynamic:Resource":
            state.update({"runner_id": "7", "runner_name": "gpu-x", "registration": GLRT})
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        self.invokes.append(args.token)
        return dict(self.answers.get(args.token, {})), []


def declare(specs: list[AutoscaleSpec], mocks: Mocks | None = None) -> Mocks:
    mocks = mocks or Mocks()
    credentials = AutoscaleCredentials(token=TOKEN, gitlab_runner_token=GLRT)
    pulumi.runtime.set_mocks(mocks, project="cml-infra", stack="dev", preview=False)
    pulumi.runtime.test(lambda: autoscale_program(specs, credentials))()
    return mocks


def of(mocks: Mocks, typ: str) -> list[dict[str, Any]]:
    return [unwrap(r["inputs"]) for r in mocks.resources if r["type"] == typ]


def release_values(mocks: Mocks) -> dict[str, Any]:
    runners = [r for r in of(mocks, RELEASE)
               if r["chart"] in (charts.ARC_SCALE_SET_CHART.chart,
                                 charts.GITLAB_RUNNER_CHART.chart)]
    assert len(runners) == 1
    return dict(runners[0]["values"])


def gitlab_config(values: dict[str, Any]) -> dict[str, Any]:
    text = charts.render_gitlab_config(values["runners"]["config"], "cml-gpu")
    return dict(tomllib.loads(text)["runners"][0]["kubernetes"])


def validate(kind: str, api: str, body: dict[str, Any]) -> None:
    manifest = {"apiVersion": api, "kind": kind, **body}
    kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


# ---- the setting ---------------------------------------------------------------------------

@pytest.mark.parametrize("cloud", list(IDENTITIES))
def test_each_cloud_takes_its_form_and_refuses_the_others(cloud: str) -> None:
    assert pool(cloud, identity=IDENTITIES[cloud]).identity == IDENTITIES[cloud]
    for other, value in IDENTITIES.items():
        if other == cloud or (cloud == "alicloud" and "/" not in value and "@" not in value):
            continue
        with pytest.raises(SpecError) as caught:
            pool(cloud, identity=value)
        message = str(caught.value)
        assert message.startswith(f"Pool 'gpu': identity {value!r} is not ")
        assert message.endswith(f"on {cloud}; give one, or drop identity so jobs get no "
                                "cloud identity.")
        assert "\n" not in message


@pytest.mark.parametrize(("cloud", "value"), [
    ("aws", "arn:aws:iam::123456789012:role/team/ml/reader"),
    ("gcp", "123456789012-compute@developer.gserviceaccount.com"),
    ("azure", IDENTITIES["azure"].lower()),
    ("alicloud", "dvc-reader"),
])
def test_other_spellings_each_cloud_documents(cloud: str, value: str) -> None:
    assert pool(cloud, identity=value).identity == value


def test_a_role_of_another_aws_partition_is_refused() -> None:
    with pytest.raises(SpecError) as caught:
        pool("aws", identity="arn:aws-cn:iam::123456789012:role/reader")
    assert str(caught.value) == (
        "Pool 'gpu': identity 'arn:aws-cn:iam::123456789012:role/reader' is a role of partition "
        "aws-cn, but region us-east-1 is in aws; give a role ARN that starts with "
        "arn:aws:iam::.")


@pytest.mark.parametrize(("cloud", "value"), [
    ("aws", "dvc-reader"),  # an instance profile's name (single machines), not a role ARN
    ("aws", "arn:aws:iam::123456789012:instance-profile/reader"),
    ("aws", "arn:aws:iam::12345:role/reader"),
    ("gcp", "dvc-reader"),
    ("gcp", "reader@gmail.com"),
    ("azure", "dvc-reader"),
    ("azure", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/"
              "virtualMachines/vm"),
    ("alicloud", "my role"),
    ("alicloud", "acs:ram::123:user/bob"),
])
def test_identities_of_the_wrong_shape_are_refused(cloud: str, value: str) -> None:
    with pytest.raises(SpecError, match=r"^Pool 'gpu': identity .* give one, or drop identity"):
        pool(cloud, identity=value)


# ---- the metadata service ------------------------------------------------------------------

@pytest.mark.parametrize("cloud", list(IDENTITIES))
@pytest.mark.parametrize("granted", [False, True])
def test_every_namespace_cuts_its_pods_off_the_metadata_service(cloud: str,
                                                                granted: bool) -> None:
    spec = pool(cloud, identity=IDENTITIES[cloud] if granted else ...)
    mocks = declare([spec])
    [policy] = of(mocks, POLICY)
    validate("NetworkPolicy", "networking.k8s.io/v1", policy)
    assert policy["metadata"] == {"name": "cml-no-node-metadata", "namespace": "cml-gpu"}
    body = policy["spec"]
    # the job pods (labelled so by both charts' values), not GitLab's runner manager
    assert body["podSelector"] == {"matchLabels": JOB}
    assert body["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in body  # no other pod and nothing outside may connect to a job
    to_peers = [peer for rule in body["egress"] for peer in rule.get("to", [])]
    blocks = [peer["ipBlock"] for peer in to_peers if "ipBlock" in peer]
    assert {b["cidr"] for b in blocks} == {"0.0.0.0/0", "::/0"}
    # pods of the cluster and DNS anywhere stay reachable where CIDR rules match only what is
    # outside the cluster (Cilium)
    assert {"namespaceSelector": {}} in to_peers
    assert {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]} \
        in body["egress"]
    cut = {c for b in blocks for c in b.get("except", [])}
    if cloud == "gcp" and granted:
        # the GKE metadata server answers workload identity there; the node's account is
        # hidden by the node pool's GKE_METADATA mode
        assert cut == set()
    else:
        assert cut == set(identity.METADATA_CIDRS[cloud])
        assert "169.254.170.23/32" not in cut  # EKS Pod Identity's agent stays reachable
    # the runners' release waits for the policy: no runner pod starts before it
    names = {r["name"]: r for r in mocks.resources}
    assert "gpu-no-node-metadata" in names


def test_alibaba_blocks_its_own_metadata_address() -> None:
    assert identity.METADATA_CIDRS["alicloud"] == ("100.100.100.200/32",)
    assert "fd00:ec2::254/128" in identity.METADATA_CIDRS["aws"]


@pytest.mark.parametrize("forge", ["github", "gitlab"])
def test_without_identity_pods_get_no_account_and_no_token(forge: str) -> None:
    mocks = declare([pool("aws", forge)])
    assert of(mocks, SERVICE_ACCOUNT) == []
    assert not [r for r in mocks.resources if r["type"].startswith("aws:eks/podIdentity")]
    values = release_values(mocks)
    if forge == "github":
        spec = values["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert "serviceAccountName" not in spec
        assert values["template"]["metadata"] == {"labels": JOB}
    else:
        config = gitlab_config(values)
        assert "service_account" not in config and config["pod_labels"] == JOB
        assert config["automount_service_account_token"] is False


# ---- the identity, per cloud ---------------------------------------------------------------

def assert_runner_pods_use_the_account(mocks: Mocks, forge: str,
                                       labels: dict[str, str]) -> None:
    values = release_values(mocks)
    if forge == "github":
        template = charts.runner_pod_template(values)
        assert template["spec"]["serviceAccountName"] == identity.RUNNER_SERVICE_ACCOUNT
        assert values["template"].get("metadata", {}).get("labels", {}) == labels
        validate("PodTemplate", "v1", {"metadata": {"name": "t"},
                                       "template": {**template,
                                                    "metadata": {"labels": labels}}})
    else:
        config = gitlab_config(values)
        assert config["service_account"] == identity.RUNNER_SERVICE_ACCOUNT
        assert "automount_service_account_token" not in config
        assert config.get("pod_labels", {}) == labels


def account(mocks: Mocks) -> dict[str, Any]:
    [found] = of(mocks, SERVICE_ACCOUNT)
    validate("ServiceAccount", "v1", found)
    assert found["metadata"]["name"] == identity.RUNNER_SERVICE_ACCOUNT
    assert found["metadata"]["namespace"] == "cml-gpu"
    return dict(found["metadata"])


@pytest.mark.parametrize("forge", ["github", "gitlab"])
def test_eks_pod_identity(forge: str) -> None:
    mocks = declare([pool("aws", forge, identity=IDENTITIES["aws"], region="us-west")])
    assert "annotations" not in account(mocks)
    [association] = of(mocks, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert association == {"region": "us-west-2", "clusterName": "gpu-cluster",
                           "namespace": "cml-gpu", "serviceAccount": "cml-runner",
                           "roleArn": IDENTITIES["aws"], "tags": {"cml-infra-pool": "gpu"}}
    assert_runner_pods_use_the_account(mocks, forge, JOB)


@pytest.mark.parametrize("forge", ["github", "gitlab"])
def test_gke_workload_identity(forge: str) -> None:
    mocks = declare([pool("gcp", forge, identity=IDENTITIES["gcp"])])
    assert account(mocks)["annotations"] == {"iam.gke.io/gcp-service-account": IDENTITIES["gcp"]}
    [member] = of(mocks, "gcp:serviceaccount/iAMMember:IAMMember")
    assert member == {
        "serviceAccountId": f"projects/acme-ml/serviceAccounts/{IDENTITIES['gcp']}",
        "role": "roles/iam.workloadIdentityUser",
        "member": f"serviceAccount:{WORKLOAD_POOL}[cml-gpu/cml-runner]"}
    assert "gcp:container/getCluster:getCluster" in mocks.invokes
    assert_runner_pods_use_the_account(mocks, forge, JOB)


@pytest.mark.parametrize("forge", ["github", "gitlab"])
def test_aks_workload_identity(forge: str) -> None:
    mocks = declare([pool("azure", forge, identity=IDENTITIES["azure"])])
    assert account(mocks)["annotations"] == {"azure.workload.identity/client-id": CLIENT_ID}
    [credential] = of(mocks, "azure-native:managedidentity:FederatedIdentityCredential")
    assert credential == {
        "resourceGroupName": "ml-rg", "resourceName": "dvc-reader",
        "federatedIdentityCredentialResourceName": "cml-infra-gpu", "issuer": ISSUER,
        "subject": "system:serviceaccount:cml-gpu:cml-runner",
        "audiences": ["api://AzureADTokenExchange"]}
    assert_runner_pods_use_the_account(mocks, forge, {**JOB,
                                                      "azure.workload.identity/use": "true"})


@pytest.mark.parametrize("forge", ["github", "gitlab"])
def test_ack_rrsa(forge: str) -> None:
    mocks = declare([pool("alicloud", forge, identity=IDENTITIES["alicloud"])])
    assert account(mocks)["annotations"] == {
        "pod-identity.alibabacloud.com/role-name": "dvc-reader"}
    [namespace] = of(mocks, NAMESPACE)
    assert namespace["metadata"]["labels"] == {"pod-identity.alibabacloud.com/injection": "on"}
    assert_runner_pods_use_the_account(mocks, forge, JOB)


# ---- clusters that cannot keep the promise -------------------------------------------------

def refused(specs: list[AutoscaleSpec], answers: dict[str, dict[str, Any]]) -> tuple[str, Mocks]:
    mocks = Mocks(answers)
    with pytest.raises(SpecError) as caught:
        declare(specs, mocks)
    return str(caught.value), mocks


def test_gke_without_workload_identity_is_refused_before_anything_is_declared() -> None:
    message, mocks = refused([pool("aws"), pool("gcp", identity=IDENTITIES["gcp"], name="gke")],
                             {"gcp:container/getCluster:getCluster":
                              {"workloadIdentityConfigs": []}})
    assert message == (
        "Pool 'gke': GKE cluster 'gpu-cluster' has no Workload Identity, so jobs cannot act as "
        "the pool's identity; enable it (gcloud container clusters update gpu-cluster "
        "--workload-pool=PROJECT.svc.id.goog), then deploy again.")
    assert mocks.resources == []  # not even the first pool's


def test_aks_without_a_network_policy_engine_is_refused() -> None:
    message, mocks = refused([pool("azure")], {
        "azure-native:containerservice:getManagedCluster": {"networkProfile": {
            "networkPlugin": "kubenet"}}})
    assert message == (
        "Pool 'gpu': AKS cluster 'gpu-cluster' enforces no NetworkPolicy, so its runner pods "
        "could read the nodes' metadata service; enable a network policy engine (az aks "
        "update -g gpu-rg -n gpu-cluster --network-policy cilium, azure or calico), then "
        "deploy again.")
    assert mocks.resources == []


@pytest.mark.parametrize("cluster", [
    {"networkProfile": {"networkPolicy": "azure"}},
    {"networkProfile": {"networkPolicy": "azure"},
     "oidcIssuerProfile": {"enabled": True, "issuerURL": ISSUER}},
    {"networkProfile": {"networkPolicy": "calico"},
     "securityProfile": {"workloadIdentity": {"enabled": True}}},
])
def test_aks_without_workload_identity_is_refused(cluster: dict[str, Any]) -> None:
    message, mocks = refused([pool("azure", identity=IDENTITIES["azure"])],
                             {"azure-native:containerservice:getManagedCluster": cluster})
    assert message == (
        "Pool 'gpu': AKS cluster 'gpu-cluster' has no workload identity, so jobs cannot act "
        "as the pool's identity; enable it (az aks update -g gpu-rg -n gpu-cluster "
        "--enable-oidc-issuer --enable-workload-identity), or drop identity.")
    assert mocks.resources == []


def test_a_gke_node_pool_needs_workload_identity_for_its_metadata_mode() -> None:
    """GKE_METADATA, which hides the node's account, needs Workload Identity on the cluster:
    a created GKE node pool is refused without it even when the pool grants no identity."""
    message, mocks = refused([pool("gcp", gpuNodePool="create", nodeSelector=...)],
                             {"gcp:container/getCluster:getCluster":
                              {"workloadIdentityConfigs": []}})
    assert message == (
        "Pool 'gpu': GKE cluster 'gpu-cluster' has no Workload Identity, so its GPU node pool "
        "cannot hide the node's account from pods (GKE_METADATA); enable it (gcloud container "
        "clusters update gpu-cluster --workload-pool=PROJECT.svc.id.goog), then deploy again.")
    assert mocks.resources == []


def test_a_zonal_gke_cluster_is_looked_up_and_its_pool_placed_in_its_zone() -> None:
    spec = pool("gcp", gpuNodePool="create", nodeSelector=..., region="us-east",
                cluster={"name": "gpu-cluster", "context": "ctx", "location": "us-east1-c"})
    mocks = declare([spec])
    [node_pool] = of(mocks, "gcp:container/nodePool:NodePool")
    assert (node_pool["location"], node_pool["nodeLocations"]) == ("us-east1-c", ["us-east1-c"])
    with pytest.raises(SpecError, match=r"cluster\.location 'europe-west4-a' is not a zone of "):
        pool("gcp", region="us-east", cluster={"name": "c", "context": "x",
                                               "location": "europe-west4-a"})
    with pytest.raises(SpecError, match=r"cluster\.location is the zone of a zonal GKE"):
        pool("aws", cluster={"name": "c", "context": "x", "location": "us-east-1a"})


def test_clusters_are_looked_up_only_where_needed() -> None:
    mocks = declare([pool("aws"), pool("alicloud", name="ali"), pool("gcp", name="gke")])
    assert mocks.invokes == []


@pytest.mark.parametrize(("cloud", "mode", "granted", "words"), [
    ("gcp", "create", True, "GKE_METADATA mode: pods never see the node's account"),
    ("gcp", "existing", True, "the existing nodes must run in GKE_METADATA mode"),
    ("gcp", "existing", False, "where the cluster enforces NetworkPolicies"),
    ("aws", "create", False, "IMDSv2 with one hop on the nodes"),
    ("aws", "existing", True, "the existing nodes' own metadata settings apply"),
    ("azure", "existing", False, "refuses a cluster without a network policy engine"),
    ("alicloud", "create", False, "where the cluster enforces NetworkPolicies (Terway)"),
])
def test_the_plan_says_what_keeps_pods_off_the_node_metadata(
        cloud: str, mode: str, granted: bool, words: str) -> None:
    """Never a promise the pool cannot keep: an existing node pool's own settings matter."""
    changes: dict[str, Any] = {"gpuNodePool": mode, "identity": IDENTITIES[cloud] if granted
                               else ...}
    if mode == "create":
        changes["nodeSelector"] = ...
    assert words in identity.metadata_protection(pool(cloud, **changes))
