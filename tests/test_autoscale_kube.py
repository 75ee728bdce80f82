"""infra/autoscale/kube.py under Pulumi's mock runtime: the provider, the namespace, the forge
credential Secret (its token a secret, and nowhere in Helm values), and the exact Helm
releases of ARC, GitLab Runner and the NVIDIA device plugin."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from pulumi.runtime.rpc import is_rpc_secret

from infra.autoscale import charts
from infra.autoscale.identity import JOB_POD_LABEL
from infra.autoscale.kube import (
    ARC_NAMESPACE,
    ARC_SERVICE_ACCOUNT,
    CREDENTIAL_SECRET,
    AutoscaleRunners,
    GitHubApp,
    arc_controller,
    cluster_provider,
    device_plugin,
)
from infra.autoscale.spec import AutoscaleSpec, autoscale_spec_from_config
from infra.errors import SpecError
from infra.forges.registration import ForgeSettings

pytest.importorskip("pulumi_kubernetes")

RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
PROVIDER = "pulumi:providers:kubernetes"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
DYNAMIC = "pulumi-python:dynamic:Resource"
TOKEN = "ghp_" + "k" * 36
GLRT = "glrt-" + "q" * 20
APP_KEY = "-----BEGIN RSA PRIVATE KEY-----\nsecret-key\n-----END RSA PRIVATE KEY-----\n"
KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\n"
SELECTOR = {"cml-infra-pool": "gpu"}
GPU_TAINT = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}

CLUSTER = {"name": "gpu-cluster", "context": "gpu-ctx"}
BASE: dict[str, Any] = {"name": "gpu", "kind": "autoscale", "repo": "acme/models",
                        "gpuModel": "t4", "maxRunners": 4, "cluster": CLUSTER,
                        "credentials": "token"}


def pool(**changes: Any) -> AutoscaleSpec:
    """BASE with settings changed; a value of `...` drops the setting."""
    merged = {**BASE, **changes}
    return autoscale_spec_from_config({k: v for k, v in merged.items() if v is not ...}, {}, 1)


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources.append({"type": args.typ, "name": args.name, "inputs": args.inputs,
                               "provider": args.provider})
        state = dict(args.inputs)
        if args.typ == STACK_REFERENCE:
            state["outputs"] = {"kubeconfig": KUBECONFIG}
        if args.typ == DYNAMIC:
            state.update({"runner_id": "7", "runner_name": f"{args.name}-abc123",
                          "registration": GLRT, "package_url": "https://dl.example/x",
                          "package_sha256": "ab" * 32})
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return {}, []


class Run:
    """What a program declared: resources (in order) and each one's depends_on names."""

    def __init__(self, mocks: Mocks, depends: dict[str, list[str]]) -> None:
        self.resources = mocks.resources
        self.depends = depends

    def of(self, typ: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == typ]

    def named(self, name: str) -> dict[str, Any]:
        found = [r for r in self.resources if r["name"] == name]
        assert len(found) == 1, [r["name"] for r in self.resources]
        return found[0]


def run(fn: Any) -> Run:
    mocks = Mocks()
    depends: dict[str, list[str]] = {}
    names: dict[int, str] = {}

    def spy(args: Any) -> None:
        names[id(args.resource)] = args.name
        depends[args.name] = [names.get(id(d), "?") for d in args.opts.depends_on or []]
        return None

    def program() -> None:
        pulumi.runtime.register_stack_transformation(spy)
        fn()

    pulumi.runtime.set_mocks(mocks, project="cml-infra", stack="dev", preview=False)
    pulumi.runtime.test(program)()
    return Run(mocks, depends)


def unwrap(value: Any) -> Any:
    """An input as a plain value: the secret wrapper removed and whole floats made ints."""
    if is_rpc_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def github(spec: AutoscaleSpec, **kwargs: Any) -> AutoscaleRunners:
    provider = cluster_provider(spec)
    return AutoscaleRunners(spec, provider, github_token=TOKEN, node_selector=SELECTOR,
                            tolerations=[GPU_TAINT], **kwargs)


def scale_set_values(spec: AutoscaleSpec) -> dict[str, Any]:
    return charts.arc_scale_set_values(
        github_config_url=spec.config_url, secret_name=CREDENTIAL_SECRET,
        scale_set_name=str(spec.scale_set_name), labels=spec.labels,
        min_runners=spec.min_runners, max_runners=spec.max_runners, gpu_count=spec.gpu_count,
        node_selector=SELECTOR, tolerations=[GPU_TAINT], service_account=None,
        controller_namespace=ARC_NAMESPACE, controller_service_account=ARC_SERVICE_ACCOUNT,
        max_runtime_s=spec.max_runtime_s, pod_labels=JOB_POD_LABEL)


def assert_token_not_in_releases(result: Run, *tokens: str) -> None:
    for release in result.of(RELEASE):
        text = json.dumps(unwrap(release["inputs"]))
        assert not any(token in text for token in tokens), release["name"]


def test_github_token_pool() -> None:
    spec = pool(labels=["gpu", "t4"])
    result = run(lambda: github(spec))

    assert unwrap(result.named("gpu-namespace")["inputs"]["metadata"]) == {"name": "cml-gpu"}
    secret = result.named("gpu-forge-credential")["inputs"]
    assert is_rpc_secret(secret["stringData"])
    assert unwrap(secret["stringData"]) == {"github_token": TOKEN}
    assert unwrap(secret["metadata"]) == {"name": CREDENTIAL_SECRET, "namespace": "cml-gpu"}
    assert secret["type"] == "Opaque"

    controller = result.named("arc-controller")["inputs"]
    assert {k: unwrap(v) for k, v in controller.items() if k != "compat"} == {
        "name": "arc", "chart": charts.ARC_CONTROLLER_CHART.chart,
        "version": charts.ARC_CONTROLLER_CHART.version, "namespace": ARC_NAMESPACE,
        "createNamespace": True,
        "values": charts.arc_controller_values(service_account=ARC_SERVICE_ACCOUNT)}
    scale_set = result.named("gpu-scale-set")["inputs"]
    assert {k: unwrap(v) for k, v in scale_set.items() if k != "compat"} == {
        "name": "gpu", "chart": charts.ARC_SCALE_SET_CHART.chart,
        "version": charts.ARC_SCALE_SET_CHART.version, "namespace": "cml-gpu",
        "createNamespace": False, "values": scale_set_values(spec)}
    values = unwrap(scale_set["values"])
    assert values["githubConfigSecret"] == CREDENTIAL_SECRET
    assert values["controllerServiceAccount"] == {"namespace": ARC_NAMESPACE,
                                                  "name": ARC_SERVICE_ACCOUNT}
    assert values["template"]["spec"]["nodeSelector"] == SELECTOR
    assert values["template"]["spec"]["activeDeadlineSeconds"] == spec.max_runtime_s
    assert values["scaleSetLabels"] == ["gpu", "t4"]
    assert_token_not_in_releases(result, TOKEN)
    assert not result.of(DYNAMIC)
    assert [r["name"] for r in result.of(RELEASE)] == ["arc-controller", "gpu-scale-set"]


def test_scale_set_depends_on_controller_and_secret() -> None:
    result = run(lambda: github(pool()))
    assert set(result.depends["gpu-scale-set"]) == {"arc-controller", "gpu-forge-credential",
                                                    "gpu-no-node-metadata"}
    assert result.depends["arc-controller"] == []


def with_device_plugin(spec: AutoscaleSpec) -> None:
    """The pool's runners and, on the same provider, the cluster's device plugin."""
    provider = cluster_provider(spec)
    AutoscaleRunners(spec, provider, github_token=TOKEN, node_selector=SELECTOR,
                     tolerations=[GPU_TAINT])
    device_plugin(provider, [GPU_TAINT], name="gpu-device-plugin")


def test_everything_runs_on_the_given_provider() -> None:
    result = run(lambda: with_device_plugin(pool()))
    for resource in result.resources:
        if resource["type"].startswith("kubernetes:"):
            assert "pulumi:providers:kubernetes::gpu-cluster::" in resource["provider"], \
                resource["name"]


def test_github_app_pool() -> None:
    spec = pool(credentials="app")
    app = GitHubApp(app_id="123", installation_id="456", private_key=APP_KEY)
    result = run(lambda: AutoscaleRunners(spec, cluster_provider(spec), github_app=app,
                                          node_selector=SELECTOR, tolerations=[GPU_TAINT]))
    data = result.named("gpu-forge-credential")["inputs"]["stringData"]
    assert is_rpc_secret(data)
    assert unwrap(data) == {"github_app_id": "123", "github_app_installation_id": "456",
                            "github_app_private_key": APP_KEY}
    assert_token_not_in_releases(result, "secret-key")


def test_one_controller_for_two_github_pools() -> None:
    first, second = pool(), pool(name="big", gpuCount=2, gpuModel="a10", maxRunners=2)

    def program() -> None:
        provider = cluster_provider(first)
        one = AutoscaleRunners(first, provider, github_token=TOKEN, node_selector=SELECTOR)
        AutoscaleRunners(second, provider, github_token=TOKEN, node_selector=SELECTOR,
                         controller=one.controller)

    result = run(program)
    # registration order between the two components is not fixed under mocks: compare sets
    assert sorted(r["name"] for r in result.of(RELEASE)) == [
        "arc-controller", "big-scale-set", "gpu-scale-set"]
    assert "arc-controller" in result.depends["big-scale-set"]
    assert sorted(unwrap(r["inputs"]["metadata"])["name"] for r in result.of(NAMESPACE)) == [
        "cml-big", "cml-gpu"]


def test_a_stack_level_controller_is_reused() -> None:
    spec = pool()

    def program() -> None:
        provider = cluster_provider(spec)
        AutoscaleRunners(spec, provider, github_token=TOKEN, node_selector=SELECTOR,
                         controller=arc_controller(provider))

    result = run(program)
    assert sorted(r["name"] for r in result.of(RELEASE)) == ["arc-controller", "gpu-scale-set"]


def gitlab_pool(**changes: Any) -> AutoscaleSpec:
    return pool(forge="gitlab", labels=["gpu", "cuda"], **changes)


def test_gitlab_pool_with_a_given_runner_token() -> None:
    spec = gitlab_pool()
    result = run(lambda: AutoscaleRunners(
        spec, cluster_provider(spec), gitlab_runner_token=GLRT, node_selector=SELECTOR,
        tolerations=[GPU_TAINT]))
    secret = result.named("gpu-forge-credential")["inputs"]
    assert is_rpc_secret(secret["stringData"])
    assert unwrap(secret["stringData"]) == {"runner-token": GLRT,
                                            "runner-registration-token": ""}
    release = result.named("gpu-gitlab-runner")["inputs"]
    expected = charts.gitlab_runner_values(
        gitlab_url=spec.forge_url, secret_name=CREDENTIAL_SECRET, concurrent=spec.max_runners,
        gpu_count=spec.gpu_count, node_selector=SELECTOR, tolerations=[GPU_TAINT],
        service_account=None, max_runtime_s=spec.max_runtime_s, namespace=None,
        pod_labels=JOB_POD_LABEL)
    assert {k: unwrap(v) for k, v in release.items() if k != "compat"} == {
        "name": "gitlab-runner", "chart": "gitlab-runner",
        "version": charts.GITLAB_RUNNER_CHART.version, "namespace": "cml-gpu",
        "createNamespace": False,
        "repositoryOpts": {"repo": "https://charts.gitlab.io"}, "values": expected}
    assert unwrap(release["values"])["runners"]["secret"] == CREDENTIAL_SECRET
    assert [r["name"] for r in result.of(RELEASE)] == ["gpu-gitlab-runner"]
    assert result.depends["gpu-gitlab-runner"] == ["gpu-forge-credential",
                                                   "gpu-no-node-metadata"]
    assert_token_not_in_releases(result, GLRT)


def test_gitlab_pool_creates_its_runner_through_the_api() -> None:
    spec = gitlab_pool()
    settings = ForgeSettings(token=TOKEN, gitlab_runner_sha256="cd" * 32)
    result = run(lambda: AutoscaleRunners(spec, cluster_provider(spec),
                                          forge_settings=settings, node_selector=SELECTOR))
    registration = result.named("gpu-gitlab-registration")["inputs"]
    assert registration["forge"] == "gitlab"
    assert registration["repo"] == "acme/models" and registration.get("group") is None
    assert registration["labels"] == ["gpu", "cuda", "t4"]
    assert registration["api_url"] == "https://gitlab.com/api/v4"
    assert is_rpc_secret(registration["token"])
    data = result.named("gpu-forge-credential")["inputs"]["stringData"]
    assert is_rpc_secret(data)
    assert unwrap(data) == {"runner-token": GLRT, "runner-registration-token": ""}
    assert_token_not_in_releases(result, GLRT, TOKEN)


def test_a_gitlab_group_pool_gets_a_group_runner() -> None:
    spec = pool(forge="gitlab", repo=..., organization="acme/ml", labels=["gpu"])
    result = run(lambda: AutoscaleRunners(spec, cluster_provider(spec),
                                          forge_settings=ForgeSettings(token=TOKEN),
                                          node_selector=SELECTOR))
    registration = result.named("gpu-gitlab-registration")["inputs"]
    assert (registration["group"], registration.get("repo")) == ("acme/ml", None)
    # pods run the chart's image: no gitlab-runner binary is looked up for them
    assert (registration["gitlab_runner_url"], registration["gitlab_runner_sha256"]) == ("", "")
    assert unwrap(result.named("gpu-forge-credential")["inputs"]["stringData"])[
        "runner-token"] == GLRT


@pytest.mark.parametrize(("changes", "kwargs", "words"), [
    ({}, {}, "needs a GitHub token"),
    ({"credentials": "app"}, {"github_token": TOKEN}, "GitHub App"),
    ({"forge": "gitlab"}, {}, "runner token"),
])
def test_missing_credentials_are_refused(changes: dict[str, Any], kwargs: dict[str, Any],
                                         words: str) -> None:
    spec = pool(**changes)
    with pytest.raises(SpecError, match=words):
        run(lambda: AutoscaleRunners(spec, cluster_provider(spec), **kwargs))


def test_device_plugin_when_asked() -> None:
    result = run(lambda: with_device_plugin(pool()))
    plugin = result.named("gpu-device-plugin")["inputs"]
    assert {k: unwrap(v) for k, v in plugin.items() if k != "compat"} == {
        "name": "nvidia-device-plugin", "chart": "nvidia-device-plugin",
        "version": charts.NVIDIA_DEVICE_PLUGIN_CHART.version,
        "namespace": "nvidia-device-plugin", "createNamespace": True,
        "repositoryOpts": {"repo": "https://nvidia.github.io/k8s-device-plugin"},
        "values": {"tolerations": [GPU_TAINT],
                   "nodeSelector": {"nvidia.com/gpu.present": "true"}}}
    assert not any(r["name"] == "gpu-device-plugin" for r in run(lambda: github(pool())).resources)


def test_provider_for_a_context() -> None:
    result = run(lambda: cluster_provider(pool()))
    provider = result.named("gpu-cluster")
    assert provider["type"] == PROVIDER
    assert provider["inputs"]["context"] == "gpu-ctx"
    assert provider["inputs"]["clusterIdentifier"] == "gpu-cluster"
    assert "kubeconfig" not in provider["inputs"]
    assert not result.of(STACK_REFERENCE)


def test_provider_for_a_stack_output() -> None:
    spec = pool(cluster={"name": "eks-gpu", "stackOutput": "acme/cluster/prod#kubeconfig"})
    result = run(lambda: cluster_provider(spec))
    reference = result.named("gpu-cluster-kubeconfig")
    assert reference["type"] == STACK_REFERENCE
    assert reference["inputs"]["name"] == "acme/cluster/prod"
    provider = result.named("gpu-cluster")["inputs"]
    assert is_rpc_secret(provider["kubeconfig"])
    assert unwrap(provider["kubeconfig"]) == KUBECONFIG
    assert provider["clusterIdentifier"] == "eks-gpu"
    assert "context" not in provider


def test_a_pool_runner_image_reaches_the_runner_pods() -> None:
    spec = pool(runnerImage="ghcr.io/acme/cuda-runner:2.334.0")
    result = run(lambda: github(spec))
    values = unwrap(result.named("gpu-scale-set")["inputs"]["values"])
    [container] = values["template"]["spec"]["containers"]
    assert container["image"] == "ghcr.io/acme/cuda-runner:2.334.0"
    plain = unwrap(run(lambda: github(pool())).named("gpu-scale-set")["inputs"]["values"])
    assert plain["template"]["spec"]["containers"][0]["image"] == charts.DEFAULT_RUNNER_IMAGE
