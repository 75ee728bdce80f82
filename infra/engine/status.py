"""`status`: every stack of the backend, what it holds, and how its runners look at the forge.

Read from each stack's outputs (plain ids and names: `kind`, `pool:<name>` summaries, one entry
per machine), so nothing is refreshed or locked; the forge states come from an injected
look-up (`RunnerStates`), which the CLI builds with the forge token when it has one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from infra.engine.naming import is_base
from infra.engine.program import runner_name_prefix
from infra.engine.workspace import Engine

# (pool summary, [(runner id, runner name)]) -> {runner id: online|busy|offline|gone|unknown}
RunnerStates = Callable[[Mapping[str, Any], list[tuple[str, str]]], dict[str, str]]
# (autoscale pool summary) -> [(runner name, state)] of every runner of its repository
ForgeRunners = Callable[[Mapping[str, Any]], list[tuple[str, str]]]
AUTOSCALE_PREFIX = "autoscale:"


@dataclass
class MachineStatus:
    name: str
    pool: str
    instance_id: str
    machine_type: str
    spot: bool
    runner_name: str
    runner_id: str
    expires_at: str
    forge_state: str = "unknown"


@dataclass
class StackStatus:
    name: str
    kind: str
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    machines: list[MachineStatus] = field(default_factory=list)
    last_update: str = ""
    expires_at: str = ""
    used_by: list[str] = field(default_factory=list)
    """Base stacks: the runner stacks that read it."""
    readable: bool = True
    """False when the outputs could not be read (another passphrase, a broken state)."""
    autoscaled: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Autoscaled pools (`autoscale:<name>` outputs), each with `runners`: the count of its
    runners at the forge by state ({}: none now; None: not known)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def outputs_of(engine: Engine, name: str) -> dict[str, Any] | None:
    """The stack's outputs, or None when they cannot be read (then nothing may be decided
    from them: a stack whose outputs are unreadable is not a stack without machines)."""
    from pulumi import automation as auto

    try:
        return {key: value.value for key, value in
                engine.workspace().stack_outputs(name).items()}
    except auto.CommandError:
        return None


def collect(engine: Engine, states: RunnerStates | None = None,
            forge_runners: ForgeRunners | None = None) -> list[StackStatus]:
    """Every stack of the project in the backend, runner stacks with their machines and
    autoscaled pools (`forge_runners`: how their runners are counted at the forge)."""
    summaries = engine.workspace().list_stacks()
    found = [stack_status(summary.name, str(summary.last_update or ""), outputs_of(
        engine, summary.name)) for summary in summaries]
    for stack in found:
        if states is not None and stack.machines:
            _fill_states(stack, states)
        if forge_runners is not None:
            for pool, summary in stack.autoscaled.items():
                summary["runners"] = count_runners(stack.name, pool, summary, forge_runners)
    for base in (s for s in found if s.kind == "base"):
        base.used_by = sorted(s.name for s in found if s.kind == "runner" and
                              any(p.get("base") == base.name for p in s.pools.values()))
    return sorted(found, key=lambda s: (s.kind != "base", s.name))


def stack_status(name: str, last_update: str, outputs: dict[str, Any] | None) -> StackStatus:
    if outputs is None:
        return StackStatus(name, "base" if is_base(name) else "runner", last_update=last_update,
                           readable=False)
    kind = str(outputs.get("kind") or ("base" if is_base(name) else "runner"))
    pools = {key.split(":", 1)[1]: dict(value) for key, value in outputs.items()
             if key.startswith("pool:") and isinstance(value, dict)}
    if kind == "base":
        pools = {pool: dict(value) for pool, value in (outputs.get("bases") or {}).items()}
    machines = [_machine(key, value, pools) for key, value in sorted(outputs.items())
                if isinstance(value, dict) and "instance_id" in value]
    expiry = max((m.expires_at for m in machines), default="")
    autoscaled = {key[len(AUTOSCALE_PREFIX):]: {**_whole(value), "runners": None}
                  for key, value in sorted(outputs.items())
                  if key.startswith(AUTOSCALE_PREFIX) and isinstance(value, dict)}
    return StackStatus(name, kind, pools, machines, last_update, expiry,
                       autoscaled=autoscaled)


def _whole(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A summary whose counts came back as floats (outputs travel as JSON numbers), as ints."""
    return {key: int(value) if isinstance(value, float) and value.is_integer() else value
            for key, value in summary.items()}


def autoscale_runner_name(stack: str, pool: str, summary: Mapping[str, Any]) -> re.Pattern[str]:
    """The names an autoscaled pool's runners have at the forge: ARC names each runner after
    its EphemeralRunner, `<scale set>-<5 characters>-runner-<5 characters>`; the GitLab pool
    has the one runner its stack registered, `<pool>-<stack>-0-<6 hex>`."""
    if summary.get("forge") == "gitlab":
        return re.compile(re.escape(runner_name_prefix(pool, stack, 0)) + r"-[0-9a-f]{6}")
    scale_set = str(summary.get("scale_set_name") or pool)
    return re.compile(re.escape(scale_set) + r"-[a-z0-9]+-runner-[a-z0-9]+")


def count_runners(stack: str, pool: str, summary: Mapping[str, Any],
                  forge_runners: ForgeRunners) -> dict[str, int] | None:
    """How many of the pool's runners the forge lists, by state (None when it cannot say:
    `forge_runners` raises LookupError without a token; a forge's error goes on up, as the
    machines' states do)."""
    try:
        found = forge_runners(summary)
    except LookupError:
        return None
    shape = autoscale_runner_name(stack, pool, summary)
    counts: dict[str, int] = {}
    for name, state in found:
        if shape.fullmatch(name):
            counts[state] = counts.get(state, 0) + 1
    return counts


def _machine(name: str, value: Mapping[str, Any], pools: dict[str, Any]) -> MachineStatus:
    pool = str(value.get("pool") or name.rsplit("-", 1)[0])
    summary = pools.get(pool, {})
    return MachineStatus(name=name, pool=pool, instance_id=str(value.get("instance_id") or ""),
                         machine_type=str(summary.get("machine_type") or ""),
                         spot=bool(summary.get("spot")),
                         runner_name=str(value.get("runner_name") or ""),
                         runner_id=str(value.get("runner_id") or ""),
                         expires_at=str(value.get("expires_at") or ""))


def _fill_states(stack: StackStatus, states: RunnerStates) -> None:
    for pool, summary in stack.pools.items():
        mine = [m for m in stack.machines if m.pool == pool]
        found = states(summary, [(m.runner_id, m.runner_name) for m in mine])
        for machine in mine:
            machine.forge_state = found.get(machine.runner_id, "unknown")


def age_s(stack: StackStatus, now: datetime) -> float | None:
    """Seconds since the stack's last update ended, when the backend says."""
    if not stack.last_update:
        return None
    try:
        at = datetime.fromisoformat(stack.last_update.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (now - (at if at.tzinfo else at.replace(tzinfo=timezone.utc))).total_seconds()


def expired(stack: StackStatus, now: datetime, grace_s: float) -> bool:
    """Whether every machine of a runner stack is past its expiry plus `grace_s`."""
    if not stack.expires_at:
        return False
    at = datetime.fromisoformat(stack.expires_at.replace("Z", "+00:00"))
    return (now - at.astimezone(timezone.utc)).total_seconds() > grace_s
