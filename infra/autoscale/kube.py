"""The Kubernetes side of an autoscaled GPU runner pool, as one Pulumi component.

`AutoscaleRunners` declares, for one `AutoscaleSpec`, on the `pulumi_kubernetes.Provider` it
is given (`cluster_provider` makes one from the spec's cluster):

- the Namespace `cml-<pool>`, with a NetworkPolicy that keeps every pod of it off the node's
  metadata service, and, when the pool grants an identity, the service account runner pods
  run under and its cloud binding (infra.autoscale.identity; `facts`: what the cluster
  look-up found, `identity.cluster_facts`);
- the forge credential as a Kubernetes Secret (`string_data` from Pulumi secrets): the GitHub
  token or GitHub App keys ARC reads, or the GitLab runner's `glrt-` token (with the empty
  `runner-registration-token` the chart mounts). Helm values only NAME that Secret, so no
  token is in the values, the rendered manifests or Helm's release Secret;
- GitHub: the ARC controller release (one per stack: pass an existing one to the other pools'
  components) and the pool's runner scale set release, which depends on the controller so
  that destroy deletes the scale set first (its Secret carries ARC's cleanup finalizer);
- GitLab: the gitlab-runner release; its runner is created through the API
  (`infra.forges.registration.RunnerRegistration`, a project runner with the pool's labels
  as tags) unless the caller hands the runner token in;
- apart from the component, `device_plugin`: the NVIDIA device plugin release, for clusters
  whose GPU nodes ship none (EKS AL2023, AKS); one per cluster.

pulumi_kubernetes is imported inside the functions, as the cloud SDKs are, so the package is
needed only by stacks with autoscaled pools (extra `kubernetes`). Facts behind the charts and
the provider's arguments: ../shared/notes/kubernetes.md sections 1, 2, 4 and 5.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi

from infra.autoscale import charts, identity
from infra.autoscale.identity import ClusterFacts

# GPU_PRESENT_LABEL: what k8s-device-plugin's default node affinity accepts without NFD (notes
# section 4); the GPU node pools carry it, and the device plugin's DaemonSet selects it
from infra.autoscale.nodepools import GPU_PRESENT_LABEL, toleration_dict
from infra.autoscale.spec import AutoscaleSpec
from infra.errors import SpecError

if TYPE_CHECKING:
    import pulumi_kubernetes as kubernetes

    from infra.forges.registration import ForgeSettings

COMPONENT = "cml-infra:autoscale:Runners"
ARC_NAMESPACE = "arc-systems"
ARC_RELEASE = "arc"
ARC_SERVICE_ACCOUNT = "arc-gha-rs-controller"
DEVICE_PLUGIN_NAMESPACE = "nvidia-device-plugin"
GITLAB_RELEASE = "gitlab-runner"
CREDENTIAL_SECRET = "cml-forge-credential"
METADATA_POLICY = "cml-no-node-metadata"


@dataclass(frozen=True)
class GitHubApp:
    """A GitHub App's credential for ARC (IDs as strings: the chart wants strings)."""

    app_id: pulumi.Input[str]
    installation_id: pulumi.Input[str]
    private_key: pulumi.Input[str] = field(repr=False)


def namespace_name(spec: AutoscaleSpec) -> str:
    return f"cml-{spec.name}"


def cluster_provider(spec: AutoscaleSpec, parent: pulumi.Resource | None = None, *,
                     name: str | None = None) -> kubernetes.Provider:
    """The provider reaching the pool's cluster: its kubeconfig context, or the kubeconfig
    another stack exports (a secret). `cluster_identifier` is the cluster's name, so a rotated
    kubeconfig or token updates the provider instead of replacing it and everything on it."""
    import pulumi_kubernetes as kubernetes

    cluster = spec.cluster
    opts = pulumi.ResourceOptions(parent=parent)
    name = name or f"{spec.name}-cluster"
    if cluster.context is not None:
        return kubernetes.Provider(name, context=cluster.context,
                                   cluster_identifier=cluster.name, opts=opts)
    if cluster.stack_output is None:  # the spec allows neither missing; keep mypy sure
        raise SpecError(f"Pool {spec.name!r}: cluster needs context or stackOutput.")
    stack, _, output = cluster.stack_output.partition("#")
    reference = pulumi.StackReference(f"{name}-kubeconfig", stack_name=stack,
                                      opts=opts)
    # an object (EKS exports its kubeconfig as one) is handed over as JSON, which is YAML
    kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
        reference.require_output(output)).apply(_as_text)
    return kubernetes.Provider(name, kubeconfig=kubeconfig,
                               cluster_identifier=cluster.name, opts=opts)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def device_plugin_values(tolerations: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """nvidia-device-plugin values: on the GPU nodes only, tolerating their taint."""
    found = [dict(t) for t in tolerations]
    if charts.GPU_TOLERATION not in found:
        found.insert(0, dict(charts.GPU_TOLERATION))
    return {"tolerations": found, "nodeSelector": {GPU_PRESENT_LABEL: "true"}}


def _release(name: str, ref: charts.ChartRef, namespace: pulumi.Input[str],
             values: pulumi.Input[Mapping[str, Any]], opts: pulumi.ResourceOptions, *,
             release_name: str, create_namespace: bool = False) -> kubernetes.helm.v3.Release:
    from pulumi_kubernetes.helm.v3 import Release, ReleaseArgs, RepositoryOptsArgs

    return Release(name, ReleaseArgs(
        name=release_name, chart=ref.chart, version=ref.version, namespace=namespace,
        create_namespace=create_namespace, values=values,
        repository_opts=RepositoryOptsArgs(repo=ref.repo) if ref.repo else None,
    ), opts=opts)


def arc_controller(provider: kubernetes.Provider,
                   parent: pulumi.Resource | None = None, *,
                   name: str = "arc-controller") -> kubernetes.helm.v3.Release:
    """The ARC controller (CRDs and manager) in `arc-systems`: one per stack and cluster
    (`name`: the Pulumi resource's, unique in the stack when it has several clusters).
    Its service account is named, so every scale set names it (`controllerServiceAccount`)."""
    return _release(name, charts.ARC_CONTROLLER_CHART, ARC_NAMESPACE,
                    charts.arc_controller_values(service_account=ARC_SERVICE_ACCOUNT),
                    pulumi.ResourceOptions(parent=parent, provider=provider),
                    release_name=ARC_RELEASE, create_namespace=True)


def device_plugin(provider: kubernetes.Provider, tolerations: Sequence[Mapping[str, Any]], *,
                  name: str, parent: pulumi.Resource | None = None
                  ) -> kubernetes.helm.v3.Release:
    """NVIDIA's device plugin on a cluster's GPU nodes (one per cluster), tolerating
    `tolerations` (the taints of every GPU node pool it serves)."""
    return _release(name, charts.NVIDIA_DEVICE_PLUGIN_CHART, DEVICE_PLUGIN_NAMESPACE,
                    device_plugin_values(tolerations),
                    pulumi.ResourceOptions(parent=parent, provider=provider),
                    release_name="nvidia-device-plugin", create_namespace=True)


class AutoscaleRunners(pulumi.ComponentResource):
    """One autoscaled pool's Kubernetes resources (see the module docstring).

    Credentials: GitHub pools take `github_token` (credentials: token) or `github_app`
    (credentials: app). GitLab pools take `gitlab_runner_token`, or `forge_settings` with
    which a project (or group) runner is created for the pool. `node_selector` /
    `tolerations` place runner pods on the GPU node pool (by default the spec's, which a
    created node pool leaves empty: pass the node pool's). `controller`: the stack's ARC
    controller when another pool made it.
    """

    # No class-level annotations: Pulumi evaluates those of a resource class at run time,
    # where pulumi_kubernetes is not imported at module level.

    def __init__(self, spec: AutoscaleSpec, provider: kubernetes.Provider, *,
                 github_token: pulumi.Input[str] | None = None,
                 github_app: GitHubApp | None = None,
                 gitlab_runner_token: pulumi.Input[str] | None = None,
                 forge_settings: ForgeSettings | None = None,
                 controller: kubernetes.helm.v3.Release | None = None,
                 node_selector: Mapping[str, str] | None = None,
                 tolerations: Sequence[Mapping[str, Any]] | None = None,
                 facts: ClusterFacts | None = None,
                 runner_image: str = charts.DEFAULT_RUNNER_IMAGE,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT, spec.name, None, opts)
        import pulumi_kubernetes as kubernetes

        on_cluster = pulumi.ResourceOptions(parent=self, provider=provider)
        selector = dict(spec.node_selector if node_selector is None else node_selector)
        tols = [toleration_dict(t) for t in spec.tolerations] if tolerations is None else \
            [dict(t) for t in tolerations]

        ns_labels = identity.namespace_labels(spec)
        namespace = kubernetes.core.v1.Namespace(
            f"{spec.name}-namespace", metadata={"name": namespace_name(spec),
                                                **({"labels": ns_labels} if ns_labels else {})},
            opts=on_cluster)
        ns_name: pulumi.Output[str] = namespace.metadata.apply(lambda meta: str(meta.name))
        # before any pod can start in the namespace: no pod of it reaches the node's metadata
        self.metadata_policy = kubernetes.networking.v1.NetworkPolicy(
            f"{spec.name}-no-node-metadata",
            metadata={"name": METADATA_POLICY, "namespace": ns_name},
            spec=identity.metadata_policy(spec, namespace_name(spec))["spec"],
            opts=on_cluster)
        self.identity = identity.bind_identity(spec, facts or identity.ClusterFacts(), ns_name,
                                               self, provider, [namespace])
        service_account = self.identity.service_account
        pod_labels = identity.pod_labels(spec)
        string_data = self._credential(spec, github_token, github_app, gitlab_runner_token,
                                       forge_settings)
        secret = kubernetes.core.v1.Secret(
            f"{spec.name}-forge-credential",
            metadata={"name": CREDENTIAL_SECRET, "namespace": ns_name}, type="Opaque",
            string_data=pulumi.Output.secret(string_data),
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(
                additional_secret_outputs=["data", "stringData"])))
        secret_name: pulumi.Output[str] = secret.metadata.apply(lambda meta: str(meta.name))
        # the releases need the Secret in place (the Deployment / listener mount it), and
        # their pods the policy and the identity
        ready = [secret, self.metadata_policy, *self.identity.resources]
        after_secret = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=ready)

        self.controller: kubernetes.helm.v3.Release | None = None
        self.runners: kubernetes.helm.v3.Release
        if spec.forge == "github":
            existing = spec.cluster.arc_controller == "existing"
            if controller is None and not existing:
                controller = arc_controller(provider, parent=self)
            self.controller = controller
            values = charts.arc_scale_set_values(
                github_config_url=spec.config_url, secret_name=CREDENTIAL_SECRET,
                scale_set_name=str(spec.scale_set_name), labels=spec.labels,
                min_runners=spec.min_runners, max_runners=spec.max_runners,
                gpu_count=spec.gpu_count, node_selector=selector, tolerations=tols,
                service_account=service_account,
                # an existing controller is named, never looked up: the chart's lookup
                # (charts/gha-runner-scale-set/templates/_helpers.tpl) finds nothing in a
                # dry run, and its `fail` would stop every preview
                controller_namespace=(spec.cluster.arc_namespace if existing
                                      else ARC_NAMESPACE),
                controller_service_account=(spec.cluster.arc_service_account if existing
                                            else ARC_SERVICE_ACCOUNT),
                runner_image=spec.runner_image or runner_image,
                max_runtime_s=spec.max_runtime_s, pod_labels=pod_labels)
            self.runners = _release(
                f"{spec.name}-scale-set", charts.ARC_SCALE_SET_CHART, ns_name, values,
                pulumi.ResourceOptions(parent=self, provider=provider,
                                       depends_on=[*ready, *([controller] if controller
                                                             else [])]),
                release_name=str(spec.scale_set_name))
        else:
            values = charts.gitlab_runner_values(
                gitlab_url=spec.forge_url, secret_name=CREDENTIAL_SECRET,
                concurrent=spec.max_runners, gpu_count=spec.gpu_count, node_selector=selector,
                tolerations=tols, service_account=service_account,
                max_runtime_s=spec.max_runtime_s, namespace=None, pod_labels=pod_labels)
            self.runners = _release(f"{spec.name}-gitlab-runner", charts.GITLAB_RUNNER_CHART,
                                    ns_name, values, after_secret, release_name=GITLAB_RELEASE)

        self.namespace = ns_name
        self.secret_name = secret_name
        self.register_outputs({"namespace": ns_name, "secret_name": secret_name,
                               "release": self.runners.name})

    def _credential(self, spec: AutoscaleSpec, github_token: pulumi.Input[str] | None,
                    github_app: GitHubApp | None, gitlab_runner_token: pulumi.Input[str] | None,
                    forge_settings: ForgeSettings | None) -> dict[str, pulumi.Input[str]]:
        where = f"Pool {spec.name!r}"
        if spec.forge == "github":
            if spec.credentials == "app":
                if github_app is None:
                    raise SpecError(f"{where}: credentials app needs the GitHub App's id, "
                                    "installation id and private key.")
                return {"github_app_id": pulumi.Output.secret(github_app.app_id),
                        "github_app_installation_id":
                            pulumi.Output.secret(github_app.installation_id),
                        "github_app_private_key": pulumi.Output.secret(github_app.private_key)}
            if github_token is None:
                raise SpecError(f"{where}: credentials token needs a GitHub token.")
            return {"github_token": pulumi.Output.secret(github_token)}
        if gitlab_runner_token is None:
            if forge_settings is None:
                raise SpecError(f"{where}: a GitLab pool needs its runner token, or the forge "
                                "settings to create its runner.")
            gitlab_runner_token = self._gitlab_runner(spec, forge_settings)
        return {"runner-token": pulumi.Output.secret(gitlab_runner_token),
                "runner-registration-token": ""}

    def _gitlab_runner(self, spec: AutoscaleSpec,
                       settings: ForgeSettings) -> pulumi.Output[str]:
        """The pool's runner, tagged with its labels, created through the API: a project
        runner, or a group runner for a group's pool (the token's user must own the group)."""
        from infra.engine.program import runner_name_prefix
        from infra.forges.registration import RunnerRegistration
        from infra.forges.runners import GITLAB_MIN_TIMEOUT_S, runner_labels
        from infra.rules import default_api_url

        props = {
            "forge": "gitlab", "repo": spec.repo, "group": spec.organization,
            "api_url": (settings.api_url or default_api_url("gitlab", spec.forge_url))
            .rstrip("/"),
            "name_prefix": runner_name_prefix(spec.name, pulumi.get_stack(), 0),
            "labels": list(runner_labels(spec.labels, spec.gpu_model)),
            "max_timeout_s": max(spec.max_runtime_s, GITLAB_MIN_TIMEOUT_S),
            "machine": f"k8s:{namespace_name(spec)}",
            # no gitlab-runner binary to look up: pods run the chart's image
            "gitlab_runner_url": "", "gitlab_runner_sha256": "",
            "token": pulumi.Output.secret(settings.token),
        }
        runner = RunnerRegistration(f"{spec.name}-gitlab-registration", props,
                                    pulumi.ResourceOptions(parent=self))
        return pulumi.Output.secret(runner.registration)
