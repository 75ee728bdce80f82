"""The offline plan: the real programs under Pulumi's mock runtime, recorded, not deployed.

Both stacks of a run are planned: the pool's base (created by `up` only when it is missing)
and the runner stack, whose StackReference is answered with the base plan's own outputs.
Every resource is recorded as `{type, name, inputs, stack}` with the inputs exactly as the
engine would receive them (camelCase wire names); image look-ups and other invokes answer with
values marked PLACEHOLDER. No credentials, no `pulumi` binary, no network.

Aliases are dropped before the SDK collapses them into URNs (`_without_aliases`). An alias
only tells the engine which resource of an earlier deployment's state this one used to be;
the offline plan has no state, and the mock monitor discards aliases unread
(`MockMonitor.RegisterResource` in pulumi/runtime/mocks.py). The mock already reports the
`aliasSpecs` feature the real engine has (`MockMonitor.GetDeploymentInfo`; the engine's
`resmon.SupportsFeature` in pulumi/pulumi pkg/resource/deploy/source_eval.go), so the SDK
sends alias specs rather than expanding every URN; what stays is the eager collapse of each
alias into a URN output in `Resource.__init__`, real and mock alike. The azure-native SDK
gives every resource 9 to 60 aliases (one per past API version), which made that collapse
most of an Azure plan's time. Inputs, names and types are untouched.

The cyclic garbage collector is paused while the plan runs: its full passes walk every object
of the cloud SDK, which the plan imports lazily as it goes, and were about 40% of the time of a
100-runner plan, for under 2% of its memory (185 MB peak either way, measured).
"""

from __future__ import annotations

import copy
import gc
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra.clouds.common import Clock, utc_now
from infra.engine.naming import PROJECT, base_stack_name
from infra.engine.program import (
    PLACEHOLDER,
    Registrar,
    declare_bases,
    placeholder_registrar,
    program,
)
from infra.spec import RunnerSpec

STACK_REFERENCE = "pulumi:pulumi:StackReference"
SECRET_MASK = "[secret]"
# The GCP project comes from the deployer's `gcp:project` setting (or the provider's default);
# the plan shows this instead (infra/clouds/gcp_iam.py).
GCP_PROJECT = f"{PLACEHOLDER.lower()}-gcp-project-from-provider-config"
# Realistic outputs for the resources and invokes the components read back; a missing
# output would silently drop the inputs that depend on it.
_INVOKE_RESULTS: dict[str, dict[str, Any]] = {
    "aws:ssm/getParameter:getParameter": {
        "value": f"ami-{PLACEHOLDER}-resolved-at-deploy-time", "type": "String", "version": 1},
    "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": {
        "locations": [f"{PLACEHOLDER}-zone-resolved-at-deploy-time"],
        "locationTypes": ["availability-zone"], "instanceTypes": [PLACEHOLDER]},
    "aws:ec2/getSubnet:getSubnet": {
        "vpcId": f"{PLACEHOLDER}-vpc-of-the-subnet",
        "availabilityZone": f"{PLACEHOLDER}-zone-of-the-subnet"},
    "gcp:compute/getImage:getImage": {
        "selfLink": f"{PLACEHOLDER}-image-resolved-at-deploy-time", "name": PLACEHOLDER},
    "alicloud:ecs/getImages:getImages": {
        "images": [{"id": f"{PLACEHOLDER}-image-resolved-at-deploy-time"}],
        "ids": [f"{PLACEHOLDER}-image-resolved-at-deploy-time"]},
    "gcp:compute/getZones:getZones": {
        "names": [f"{PLACEHOLDER}-zone-resolved-at-deploy-time"]},
    "alicloud:index/getZones:getZones": {
        "zones": [{"id": f"{PLACEHOLDER}-zone-resolved-at-deploy-time"}],
        "ids": [f"{PLACEHOLDER}-zone-resolved-at-deploy-time"]},
    # the clusters the autoscale pools' GPU node pools join (infra/autoscale/nodepools.py)
    "aws:eks/getCluster:getCluster": {
        "vpcConfig": {"subnetIds": [f"{PLACEHOLDER}-subnet-of-the-cluster"]}},
    "alicloud:cs/getClusters:getClusters": {
        "clusters": [{"clusterId": f"{PLACEHOLDER}-cluster-id",
                      "vswitchIds": [f"{PLACEHOLDER}-vswitch-of-the-cluster"]}]},
    # what a pool's identity binding reads of its cluster (infra/autoscale/identity.py); the
    # plan cannot know whether the cluster has them, `pulumi up` refuses one that has not
    "gcp:container/getCluster:getCluster": {
        "workloadIdentityConfigs": [{"workloadPool": f"{PLACEHOLDER}-project.svc.id.goog"}]},
    "azure-native:containerservice:getManagedCluster": {
        "networkProfile": {"networkPolicy": "cilium"},
        "oidcIssuerProfile": {
            "enabled": True, "issuerURL": f"https://{PLACEHOLDER}-oidc-issuer-of-the-cluster/"},
        "securityProfile": {"workloadIdentity": {"enabled": True}}},
    "azure-native:managedidentity:getUserAssignedIdentity": {
        "clientId": f"{PLACEHOLDER}-client-id-of-the-identity"},
}
# Outputs of resources the autoscale pools read back, by type: the Auto Scaling group EKS
# makes for a node group (its Cluster Autoscaler tags name it).
_RESOURCE_STATE: dict[str, dict[str, Any]] = {
    "aws:eks/nodeGroup:NodeGroup": {"resources": [{"autoscalingGroups": [
        {"name": f"{PLACEHOLDER}-asg-of-the-node-group"}]}]},
    "aws:ec2/launchTemplate:LaunchTemplate": {"latestVersion": 1},
    # the runner a GitLab autoscale pool creates through the API when pulumi up runs
    "pulumi-python:dynamic:Resource": {
        "runner_id": f"{PLACEHOLDER}-runner-id", "runner_name": f"{PLACEHOLDER}-runner-name",
        "registration": f"{PLACEHOLDER}-gitlab-runner-token"},
}


def _state(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Inputs echoed back as outputs, plus the computed outputs the components read.
    Azure answers `identity.userAssignedIdentities` as a map keyed by id, not a list, and
    adds the system-assigned identity's `principalId`."""
    echoed = dict(inputs)
    identity = inputs.get("identity")
    if isinstance(identity, dict):
        ids = identity.get("userAssignedIdentities") or []
        echoed["identity"] = {**identity, "principalId": f"{PLACEHOLDER}-principal-id",
                              **({"userAssignedIdentities": {i: {} for i in ids}} if ids else {})}
    return {**echoed, "name": inputs.get("name", name), "instanceId": f"{name}-instance-id",
            "vmId": f"{name}-vm-id", "privateIp": "10.0.0.10", "arn": f"{name}-arn",
            "principalId": f"{PLACEHOLDER}-principal-id", **_gcp_iam_state(inputs)}


def _gcp_iam_state(inputs: dict[str, Any]) -> dict[str, Any]:
    """A GCP service account's e-mail and a custom role's full name, as the API forms them."""
    project = inputs.get("project") or GCP_PROJECT  # a stack's `gcp:project`, else ours
    if "accountId" in inputs:
        return {"email": f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"}
    if "roleId" in inputs:
        return {"name": f"projects/{project}/roles/{inputs['roleId']}"}
    return {}


@dataclass
class Plan:
    resources: list[dict[str, Any]] = field(default_factory=list)
    invokes: list[dict[str, Any]] = field(default_factory=list)
    stacks: list[dict[str, str]] = field(default_factory=list)
    """`{name, kind}` of each stack planned: the bases first, then the runner stack."""
    reads: list[dict[str, Any]] = field(default_factory=list)
    """The base stacks the runner stack reads (StackReference), as `{type, name, inputs}`."""
    base_outputs: dict[str, Any] = field(default_factory=dict)
    """What the bases export (`bases.<pool>`), as the runner stack's StackReference reads it."""
    pools: list[RunnerSpec] = field(default_factory=list)
    autoscaled: list[Any] = field(default_factory=list)
    """The stack's `kind: autoscale` pools (infra.autoscale.spec.AutoscaleSpec)."""
    reference_outputs: dict[str, Any] = field(default_factory=dict)
    """More outputs every StackReference answers with: the kubeconfigs autoscale pools read
    from other stacks (`cluster.stackOutput`), as placeholders."""
    started_at: datetime | None = None
    """The clock's time when the plan ran: machines started then would expire at it plus their
    maximum runtime."""


def _mocks(record: Plan, stack: str = "") -> Any:
    import pulumi

    class RecordingMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
            if args.typ == STACK_REFERENCE:  # a read of the base, not a resource to create
                record.reads.append({"type": args.typ, "name": args.name,
                                     "inputs": args.inputs, "stack": stack})
                return args.name, {"name": args.name,
                                   "outputs": {**record.reference_outputs,
                                               "bases": record.base_outputs}}
            record.resources.append({"type": args.typ, "name": args.name,
                                     "inputs": args.inputs, "stack": stack})
            return f"{args.name}-id", {**_state(args.name, args.inputs),
                                       **_RESOURCE_STATE.get(args.typ, {})}

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
            result = {**args.args, **_INVOKE_RESULTS.get(args.token, {"id": PLACEHOLDER})}
            record.invokes.append({"token": args.token, "args": args.args})
            return result, []

    return RecordingMocks()


def _without_aliases(args: Any) -> Any:
    """A stack transformation: the resource's options minus its aliases (see the docstring)."""
    import pulumi

    if not args.opts.aliases:
        return None
    opts = copy.copy(args.opts)
    opts.aliases = None
    return pulumi.ResourceTransformationResult(args.props, opts)


def _planned(pools: Sequence[RunnerSpec], registrar: Registrar, clock: Clock,
             bases: dict[str, str], autoscaled: Sequence[Any] = ()) -> None:
    import pulumi

    pulumi.runtime.register_stack_transformation(_without_aliases)
    program(pools, registrar, bases=bases, clock=clock)
    if autoscaled:
        from infra.autoscale.program import autoscale_program

        autoscale_program(autoscaled, placeholder_credentials())


def placeholder_credentials() -> Any:
    """The autoscale pools' credentials in the plan: placeholders, each a secret (the plan
    never reads the stack's token or GitHub App; GitLab pools get a runner token instead of
    the runner pulumi up creates, as single-machine pools get placeholder registrations)."""
    import pulumi

    from infra.autoscale.kube import GitHubApp
    from infra.autoscale.program import AutoscaleCredentials
    from infra.forges.registration import ForgeSettings

    def secret(what: str) -> pulumi.Output[str]:
        return pulumi.Output.secret(f"{PLACEHOLDER}-{what}")

    return AutoscaleCredentials(
        token=secret("forge-token"),
        github_app=GitHubApp(app_id=secret("github-app-id"),
                             installation_id=secret("github-app-installation-id"),
                             private_key=secret("github-app-private-key")),
        forge=ForgeSettings(token=secret("forge-token")))


def _planned_bases(pools: Sequence[RunnerSpec], record: Plan) -> None:
    import pulumi

    pulumi.runtime.register_stack_transformation(_without_aliases)
    outputs = declare_bases(pools)
    pulumi.Output.from_input(outputs).apply(record.base_outputs.update)


def _under_mocks(record: Plan, stack: str, run: Any,
                 config: Mapping[str, str] | None = None) -> None:
    """Run `run` as stack `stack`'s program; `config`: the stack's settings as Pulumi hands
    them to the program (a stack config file's, infra.engine.stack_plan), over ours."""
    import pulumi
    from pulumi.runtime.config import CONFIG

    pulumi.runtime.set_mocks(_mocks(record, stack), project=PROJECT, stack=stack, preview=False)
    token = CONFIG.set({**CONFIG.get(), "gcp:project": GCP_PROJECT, **(config or {})})
    try:
        pulumi.runtime.test(run)()
    finally:
        CONFIG.reset(token)


def run_plan(pools: Sequence[RunnerSpec], *, registrar: Registrar = placeholder_registrar,
             clock: Clock = utc_now, stack: str = "dry-run",
             bases: Mapping[str, str] | None = None, config: Mapping[str, str] | None = None,
             kind: str = "runner", autoscaled: Sequence[Any] = ()) -> Plan:
    """Run the base program of each pool, then the runner program on those bases, under the
    mock runtime, and return what they would create. `bases`: pool name -> its base stack
    (default `cml-infra-base-<pool>-<cloud>-<region>`); `config`: the stack's settings;
    `kind` "base": `stack` is itself the bases' stack (`cml-infra:kind: base`), planned
    alone. `autoscaled`: the stack's `kind: autoscale` pools, declared in the runner stack
    (they have no base)."""
    record = Plan(pools=list(pools), autoscaled=list(autoscaled), started_at=clock())
    for spec in autoscaled:
        if spec.cluster.stack_output:
            output = spec.cluster.stack_output.partition("#")[2]
            record.reference_outputs[output] = f"{PLACEHOLDER}-kubeconfig-of-the-cluster"
    if kind == "base":
        bases = {spec.name: stack for spec in pools}
    bases = {spec.name: (bases or {}).get(spec.name) or base_stack_name(spec) for spec in pools}
    collecting = gc.isenabled()
    gc.disable()
    try:
        for base in dict.fromkeys(bases.values()):
            members = [spec for spec in pools if bases[spec.name] == base]
            record.stacks.append({"name": base, "kind": "base"})
            _under_mocks(record, base, lambda members=members: _planned_bases(members, record),
                         config)
        if kind != "base":
            record.stacks.append({"name": stack, "kind": "runner"})
            _under_mocks(record, stack,
                         lambda: _planned(pools, registrar, clock, bases, autoscaled), config)
    finally:
        if collecting:
            gc.enable()
    order = {entry["name"]: n for n, entry in enumerate(record.stacks)}
    record.resources.sort(key=lambda r: (order[r["stack"]], r["name"], r["type"]))
    record.invokes.sort(key=lambda i: json.dumps(i, sort_keys=True, default=str))
    return record


def masked(value: Any) -> Any:
    """Inputs with every secret replaced by a mask, so a plan never shows one."""
    from pulumi.runtime.rpc import is_rpc_secret

    if is_rpc_secret(value):
        return SECRET_MASK
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def render_json(plan: Plan) -> str:
    """The plan as JSON, whole numbers as integers like the text plan (the mock runtime hands
    every number back as a float)."""
    from infra.engine.plan_text import whole_numbers

    resources = [{**r, "inputs": whole_numbers(masked(r["inputs"]))} for r in plan.resources]
    body = json.loads(json.dumps({"stacks": plan.stacks, "resources": resources,
                                  "reads": plan.reads,
                                  "invokes": whole_numbers(masked(plan.invokes))},
                                 sort_keys=True))
    # The summary first, as the text plan starts with it; every other key sorted as before.
    return json.dumps({"summary": plan_summary(plan), **body}, indent=2) + "\n"


def plan_summary(plan: Plan) -> dict[str, Any] | None:
    """The text plan's summary of a one-pool plan (`up --dry-run --json`), keys sorted."""
    from infra.engine.naming import base_stack_name
    from infra.engine.plan_text import NO_REPOSITORY, pool_summary, whole_numbers

    if len(plan.pools) != 1:
        return None
    spec = plan.pools[0]
    runner = next((s["name"] for s in plan.stacks if s["kind"] == "runner"), "")
    base = base_stack_name(spec)
    summary = {"pool": spec.name, **pool_summary(plan, spec, runner, "runner", base,
                                                  plan.resources),
               "warnings": [] if spec.repo else [NO_REPOSITORY]}
    return whole_numbers(dict(sorted(summary.items())))


def render_tree(plan: Plan) -> str:
    """A summary of the run, then a readable tree per stack: each component, its children
    and their inputs (infra.engine.plan_text)."""
    from infra.engine.plan_text import render_text

    return render_text(plan, [{**r, "inputs": masked(r["inputs"])} for r in plan.resources])
