"""Helm values of the autoscaled GPU pools (infra/autoscale/charts.py) against real schemas.

- the ARC runner pod template: Kubernetes 1.33 strict schema (kubernetes-validate) plus own
  checks of quantities, toleration operators and effects, which that schema leaves open;
- the AutoscalingRunnerSet the gha-runner-scale-set 0.14.2 chart renders from the values: the
  CRD's openAPIV3Schema vendored from ARC at that tag (tests/schemas/arc/README.md);
- GitLab's `runners.config`: TOML after Helm `tpl`, the GPU `pod_spec` strategic patch, and the
  build pod that patch yields;
- no credential in any values.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from infra.autoscale import charts
from infra.errors import SpecError

kubernetes_validate = pytest.importorskip("kubernetes_validate")
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the suite runs on 3.11+; 3.10 skips the GitLab TOML tests
    tomllib = None
needs_tomllib = pytest.mark.skipif(tomllib is None, reason="tomllib is Python 3.11+")

K8S_VERSION = "1.33"
SCHEMA = Path(__file__).parent / "schemas" / "arc" / "autoscalingrunnersets.v1alpha1.openapiv3.json"
ARC_TAG_COMMIT = "9bb16ae49d0ce585d8e682aa7e2668a6e832d5d8"

# apimachinery resource.Quantity, as the CRD's x-kubernetes-int-or-string pattern spells it
QUANTITY = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
TOKEN_LIKE = re.compile(r"ghp_|gho_|ghs_|github_pat_|glrt-|glpat-|GR1348941|-----BEGIN")
SENTINEL_TOKEN = "ghp_SENTINELsentinelSENTINELsentinel0000"


def arc_values(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "github_config_url": "https://github.com/acme",
        "secret_name": "arc-github-app",
        "scale_set_name": "gpu-a10g",
        "labels": ["gpu", "a10g"],
        "min_runners": 0,
        "max_runners": 4,
        "gpu_count": 1,
        "node_selector": {"cml.dev/pool": "gpu-a10g"},
        "tolerations": [],
        "service_account": None,
        "controller_namespace": "arc-system",
        "controller_service_account": "arc-gha-rs-controller",
        "max_runtime_s": 3 * 3600,
    }
    return charts.arc_scale_set_values(**{**args, **overrides})


def gitlab_values(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "gitlab_url": "https://gitlab.example.com/",
        "secret_name": "gitlab-runner-token",
        "concurrent": 4,
        "gpu_count": 2,
        "node_selector": {"cml.dev/pool": "gpu-l4"},
        "tolerations": [
            {"key": "cml.dev/pool", "operator": "Equal", "value": "gpu", "effect": "NoExecute"}
        ],
        "service_account": "gpu-jobs",
        "max_runtime_s": 7200,
        "namespace": None,
    }
    return charts.gitlab_runner_values(**{**args, **overrides})


# -- checks kubernetes-validate leaves to us -----------------------------------------------


def pod_problems(spec: dict[str, Any]) -> list[str]:
    """What the API server would refuse but the OpenAPI schema lets through."""
    problems = []
    for tol in spec.get("tolerations") or []:
        op = tol.get("operator", "Equal")
        if op not in ("Exists", "Equal"):
            problems.append(f"toleration operator {op!r}")
        if tol.get("effect", "") not in ("", "NoSchedule", "PreferNoSchedule", "NoExecute"):
            problems.append(f"toleration effect {tol['effect']!r}")
        if op == "Exists" and tol.get("value"):
            problems.append("toleration Exists with a value")
        if not tol.get("key") and op != "Exists":
            problems.append("toleration without key must be Exists")
    if spec.get("restartPolicy", "Always") not in ("Always", "OnFailure", "Never"):
        problems.append(f"restartPolicy {spec['restartPolicy']!r}")
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not (isinstance(deadline, int) and deadline > 0):
        problems.append(f"activeDeadlineSeconds {deadline!r}")
    for c in spec["containers"]:
        res = c.get("resources") or {}
        for kind in ("limits", "requests"):
            for name, qty in (res.get(kind) or {}).items():
                if not QUANTITY.match(str(qty)) or str(qty).startswith("-"):
                    problems.append(f"{c['name']} {kind} {name}={qty!r}")
        gpu_limit = (res.get("limits") or {}).get(charts.GPU_RESOURCE)
        gpu_request = (res.get("requests") or {}).get(charts.GPU_RESOURCE)
        if gpu_limit is not None or gpu_request is not None:
            # extended resources: whole numbers, no overcommit (requests == limits)
            if not re.fullmatch(r"[1-9][0-9]*", str(gpu_limit)):
                problems.append(f"{c['name']} GPU limit {gpu_limit!r} is not a positive integer")
            if gpu_request is not None and str(gpu_request) != str(gpu_limit):
                problems.append(f"{c['name']} GPU request {gpu_request!r} != limit {gpu_limit!r}")
    return problems


def validate_pod(spec: dict[str, Any]) -> None:
    """Kubernetes' own schema (strict: unknown fields fail) and then `pod_problems`."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": spec}
    try:
        assert kubernetes_validate.validate(pod, K8S_VERSION, strict=True) == K8S_VERSION
    except kubernetes_validate.ValidationError as err:
        pytest.fail(f"Pod spec invalid at {list(err.path)}: {err.message}")
    assert pod_problems(spec) == []


def limits(spec: dict[str, Any], kind: str = "limits") -> dict[str, Any]:
    resources: dict[str, Any] = spec["containers"][0]["resources"][kind]
    return resources


def tolerates_gpu_taint(spec: dict[str, Any]) -> bool:
    return any(
        (t["key"], t["operator"], t["effect"]) == (charts.GPU_RESOURCE, "Exists", "NoSchedule")
        for t in spec["tolerations"]
    )


# -- ARC -----------------------------------------------------------------------------------


def test_arc_scale_set_values_shape() -> None:
    values = arc_values()
    assert values["githubConfigSecret"] == "arc-github-app"  # a Secret name, not a map with a token
    assert values["controllerServiceAccount"] == {
        "namespace": "arc-system", "name": "arc-gha-rs-controller"
    }
    assert values["runnerScaleSetName"] == "gpu-a10g"
    assert values["scaleSetLabels"] == ["gpu", "a10g"]
    assert (values["minRunners"], values["maxRunners"]) == (0, 4)
    assert "containerMode" not in values
    spec = values["template"]["spec"]
    (runner,) = spec["containers"]
    assert runner["name"] == "runner"
    assert runner["command"] == ["/home/runner/run.sh"]
    assert runner["image"] == charts.DEFAULT_RUNNER_IMAGE
    assert runner["resources"] == {
        "limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}
    }
    assert spec["nodeSelector"] == {"cml.dev/pool": "gpu-a10g"}
    assert tolerates_gpu_taint(spec)
    assert spec["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in spec  # the chart's no-permission account
    assert spec["activeDeadlineSeconds"] == 3 * 3600
    assert spec["restartPolicy"] == "Never"


def test_arc_identity_service_account_keeps_token_mount() -> None:
    spec = arc_values(service_account="gpu-runner-identity", gpu_count=4)["template"]["spec"]
    assert spec["serviceAccountName"] == "gpu-runner-identity"
    assert "automountServiceAccountToken" not in spec
    assert spec["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "4"}
    validate_pod(charts.runner_pod_template(arc_values(service_account="gpu-runner-identity"))["spec"])


def test_arc_gpu_toleration_added_once() -> None:
    own = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    other = {"key": "cml.dev/spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    spec = arc_values(tolerations=[other, own])["template"]["spec"]
    assert spec["tolerations"] == [other, own]


def test_arc_runner_pod_template_validates() -> None:
    spot = {"key": "cml.dev/spot", "operator": "Exists"}
    template = charts.runner_pod_template(arc_values(tolerations=[spot]))
    spec = template["spec"]
    assert spec["serviceAccountName"] == "gpu-a10g-gha-rs-no-permission"
    validate_pod(spec)


@pytest.mark.parametrize(
    ("mutate", "caught_by"),
    [
        (lambda s: s.update(nodeSelecter=s.pop("nodeSelector")), "schema"),
        (lambda s: s["containers"][0].update(resource=s["containers"][0].pop("resources")),
         "schema"),
        (lambda s: s.update(activeDeadlineSeconds="3h"), "schema"),
        (lambda s: s["tolerations"][-1].update(operator="Exist"), "own"),
        (lambda s: s["tolerations"][-1].update(effect="NoSchedul"), "own"),
        (lambda s: limits(s).update({"nvidia.com/gpu": "one"}), "own"),
        (lambda s: limits(s).update({"nvidia.com/gpu": "-1"}), "own"),
        (lambda s: limits(s, "requests").update({"nvidia.com/gpu": "2"}), "own"),
        (lambda s: s.update(restartPolicy="Sometimes"), "own"),
    ],
)
def test_arc_pod_checks_catch_mistakes(mutate: Any, caught_by: str) -> None:
    spec = charts.runner_pod_template(arc_values())["spec"]
    mutate(spec)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": spec}
    if caught_by == "schema":
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    else:
        # the schema lets it through (the reason for the own checks) ...
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
        # ... and the own checks do not
        assert pod_problems(spec)


def rendered_autoscaling_runner_set(values: dict[str, Any], release: str = "gpu-a10g",
                                    namespace: str = "arc-runners") -> dict[str, Any]:
    """The AutoscalingRunnerSet gha-runner-scale-set 0.14.2 renders from `values`, spec only.

    Follows templates/autoscalingrunnerset.yaml at the tag for the keys the builder sets: URL
    with its trailing `/` trimmed, the Secret name as given, labels as runnerScaleSetLabels,
    min/max as ints, template.spec with restartPolicy and serviceAccountName defaulted.
    """
    spec: dict[str, Any] = {
        "githubConfigUrl": values["githubConfigUrl"].rstrip("/"),
        "githubConfigSecret": values["githubConfigSecret"],
        "runnerScaleSetName": values["runnerScaleSetName"],
    }
    if values.get("scaleSetLabels"):
        spec["runnerScaleSetLabels"] = values["scaleSetLabels"]
    for key in ("maxRunners", "minRunners"):
        if key in values:
            spec[key] = int(values[key])
    spec["template"] = charts.runner_pod_template(values)
    return {
        "apiVersion": "actions.github.com/v1alpha1",
        "kind": "AutoscalingRunnerSet",
        "metadata": {"name": values["runnerScaleSetName"].replace("_", "-"), "namespace": namespace,
                     "labels": {"app.kubernetes.io/component": "autoscaling-runner-set",
                                "app.kubernetes.io/instance": release}},
        "spec": spec,
    }


def closed(schema: Any) -> Any:
    """The schema with unknown fields refused wherever the CRD lists `properties`.

    A structural CRD schema leaves objects open and the API server prunes (or, under strict
    field validation, rejects) unknown fields; closing them makes a misspelt key fail here.
    """
    if isinstance(schema, dict):
        out = {k: closed(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [closed(v) for v in schema]
    return schema


@cache
def crd_validator() -> jsonschema.Draft7Validator:
    schema = closed(json.loads(SCHEMA.read_text()))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def crd_errors(obj: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in crd_validator().iter_errors(obj)]


def test_vendored_crd_schema_is_arc_0_14_2() -> None:
    readme = (SCHEMA.parent / "README.md").read_text()
    for fact in (ARC_TAG_COMMIT, "gha-runner-scale-set-0.14.2", "Apache License 2.0"):
        assert fact in readme
    assert charts.ARC_SCALE_SET_CHART.version == charts.ARC_CONTROLLER_CHART.version == "0.14.2"
    spec = json.loads(SCHEMA.read_text())["properties"]["spec"]["properties"]
    assert {"githubConfigSecret", "runnerScaleSetLabels", "template"} <= spec.keys()
    assert spec["githubConfigSecret"]["type"] == "string"


@pytest.mark.parametrize("service_account", [None, "gpu-runner-identity"])
def test_arc_autoscaling_runner_set_validates_against_crd(service_account: str | None) -> None:
    obj = rendered_autoscaling_runner_set(arc_values(service_account=service_account))
    assert crd_errors(obj) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o["spec"].update(maxRunners=-1),  # minimum 0
        lambda o: o["spec"].update(runnerScaleSetLabels="gpu"),  # an array of strings
        lambda o: o["spec"].update(runnerScaleSetLables=o["spec"].pop("runnerScaleSetLabels")),
        # a token map where the CRD holds a Secret name
        lambda o: o["spec"].update(githubConfigSecret={"github_token": SENTINEL_TOKEN}),
        lambda o: o["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].update(
            {"nvidia.com/gpu": "one"}),  # quantity pattern
        lambda o: o["spec"]["template"]["spec"].update(nodeSelecter={}),
        lambda o: o["spec"]["template"]["spec"].pop("containers"),  # required
    ],
)
def test_crd_schema_catches_mistakes(mutate: Any) -> None:
    obj = rendered_autoscaling_runner_set(arc_values())
    mutate(obj)
    assert crd_errors(obj)


def test_arc_controller_values() -> None:
    values = charts.arc_controller_values(service_account="arc-gha-rs-controller")
    assert values["serviceAccount"] == {"create": True, "name": "arc-gha-rs-controller"}
    assert values["replicaCount"] == 1
    with pytest.raises(SpecError):
        charts.arc_controller_values(service_account="default")


@pytest.mark.parametrize(
    "overrides",
    [
        {"min_runners": 3, "max_runners": 2},
        {"min_runners": -1},
        {"max_runners": 0},
        {"gpu_count": 0},
        {"scale_set_name": "x" * 46},
        {"scale_set_name": ""},
        {"labels": [""]},
        {"labels": ["x" * 256]},
        {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exist", "effect": "NoSchedule"}]},
        {"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedul"}]},
        {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]},
        {"github_config_url": "github.com/acme"},
        {"secret_name": ""},
        {"controller_service_account": ""},
        {"max_runtime_s": 0},
    ],
)
def test_arc_refuses_bad_input(overrides: dict[str, Any]) -> None:
    with pytest.raises(SpecError):
        arc_values(**overrides)


# -- GitLab --------------------------------------------------------------------------------


def parsed_config(values: dict[str, Any], release_namespace: str = "gitlab-runner") -> Any:
    assert tomllib is not None
    rendered = charts.render_gitlab_config(values["runners"]["config"], release_namespace)
    return tomllib.loads(rendered)


def strategic_merge(base: Any, patch: Any) -> Any:
    """Strategic merge patch for PodSpec, by hand: maps merge, `containers` merge by `name`."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in ("containers", "initContainers", "volumes") and key in out:
                merged = {item["name"]: item for item in out[key]}
                order = [item["name"] for item in out[key]]
                for item in value:
                    if item["name"] in merged:
                        merged[item["name"]] = strategic_merge(merged[item["name"]], item)
                    else:
                        merged[item["name"]] = item
                        order.append(item["name"])
                out[key] = [merged[name] for name in order]
            else:
                out[key] = strategic_merge(out.get(key), value)
        return out
    return copy.deepcopy(patch)


def generated_build_pod(config: dict[str, Any]) -> dict[str, Any]:
    """A minimal pod spec as the Kubernetes executor generates it from `[runners.kubernetes]`."""
    kube = config["runners"][0]["kubernetes"]
    tolerations = []
    for key, effect in kube.get("node_tolerations", {}).items():
        # executors/kubernetes/kubernetes.go getPodTolerations: "k=v" Equal, bare "k" Exists
        name, sep, value = key.partition("=")
        tol: dict[str, Any] = {"key": name, "operator": "Equal" if sep else "Exists"}
        tol["effect"] = effect
        if sep:
            tol["value"] = value
        tolerations.append(tol)
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "nodeSelector": dict(kube.get("node_selector", {})),
        "tolerations": tolerations,
        "containers": [
            {"name": "build", "image": "nvidia/cuda:12.4.1-runtime-ubuntu22.04",
             "command": ["sh", "-c", "..."]},
            {"name": "helper",
             "image": "gitlab/gitlab-runner-helper:x86_64-v18.9.0",
             "command": ["sh", "-c", "..."]},
        ],
    }
    if "service_account" in kube:
        spec["serviceAccountName"] = kube["service_account"]
    return spec


def build_pod(values: dict[str, Any]) -> dict[str, Any]:
    config = parsed_config(values)
    spec = generated_build_pod(config)
    for entry in config["runners"][0]["kubernetes"]["pod_spec"]:
        assert entry["patch_type"] == "strategic"
        spec = strategic_merge(spec, json.loads(entry["patch"]))
    return spec


def build_pod_problems(spec: dict[str, Any], gpus: str) -> list[str]:
    """Schema errors, `pod_problems`, and a build container without its GPUs or no helper."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": spec}
    try:
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        return [err.message]
    problems = pod_problems(spec)
    names = [c["name"] for c in spec["containers"]]
    if names != ["build", "helper"]:
        problems.append(f"containers {names}")
    build = spec["containers"][0]
    if (build.get("resources") or {}).get("limits", {}).get(charts.GPU_RESOURCE) != gpus:
        problems.append("build container without its GPU limit")
    if not tolerates_gpu_taint(spec):
        problems.append("no toleration of the GPU taint")
    return problems


def test_gitlab_values_shape() -> None:
    values = gitlab_values()
    assert values["runners"]["secret"] == "gitlab-runner-token"
    assert values["rbac"] == {"create": True}
    assert values["concurrent"] == 4
    assert values["gitlabUrl"] == "https://gitlab.example.com/"
    assert "runnerToken" not in values and "runnerRegistrationToken" not in values
    doc = inspect.getdoc(charts.gitlab_runner_values) or ""
    assert "runner-token" in doc and "runner-registration-token" in doc and "empty" in doc


@needs_tomllib
def test_gitlab_config_parses_with_gpu_settings() -> None:
    config = parsed_config(gitlab_values(), release_namespace="ci-gpu")
    (runner,) = config["runners"]
    assert runner["feature_flags"] == {"FF_USE_ADVANCED_POD_SPEC_CONFIGURATION": True}
    kube = runner["kubernetes"]
    assert kube["namespace"] == "ci-gpu"  # the chart's expression, rendered by tpl
    # a job without image: gets a CUDA base image, not the chart's old default (alpine)
    assert kube["image"] == "nvidia/cuda:12.4.1-base-ubuntu22.04"
    assert kube["poll_timeout"] >= 900
    assert kube["service_account"] == "gpu-jobs"
    assert kube["node_selector"] == {"cml.dev/pool": "gpu-l4"}
    assert kube["node_tolerations"] == {
        "cml.dev/pool=gpu": "NoExecute", "nvidia.com/gpu": "NoSchedule"
    }
    (entry,) = kube["pod_spec"]
    assert entry["patch_type"] == "strategic"
    patch = json.loads(entry["patch"])
    assert patch["activeDeadlineSeconds"] == 7200
    (build,) = patch["containers"]
    assert build["name"] == "build"
    assert build["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    assert build["resources"]["requests"] == {"nvidia.com/gpu": "2"}


@needs_tomllib
def test_gitlab_explicit_namespace_and_no_service_account() -> None:
    values = gitlab_values(namespace="gpu-jobs", service_account=None)
    assert charts.GITLAB_NAMESPACE_TPL not in values["runners"]["config"]
    kube = parsed_config(values)["runners"][0]["kubernetes"]
    assert kube["namespace"] == "gpu-jobs"
    assert "service_account" not in kube


@needs_tomllib
def test_gitlab_build_pod_validates() -> None:
    spec = build_pod(gitlab_values())
    assert [c["name"] for c in spec["containers"]] == ["build", "helper"]
    assert spec["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    assert "resources" not in spec["containers"][1]  # the helper gets no GPU
    assert tolerates_gpu_taint(spec)
    assert spec["activeDeadlineSeconds"] == 7200
    validate_pod(spec)
    assert build_pod_problems(spec, gpus="2") == []


@needs_tomllib
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"nvidia.com/gpu" = "NoSchedule"', '"nvidia.com/gpu" = "NoSchedul"'),  # effect
        ('\\"nvidia.com/gpu\\":\\"2\\"}', '\\"nvidia.com/gpu\\":\\"two\\"}'),  # quantity
        ('\\"name\\":\\"build\\"', '\\"name\\":\\"biuld\\"'),  # patch misses the build container
        ('\\"resources\\"', '\\"resource\\"'),  # unknown field
        # the GPU taint no longer tolerated
        ('"nvidia.com/gpu" = "NoSchedule"', '"nvidia.com/gpu=x" = "NoSchedule"'),
    ],
)
def test_gitlab_build_pod_checks_catch_mistakes(old: str, new: str) -> None:
    values = gitlab_values()
    assert old in values["runners"]["config"]
    values["runners"]["config"] = values["runners"]["config"].replace(old, new)
    assert build_pod_problems(build_pod(values), gpus="2")


@needs_tomllib
def test_gitlab_merge_patch_would_drop_the_helper() -> None:
    """Why the patch is strategic: a merge patch replaces the container list."""
    values = gitlab_values()
    config = parsed_config(values)
    patch = json.loads(config["runners"][0]["kubernetes"]["pod_spec"][0]["patch"])
    spec = generated_build_pod(config)
    merged = {**spec, **patch}  # RFC 7386 on the top level: lists replaced
    assert [c["name"] for c in merged["containers"]] == ["build"]
    assert [c["name"] for c in build_pod(values)["containers"]] == ["build", "helper"]


@needs_tomllib
def test_gitlab_tpl_braces_escaped() -> None:
    values = gitlab_values(node_selector={"cml.dev/pool": "a{{b"})
    config = values["runners"]["config"]
    # every `{{` Helm's tpl sees opens one of the two expressions the builder writes
    rest = config.replace(charts.GITLAB_NAMESPACE_TPL, "").replace('{{ "{{" }}', "")
    assert "{{" not in rest
    kube = parsed_config(values)["runners"][0]["kubernetes"]
    assert kube["node_selector"] == {"cml.dev/pool": "a{{b"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"concurrent": 0},
        {"gpu_count": 0},
        {"max_runtime_s": 10},
        {"secret_name": ""},
        {"namespace": "{{ .Release.Namespace }}"},
        {"gitlab_url": "http://gitlab.example.com"},
        {"tolerations": [{"key": "k", "operator": "Exist", "effect": "NoSchedule"}]},
    ],
)
def test_gitlab_refuses_bad_input(overrides: dict[str, Any]) -> None:
    with pytest.raises(SpecError):
        gitlab_values(**overrides)


# -- charts and secrets --------------------------------------------------------------------


def test_pinned_charts() -> None:
    assert charts.ARC_CONTROLLER_CHART.chart.startswith("oci://ghcr.io/actions/actions-runner-controller-charts/")
    assert charts.ARC_SCALE_SET_CHART.chart.endswith("/gha-runner-scale-set")
    assert charts.ARC_CONTROLLER_CHART.repo is None and charts.ARC_SCALE_SET_CHART.repo is None
    assert (charts.GITLAB_RUNNER_CHART.chart, charts.GITLAB_RUNNER_CHART.version,
            charts.GITLAB_RUNNER_CHART.repo) == ("gitlab-runner", "0.86.0", "https://charts.gitlab.io")
    assert (charts.NVIDIA_DEVICE_PLUGIN_CHART.chart, charts.NVIDIA_DEVICE_PLUGIN_CHART.version,
            charts.NVIDIA_DEVICE_PLUGIN_CHART.repo) == (
        "nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin")


BUILDERS = [charts.arc_controller_values, charts.arc_scale_set_values, charts.gitlab_runner_values]


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_builders_take_no_credential(builder: Any) -> None:
    params = inspect.signature(builder).parameters
    for name in params:
        assert not re.search(r"token|password|private_key|app_id|credential", name), name
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    with pytest.raises(TypeError):
        builder(token=SENTINEL_TOKEN)


def keys(obj: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield f"{path}.{k}", k
            yield from keys(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from keys(v, f"{path}[{i}]")


@pytest.mark.parametrize(
    "make",
    [
        lambda: charts.arc_controller_values(),
        lambda: arc_values(),
        lambda: arc_values(service_account="gpu-runner-identity"),
        lambda: gitlab_values(),
        lambda: gitlab_values(namespace="gpu", service_account=None),
    ],
)
def test_no_token_in_values(make: Any) -> None:
    assert_no_token(make())


def assert_no_token(values: dict[str, Any]) -> None:
    text = json.dumps(values)
    assert SENTINEL_TOKEN not in text
    assert not TOKEN_LIKE.search(text)
    for path, key in keys(values):
        # the chart's credential keys: runnerToken, runnerRegistrationToken, github_token, ...
        if key != "automountServiceAccountToken":
            assert not re.search(r"(?i)token|password|private_key|app_id", key), path
    if "githubConfigSecret" in values:
        assert isinstance(values["githubConfigSecret"], str)


def test_no_token_check_can_fail() -> None:
    values = arc_values()
    values["githubConfigSecret"] = {"github_token": SENTINEL_TOKEN}
    with pytest.raises(AssertionError):
        assert_no_token(values)
