"""`gc`: the scheduled sweep that finishes what a cancelled or killed run left behind.

1. Runner stacks past their expiry (the latest machine's, plus a grace) are destroyed: their
   machines have ended themselves by then (dead-man switch, the cloud's own expiry).
2. Runner stacks whose machines are all gone (a refresh finds none: they deleted themselves
   after their job) or that hold none (a run that died before creating one) are destroyed.
3. A lock whose run is dead (its process is gone from this machine, or it is older than the
   longest CI job, `lock_age_s`) is cleared; a live one makes gc skip that stack.
4. Forge runners that carry our name shape (`<pool>-<stack>-<n>-<6 hex>`), are idle
   (offline, never contacted, stale) and belong to no stack of the backend are deleted.

Bases and stacks with autoscaled pools are never destroyed (they outlive every run; `down
--base` removes a base, `down NAME` an autoscale stack); a dead lock on them is cleared as in 3.
Every action is
one line; nothing is destroyed with `dry_run`, which reports decisions from the stacks'
outputs and the forge, without refreshing (a refresh writes state).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from infra.engine.events import stream
from infra.engine.program import runner_name_prefix
from infra.engine.state import clear_lock, destroy_stack, lock_of, resources_of
from infra.engine.status import StackStatus, age_s, collect, expired
from infra.engine.workspace import Engine, Printer
from infra.forges.inventory import IDLE_STATES, Inventory
from infra.spec import MAX_COUNT

AUTOSCALE_TYPE_PREFIX = "cml-infra:autoscale:"
MACHINE_TYPES = ("aws:ec2/instance:Instance", "gcp:compute/instance:Instance",
                 "azure-native:compute:VirtualMachine", "alicloud:ecs/instance:Instance")
NO_MACHINE = "it holds no machine"
RUNNER_NAME = re.compile(r"(?P<prefix>.+-\d+)-[0-9a-f]{6}")


@dataclass
class Action:
    kind: str
    """destroy, unlock, delete-runner or skip."""
    target: str
    reason: str
    done: bool = False
    error: str = ""

    def line(self, dry_run: bool) -> str:
        verb = {"destroy": "destroy stack", "unlock": "clear the lock of stack",
                "delete-runner": "delete forge runner", "skip": "skip stack"}[self.kind]
        if self.error:
            return f"failed to {verb} {self.target} ({self.reason}): {self.error}"
        prefix = "would " if dry_run and self.kind != "skip" else ""
        return f"{prefix}{verb} {self.target}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GcOptions:
    now: datetime
    dry_run: bool = False
    grace_s: float = 15 * 60
    lock_age_s: float = 6 * 3600
    """GitHub's default job timeout is 360 minutes: no update outlives its job."""


def gc(engine: Engine, printer: Printer, options: GcOptions,
       inventories: Iterable[tuple[Inventory, set[str]]] = ()) -> list[Action]:
    """Sweep; `inventories` pairs each forge repository with the pool names to look for."""
    actions: list[Action] = []
    stacks = collect(engine)
    # Ownership is decided before anything is destroyed, from every stack that exists: an
    # `up` still running has a stack but no outputs yet, and its runners are its own.
    inventories = list(inventories)
    owned = {pool: _owned_prefixes(pool, stacks) for _, pools in inventories for pool in pools}
    for stack in stacks:
        if stack.kind == "runner" and stack.autoscaled:
            actions += _keep_autoscaled(engine, stack, printer, options)
        elif stack.kind == "runner":
            actions += _sweep_stack(engine, stack, printer, options)
        elif not options.dry_run:
            actions += _sweep_base_lock(engine, stack, printer, options)
    for inventory, pools in inventories:
        actions += _sweep_forge(inventory, pools, owned, printer, options.dry_run)
    return actions


def _sweep_stack(engine: Engine, stack: StackStatus, printer: Printer,
                 options: GcOptions) -> list[Action]:
    if not stack.readable:
        action = Action("skip", stack.name, "its outputs cannot be read (another passphrase?)",
                        error="outputs unreadable")
        printer(action.line(options.dry_run))
        return [action]
    reason = _reason(stack, options)
    if reason == NO_MACHINE and _has_autoscaled(engine, stack.name):
        return []  # an autoscale stack whose first update ended before its outputs
    if reason is None and options.dry_run:
        return []
    try:
        if reason is None:
            reason = _gone_after_refresh(engine, stack.name, printer)
        if reason is None:
            return []
        return [_act(Action("destroy", stack.name, reason), options.dry_run, printer,
                     lambda: destroy_stack(engine, stack.name, printer))]
    except Exception as exc:
        return _locked(engine, stack, exc, printer, options)


def _keep_autoscaled(engine: Engine, stack: StackStatus, printer: Printer,
                     options: GcOptions) -> list[Action]:
    """A stack of autoscaled pools lives until someone removes it: say so when it also holds
    expired machines (they go with its next `pulumi up` or `cml-infra down`), and clear its
    lock when the run holding it is dead, as for a base."""
    actions: list[Action] = []
    if expired(stack, options.now, options.grace_s):
        pools = ", ".join(sorted(stack.autoscaled))
        action = Action("skip", stack.name, f"its machines expired at {stack.expires_at}, but "
                        f"it holds autoscaled pools ({pools}), which only 'cml-infra down "
                        f"{stack.name}' removes")
        printer(action.line(options.dry_run))
        actions.append(action)
    if not options.dry_run:
        actions += _sweep_base_lock(engine, stack, printer, options)
    return actions


def _reason(stack: StackStatus, options: GcOptions) -> str | None:
    if expired(stack, options.now, options.grace_s):
        return f"expired at {stack.expires_at}"
    age = age_s(stack, options.now)
    # A run's stack has no outputs until its first update ends: only an old one is empty.
    if not stack.machines and age is not None and age > options.grace_s:
        return NO_MACHINE
    return None


def _gone_after_refresh(engine: Engine, name: str, printer: Printer) -> str | None:
    stack = engine.select(name)
    if stack is None:
        return None
    stream(lambda on_event: stack.refresh(on_event=on_event), lambda line: None)
    if _has_autoscaled(engine, name):
        return None  # autoscaled pools whose outputs were not written yet: not a run's leftovers
    machines = [r for r in resources_of(engine, name) if r.get("type") in MACHINE_TYPES]
    return None if machines else "its machines are gone"


def _has_autoscaled(engine: Engine, name: str) -> bool:
    return any(str(r.get("type", "")).startswith(AUTOSCALE_TYPE_PREFIX)
               for r in resources_of(engine, name))


def _locked(engine: Engine, stack: StackStatus, exc: Exception, printer: Printer,
            options: GcOptions) -> list[Action]:
    from pulumi import automation as auto

    if not isinstance(exc, auto.ConcurrentUpdateError):
        error = str(exc).strip().splitlines()
        action = Action("destroy", stack.name, "cleaning up", error=error[-1] if error else "")
        printer(action.line(options.dry_run))
        return [action]
    lock = lock_of(exc)
    if lock is None or not (lock.dead_here() or lock.age_s(options.now) > options.lock_age_s):
        action = Action("skip", stack.name, f"in use by {lock or 'another run'}")
        printer(action.line(options.dry_run))
        return [action]
    unlock = _act(Action("unlock", stack.name, f"its run is dead ({lock})"), options.dry_run,
                  printer, lambda: clear_lock(engine, stack.name))
    return [unlock, *([] if options.dry_run else _sweep_stack(engine, stack, printer, options))]


def _act(action: Action, dry_run: bool, printer: Printer, run: Callable[[], Any]) -> Action:
    if not dry_run:
        try:
            run()
            action.done = True
        except Exception as exc:  # reported in the action's line, the sweep goes on
            if type(exc).__name__ == "ConcurrentUpdateError":
                raise  # the caller decides whether the lock is dead
            lines = str(exc).strip().splitlines()
            action.error = lines[-1] if lines else type(exc).__name__
    printer(action.line(dry_run))
    return action


def _owned_prefixes(pool: str, stacks: list[StackStatus]) -> set[str]:
    """The runner name prefixes (`<pool>-<stack>-<n>`) that some stack of the backend owns,
    whatever its outputs say (readable or not, finished or not)."""
    return {runner_name_prefix(pool, stack.name, index)
            for stack in stacks if stack.kind == "runner" for index in range(MAX_COUNT)}


def _sweep_base_lock(engine: Engine, stack: StackStatus, printer: Printer,
                     options: GcOptions) -> list[Action]:
    """A base (or a stack of autoscaled pools) keeps no expiry, but a run killed while
    updating it leaves its lock, which stops every later update: probe it with a refresh (it
    only reads) and clear a dead one."""
    from pulumi import automation as auto

    base = engine.select(stack.name)
    if base is None:
        return []
    try:
        stream(lambda on_event: base.refresh(on_event=on_event), lambda line: None)
    except auto.ConcurrentUpdateError as exc:
        lock = lock_of(exc)
        if lock is not None and (lock.dead_here() or
                                 lock.age_s(options.now) > options.lock_age_s):
            return [_act(Action("unlock", stack.name, f"its run is dead ({lock})"), False,
                         printer, lambda: clear_lock(engine, stack.name))]
    except auto.CommandError:
        pass  # a base that cannot be refreshed is the platform team's to look at
    return []


def _sweep_forge(inventory: Inventory, pools: set[str], owned: dict[str, set[str]],
                 printer: Printer, dry_run: bool) -> list[Action]:
    actions = []
    for runner in inventory.runners():
        shape = RUNNER_NAME.fullmatch(runner.name)
        if not shape or runner.state not in IDLE_STATES:
            continue
        mine = [pool for pool in pools if runner.name.startswith(f"{pool}-")]
        if not mine or any(shape["prefix"] in owned.get(pool, set()) for pool in mine):
            continue
        actions.append(_act(Action("delete-runner", f"{runner.name} (id {runner.runner_id})",
                                   f"{runner.state}, and no stack of the backend owns it"),
                            dry_run, printer, functools.partial(inventory.delete,
                                                                runner.runner_id)))
    return actions
