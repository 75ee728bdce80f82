"""The plan as `up --dry-run` prints it: a summary of what the run would start, then a tree
per stack of each component, its children and their inputs.

Values are printed whole (never cut), and a number that is whole is printed as an integer:
the mock runtime hands every number back as a float (Protobuf's Struct has one number type,
https://protobuf.dev/reference/protobuf/google.protobuf/#value), so a 100 GB disk would
read `100.0`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from infra.autoscale.identity import metadata_protection
from infra.clouds.common import iso
from infra.engine.naming import base_stack_name
from infra.forges.runners import runner_labels
from infra.rules import format_duration, price_text

if TYPE_CHECKING:
    from infra.engine.plan import Plan
    from infra.rules import RunnerSpec

STACK_HEADINGS = {
    "base": "Base stack {name}: {count} resources, created by up only if the base is missing "
            "(shared by every run of the pool)",
    "runner": "Runner stack {name}: {count} resources, this run's machines and registrations",
    "autoscale": "Runner stack {name}: {count} resources, its autoscaled pools (they stay "
                 "until the stack is removed)",
    "mixed": "Runner stack {name}: {count} resources, its machines, registrations and "
             "autoscaled pools",
}
IDENTITY_WAYS = {"aws": "EKS Pod Identity", "gcp": "GKE Workload Identity",
                 "azure": "AKS workload identity", "alicloud": "ACK RRSA"}


def render_text(plan: Plan, resources: list[dict[str, Any]]) -> str:
    """The summary, then each stack's tree; `resources` are the plan's, secrets masked."""
    lines = [f"Plan: {len(resources)} resources would be created (nothing was created)."]
    runner = next((s["name"] for s in plan.stacks if s["kind"] == "runner"), "")
    for spec in plan.pools:
        lines.extend(_summary(plan, spec, runner, resources))
    for auto in plan.autoscaled:
        lines.extend(autoscale_summary(auto, runner))
    for stack in plan.stacks:
        mine = [r for r in resources if r["stack"] == stack["name"]]
        kind = stack["kind"]
        if kind == "runner" and plan.autoscaled:
            kind = "mixed" if plan.pools else "autoscale"
        lines.append(STACK_HEADINGS[kind].format(name=stack["name"], count=len(mine)))
        lines.extend(_tree_lines(mine))
    return "\n".join(lines) + "\n"


def _summary(plan: Plan, spec: RunnerSpec, runner: str,
             resources: list[dict[str, Any]]) -> list[str]:
    base = base_stack_name(spec)
    machine = spec.machine
    gpus = f"{machine.gpu_count} x {machine.gpu_model}" if machine.gpu_count else "no GPU"
    spot = spot_text(spec, "spot at most ")
    expiry = (f", by {iso(plan.started_at + timedelta(seconds=spec.max_runtime_s))} if "
              "started now" if plan.started_at else "")
    adds = Counter(_kind(r["type"]) for r in resources if r["stack"] == base
                   and not r["type"].startswith("cml-infra:"))
    repo = (f"repository {spec.repo} on {spec.forge_url}" if spec.repo
            else "no repository known (pass --repo OWNER/NAME; the real up needs one)")
    labels = ", ".join(runner_labels(spec.labels, machine.gpu_model))
    return [
        f"  stack       {runner} (runner), on base {base}",
        f"  machines    {spec.count} x {machine.instance_type} ({gpus}), {spot}, "
        f"pool {spec.name}",
        f"  where       {spec.cloud} region {spec.region}, {_zones(spec)}",
        f"  expiry      each machine ends {format_duration(spec.max_runtime_s)} after it starts"
        f"{expiry}; idle timeout {format_duration(spec.idle_timeout_s)}",
        f"  runners     {spec.forge}, {repo}; labels {labels}",
        f"  base adds   {sum(adds.values())} cloud resources if the base stack is missing: "
        + ", ".join(f"{n} x {kind}" if n > 1 else kind for kind, n in adds.items()),
    ]


def addons_text(spec: Any) -> str:
    """Whether the stack installs what the pool's cluster needs once (an AutoscaleSpec)."""
    cluster = spec.cluster
    parts = []
    if spec.forge == "github":
        parts.append("ARC controller " + (
            "installed by this stack (arc-systems)" if cluster.arc_controller == "install"
            else f"the cluster's own ({cluster.arc_namespace}/{cluster.arc_service_account})"))
    if spec.gpu_node_pool == "existing" or spec.cloud in ("gcp", "alicloud"):
        plugin = "the cluster's own" if spec.gpu_node_pool == "existing" else "the cloud's own"
    else:
        plugin = ("installed by this stack" if cluster.device_plugin == "install"
                  else "the cluster's own")
    parts.append(f"NVIDIA device plugin {plugin}")
    return "; ".join(parts)


def autoscale_summary(spec: Any, stack: str) -> list[str]:
    """The text plan's lines about one autoscaled pool (an infra.autoscale.spec.AutoscaleSpec)."""
    scope = (f"repository {spec.repo}" if spec.repo else
             f"{'organization' if spec.forge == 'github' else 'group'} {spec.organization}")
    if spec.forge == "github":
        target = f"runs-on: {spec.scale_set_name}" + (
            f" (labels {', '.join(spec.labels)})" if spec.labels else "")
    else:  # the tags of the runner the stack creates (infra.autoscale.kube)
        target = "tags " + ", ".join(runner_labels(spec.labels, spec.gpu_model))
    if spec.gpu_node_pool == "create":
        nodes = (f"{spec.node_machine_type} ({spec.gpus_per_node} x {spec.gpu_model}), "
                 f"{spec.runners_per_node} job(s) a node, "
                 f"{-(-spec.min_runners // spec.runners_per_node)} to {spec.max_nodes} "
                 "node(s) in a "
                 f"node pool this stack creates{' (spot)' if spec.spot else ''}")
    else:
        nodes = ("the cluster's own GPU nodes with "
                 + ", ".join(f"{k}={v}" for k, v in spec.node_selector))
    reach = (f"kubeconfig context {spec.cluster.context}" if spec.cluster.context else
             f"the kubeconfig of stack output {spec.cluster.stack_output}")
    identity = (f"{spec.identity} through {IDENTITY_WAYS[spec.cloud]}" if spec.identity else
                "none (pods get no cloud identity)")
    return [
        f"  stack       {stack} (runner), autoscaled pool {spec.name}",
        f"  runners     {spec.min_runners} to {spec.max_runners} pods of {spec.gpu_count} x "
        f"{spec.gpu_model}, one job each, each ended at most "
        f"{format_duration(spec.max_runtime_s)} after it starts",
        f"  nodes       {nodes}",
        f"  cluster     {spec.cluster.name} in {spec.cloud} region {spec.region}, through "
        f"{reach}",
        f"  jobs        {spec.forge}, {scope} on {spec.forge_url}; {target}",
        f"  identity    {identity}",
        f"  metadata    {metadata_protection(spec)}",
        f"  add-ons     {addons_text(spec)}",
    ]


def pool_summary(plan: Plan, spec: RunnerSpec, stack: str, kind: str, base: str,
                 resources: list[dict[str, Any]]) -> dict[str, Any]:
    """The facts the text plan's summary states about one pool, as data (the JSON plans and the
    markdown show it): `resources` are the pool's, `base` the base stack it reads."""
    machine = spec.machine
    adds = Counter(_kind(r["type"]) for r in resources if r["stack"] == base
                   and not r["type"].startswith("cml-infra:"))
    expires = (iso(plan.started_at + timedelta(seconds=spec.max_runtime_s))
               if plan.started_at else None)
    return {
        "stack": stack, "kind": kind, "base": base,
        "cloud": spec.cloud, "region": spec.region, "zones": list(spec.zones),
        "where": _zones(spec), "machineType": machine.instance_type,
        "gpuModel": machine.gpu_model, "gpuCount": machine.gpu_count, "count": spec.count,
        "spot": spec.spot, "maxPrice": spec.max_price, "diskSizeGb": spec.disk_size_gb,
        "maxRuntimeSeconds": spec.max_runtime_s, "idleTimeoutSeconds": spec.idle_timeout_s,
        "expiresIfStartedNow": expires,
        "forge": spec.forge, "repo": spec.repo, "forgeUrl": spec.forge_url,
        "labels": list(runner_labels(spec.labels, machine.gpu_model)),
        "baseAdds": dict(sorted(adds.items())),
    }


NO_REPOSITORY = ("no repository is known, so this plan registers the runners with none; pass "
                 "--repo OWNER/NAME to plan the real up, which needs one")


def spot_text(spec: RunnerSpec, capped: str = "spot at most ") -> str:
    """`on demand`, `spot`, or `spot at most $2/hour` (the price as given, with its unit)."""
    if not spec.spot:
        return "on demand"
    return capped + price_text(spec.cloud, spec.max_price) if spec.max_price else "spot"


def _kind(token: str) -> str:
    """`aws:ec2/vpc:Vpc` -> `Vpc`; a provider `pulumi:providers:alicloud` -> `alicloud provider`."""
    if token.startswith("pulumi:providers:"):
        return f"{token.rsplit(':', 1)[-1]} provider"
    return token.rsplit(":", 1)[-1]


def _zones(spec: RunnerSpec) -> str:
    if spec.cloud == "azure":
        return "no zone (Azure places the machine in the region)"
    if not spec.zones:
        return "zone looked up at deploy time"
    if len(spec.zones) == 1:
        return f"zone {spec.zones[0]}"
    return f"zones {', '.join(spec.zones)} (the next one when one has no capacity)"


def whole_numbers(value: Any) -> Any:
    """`value` with every float that is a whole number turned into an int, at any depth."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        return [pair for key in sorted(value)
                for pair in _flatten(value[key], f"{prefix}.{key}" if prefix else key)]
    if isinstance(value, list) and value and any(isinstance(v, dict) for v in value):
        return [pair for i, item in enumerate(value) for pair in _flatten(item, f"{prefix}[{i}]")]
    return [(prefix, value)]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _owner(name: str, parents: list[str]) -> str | None:
    """The component a child belongs to: the longest component name prefixing it."""
    owners = [p for p in parents if name.startswith(p + "-")]
    return max(owners, key=len) if owners else None


def _tree_lines(resources: list[dict[str, Any]]) -> list[str]:
    """Each component with the resources its name prefixes; then what no component owns
    (what a cluster gets once: its provider, ARC's controller, the device plugin)."""
    parents = [r["name"] for r in resources if r["type"].startswith("cml-infra:")]
    groups = [(f"{parent['name']}  ({parent['type']})",
               [r for r in resources if r["name"] not in parents
                and _owner(r["name"], parents) == parent["name"]])
              for parent in resources if parent["name"] in parents]
    shared = [r for r in resources if r["name"] not in parents
              and _owner(r["name"], parents) is None]
    if shared:
        groups.append(("shared by the stack's pools (once per cluster)", shared))
    lines = []
    for heading, children in groups:
        lines.append(heading)
        for n, child in enumerate(children):
            last = n == len(children) - 1
            lines.append(f"{'└─' if last else '├─'} {child['name']}  ({child['type']})")
            indent = f"{'   ' if last else '│  '}   "
            for key, value in _flatten(whole_numbers(child["inputs"])):
                first, *rest = _text(value).split("\n")
                lines.append(f"{indent}{key}: {first}")
                lines.extend(f"{indent}{' ' * (len(key) + 2)}{more}" for more in rest)
    return lines


# ---- a stack config file's plan as markdown (infra.engine.stack_plan) --------------------

resource_kind = _kind
zones_text = _zones


def _cell(value: Any) -> str:
    """A table cell: one line, `|` escaped."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return " ".join(text.split()).replace("|", "\\|")


def _code(value: Any) -> str:
    text = _cell(value)
    return f"`{text}`" if "`" not in text else text


def render_stack_markdown(stack_plan: Any, summaries: list[dict[str, Any]]) -> str:
    """A heading per pool, its summary as a table, its resources as a table, and every input in
    a collapsed block; secrets masked (`stack_plan` is an infra.engine.stack_plan.StackPlan)."""
    from infra.engine.plan import masked

    config, pools = stack_plan.config, stack_plan.pools
    total = sum(len(pool.resources) for pool in pools)
    lines = [f"# Plan of stack `{config.stack}`", "",
             f"`cml-infra up --dry-run --stack-config {config.path.name}`: {len(pools)} "
             f"pool{'s' if len(pools) != 1 else ''}, {total} resources, planned offline under "
             f"Pulumi's mock runtime as `pulumi up --stack {config.stack}` would run them "
             f"(project `{config.project}`, cml-infra:kind `{stack_plan.kind}`). Nothing was "
             "created.", ""]
    others = {key: value for key, value in config.shown.items()
              if key != "cml-infra:pools"}
    if others:
        lines += ["| setting | value |", "| --- | --- |"]
        lines += [f"| `{_cell(key)}` | {_code(value)} |" for key, value in sorted(others.items())]
        lines.append("")
    for pool, summary in zip(pools, summaries, strict=True):
        lines += _pool_markdown(pool, summary, stack_plan.kind, masked)
    return "\n".join(lines).rstrip("\n") + "\n"


def _pool_markdown(pool: Any, summary: dict[str, Any], kind: str, masked: Any) -> list[str]:
    if summary.get("kind") == "autoscale":
        return _autoscale_markdown(pool, summary, masked)
    spec = pool.spec
    gpus = (f"{summary['gpuCount']} x {summary['gpuModel']}" if summary["gpuCount"]
            else "no GPU")
    spot = spot_text(spec, "spot, at most ")
    adds = summary["baseAdds"]
    added = ", ".join(f"{n} x {name}" if n > 1 else name for name, n in adds.items())
    if kind == "base":
        stack = f"`{summary['stack']}` (base stack: this pool's network and identity)"
        base = f"{sum(adds.values())} cloud resources: {added}"
    else:
        stack = f"`{summary['stack']}` (runner stack), reading base stack `{pool.base}`"
        base = (f"{sum(adds.values())} cloud resources, in base stack `{pool.base}` (deployed "
                f"with cml-infra:kind `base`, or by `cml-infra up` when missing): {added}")
    repo = (f"{spec.repo} on {spec.forge_url}" if spec.repo else "no repository (set repo)")
    expiry = f"each machine ends {format_duration(spec.max_runtime_s)} after it starts"
    if summary["expiresIfStartedNow"]:
        expiry += f" (by {summary['expiresIfStartedNow']} if started now)"
    rows = [("stack", stack), ("pool", f"`{spec.name}`, {spec.count} machine"
                                       f"{'s' if spec.count != 1 else ''}"),
            ("machine", f"{summary['machineType']} ({gpus}), {spec.disk_size_gb} GB disk"),
            ("capacity", spot), ("where", f"{spec.cloud} region {spec.region}, {summary['where']}"),
            ("expiry", f"{expiry}; idle timeout {format_duration(spec.idle_timeout_s)}"),
            ("runners", f"{spec.forge}, {repo}; labels {', '.join(summary['labels'])}"),
            ("base adds", base)]
    return _pool_section(f"## Pool `{spec.name}`", rows, pool.resources, masked)


def _pool_section(heading: str, rows: list[tuple[str, Any]], resources: list[dict[str, Any]],
                  masked: Any) -> list[str]:
    """A pool's markdown: its summary table, its resources as a table, and every input of
    them in a collapsed block, stack by stack (secrets masked by `masked`)."""
    lines = [heading, "", "| | |", "| --- | --- |"]
    lines += [f"| {key} | {_cell(value)} |" for key, value in rows]
    lines += ["", f"{len(resources)} resources:", "", "| stack | resource | type |",
              "| --- | --- | --- |"]
    lines += [f"| `{r['stack']}` | `{r['name']}` | `{r['type']}` |" for r in resources]
    shown = [{**r, "inputs": masked(r["inputs"])} for r in resources]
    tree = []
    for stack in dict.fromkeys(r["stack"] for r in shown):
        tree.append(f"# stack {stack}")
        tree += _tree_lines([r for r in shown if r["stack"] == stack])
    return [*lines, *_inputs_block(tree)]


def _inputs_block(tree: list[str]) -> list[str]:
    # A fence longer than any run of backticks in the inputs, so none can close it.
    fence = "`" * max([3, *(len(run) + 1 for line in tree for run in re.findall("`+", line))])
    return ["", "<details><summary>Inputs of every resource</summary>", "", fence,
            *tree, fence, "", "</details>", ""]


def _autoscale_markdown(pool: Any, summary: dict[str, Any], masked: Any) -> list[str]:
    """An autoscale pool (infra.engine.stack_plan.autoscale_summary): where it runs, the GPUs
    of each job, the runners and nodes it scales between, its Helm releases."""
    s = summary
    node_pool = ("cml-infra creates it" if s["gpuNodePool"] == "create"
                 else "the cluster's own (gpuNodePool: existing)")
    releases = ", ".join(f"{r['chart']} {r['version']} (namespace {r['namespace']})"
                         for r in s["releases"])
    runs = f"{s['forge']}, {s['scope']} on {s['forgeUrl']}"
    if s["scaleSetName"]:
        runs += f"; runs-on: {s['scaleSetName']}"
    if s["labels"]:
        runs += f"; labels {', '.join(s['labels'])}"
    rows = [("stack", f"`{s['stack']}` (runner stack; an autoscale pool has no base stack)"),
            ("pool", f"`{pool.spec.name}`, autoscaled runner pods on Kubernetes"),
            ("where", f"{s['cloud']} region {s['region']}, cluster {s['cluster']}"),
            ("GPUs per job", f"{s['gpuCount']} x {s['gpuModel']}"),
            ("runners", f"{s['minRunners']} to {s['maxRunners']}"),
            ("node machine", f"{s['nodeMachineType']} ({s['gpusPerNode']} GPU"
                             f"{'s' if s['gpusPerNode'] != 1 else ''}), "
                             f"{'spot' if s['spot'] else 'on demand'}"),
            ("nodes", f"at most {s['maxNodes']}; node pool: {node_pool}"),
            ("expiry", f"each job ends {format_duration(s['maxRuntimeSeconds'])} after it "
                       "starts"),
            ("forge", f"{runs}; credentials {s['credentials']}"),
            ("identity", f"{s['identity']} through {IDENTITY_WAYS[s['cloud']]}"
             if s.get("identity") else "none"),
            ("node metadata", s["metadata"]),
            ("add-ons", s["addOns"]),
            ("helm releases", releases or "none")]
    return _pool_section(f"## Pool `{pool.spec.name}` (autoscale)", rows, pool.resources,
                         masked)
