"""The offline plan of a stack config file: every pool of `Pulumi.<stack>.yaml`, planned as
`pulumi up --stack <stack>` would run them (`cml-infra up --dry-run --stack-config FILE`).

The file is read the way Pulumi reads it, then handed to the same settings code as
infra/__main__.py, and the same programs run under the mock runtime (infra.engine.plan):

- the stack is the file name's `Pulumi.<stack>.yaml`; the project is the `Pulumi.yaml` beside
  it (its `name` namespaces the keys written without one, its `config:` defaults fill in the
  settings the stack file does not set: https://www.pulumi.com/docs/iac/concepts/config/);
- the program receives every plain setting as a string and an object or list as its JSON
  (`pulumi.Config.get` / `require_object`); a float stays a float even when it is whole
  (`count: 2.0`, refused: the engine's Go JSON would write it as 2, the plan checks the file's
  own type); YAML is read as Pulumi's YAML 1.2 parser reads it (only `true` and
  `false` are booleans, dates stay strings, a key repeated in a mapping is refused);
- a `secure:` value is encrypted: the plan never decrypts it, shows `[secret]` for it (and for
  `cml-infra:forgeToken` even in clear), and refuses one in a setting the plan must read.

The plan is then cut per pool: each resource belongs to the pool whose names it carries
(`<pool>-base...` in a base stack, `<pool>-<machine>...` in the runner stack; the longest
such prefix, since a component's children never start with a digit or `base-`).

A `kind: autoscale` pool (infra/autoscale/) is declared in the runner stack by
infra.autoscale.program, every resource named `<pool>` or `<pool>-...`; its plan adds its Helm
releases (chart, version, namespace, values), its GPU node pool and the credential Secret
(data as `[secret]`). Its credentials are placeholders, secrets all: the plan reads neither the
forge token nor the GitHub App (`cml-infra:githubAppPrivateKey` is shown as `[secret]` even
when written in clear).
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.clouds.common import Clock, utc_now
from infra.errors import SpecError
from infra.spec import RunnerSpec

if TYPE_CHECKING:
    from infra.autoscale.spec import AutoscaleSpec

NAMESPACE = "cml-infra"
TOKEN_KEY = f"{NAMESPACE}:forgeToken"
APP_KEY = f"{NAMESPACE}:githubAppPrivateKey"
MASKED_KEYS = (TOKEN_KEY, APP_KEY)
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
K8S_SECRET = "kubernetes:core/v1:Secret"
NODE_POOL_TYPES = ("aws:eks/nodeGroup:NodeGroup", "gcp:container/nodePool:NodePool",
                   "azure-native:containerservice:AgentPool", "alicloud:cs/nodePool:NodePool")
SECRET_MASK = "[secret]"
STACK_FILE = re.compile(r"Pulumi\.(?P<stack>.+)\.yaml")
EXAMPLE = "examples/Pulumi.dev.yaml"


@dataclass
class StackConfig:
    """A stack config file as Pulumi reads it."""

    path: Path
    stack: str
    project: str
    values: dict[str, str] = field(default_factory=dict)
    """Every plain setting, `namespace:key` -> the string the program receives."""
    shown: dict[str, Any] = field(default_factory=dict)
    """Every setting as the plan shows it: secrets as `[secret]`."""
    secrets: list[str] = field(default_factory=list)
    """The settings given as `secure:` values (encrypted), never read."""
    warnings: list[str] = field(default_factory=list)
    declared: list[str] = field(default_factory=list)
    """The `cml-infra:` keys the project's Pulumi.yaml declares (without the namespace)."""


@dataclass
class PoolPlan:
    spec: RunnerSpec
    base: str
    """The base stack the pool's runners read (its `base` setting, else the default name)."""
    resources: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AutoscalePoolPlan:
    spec: AutoscaleSpec
    resources: list[dict[str, Any]] = field(default_factory=list)
    """Its resources, all in the runner stack (an autoscale pool has no base)."""


@dataclass
class StackPlan:
    config: StackConfig
    kind: str
    plan: Any  # infra.engine.plan.Plan, imported lazily
    pools: list[PoolPlan | AutoscalePoolPlan]
    """Every pool, in the order of the file (autoscale pools in a base stack: none)."""


# ---- reading the files ------------------------------------------------------------------


@functools.cache
def _loader() -> type:
    """PyYAML's SafeLoader as Pulumi's YAML 1.2 parser reads: booleans are only true and false
    (never yes, no, on, off), a date stays a string, a repeated key is refused."""
    import yaml

    class PulumiLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: list[Any] = []
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise _Duplicate(key, key_node.start_mark.line + 1)
                seen.append(key)
            return super().construct_mapping(node, deep)

    resolvers = {first: [(tag, regexp) for tag, regexp in entries
                         if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
                 for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    PulumiLoader.yaml_implicit_resolvers = resolvers
    PulumiLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"))
    return PulumiLoader


class _Duplicate(Exception):
    def __init__(self, key: object, line: int) -> None:
        super().__init__(key)
        self.key, self.line = key, line


def _read_yaml(path: Path) -> Any:
    import yaml

    if not path.exists():
        raise SpecError(f"{path} does not exist; give the path of a Pulumi.<stack>.yaml file.")
    if path.is_dir():
        raise SpecError(f"{path} is a directory; give the path of a Pulumi.<stack>.yaml file.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{path} is not UTF-8 text; save it as UTF-8 YAML.") from None
    except OSError as exc:
        raise SpecError(f"{path} cannot be read ({exc.strerror or exc}); check the path and "
                        "its permissions.") from None
    try:
        return yaml.load(text, Loader=_loader())  # a SafeLoader subclass
    except _Duplicate as exc:
        raise SpecError(f"{path} has the key {str(exc.key)!r} twice (again at line {exc.line}); "
                        "keep only one of them, as Pulumi refuses the file too.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise SpecError(f"{path} is not valid YAML ({problem}{where}); fix the file and try "
                        "again.") from None


def stack_name(path: Path, stack: str | None) -> str:
    """The stack a config file belongs to: `Pulumi.<stack>.yaml`, or `--stack` for another
    file name; both must agree when both are given."""
    from infra.engine.naming import check_stack_name

    match = STACK_FILE.fullmatch(path.name)
    if match is None:
        if stack is None:
            raise SpecError(f"{path.name} is not named Pulumi.<stack>.yaml, so it names no "
                            "stack; rename it, or pass --stack NAME.")
        return check_stack_name(stack)
    named = check_stack_name(match["stack"])
    if stack is not None and stack != named:
        raise SpecError(f"{path.name} is the config of stack {named}, not {stack}; drop --stack, "
                        f"or give the file Pulumi.{stack}.yaml.")
    return named


def project_file(directory: Path) -> Path:
    """The project's Pulumi.yaml: beside the stack file, else in a folder above whose
    `stackConfigDir` is the stack file's folder."""
    if (directory / "Pulumi.yaml").is_file():
        return directory / "Pulumi.yaml"
    for parent in directory.parents:
        candidate = parent / "Pulumi.yaml"
        if candidate.is_file():
            project = _read_yaml(candidate)
            folder = project.get("stackConfigDir") if isinstance(project, Mapping) else None
            if isinstance(folder, str) and (parent / folder).resolve() == directory:
                return candidate
            break
    raise SpecError(f"There is no Pulumi.yaml beside the stack config in {directory}; a "
                    "Pulumi.<stack>.yaml file is read with its project's Pulumi.yaml, which "
                    "must sit in the same folder (or name it as its stackConfigDir).")


def read_project(directory: Path) -> tuple[str, dict[str, Any]]:
    """The project's name and its `config:` section, from its Pulumi.yaml."""
    path = project_file(directory)
    project = _read_yaml(path)
    if not isinstance(project, Mapping) or not isinstance(project.get("name"), str) \
            or not project["name"].strip():
        raise SpecError(f"{path} has no project name; give it a name: line (name: cml-infra).")
    runtime = project.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, Mapping) else runtime
    if runtime_name != "python":
        raise SpecError(f"{path} declares the runtime {runtime_name!r}, but cml-infra's program "
                        "runs on Python; set runtime: python and main: to the cml-infra "
                        "program (infra/).")
    config = project.get("config") or {}
    if not isinstance(config, Mapping):
        raise SpecError(f"{path}: config: must be a mapping of settings.")
    return project["name"].strip(), dict(config)


def full_key(key: object, project: str, where: Path) -> str:
    """`namespace:name`, as Pulumi reads a config key: a key without a namespace is the
    project's; the legacy `namespace:config:name` is `namespace:name`."""
    if not isinstance(key, str) or not key:
        raise SpecError(f"{where}: the config key {key!r} is not a name; write keys as "
                        "namespace:name, such as cml-infra:pools.")
    if ":" not in key:
        return f"{project}:{key}"
    namespace, name = key.split(":", 1)
    return f"{namespace}:{name.removeprefix('config:')}"


def _is_secure(value: object) -> bool:
    return isinstance(value, Mapping) and set(value) == {"secure"}


def _has_secure(value: object) -> bool:
    if _is_secure(value):
        return True
    if isinstance(value, Mapping):
        return any(_has_secure(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_secure(item) for item in value)
    return False


def _shown(value: object) -> object:
    """A value with every encrypted part as `[secret]`."""
    if _is_secure(value):
        return SECRET_MASK
    if isinstance(value, Mapping):
        return {str(key): _shown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shown(item) for item in value]
    return value


def _whole(value: object) -> object:
    """Whole floats as integers, at any depth, as Go's JSON writes them (2.0 -> 2)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(key): _whole(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole(item) for item in value]
    return value


def as_pulumi_string(value: object) -> str:
    """What the program receives for a setting: a string as it is, `true`/`false`, a number's
    digits, an object or list as JSON (keys sorted, as Go writes a map)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(_whole(value))
    if value is None:
        return ""
    # A float stays a float even when whole (count: 2.0): Pulumi's engine would hand the
    # program 2, but one type per setting is checked on what the file says.
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _project_default(value: object) -> tuple[bool, object]:
    """A project config entry's value: `{type, default, ...}` gives its default (or none);
    anything else is the value itself."""
    if isinstance(value, Mapping) and ("type" in value or "default" in value
                                       or "description" in value or "secret" in value):
        return ("default" in value, value.get("default"))
    return True, value


def read_stack_config(path: Path, stack: str | None = None) -> StackConfig:
    """The settings of `path`, a Pulumi.<stack>.yaml, with its project's defaults."""
    data = _read_yaml(path)
    name = stack_name(path, stack)
    project, project_config = read_project(path.resolve().parent)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SpecError(f"{path} must be a mapping with a config: section, as {EXAMPLE} is.")
    given = data.get("config") or {}
    if not isinstance(given, Mapping):
        raise SpecError(f"{path}: config: must be a mapping of settings, as {EXAMPLE} has.")
    merged: dict[str, object] = {}
    for key, value in project_config.items():
        has, default = _project_default(value)
        if has:
            merged[full_key(key, project, path.parent / "Pulumi.yaml")] = default
    for key, value in given.items():
        merged[full_key(key, project, path)] = value
    result = StackConfig(path=path, stack=name, project=project, declared=[
        full_key(key, project, path).split(":", 1)[1] for key in project_config
        if full_key(key, project, path).startswith(f"{NAMESPACE}:")])
    for key, value in merged.items():
        if _is_secure(value):
            result.secrets.append(key)
        elif not _has_secure(value):
            result.values[key] = as_pulumi_string(value)
        result.shown[key] = SECRET_MASK if key in MASKED_KEYS else _shown(value)
    for key in MASKED_KEYS:
        if key in merged and key not in result.secrets:
            result.warnings.append(f"Warning: {key} is written in clear in {path.name}; "
                                   f"set it with 'pulumi config set --secret {key}' instead.")
    if data.get("environment"):
        result.warnings.append(f"Warning: {path.name} imports Pulumi ESC environments, which "
                               "the offline plan does not open; settings they give are not in "
                               "this plan.")
    return result


# ---- the settings, as infra/__main__.py reads them --------------------------------------


def _readable(config: StackConfig, keys: Sequence[str]) -> None:
    """A setting the program reads must not be encrypted: the plan never decrypts."""
    for key in keys:
        full = f"{NAMESPACE}:{key}"
        if full in config.secrets or (full in config.shown and full not in config.values):
            raise SpecError(f"{full} in {config.path.name} is encrypted (secure:), and the plan "
                            "never decrypts; keep it in clear (only cml-infra:forgeToken needs "
                            "to be a secret).")


def pools_of(config: StackConfig, env: Mapping[str, str]
             ) -> tuple[str, list[RunnerSpec], dict[str, str], list[AutoscaleSpec]]:
    """The stack's kind, its single-machine pools, the base stack each of those pools' runners
    read, and its autoscale pools, parsed by the same code and in the same order as
    infra/__main__.py."""
    import pulumi
    from pulumi.runtime.config import CONFIG

    from infra.autoscale.program import (
        app_pools,
        missing_app,
        needs_token,
        require_sdks,
    )
    from infra.settings import (
        APP_ID_KEYS,
        DEFAULT_KEYS,
        FORGE_KEYS,
        GITHUB_APP_KEYS,
        check_app_ids,
        check_setting_keys,
        default_kwargs,
        forge_values,
        read_stack,
    )
    from infra.spec import check_one_forge, stack_pools

    check_setting_keys(config.shown, config.declared)  # before a typo'd key is "encrypted"
    _readable(config, ["kind", "pools", *DEFAULT_KEYS, *FORGE_KEYS])
    token = CONFIG.set(dict(config.values))
    try:
        settings = pulumi.Config(NAMESPACE)
        kind, entries = read_stack(
            settings, config.shown, config.declared,
            missing=f"{config.path.name} has no cml-infra:pools, which pulumi up requires; "
                    f"declare the pools under config:, as {EXAMPLE} does.")
        pools, autoscaled = stack_pools(entries, default_kwargs(
            {key: settings.get(key) for key in DEFAULT_KEYS}))
        machines = [entry for entry in entries
                    if not (isinstance(entry, Mapping) and "kind" in entry)]
        named = {spec.name: str(entry["base"])
                 for entry, spec in zip(machines, pools, strict=True) if entry.get("base")}
        if kind == "base":
            autoscaled = []  # nothing of theirs is in a base stack
        require_sdks(autoscaled)
        if kind == "runner":
            check_one_forge([*pools, *autoscaled])
            forge_values({key: settings.get(key) for key in FORGE_KEYS})
            apps = app_pools(autoscaled)
            if apps:  # the plan reads what is in clear; `secure:` values it cannot
                check_app_ids({key: config.values.get(f"{NAMESPACE}:{key}")
                               for key in APP_ID_KEYS})
            if apps and not all(f"{NAMESPACE}:{key}" in config.shown for key in GITHUB_APP_KEYS):
                config.warnings.append(f"Warning: {missing_app(apps)}")
            if (pools or needs_token(autoscaled)) and TOKEN_KEY not in config.shown \
                    and not env.get("REPO_TOKEN"):
                config.warnings.append(
                    "Warning: No forge token, which pulumi up of a runner stack needs; run "
                    f"'pulumi config set --secret {TOKEN_KEY}' with a token that may create "
                    "runners, or set REPO_TOKEN where pulumi up runs.")
    finally:
        CONFIG.reset(token)
    return kind, pools, named, autoscaled


# ---- the plan ---------------------------------------------------------------------------


def plan_stack_config(path: Path, stack: str | None = None, *, clock: Clock = utc_now,
                      env: Mapping[str, str] | None = None) -> StackPlan:
    """Read `path` and plan every pool of it, offline."""
    from infra.engine.naming import base_stack_name
    from infra.engine.plan import run_plan

    config = read_stack_config(path, stack)
    kind, pools, named, autoscaled = pools_of(config, os.environ if env is None else env)
    bases = {spec.name: named.get(spec.name) or base_stack_name(spec) for spec in pools}
    plan = run_plan(pools, clock=clock, stack=config.stack, config=config.values,
                    bases=bases, kind=kind, autoscaled=autoscaled)
    if kind == "base":
        bases = {spec.name: config.stack for spec in pools}
    found = split(plan.resources, pools, bases, config.stack, kind, autoscaled)
    order = _file_order(config)
    found.sort(key=lambda pool: order.get(pool.spec.name, len(order)))
    return StackPlan(config=config, kind=kind, plan=plan, pools=found)


def _file_order(config: StackConfig) -> dict[str, int]:
    """Pool name -> its place in cml-infra:pools (the pools were read from it already)."""
    entries = json.loads(config.values.get(f"{NAMESPACE}:pools", "[]"))
    return {str(entry.get("name")): n for n, entry in enumerate(entries)
            if isinstance(entry, Mapping)}


def split(resources: Sequence[dict[str, Any]], pools: Sequence[RunnerSpec],
          bases: Mapping[str, str], stack: str, kind: str,
          autoscaled: Sequence[AutoscaleSpec] = ()) -> list[PoolPlan | AutoscalePoolPlan]:
    """Each pool with the resources that carry its names (see the module docstring)."""
    from infra.autoscale.program import cluster_prefix
    from infra.clouds.common import base_name

    result: dict[str, PoolPlan | AutoscalePoolPlan] = {
        spec.name: PoolPlan(spec=spec, base=bases[spec.name]) for spec in pools}
    result.update({spec.name: AutoscalePoolPlan(spec=spec) for spec in autoscaled})
    for resource in resources:
        prefixes = []
        for spec in pools:
            if resource["stack"] == bases[spec.name]:
                prefixes.append((base_name(spec), spec.name))
            if kind == "runner" and resource["stack"] == stack:
                prefixes.extend((f"{spec.name}-{index}", spec.name)
                                for index in range(spec.count))
        if kind == "runner" and resource["stack"] == stack:
            prefixes.extend((auto.name, auto.name) for auto in autoscaled)
            # what a cluster gets once (ARC's controller, the device plugin) is shown with
            # the first of its pools
            firsts: dict[str, str] = {}
            for auto in autoscaled:
                firsts.setdefault(cluster_prefix(auto), auto.name)
            prefixes.extend(firsts.items())
        owners = [(len(prefix), pool) for prefix, pool in prefixes
                  if resource["name"] == prefix or resource["name"].startswith(prefix + "-")]
        if not owners:  # never seen: every resource the programs declare carries its pool
            raise SpecError(f"The plan holds {resource['name']}, which belongs to no pool; "
                            "this is a bug of cml-infra, please report it.")
        result[max(owners)[1]].resources.append(resource)
    return list(result.values())


def summary(pool: PoolPlan | AutoscalePoolPlan, stack_plan: StackPlan) -> dict[str, Any]:
    """What a reader checks first about a pool, as data (the JSON and markdown show it)."""
    from infra.engine.plan_text import pool_summary

    if isinstance(pool, AutoscalePoolPlan):
        return autoscale_summary(pool, stack_plan.config.stack)
    return pool_summary(stack_plan.plan, pool.spec, stack_plan.config.stack, stack_plan.kind,
                        pool.base, pool.resources)


def _releases(pool: AutoscalePoolPlan) -> list[dict[str, Any]]:
    """The pool's Helm releases: release name, chart, version, namespace and values."""
    from infra.engine.plan import masked
    from infra.engine.plan_text import whole_numbers

    return [{"resource": r["name"], "name": r["inputs"].get("name"),
             "chart": r["inputs"].get("chart"), "version": r["inputs"].get("version"),
             "namespace": r["inputs"].get("namespace"),
             "repository": (r["inputs"].get("repositoryOpts") or {}).get("repo"),
             "values": whole_numbers(masked(r["inputs"].get("values") or {}))}
            for r in pool.resources if r["type"] == HELM_RELEASE]


def autoscale_summary(pool: AutoscalePoolPlan, stack: str) -> dict[str, Any]:
    """An autoscale pool at a glance: where, what GPUs per job, how many runners and nodes."""
    from infra.autoscale.identity import metadata_protection
    from infra.engine.plan_text import addons_text

    spec = pool.spec
    return {"kind": "autoscale", "stack": stack, "cloud": spec.cloud, "region": spec.region,
            "cluster": spec.cluster.name, "forge": spec.forge,
            "scope": spec.repo or spec.organization, "forgeUrl": spec.forge_url,
            "gpuModel": spec.gpu_model, "gpuCount": spec.gpu_count,
            "minRunners": spec.min_runners, "maxRunners": spec.max_runners,
            "gpuNodePool": spec.gpu_node_pool, "nodeMachineType": spec.node_machine_type,
            "gpusPerNode": spec.gpus_per_node, "maxNodes": spec.max_nodes, "spot": spec.spot,
            "credentials": spec.credentials, "maxRuntimeSeconds": spec.max_runtime_s,
            "labels": list(spec.labels), "scaleSetName": spec.scale_set_name,
            "identity": spec.identity, "metadata": metadata_protection(spec),
            "addOns": addons_text(spec),
            "releases": [{key: release[key] for key in ("name", "chart", "version",
                                                         "namespace")}
                         for release in _releases(pool)]}


def autoscale_json(pool: AutoscalePoolPlan) -> dict[str, Any]:
    """The parts of an autoscale pool's plan a reviewer looks for: its Helm releases, its GPU
    node pool and the credential Secret, whose data is never shown (each key `[secret]`)."""
    from infra.engine.plan import masked
    from infra.engine.plan_text import whole_numbers

    node_pool = next(({"type": r["type"], "name": r["name"],
                       "inputs": whole_numbers(masked(r["inputs"]))}
                      for r in pool.resources if r["type"] in NODE_POOL_TYPES), None)
    secret = next((r for r in pool.resources if r["type"] == K8S_SECRET), None)
    shown_secret = None
    if secret is not None:
        inputs = masked(secret["inputs"])
        shown_secret = {"name": secret["name"], "type": inputs.get("type"),
                        "metadata": inputs.get("metadata"),
                        "keys": _secret_keys(secret["inputs"].get("stringData")),
                        "data": SECRET_MASK}
    return {"helmReleases": _releases(pool), "nodePool": node_pool, "secret": shown_secret}


def _secret_keys(value: Any) -> list[str]:
    """The keys of a Secret's data (its values stay unread): under the mock runtime a secret
    input is the `{sig, value}` envelope of the Pulumi RPC."""
    from pulumi.runtime.rpc import is_rpc_secret

    if is_rpc_secret(value):
        value = value.get("value")
    return sorted(value) if isinstance(value, Mapping) else []


def render_json(stack_plan: StackPlan) -> str:
    """The plan of every pool as one JSON document: inputs as the engine receives them, secrets
    masked, whole numbers as integers."""
    from infra.engine.plan import masked
    from infra.engine.plan_text import whole_numbers

    config = stack_plan.config
    document = {
        "stack": config.stack, "project": config.project, "configFile": str(config.path),
        "kind": stack_plan.kind, "settings": config.shown,
        "stacks": stack_plan.plan.stacks,
        "pools": [{"name": pool.spec.name, "summary": summary(pool, stack_plan),
                   "resources": [{**r, "inputs": whole_numbers(masked(r["inputs"]))}
                                 for r in pool.resources],
                   **({"kind": "autoscale", **autoscale_json(pool)}
                      if isinstance(pool, AutoscalePoolPlan) else {})}
                  for pool in stack_plan.pools],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def render_markdown(stack_plan: StackPlan) -> str:
    """The plan as a markdown document, for a pull-request comment (infra.engine.plan_text)."""
    from infra.engine.plan_text import render_stack_markdown

    return render_stack_markdown(stack_plan, [summary(pool, stack_plan)
                                              for pool in stack_plan.pools])
