"""The `kind: autoscale` pools of a runner stack, declared: one program for `pulumi up`
(infra/__main__.py) and the offline plan (infra.engine.plan), as infra.engine.program is for
the single-machine pools.

Per pool: its GPU node pool (`gpu_node_pool`, nothing for `gpuNodePool: existing`) and its
`AutoscaleRunners` (namespace, metadata NetworkPolicy, identity, credential Secret, ARC scale
set or GitLab runner release), placed by the node pool's selector and tolerations. Per cluster
(cloud, region and cluster reference), named after the cluster (`cluster_prefix`) so that
pools can come and go: the Kubernetes provider, one ARC controller for its GitHub pools and
one NVIDIA device plugin tolerating every GPU pool it serves (unless the cluster has its own:
`cluster.arcController` / `devicePlugin: existing`). A pool's resources start with its name,
and the plan shows a cluster's with the first of its pools.

Credentials (`AutoscaleCredentials`): GitHub pools with `credentials: token` get the stack's
forge token, those with `credentials: app` (GitHub's default) the stack's GitHub App
(cml-infra:githubAppId, githubAppInstallationId, githubAppPrivateKey); GitLab pools a project
runner created with the forge token (`forge`), or a given runner token (the plan's
placeholder).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi

from infra.autoscale.spec import AutoscaleSpec
from infra.errors import MissingExtraError, SpecError
from infra.settings import GITHUB_APP_KEYS, NAMESPACE

if TYPE_CHECKING:
    from infra.autoscale.kube import AutoscaleRunners, GitHubApp
    from infra.forges.registration import ForgeSettings

EXPORT_PREFIX = "autoscale:"


@dataclass(frozen=True)
class AutoscaleCredentials:
    """What the stack's autoscale pools authenticate with (None: not given)."""

    token: pulumi.Input[str] | None = None
    """The forge token (cml-infra:forgeToken or REPO_TOKEN), for `credentials: token`."""
    github_app: GitHubApp | None = None
    forge: ForgeSettings | None = None
    """GitLab: the forge settings a project runner is created with."""
    gitlab_runner_token: pulumi.Input[str] | None = None
    """GitLab: a runner token to use instead of creating a runner (the offline plan's)."""


def needs_token(specs: Sequence[AutoscaleSpec]) -> bool:
    """Whether a pool authenticates with the forge token (GitHub `credentials: token`, or
    GitLab, whose project runner is created with it)."""
    return any(spec.forge == "gitlab" or spec.credentials == "token" for spec in specs)


def app_pools(specs: Sequence[AutoscaleSpec]) -> list[str]:
    return [spec.name for spec in specs if spec.forge == "github" and spec.credentials == "app"]


def missing_app(names: Sequence[str]) -> str:
    """The sentence for app pools of a stack without the GitHub App settings."""
    shown = ", ".join(repr(name) for name in names)
    keys = ", ".join(f"{NAMESPACE}:{key}" for key in GITHUB_APP_KEYS)
    return (f"The pool{'s' if len(names) > 1 else ''} {shown} authenticate"
            f"{'' if len(names) > 1 else 's'} with a GitHub App (credentials: app, the default "
            f"of GitHub pools), but the stack lacks {keys}; set them (the private key with "
            "'pulumi config set --secret'), or set credentials: token to use the forge token.")


def cluster_key(spec: AutoscaleSpec) -> tuple[str, str, Any]:
    return spec.cloud, spec.region, spec.cluster.where


def require_sdks(specs: Sequence[AutoscaleSpec]) -> None:
    """Refuse, in one sentence naming the pip command, autoscale pools whose SDKs are not
    installed: pulumi_kubernetes (extra `kubernetes`) and each of their clouds'."""
    import importlib.util

    from infra.clouds import SDK_PACKAGES

    if not specs:
        return
    needed = {"kubernetes": "pulumi_kubernetes",
              **{spec.cloud: SDK_PACKAGES[spec.cloud] for spec in specs}}
    def absent(package: str) -> bool:
        try:
            return importlib.util.find_spec(package) is None
        except ModuleNotFoundError:
            return True

    missing = [extra for extra, package in needed.items() if absent(package)]
    if missing:
        raise MissingExtraError(
            f"Autoscaled pools need the {' and '.join(missing)} SDK"
            f"{'s' if len(missing) > 1 else ''}, which {'are' if len(missing) > 1 else 'is'} "
            f"not installed; run: pip install 'cml-infra[{','.join(missing)}]' (or add "
            f"{', '.join(missing)} to the extras you install).")


def cluster_prefix(spec: AutoscaleSpec) -> str:
    """The name of what a stack installs once per cluster (ARC's controller, the device
    plugin): the cluster's, not a pool's, so adding, removing or reordering pools never moves
    them (a moved Helm release would be created before its old self is deleted, and Helm
    refuses a release name in use)."""
    readable = re.sub(r"[^a-z0-9]+", "-", spec.cluster.name.lower()).strip("-")[:24]
    digest = hashlib.sha256(json.dumps(cluster_key(spec)).encode()).hexdigest()[:6]
    return f"cluster-{readable}-{digest}"


def check_clusters(specs: Sequence[AutoscaleSpec]) -> None:
    """Pools on one cluster share its ARC controller and device plugin: they must agree on
    whether the stack installs them."""
    first: dict[Any, AutoscaleSpec] = {}
    named: dict[tuple[str, str, str, str | None], AutoscaleSpec] = {}
    for spec in specs:
        # one cluster (cloud, region, name) is reached one way: two ways would install its
        # controller and device plugin twice, which Helm refuses on the cluster
        same = named.setdefault((spec.cloud, spec.region, spec.cluster.name,
                                 spec.cluster.location), spec)
        if same.cluster.where != spec.cluster.where:
            raise SpecError(f"Pool {spec.name!r}: cluster {spec.cluster.name!r} is reached "
                            f"otherwise by pool {same.name!r}; give both pools the same "
                            "context or stackOutput.")
        other = first.setdefault(cluster_key(spec), spec)
        for key, attr in (("arcController", "arc_controller"),
                          ("arcControllerNamespace", "arc_namespace"),
                          ("arcControllerServiceAccount", "arc_service_account"),
                          ("devicePlugin", "device_plugin")):
            if getattr(other.cluster, attr) != getattr(spec.cluster, attr):
                raise SpecError(
                    f"Pool {spec.name!r}: cluster.{key} is {getattr(spec.cluster, attr)} but "
                    f"pool {other.name!r} on the same cluster says "
                    f"{getattr(other.cluster, attr)}; one cluster has one, so give both pools "
                    "the same value.")


def autoscale_program(specs: Sequence[AutoscaleSpec],
                      credentials: AutoscaleCredentials) -> dict[str, AutoscaleRunners]:
    """Declare every autoscale pool of the stack (see the module docstring); call inside a
    Pulumi program run. Returns each pool's runners, by pool name."""
    from infra.autoscale.identity import cluster_facts
    from infra.autoscale.kube import (
        AutoscaleRunners,
        arc_controller,
        cluster_provider,
        device_plugin,
    )
    from infra.autoscale.nodepools import gpu_node_pool

    require_sdks(specs)
    check_clusters(specs)
    # every cluster look-up before the first resource: a refusal leaves nothing half-made
    facts = {spec.name: cluster_facts(spec) for spec in specs}
    controllers: dict[Any, Any] = {}
    plugin_tolerations: dict[Any, list[dict[str, Any]]] = {}
    providers: dict[Any, Any] = {}
    declared: dict[str, AutoscaleRunners] = {}
    for spec in specs:
        key = cluster_key(spec)
        if key not in providers:  # one per cluster, named after it (see cluster_prefix)
            providers[key] = (spec, cluster_provider(spec, name=cluster_prefix(spec)))
        provider = providers[key][1]
        info = gpu_node_pool(spec, None)
        controller = None
        if spec.forge == "github" and spec.cluster.arc_controller == "install":
            if key not in controllers:
                controllers[key] = arc_controller(
                    provider, name=f"{cluster_prefix(spec)}-arc-controller")
            controller = controllers[key]
        if info.needs_device_plugin and spec.cluster.device_plugin == "install":
            merged = plugin_tolerations.setdefault(key, [])
            merged += [t for t in info.tolerations if t not in merged]
        runners = AutoscaleRunners(
            spec, provider, controller=controller, node_selector=info.node_selector,
            tolerations=info.tolerations, facts=facts[spec.name],
            opts=pulumi.ResourceOptions(depends_on=list(info.resources)),
            **_credential_args(spec, credentials))
        declared[spec.name] = runners
        api_url = credentials.forge.api_url if credentials.forge else None
        pulumi.export(f"{EXPORT_PREFIX}{spec.name}",
                      export_summary(spec, runners.namespace, api_url))
    # one device plugin per cluster, tolerating the taints of every GPU pool it must serve
    for key, tolerations in plugin_tolerations.items():
        spec, provider = providers[key]
        device_plugin(provider, tolerations, name=f"{cluster_prefix(spec)}-device-plugin")
    return declared


def _credential_args(spec: AutoscaleSpec, credentials: AutoscaleCredentials) -> dict[str, Any]:
    if spec.forge == "gitlab":
        if credentials.gitlab_runner_token is not None:
            return {"gitlab_runner_token": credentials.gitlab_runner_token}
        return {"forge_settings": credentials.forge}
    if spec.credentials == "app":
        if credentials.github_app is None:
            raise SpecError(missing_app([spec.name]))
        return {"github_app": credentials.github_app}
    return {"github_token": credentials.token}


def export_summary(spec: AutoscaleSpec, namespace: pulumi.Input[str],
                   api_url: str | None = None) -> Mapping[str, Any]:
    """What `status` and readers of the stack need to know of an autoscale pool (no secret;
    `api_url`: the stack's cml-infra:forgeApiUrl, which status lists the runners at)."""
    return {"kind": "autoscale", "cloud": spec.cloud, "region": spec.region,
            "cluster": spec.cluster.name, "namespace": namespace, "forge": spec.forge,
            "repo": spec.repo, "organization": spec.organization,
            "forge_url": spec.forge_url, "api_url": api_url, "gpu": spec.gpu_model,
            "gpu_count": spec.gpu_count,
            "min_runners": spec.min_runners, "max_runners": spec.max_runners,
            "machine_type": spec.node_machine_type, "max_nodes": spec.max_nodes,
            "max_runtime_s": spec.max_runtime_s, "identity": spec.identity,
            "scale_set_name": spec.scale_set_name, "labels": list(spec.labels)}
