"""Helm values for autoscaled GPU runner pools on Kubernetes (pure functions, no Pulumi).

Three charts make a pool: GitHub's Actions Runner Controller (ARC) runner scale sets, the
GitLab Runner chart with the Kubernetes executor, and NVIDIA's device plugin on clusters
that do not ship one. The builders return plain dicts for `helm.v3.Release(values=...)`.

Credentials never enter the values: the builders take the NAME of a Kubernetes Secret that
is created beforehand (GitHub: `github_token` or the GitHub App keys; GitLab: `runner-token`
and an empty `runner-registration-token`), so neither the rendered manifests nor Helm's
release Secret hold a token. None of the builders has a token parameter.

Facts behind the keys: ../shared/notes/kubernetes.md, read from ARC at tag
gha-runner-scale-set-0.14.2 (commit 9bb16ae) and the gitlab-runner 0.86.0 chart tarball.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.errors import SpecError


@dataclass(frozen=True)
class ChartRef:
    """A pinned chart: an OCI `chart` reference, or a `chart` name in the classic `repo`."""

    chart: str
    version: str
    repo: str | None = None


# actions/actions-runner-controller@gha-runner-scale-set-0.14.2 (9bb16ae):
# charts/gha-runner-scale-set-controller/Chart.yaml (version 0.14.2, appVersion 0.14.2); published
# by .github/workflows/gha-publish-chart.yaml to oci://ghcr.io/actions/actions-runner-controller-charts
ARC_CONTROLLER_CHART = ChartRef(
    chart="oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set-controller",
    version="0.14.2",
)
# same tag: charts/gha-runner-scale-set/Chart.yaml (version 0.14.2, runner v2.334.0)
ARC_SCALE_SET_CHART = ChartRef(
    chart="oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set",
    version="0.14.2",
)
# gitlab-runner chart 0.86.0 (appVersion 18.9.0), repository https://charts.gitlab.io
# (gitlab-org/gitlab-runner docs/install/kubernetes.md; tarball read from
# DoD-Platform-One/gitlab-runner@839115b:chart/charts/gitlab-runner-0.86.0.tgz)
GITLAB_RUNNER_CHART = ChartRef(
    chart="gitlab-runner", version="0.86.0", repo="https://charts.gitlab.io"
)
# NVIDIA/k8s-device-plugin@1b826ac (tag v0.20.0): deployments/helm/nvidia-device-plugin
NVIDIA_DEVICE_PLUGIN_CHART = ChartRef(
    chart="nvidia-device-plugin",
    version="0.20.0",
    repo="https://nvidia.github.io/k8s-device-plugin",
)

GPU_RESOURCE = "nvidia.com/gpu"
# the taint GPU node pools carry and every GPU pod tolerates (operator Exists: any value)
GPU_TOLERATION: dict[str, str] = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
# ARC@gha-runner-scale-set-0.14.2 Makefile: RUNNER_VERSION 2.334.0 (chart examples use :latest);
# the stock image has no CUDA user space: pools that need it pass their own `runner_image`
DEFAULT_RUNNER_IMAGE = "ghcr.io/actions/actions-runner:2.334.0"
# the image of a GitLab job that names none (`image` of [runners.kubernetes],
# docs.gitlab.com/runner/executors/kubernetes): NVIDIA's CUDA base image, whose
# NVIDIA_DRIVER_CAPABILITIES bring the driver's CUDA library and nvidia-smi into the pod
GITLAB_DEFAULT_IMAGE = "nvidia/cuda:12.4.1-base-ubuntu22.04"
# time a GitLab build pod may take to start: a GPU node from zero, its driver and the image pull
# take minutes (the executor's default is 180 s, common/consts.go KubernetesPollTimeout)
GITLAB_POLL_TIMEOUT_S = 1800
# the chart's default job namespace, evaluated by Helm `tpl` over runners.config
GITLAB_NAMESPACE_TPL = "{{ default .Release.Namespace .Values.runners.jobNamespace }}"

_TOLERATION_OPERATORS = ("Exists", "Equal")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_MAX_SCALE_SET_NAME = 45  # the chart `fail`s above this (templates/autoscalingrunnerset.yaml)
_MAX_LABEL = 255  # each scaleSetLabels entry: non-empty, under 256 characters


def arc_controller_values(
    *,
    service_account: str = "arc-gha-rs-controller",
    replicas: int = 1,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Values of gha-runner-scale-set-controller with a fixed service-account name.

    Naming the service account makes the scale sets' `controllerServiceAccount` known in
    advance (`arc_scale_set_values(controller_service_account=...)`) instead of derived from
    the release name. The controller needs no GPU: `node_selector` / `tolerations` place it.
    """
    if not service_account or service_account == "default":
        raise SpecError("Name the ARC controller's service account (not empty, not 'default').")
    if replicas < 1:
        raise SpecError("Run at least one ARC controller replica.")
    return {
        "replicaCount": replicas,
        "serviceAccount": {"create": True, "name": service_account},
        "nodeSelector": dict(node_selector or {}),
        "tolerations": [_toleration(t) for t in tolerations],
    }


def arc_scale_set_values(
    *,
    github_config_url: str,
    secret_name: str,
    scale_set_name: str,
    labels: Sequence[str],
    min_runners: int,
    max_runners: int,
    gpu_count: int,
    node_selector: Mapping[str, str],
    tolerations: Sequence[Mapping[str, Any]],
    service_account: str | None,
    controller_namespace: str | None,
    controller_service_account: str | None,
    runner_image: str = DEFAULT_RUNNER_IMAGE,
    max_runtime_s: int,
    pod_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Values of one gha-runner-scale-set release: ephemeral GPU runners, zero when idle.

    `secret_name` names a Secret in the scale set's namespace with `github_token`, or
    `github_app_id`, `github_app_installation_id` and `github_app_private_key`; the chart
    then creates no Secret of its own and the credential stays out of Helm.

    No `containerMode`: the GPU goes on the `runner` container itself (the stock dind
    sidecar has no NVIDIA runtime; in kubernetes mode job pods ignore `template.spec`).
    `service_account` None leaves the chart's no-permission account and mounts no API
    token; an identity-bound account (IRSA, Pod Identity, Workload Identity) keeps the
    token mount its webhook may rely on. `max_runtime_s` becomes the pod's
    `activeDeadlineSeconds`, the hard end of any job on the runner. `pod_labels` go on the
    runner pods (AKS workload identity mutates only pods labelled for it).
    """
    if not github_config_url.startswith("https://"):
        raise SpecError(
            "Give githubConfigUrl as the https:// URL of a repository, organization or enterprise."
        )
    _require_name(secret_name, "the GitHub credential Secret")
    if not scale_set_name or len(scale_set_name) > _MAX_SCALE_SET_NAME:
        raise SpecError(f"Name the scale set with 1 to {_MAX_SCALE_SET_NAME} characters.")
    for label in labels:
        if not label or len(label) > _MAX_LABEL:
            raise SpecError(f"Give each scale-set label 1 to {_MAX_LABEL} characters.")
    _check_counts(min_runners, max_runners, gpu_count, max_runtime_s)
    if (controller_namespace is None) != (controller_service_account is None):
        raise SpecError("Name both the ARC controller's namespace and service account, or "
                        "neither (the chart then looks the controller up).")
    if controller_namespace is not None and controller_service_account is not None:
        _require_name(controller_namespace, "the ARC controller's namespace")
        _require_name(controller_service_account, "the ARC controller's service account")
    if not runner_image:
        raise SpecError("Give the runner image (with the CUDA user-space libraries jobs need).")

    gpus = str(gpu_count)
    runner = {
        "name": "runner",
        "image": runner_image,
        "command": ["/home/runner/run.sh"],
        "resources": {"limits": {GPU_RESOURCE: gpus}, "requests": {GPU_RESOURCE: gpus}},
    }
    spec: dict[str, Any] = {
        "containers": [runner],
        "nodeSelector": dict(node_selector),
        "tolerations": _with_gpu_toleration(tolerations),
        "activeDeadlineSeconds": max_runtime_s,
        "restartPolicy": "Never",
    }
    if service_account is None:
        spec["automountServiceAccountToken"] = False
    else:
        _require_name(service_account, "the runner pods' service account")
        spec["serviceAccountName"] = service_account
    values: dict[str, Any] = {
        "githubConfigUrl": github_config_url.rstrip("/"),
        "githubConfigSecret": secret_name,
        "runnerScaleSetName": scale_set_name,
        "minRunners": min_runners,
        "maxRunners": max_runners,
        "template": {"spec": spec},
    }
    if controller_namespace is not None:
        values["controllerServiceAccount"] = {
            "namespace": controller_namespace, "name": controller_service_account}
    if pod_labels:
        values["template"]["metadata"] = {"labels": dict(pod_labels)}
    if labels:
        values["scaleSetLabels"] = list(labels)
    return values


def runner_pod_template(values: Mapping[str, Any]) -> dict[str, Any]:
    """The runner pod template `{"spec": ...}` of scale-set values, as the chart renders it.

    A deep copy of `template.spec` with the chart's defaults filled in (restartPolicy Never;
    without a `serviceAccountName` the chart names its no-permission account
    `<runnerScaleSetName>-gha-rs-no-permission`).
    """
    spec = copy.deepcopy(dict(values["template"]["spec"]))
    spec.setdefault("restartPolicy", "Never")
    name = values["runnerScaleSetName"].replace("_", "-")
    spec.setdefault("serviceAccountName", f"{name}-gha-rs-no-permission")
    return {"spec": spec}


def gitlab_runner_values(
    *,
    gitlab_url: str,
    secret_name: str,
    concurrent: int,
    gpu_count: int,
    node_selector: Mapping[str, str],
    tolerations: Sequence[Mapping[str, Any]],
    service_account: str | None,
    max_runtime_s: int,
    namespace: str | None,
    pod_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Values of the gitlab-runner chart: a runner manager that starts one GPU build pod per job.

    `secret_name` names a Secret in the release namespace holding two keys: `runner-token`
    (the `glrt-` runner authentication token) and `runner-registration-token`, which must
    exist and be empty (the chart's Deployment mounts both keys, not optionally; registration
    tokens are deprecated and never used here).

    The GPU reaches the `build` container through a strategic `pod_spec` patch (the Kubernetes
    executor has no GPU setting), which needs FF_USE_ADVANCED_POD_SPEC_CONFIGURATION.
    `namespace` None runs build pods in the chart's job namespace (the release namespace
    unless `runners.jobNamespace` is set). `service_account` is the build pods' account.
    `max_runtime_s` becomes the build pod's `activeDeadlineSeconds` (same patch), the hard end
    of a job whatever its `timeout:`; keep job timeouts below it. `pod_labels` go on the build
    pods (`[runners.kubernetes.pod_labels]`).
    """
    if not gitlab_url.startswith("https://"):
        raise SpecError("Give the GitLab URL as https://<host>/.")
    _require_name(secret_name, "the GitLab runner-token Secret")
    if concurrent < 1:
        raise SpecError("Allow at least one concurrent GitLab job.")
    _check_counts(0, concurrent, gpu_count, max_runtime_s)
    if namespace is not None:
        _require_name(namespace, "the build pods' namespace")
    if service_account is not None:
        _require_name(service_account, "the build pods' service account")

    gpus = str(gpu_count)
    patch = {
        "activeDeadlineSeconds": max_runtime_s,
        "containers": [
            {
                "name": "build",
                "resources": {"limits": {GPU_RESOURCE: gpus}, "requests": {GPU_RESOURCE: gpus}},
            }
        ]
    }
    namespace_toml = (
        _toml_str(GITLAB_NAMESPACE_TPL, escape=False) if namespace is None else _toml_str(namespace)
    )
    lines = [
        "[[runners]]",
        "  [runners.feature_flags]",
        "    FF_USE_ADVANCED_POD_SPEC_CONFIGURATION = true",
        "  [runners.kubernetes]",
        f"    namespace = {namespace_toml}",
        f"    image = {_toml_str(GITLAB_DEFAULT_IMAGE)}",
        f"    poll_timeout = {GITLAB_POLL_TIMEOUT_S}",
    ]
    if service_account is not None:
        lines.append(f"    service_account = {_toml_str(service_account)}")
    else:  # build pods get no Kubernetes API token (docs.gitlab.com/runner/executors/kubernetes)
        lines.append("    automount_service_account_token = false")
    if pod_labels:
        lines.append("    [runners.kubernetes.pod_labels]")
        lines += [f"      {_toml_str(k)} = {_toml_str(v)}" for k, v in sorted(pod_labels.items())]
    lines.append("    [runners.kubernetes.node_selector]")
    lines += [f"      {_toml_str(k)} = {_toml_str(v)}" for k, v in sorted(node_selector.items())]
    lines.append("    [runners.kubernetes.node_tolerations]")
    for tol in _with_gpu_toleration(tolerations):
        key = tol["key"] if tol["operator"] == "Exists" else f"{tol['key']}={tol.get('value', '')}"
        lines.append(f"      {_toml_str(key)} = {_toml_str(tol.get('effect', ''))}")
    lines += [
        "    [[runners.kubernetes.pod_spec]]",
        '      name = "gpu"',
        '      patch_type = "strategic"',
        f"      patch = {_toml_str(json.dumps(patch, separators=(',', ':'), sort_keys=True))}",
    ]
    return {
        "gitlabUrl": gitlab_url,
        "concurrent": concurrent,
        "rbac": {"create": True},
        "runners": {"secret": secret_name, "config": "\n".join(lines) + "\n"},
    }


def render_gitlab_config(config: str, release_namespace: str) -> str:
    """`runners.config` as Helm `tpl` renders it, for the two expressions the builder writes.

    The tests parse the result with `tomllib` (Python 3.11+), as the runner would.
    """
    return config.replace(GITLAB_NAMESPACE_TPL, release_namespace).replace('{{ "{{" }}', "{{")


def _check_counts(min_runners: int, max_runners: int, gpu_count: int, max_runtime_s: int) -> None:
    if min_runners < 0 or max_runners < 1 or min_runners > max_runners:
        raise SpecError("Give 0 <= min_runners <= max_runners and max_runners >= 1.")
    if gpu_count < 1:
        raise SpecError("Give each runner at least one GPU (gpu_count >= 1).")
    if max_runtime_s < 60:
        raise SpecError("Give a maximum runtime of at least 60 seconds.")


def _require_name(name: str, what: str) -> None:
    if not name or len(name) > 253 or name != name.strip() or "{{" in name:
        raise SpecError(f"Give {what} as a Kubernetes name.")


def _toleration(tol: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(tol)
    operator = out.setdefault("operator", "Equal")
    if operator not in _TOLERATION_OPERATORS:
        raise SpecError(f"Use toleration operator Exists or Equal, not {operator!r}.")
    if not out.get("key"):
        raise SpecError("Give every toleration a key (a keyless Exists tolerates every taint).")
    if operator == "Exists" and out.get("value"):
        raise SpecError(f"Drop the value of toleration {out['key']!r}: operator Exists takes none.")
    if out.get("effect", "") not in (*_TAINT_EFFECTS, ""):
        raise SpecError(
            f"Use taint effect NoSchedule, PreferNoSchedule or NoExecute, not {out['effect']!r}."
        )
    return out


def _with_gpu_toleration(tolerations: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = [_toleration(t) for t in tolerations]
    if not any(
        t["key"] == GPU_RESOURCE
        and t["operator"] == "Exists"
        and t.get("effect") in ("NoSchedule", "")
        for t in out
    ):
        out.append(_toleration(GPU_TOLERATION))
    return out


def _toml_str(text: str, *, escape: bool = True) -> str:
    """A TOML basic string; with `escape`, `{{` is hidden from Helm's `tpl`."""
    quoted = json.dumps(text)  # a JSON string is a valid TOML basic string, \uXXXX escapes too
    return quoted.replace("{{", '{{ "{{" }}') if escape else quoted
