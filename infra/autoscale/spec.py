"""The specification of an autoscaled GPU runner pool (`kind: autoscale` in cml-infra:pools):
runners as Kubernetes pods, one per job, on a GPU node pool that the cloud scales between
zero (or `minRunners`) and the nodes `maxRunners` jobs need.

`autoscale_spec_from_config` checks one pool entry and returns the frozen `AutoscaleSpec`;
every refusal is one sentence naming the pool and the setting, in the words of
infra/settings.py (whose type checks it reuses). `split_pools` sorts the entries of
cml-infra:pools by kind, for the stack reader: an entry without `kind` is a single-machine
pool (infra.spec). Facts: ../shared/notes/kubernetes.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from infra import catalog, settings
from infra.autoscale.identity import check_identity
from infra.catalog import SIZES, GpuFamily, Machine
from infra.engine.naming import STACK_NAME
from infra.errors import SpecError
from infra.rules import (
    DEFAULT_LABELS,
    FORGE_URLS,
    FORGES,
    MAX_RUNTIME_S,
    REPO_SEGMENT,
    check_forge_url,
    check_name,
    clean_labels,
    format_duration,
    names_server,
    parse_duration,
    repo_and_forge_url,
)

KIND = "autoscale"
NODE_POOL_MODES = ("create", "existing")
CREDENTIALS = ("app", "token")
DEFAULT_MAX_RUNTIME = "6h"  # as build_spec's, when the project sets no cml-infra:maxRuntime

# A container image reference (registry host[:port]/path[:tag][@sha256:digest]), after the
# distribution reference grammar (github.com/distribution/reference, reference.go).
IMAGE = re.compile(
    r"(?:(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|localhost)(?::\d+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::\w[\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?")

# A ceiling on maxRunners: a typo (16000 for 16) would lift the pool's cost cap.
MAX_RUNNERS = 1000

# ARC's chart fails a runnerScaleSetName of more than 45 characters
# (actions/actions-runner-controller charts/gha-runner-scale-set, ../shared/notes/kubernetes.md).
MAX_SCALE_SET_NAME = 45
SCALE_SET_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")

# Whether each cloud's GPU node pools scale from zero nodes, so that `minRunners: 0` leaves no
# GPU machine running (../shared/notes/kubernetes.md section 3):
# - aws: EKS managed node groups, scaling_config min_size 0 (Cluster Autoscaler with
#   node-template tags on the ASG; eksctl "Scaling up from 0").
# - gcp: GKE node pools, autoscaling min_node_count 0.
# - azure: AKS User pools, min_count 0 (a System pool keeps one node; cml-infra makes User pools).
# - alicloud: ACK node pools, scaling_config min_size 0 (AutoscalingConfig scale_up_from_zero).
SCALES_FROM_ZERO: dict[str, bool] = {"aws": True, "gcp": True, "azure": True, "alicloud": True}

# Kubernetes label keys and values (a node selector's, a toleration's key):
# https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
LABEL_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?")
LABEL_PREFIX = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
TOLERATION_OPERATORS = ("Exists", "Equal")
TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_KEYS = ("key", "operator", "value", "effect", "tolerationSeconds")
CLUSTER_KEYS = ("name", "context", "stackOutput", "location", "arcController",
                "arcControllerNamespace", "arcControllerServiceAccount", "devicePlugin")
# ARC's quickstart installs its controller as release `arc` in namespace `arc-systems`, whose
# service account the chart names `<release>-gha-rs-controller` (docs.github.com, "Quickstart
# for Actions Runner Controller"; charts/gha-runner-scale-set-controller/templates/_helpers.tpl)
ARC_DEFAULTS = {"arcControllerNamespace": "arc-systems",
                "arcControllerServiceAccount": "arc-gha-rs-controller"}
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
ADDON_MODES = ("install", "existing")
# Cluster names each cloud accepts: EKS CreateCluster `name` (1-100, ^[0-9A-Za-z][A-Za-z0-9\-_]*$,
# docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html); GKE (lowercase letters,
# digits and hyphens, a letter first, at most 40: cloud.google.com/kubernetes-engine/docs/
# how-to/creating-a-zonal-cluster); AKS as <resource group>/<cluster> (infra.autoscale.nodepools).
CLUSTER_NAMES: dict[str, tuple[re.Pattern[str], str]] = {
    "aws": (re.compile(r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}"),
            "is not an EKS cluster name (letters, digits, '-' and '_', at most 100); give the "
            "cluster's name as the EKS console shows it"),
    "gcp": (re.compile(r"[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?"),
            "is not a GKE cluster name (lowercase letters, digits and '-', a letter first, at "
            "most 40); give the cluster's name as the GKE console shows it"),
    "azure": (re.compile(r"[^/\s]+/[^/\s]+"),
              "must be <resource group>/<cluster name> on azure, such as gpu-rg/gpu-cluster; "
              "give the AKS cluster's resource group and name"),
}
# A Pulumi stack (`stack` or `org/project/stack`), '#', and the name of one of its outputs.
OUTPUT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")

# Pool setting -> type: a type of infra.settings.TYPES, or one of the shapes checked here.
KEYS: dict[str, str] = {
    "kind": "string", "name": "string", "forge": "string", "repo": "string",
    "organization": "string", "forgeUrl": "url", "labels": "strings",
    "scaleSetName": "string", "gpuModel": "string", "gpuCount": "int", "minRunners": "int",
    "maxRunners": "int", "cloud": "string", "region": "string", "cluster": "cluster",
    "gpuNodePool": "string", "nodeSelector": "selector", "tolerations": "tolerations",
    "nodeMachineType": "string", "gpusPerNode": "derived", "maxNodes": "derived",
    "spot": "bool", "identity": "string", "maxRuntime": "duration", "credentials": "string",
    "runnerImage": "string",
}
SHAPES = {
    "cluster": "a mapping such as {name: gpu-cluster, context: gpu-cluster}",
    "selector": "a mapping of strings such as {pool: gpu}",
    "tolerations": ("a list of mappings such as "
                    "[{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]"),
}
DERIVED = {
    "gpusPerNode": "from the node machine type",
    "maxNodes": "from maxRunners, gpuCount and the GPUs per node",
}


@dataclass(frozen=True)
class ClusterRef:
    """The Kubernetes cluster a pool's runners run in, and the one way to reach it."""

    name: str
    """Its name (EKS, GKE, AKS) or id (ACK) on the cloud."""
    context: str | None = None
    """A context of the kubeconfig."""
    stack_output: str | None = None
    """`<stack>#<output>`: a Pulumi stack output holding the kubeconfig."""
    location: str | None = None
    """GKE: the cluster's zone when it is zonal (None: regional, in the pool's region)."""
    arc_controller: str = "install"
    """install: the stack installs ARC's controller on the cluster; existing: one runs there."""
    arc_namespace: str = "arc-systems"
    arc_service_account: str = "arc-gha-rs-controller"
    """An existing controller's namespace and service account, which the scale sets name."""
    device_plugin: str = "install"
    """install: the stack installs NVIDIA's device plugin where the nodes lack one (EKS, AKS);
    existing: the cluster has one (the GPU Operator, say)."""

    @property
    def where(self) -> tuple[str, str | None, str | None, str | None]:
        """The cluster itself, whatever the pool says of its add-ons."""
        return self.name, self.context, self.stack_output, self.location


@dataclass(frozen=True)
class Toleration:
    key: str | None
    operator: str
    value: str | None
    effect: str | None
    seconds: int | None = None


@dataclass(frozen=True)
class AutoscaleSpec:
    """One autoscaled pool, validated: at most `max_runners` runner pods of `gpu_count` GPUs,
    on a GPU node pool of `node_machine_type` machines of `gpus_per_node` GPUs, at most
    `max_nodes` of them."""

    name: str
    cloud: str
    region: str
    """The native region."""
    zones: tuple[str, ...]
    """The catalog's zones of the region that sell the node machine (GCP); () elsewhere."""
    forge: str
    forge_url: str
    repo: str | None
    """OWNER/NAME (GitLab: GROUP/.../PROJECT), or None for an organization's pool."""
    organization: str | None
    """A GitHub organization or GitLab group (path), or None for a repository's pool."""
    labels: tuple[str, ...]
    """GitHub: the scale set's labels besides its name; GitLab: the runner's tags."""
    scale_set_name: str | None
    """GitHub: the runner scale set's name (what `runs-on` names); None on GitLab."""
    gpu_model: str
    """The catalog's key of the model (a10 on AWS is a10g)."""
    gpu_count: int
    """GPUs per job (per runner pod)."""
    min_runners: int
    max_runners: int
    cluster: ClusterRef
    gpu_node_pool: str
    """create: cml-infra makes the GPU node pool; existing: the pool `node_selector` picks."""
    node_selector: tuple[tuple[str, str], ...]
    """existing pools: the user's; created pools: () (the selector is derived there)."""
    tolerations: tuple[Toleration, ...]
    machine: Machine
    """The node machine: its native type, GPU model and GPUs."""
    gpus_per_node: int
    max_nodes: int
    spot: bool
    identity: str | None
    """The cloud identity jobs get through workload identity (None: none)."""
    max_runtime_s: int
    credentials: str
    """app (GitHub App) or token (GitHub token; GitLab runner token)."""
    runner_image: str | None = None
    """GitHub: the runner pods' image (None: ARC's stock runner image, no CUDA libraries)."""

    @property
    def node_machine_type(self) -> str:
        return self.machine.instance_type

    @property
    def runners_per_node(self) -> int:
        return self.gpus_per_node // self.gpu_count

    @property
    def config_url(self) -> str:
        """The repository's or organization's web address (ARC's githubConfigUrl)."""
        return f"{self.forge_url.rstrip('/')}/{self.repo or self.organization}"


def pool_label(entry: object, position: int | None) -> str:
    """How sentences name a pool (as infra.spec names single-machine pools)."""
    name = entry.get("name") if isinstance(entry, Mapping) else None
    if isinstance(name, str) and name:
        return f"Pool {name!r}"
    return f"Pool {position} of cml-infra:pools" if position else "A pool of cml-infra:pools"


def _prefixed(where: str, error: SpecError) -> SpecError:
    """A sentence of infra.rules or infra.catalog, after the pool's name."""
    text = str(error)
    first, _, rest = text.partition(" ")
    if first == "A" or (first[:1].isupper() and first[1:].islower()):
        text = f"{first.lower()} {rest}"
    return SpecError(f"{where}: {text}")


def _choices(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


def split_pools(entries: object) -> tuple[list[tuple[int, object]], list[tuple[int, Mapping]]]:
    """The entries of cml-infra:pools by kind, each with its position (from 1): the
    single-machine pools (no `kind`; for infra.spec.spec_from_config, which refuses an entry
    that is no mapping) and the autoscale pools. A `kind` of another value is refused."""
    if not isinstance(entries, Sequence) or isinstance(entries, str) or not entries:
        raise SpecError(settings.POOLS_SHAPE)
    machines: list[tuple[int, object]] = []
    autoscaled: list[tuple[int, Mapping]] = []
    for position, entry in enumerate(entries, 1):
        if not isinstance(entry, Mapping) or "kind" not in entry:
            machines.append((position, entry))
            continue
        where = pool_label(entry, position)
        kind = entry["kind"]
        settings.check_type(f"{where}: kind", "string", kind)
        if kind != KIND:
            raise SpecError(f"{where}: kind must be {KIND}, or left out for a single-machine "
                            f"pool, not {kind!r}.")
        autoscaled.append((position, entry))
    return machines, autoscaled


def autoscale_pools(pools: Iterable[tuple[int, Mapping]], defaults: Mapping[str, object],
                    taken: Iterable[str] = ()) -> list[AutoscaleSpec]:
    """The autoscale pools of `split_pools`, with names unique in the stack (`taken`: the
    names of its single-machine pools)."""
    specs = [autoscale_spec_from_config(entry, defaults, position) for position, entry in pools]
    seen = set(taken)
    scale_sets: dict[tuple[str, str, str], str] = {}
    for spec in specs:
        if spec.name in seen:
            raise SpecError(f"Pool name {spec.name!r} is used twice; give every pool its own "
                            "name.")
        seen.add(spec.name)
        if spec.scale_set_name is None:
            continue
        # one owner's workflows pick a scale set by name (runs-on): names must not repeat
        owner = str(spec.organization or spec.repo).split("/")[0]
        key = (spec.forge_url.rstrip("/"), owner.lower(), spec.scale_set_name)
        if key in scale_sets:
            raise SpecError(f"Pool {spec.name!r}: scaleSetName {spec.scale_set_name!r} is "
                            f"taken by pool {scale_sets[key]!r} for {owner}, and runs-on could "
                            "not tell them apart; give this pool its own scaleSetName.")
        scale_sets[key] = spec.name
    for spec in specs:  # a label that is another scale set's name: runs-on would match both
        owner = str(spec.organization or spec.repo).split("/")[0].lower()
        for label in spec.labels if spec.scale_set_name else ():
            other = scale_sets.get((spec.forge_url.rstrip("/"), owner, label))
            if other is not None and other != spec.name:
                raise SpecError(f"Pool {spec.name!r}: label {label!r} is the scale set name of "
                                f"pool {other!r}, and runs-on: {label} would reach both; "
                                "choose another label.")
    return specs


# ---- one pool ------------------------------------------------------------------------------

def _check_types(where: str, entry: Mapping[str, object]) -> None:
    for key in entry:
        if key not in KEYS and key in {**settings.CONFIG_KEYS, **settings.STACK_KEYS}:
            raise SpecError(f"{where}: {key} is a setting of single-machine pools, not of an "
                            "autoscale pool; drop it.")
    settings.check_keys(where, entry, KEYS)
    for key, value in entry.items():
        kind = KEYS[str(key)]
        if kind == "derived":
            raise SpecError(f"{where}: {key} is derived {DERIVED[str(key)]}; drop it.")
        if kind in settings.TYPES:
            settings.check_type(f"{where}: {key}", kind, value, str(key))
            continue
        wrong = _wrong_shape(kind, value)
        if wrong is not None:
            raise SpecError(f"{where}: {key} must be {SHAPES[kind]}, not {wrong}.")


def _wrong_shape(kind: str, value: object) -> str | None:
    """How `value` is named when it is not of `kind`'s shape; None when it is."""
    if kind == "cluster":
        return None if isinstance(value, Mapping) else settings.describe(value)
    if kind == "selector":
        if not isinstance(value, Mapping):
            return settings.describe(value)
        wrong = [v for v in value.values() if not isinstance(v, str)]
        return f"a mapping holding {settings.describe(wrong[0])}" if wrong else None
    # tolerations
    if not isinstance(value, list):
        return settings.describe(value)
    items = [item for item in value if not isinstance(item, Mapping)]
    return f"a list holding {settings.describe(items[0])}" if items else None


def _cloud(where: str, entry: Mapping[str, object], defaults: Mapping[str, object]) -> str:
    cloud = entry.get("cloud", defaults.get("cloud", "aws"))
    if cloud not in catalog.CLOUDS:
        raise SpecError(f"{where}: cloud must be one of {_choices(catalog.CLOUDS)}, not "
                        f"{cloud!r}.")
    return str(cloud)


def _gpu_family(where: str, cloud: str, model: object) -> tuple[str, GpuFamily]:
    table = catalog.table(cloud)
    gpus: Mapping[str, GpuFamily] = table.GPUS
    if model is None:
        raise SpecError(f"{where}: gpuModel is required for an autoscale pool; set it to one "
                        f"of: {_choices(gpus)}.")
    name = str(model).lower()
    key = name if name in gpus else catalog.GPU_ALIASES.get(name, name)
    if key in gpus:
        return key, gpus[key]
    retired = table.RETIRED_GPUS.get(name)
    why = f"is retired on {cloud} ({retired})" if retired else \
        f"is not offered by {cloud} GPU node pools"
    raise SpecError(f"{where}: gpuModel {name} {why}; choose one of: {_choices(gpus)}.")


def _node_machine(where: str, cloud: str, model: str, family: GpuFamily, gpu_count: int,
                  machine_type: object) -> Machine:
    """The node machine: the given native type, else the catalog's smallest type with at least
    `gpu_count` GPUs of `model` (fewest GPUs first, then the smallest size)."""
    most = max(family.counts)
    if gpu_count > most:
        raise SpecError(f"{where}: gpuCount {gpu_count} is more GPUs than any {cloud} machine "
                        f"has of {model} (at most {most}); lower it.")
    offers = sorted((count, SIZES.index(size), kind) for count, by_size in family.counts.items()
                    for size, kind in by_size.items())
    if machine_type is None:
        count, _, kind = next(offer for offer in offers if offer[0] >= gpu_count)
        return Machine(kind, model, count, family.accelerator, family.driver)
    listed = [kind for _, _, kind in offers]
    if machine_type not in listed:
        raise SpecError(f"{where}: nodeMachineType {machine_type!r} is not a {model} machine "
                        f"type of the {cloud} catalog; choose one of: "
                        f"{_choices(dict.fromkeys(listed))}.")
    counts = [count for count, _, kind in offers if kind == machine_type]
    if max(counts) < gpu_count:
        bigger = next(kind for count, _, kind in offers if count >= gpu_count)
        raise SpecError(f"{where}: nodeMachineType {machine_type} has {max(counts)} {model} "
                        f"GPU{'s' * (max(counts) > 1)}, fewer than gpuCount {gpu_count}; choose a "
                        f"type with at least {gpu_count} GPUs, such as {bigger}.")
    count = min(n for n in counts if n >= gpu_count)
    return Machine(str(machine_type), model, count, family.accelerator, family.driver)


def _placement(where: str, cloud: str, region: str, machine: Machine,
               existing: bool = False) -> tuple[str, tuple[str, ...]]:
    """The native region, and the zones of it that sell the node machine (none looked up for
    `gpuNodePool: existing`, whose nodes the stack does not make)."""
    try:
        native = catalog.resolve_region(cloud, region).region
    except SpecError as error:
        raise _prefixed(where, error) from None
    if existing:
        return native, ()
    try:
        return native, catalog.zones_for(cloud, native, machine)
    except SpecError as error:  # "g6.xlarge (1x l4) is not sold in ...; choose a region ..."
        raise SpecError(f"{where}: the node machine {error}") from None


def _runners(where: str, cloud: str, entry: Mapping[str, object]) -> tuple[int, int]:
    minimum = int(entry.get("minRunners", 0))  # type: ignore[call-overload]
    if minimum < 0:
        raise SpecError(f"{where}: minRunners must be 0 or more, not {minimum}.")
    if "maxRunners" not in entry:
        raise SpecError(f"{where}: maxRunners is required for an autoscale pool; set the most "
                        "runners it may run at once, such as 4.")
    maximum = int(entry["maxRunners"])  # type: ignore[call-overload]
    if maximum < 1:
        raise SpecError(f"{where}: maxRunners must be 1 or more, not {maximum}.")
    if maximum > MAX_RUNNERS:
        raise SpecError(f"{where}: maxRunners may be at most {MAX_RUNNERS}, not {maximum}; "
                        "it caps what the pool may spend, so give the most jobs it should run "
                        "at once.")
    if maximum < minimum:
        raise SpecError(f"{where}: maxRunners ({maximum}) is below minRunners ({minimum}); "
                        "raise maxRunners or lower minRunners.")
    if minimum == 0 and not SCALES_FROM_ZERO[cloud]:
        raise SpecError(f"{where}: minRunners 0 needs a GPU node pool that scales from zero "
                        f"nodes, which {cloud} cannot; set minRunners to 1 or more.")
    return minimum, maximum


def _scope(where: str, forge: str, entry: Mapping[str, object],
           defaults: Mapping[str, object]) -> tuple[str | None, str | None, str]:
    """(repository path, organization, forge web address)."""
    repo, organization = entry.get("repo"), entry.get("organization")
    if repo is not None and organization is not None:
        raise SpecError(f"{where}: repo and organization are two scopes for the runners; keep "
                        "one of them.")
    if repo is None and organization is None:
        raise SpecError(f"{where}: an autoscale pool needs repo (OWNER/NAME) or organization "
                        f"(a GitHub organization or GitLab group); set one of them.")
    forge_url = entry.get("forgeUrl")
    if forge_url is None and forge == "github" and not names_server(str(repo or "")):
        forge_url = defaults.get("forge_url")  # the project default points at github.com
    try:
        if repo is not None:
            path, url = repo_and_forge_url(forge, str(repo), str(forge_url or "") or None)
            return path, None, url
        url = check_forge_url(forge, str(forge_url) if forge_url else None) or FORGE_URLS[forge]
    except SpecError as error:
        raise _prefixed(where, error) from None
    org = str(organization).strip().strip("/")
    segments = org.split("/")
    if (names_server(org) or (forge == "github" and len(segments) != 1)
            or any(s in (".", "..", "-") or not REPO_SEGMENT.fullmatch(s) for s in segments)):
        shape = "its name" if forge == "github" else "its path, GROUP or GROUP/SUBGROUP"
        raise SpecError(f"{where}: organization {organization!r} is not a "
                        f"{'GitHub organization' if forge == 'github' else 'GitLab group'}; give "
                        f"{shape}, and the server, if not the public one, as forgeUrl.")
    return None, org, url.rstrip("/")


def _cluster(where: str, cloud: str, value: object) -> ClusterRef:
    if value is None:
        raise SpecError(f"{where}: an autoscale pool needs cluster, such as {{name: gpu-cluster, "
                        "context: gpu-cluster}; give the cluster's name and its kubeconfig "
                        "context or a stack output holding its kubeconfig.")
    assert isinstance(value, Mapping)
    settings.check_keys(where, {f"cluster.{k}": v for k, v in value.items()},
                        {f"cluster.{k}": k for k in CLUSTER_KEYS})
    for key, item in value.items():
        settings.check_type(f"{where}: cluster.{key}", "string", item)
    name = str(value.get("name") or "").strip()
    shape = CLUSTER_NAMES.get(cloud)
    if name and shape is not None and not shape[0].fullmatch(name):
        raise SpecError(f"{where}: cluster.name {name!r} {shape[1]}.")
    if not name or any(c.isspace() for c in name):
        raise SpecError(f"{where}: cluster.name must be the cluster's name or id on {cloud}, "
                        f"not {settings.describe(value.get('name'))}.")
    context, output = value.get("context"), value.get("stackOutput")
    if context is not None and output is not None:
        raise SpecError(f"{where}: cluster takes context or stackOutput, not both; keep the "
                        "one that reaches the cluster.")
    if context is None and output is None:
        raise SpecError(f"{where}: cluster needs context (a kubeconfig context) or stackOutput "
                        "(<stack>#<output>, a stack output holding the kubeconfig); add one.")
    if context is not None and not str(context).strip():
        raise SpecError(f"{where}: cluster.context is empty; give a context of the kubeconfig.")
    if output is not None:
        stack, hash_, out = str(output).partition("#")
        parts = stack.split("/")
        if (not hash_ or len(parts) not in (1, 3) or not OUTPUT_NAME.fullmatch(out)
                or not all(STACK_NAME.fullmatch(p) for p in parts)):
            raise SpecError(f"{where}: cluster.stackOutput {output!r} is not <stack>#<output>; "
                            "write a stack (or org/project/stack), '#' and the output's name, "
                            "such as gpu-cluster#kubeconfig.")
    addons = {}
    for key in ("arcController", "devicePlugin"):
        mode = str(value.get(key, "install"))
        if mode not in ADDON_MODES:
            raise SpecError(f"{where}: cluster.{key} must be install or existing, not "
                            f"{mode!r}.")
        addons[key] = mode
    arc = {}
    for key, default in ARC_DEFAULTS.items():
        given = value.get(key)
        if given is not None and addons["arcController"] != "existing":
            raise SpecError(f"{where}: cluster.{key} names a controller the cluster already "
                            "runs; set arcController: existing with it, or drop it.")
        arc[key] = str(given if given is not None else default).strip()
        if not DNS_LABEL.fullmatch(arc[key]):
            raise SpecError(f"{where}: cluster.{key} {given!r} is not a Kubernetes name; use "
                            "lowercase letters, digits and '-', at most 63.")
    location = value.get("location")
    if location is not None and cloud != "gcp":
        raise SpecError(f"{where}: cluster.location is the zone of a zonal GKE cluster; drop "
                        f"it on {cloud}.")
    return ClusterRef(name, str(context).strip() if context is not None else None,
                      str(output) if output is not None else None,
                      location=str(location).strip() if location is not None else None,
                      arc_controller=addons["arcController"],
                      arc_namespace=arc["arcControllerNamespace"],
                      arc_service_account=arc["arcControllerServiceAccount"],
                      device_plugin=addons["devicePlugin"])


def _label_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and not (len(prefix) <= 253 and LABEL_PREFIX.fullmatch(prefix)):
        return False
    return LABEL_NAME.fullmatch(name) is not None


def _node_selector(where: str, mode: str, value: object) -> tuple[tuple[str, str], ...]:
    if mode == "create":
        if value is not None:
            raise SpecError(f"{where}: nodeSelector is derived from the GPU node pool cml-infra "
                            "creates; drop it, or set gpuNodePool: existing to pick a pool of "
                            "your own.")
        return ()
    if not value:
        raise SpecError(f"{where}: gpuNodePool existing needs nodeSelector, the labels of "
                        "that pool's nodes, such as {pool: gpu}; add it.")
    assert isinstance(value, Mapping)
    for key, item in value.items():
        if not isinstance(key, str) or not _label_key(key):
            raise SpecError(f"{where}: nodeSelector key {key!r} is not a Kubernetes label key; "
                            "use a name of at most 63 letters, digits, '-', '_' and '.', "
                            "optionally after a DNS prefix and '/'.")
        if item and not LABEL_NAME.fullmatch(item):
            raise SpecError(f"{where}: nodeSelector value {item!r} of {key} is not a Kubernetes "
                            "label value; use at most 63 letters, digits, '-', '_' and '.', "
                            "starting and ending with a letter or digit.")
    return tuple(sorted((str(k), str(v)) for k, v in value.items()))


def _tolerations(where: str, value: object) -> tuple[Toleration, ...]:
    if value is None:
        return ()
    assert isinstance(value, list)
    found = []
    for n, item in enumerate(value, 1):
        at = f"{where}: tolerations item {n}"
        settings.check_keys(at, item, dict.fromkeys(TOLERATION_KEYS))
        for field in ("key", "operator", "value", "effect"):
            if field in item:
                settings.check_type(f"{at}: {field}", "string", item[field])
        if "tolerationSeconds" in item:
            settings.check_type(f"{at}: tolerationSeconds", "int", item["tolerationSeconds"])
        key, value_ = item.get("key") or None, item.get("value") or None
        operator, effect = item.get("operator", "Equal"), item.get("effect") or None
        seconds = item.get("tolerationSeconds")
        if operator not in TOLERATION_OPERATORS:
            raise SpecError(f"{at}: operator must be Exists or Equal, not {operator!r}.")
        if effect is not None and effect not in TOLERATION_EFFECTS:
            raise SpecError(f"{at}: effect must be one of {_choices(TOLERATION_EFFECTS)}, not "
                            f"{effect!r}.")
        if key is not None and not _label_key(key):
            raise SpecError(f"{at}: key {key!r} is not a Kubernetes taint key; use a name of at "
                            "most 63 letters, digits, '-', '_' and '.', optionally after a DNS "
                            "prefix and '/'.")
        if operator == "Exists" and value_ is not None:
            raise SpecError(f"{at}: operator Exists takes no value; drop the value or use "
                            "operator Equal.")
        if value_ is not None and not LABEL_NAME.fullmatch(str(value_)):
            raise SpecError(f"{at}: value {value_!r} is not a Kubernetes taint value; use at "
                            "most 63 letters, digits, '-', '_' and '.', starting and ending with "
                            "a letter or digit.")
        if key is None and operator != "Exists":
            raise SpecError(f"{at}: a toleration without a key needs operator Exists (it then "
                            "tolerates every taint); add a key or set operator: Exists.")
        if seconds is not None and effect != "NoExecute":
            raise SpecError(f"{at}: tolerationSeconds applies to effect NoExecute only; drop it "
                            "or set effect: NoExecute.")
        found.append(Toleration(key, str(operator), value_, effect, seconds))
    return tuple(found)


def _scale_set(where: str, forge: str, name: str, value: object) -> str | None:
    if forge != "github":
        if value is not None:
            raise SpecError(f"{where}: scaleSetName names a GitHub runner scale set; drop it "
                            "from this GitLab pool, whose jobs pick runners by labels.")
        return None
    text = name if value is None else str(value)
    if len(text) > MAX_SCALE_SET_NAME:
        raise SpecError(f"{where}: scaleSetName {text!r} has {len(text)} characters; ARC takes "
                        f"at most {MAX_SCALE_SET_NAME}, so shorten it.")
    if not SCALE_SET_NAME.fullmatch(text):
        raise SpecError(f"{where}: scaleSetName {text!r} is not valid; use lower-case letters, "
                        "digits and '-', starting and ending with a letter or digit.")
    return text


def _labels(where: str, forge: str, value: object) -> tuple[str, ...]:
    if value is None:  # GitHub: `runs-on` names the scale set; GitLab: the default tag
        return () if forge == "github" else DEFAULT_LABELS
    try:
        return clean_labels(value)  # type: ignore[arg-type]
    except SpecError as error:
        raise _prefixed(where, error) from None


def _credentials(where: str, forge: str, value: object) -> str:
    credentials = str(value) if value is not None else ("app" if forge == "github" else "token")
    if credentials not in CREDENTIALS:
        raise SpecError(f"{where}: credentials must be app or token, not {credentials!r}.")
    if credentials == "app" and forge == "gitlab":
        raise SpecError(f"{where}: credentials app means a GitHub App, which GitLab does not "
                        "have; set credentials: token (a runner token) or drop it.")
    return credentials


def _max_runtime(where: str, value: object) -> int:
    seconds = parse_duration(str(value), "maximum runtime")
    if seconds < 1:
        raise SpecError(f"{where}: maxRuntime must be at least 1s; give a duration such as 6h.")
    if seconds > MAX_RUNTIME_S:
        raise SpecError(f"{where}: maxRuntime may be at most {format_duration(MAX_RUNTIME_S)} "
                        f"(7 days), not {format_duration(seconds)}; lower it.")
    return seconds


def autoscale_spec_from_config(entry: Mapping, defaults: Mapping,
                               position: int) -> AutoscaleSpec:
    """One `kind: autoscale` entry of cml-infra:pools (the `position`-th, from 1), each setting
    of its type, then validated; `defaults` are the project defaults as
    infra.settings.default_kwargs returns them (cloud, region, max_runtime, forge_url...)."""
    where = pool_label(entry, position)
    if not isinstance(entry, Mapping):
        raise SpecError(f"{where}: each entry of cml-infra:pools must be a mapping such as "
                        "{name: gpu, kind: autoscale, gpuModel: l4, maxRunners: 4, ...}.")
    _check_types(where, entry)
    if entry.get("kind", KIND) != KIND:
        raise SpecError(f"{where}: kind must be {KIND}, or left out for a single-machine pool, "
                        f"not {entry['kind']!r}.")
    if "name" not in entry:
        raise SpecError(f"{where}: an autoscale pool needs name; give it one such as train-l4.")
    name = check_name(str(entry["name"]))
    forge = str(entry.get("forge", "github"))
    if forge not in FORGES:
        raise SpecError(f"{where}: forge must be {' or '.join(FORGES)}, not {forge!r}.")
    cloud = _cloud(where, entry, defaults)
    model, family = _gpu_family(where, cloud, entry.get("gpuModel"))
    gpu_count = int(entry.get("gpuCount", 1))  # type: ignore[call-overload]
    if gpu_count < 1:
        raise SpecError(f"{where}: gpuCount must be 1 or more, not {gpu_count}.")
    min_runners, max_runners = _runners(where, cloud, entry)
    if forge == "gitlab" and min_runners:
        raise SpecError(f"{where}: minRunners applies to GitHub scale sets; GitLab's Kubernetes "
                        "executor starts a pod for each job and keeps none waiting, so drop it "
                        "(or set it to 0).")
    repo, organization, forge_url = _scope(where, forge, entry, defaults)
    if not forge_url.startswith("https://"):
        raise SpecError(f"{where}: forgeUrl {forge_url!r} must be an https:// address for an "
                        f"autoscale pool ({'ARC' if forge == 'github' else 'GitLab Runner'} "
                        "reaches the forge over TLS); give the server's https:// address.")
    machine = _node_machine(where, cloud, model, family, gpu_count, entry.get("nodeMachineType"))
    region, zones = _placement(where, cloud, str(entry.get("region", defaults.get(
        "region", "us-east"))), machine,
                               existing=entry.get("gpuNodePool") == "existing")
    cluster = _cluster(where, cloud, entry.get("cluster"))
    if cluster.location is not None and cluster.location != region:
        if not (cluster.location.startswith(f"{region}-")
                and re.fullmatch(r"[a-z]", cluster.location[len(region) + 1:])):
            raise SpecError(f"{where}: cluster.location {cluster.location!r} is not a zone of "
                            f"{region}; give the zonal cluster's zone, such as {region}-b, or "
                            "drop it for a regional cluster.")
        if zones and cluster.location not in zones:
            raise SpecError(f"{where}: zone {cluster.location} sells no {machine.instance_type} "
                            f"for the GPU node pool; the zones of {region} that do are "
                            f"{', '.join(zones)}.")
    if forge == "gitlab" and cluster.arc_controller != "install":
        raise SpecError(f"{where}: cluster.arcController concerns GitHub pools (Actions Runner "
                        "Controller); drop it from this GitLab pool.")
    mode = str(entry.get("gpuNodePool", "create"))
    if mode not in NODE_POOL_MODES:
        raise SpecError(f"{where}: gpuNodePool must be create or existing, not {mode!r}.")
    if mode == "existing" and entry.get("nodeMachineType") is not None:
        raise SpecError(f"{where}: nodeMachineType is the machine of the node pool cml-infra "
                        "creates; drop it with gpuNodePool: existing, whose nodes are what "
                        "nodeSelector picks.")
    node_selector = _node_selector(where, mode, entry.get("nodeSelector"))
    spot = bool(entry.get("spot", False))
    if spot and mode == "existing":
        raise SpecError(f"{where}: spot applies to the GPU node pool cml-infra creates; drop it "
                        "with gpuNodePool: existing, whose machines are what that pool has.")
    identity = entry.get("identity")
    if identity is not None:
        identity = check_identity(where, cloud, identity)
        partition = ("aws-cn" if region.startswith("cn-") else
                     "aws-us-gov" if region.startswith("us-gov-") else "aws")
        if cloud == "aws" and identity.split(":")[1] != partition:
            raise SpecError(f"{where}: identity {identity!r} is a role of partition "
                            f"{identity.split(':')[1]}, but region {region} is in {partition}; "
                            f"give a role ARN that starts with arn:{partition}:iam::.")
    gpus_per_node = machine.gpu_count
    return AutoscaleSpec(
        name=name, cloud=cloud, region=region, zones=zones, forge=forge, forge_url=forge_url,
        repo=repo, organization=organization,
        labels=_labels(where, forge, entry.get("labels")),
        scale_set_name=_scale_set(where, forge, name, entry.get("scaleSetName")),
        gpu_model=model, gpu_count=gpu_count, min_runners=min_runners, max_runners=max_runners,
        cluster=cluster, gpu_node_pool=mode, node_selector=node_selector,
        tolerations=_tolerations(where, entry.get("tolerations")), machine=machine,
        gpus_per_node=gpus_per_node,
        # Whole jobs per node: ceil(maxRunners * gpuCount / gpusPerNode) when gpuCount
        # divides gpusPerNode, and enough nodes for maxRunners jobs when it does not.
        max_nodes=math.ceil(max_runners / (gpus_per_node // gpu_count)),
        spot=spot, identity=identity,
        max_runtime_s=_max_runtime(where, entry.get("maxRuntime", defaults.get(
            "max_runtime", DEFAULT_MAX_RUNTIME))),
        credentials=_credentials(where, forge, entry.get("credentials")),
        runner_image=_runner_image(where, forge, entry.get("runnerImage")),
    )


def _runner_image(where: str, forge: str, value: object) -> str | None:
    if value is None:
        return None
    if forge != "github":
        raise SpecError(f"{where}: runnerImage is the image of GitHub runner pods; a GitLab job "
                        "names its own (image: in .gitlab-ci.yml), so drop it.")
    text = str(value).strip()
    if not IMAGE.fullmatch(text):
        raise SpecError(f"{where}: runnerImage {value!r} is not a container image reference; "
                        "give one such as ghcr.io/acme/cuda-runner:2.334.0.")
    return text
