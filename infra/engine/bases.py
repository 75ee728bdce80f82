"""A pool's base stack: reused when it is there, created when it is missing, safe when two
CI runs reach for it at once.

The base is read through its outputs (`bases.<pool>`, plain ids). A base made for other
settings (`base_fingerprint`: zone, subnet, identity, the machine type its zone was chosen
for) is never reshaped by `up`: other runs' machines may be in it. The user names another
pool, or removes the base once nothing uses it. A base a platform team declared for several
pools with `pulumi up` is theirs to change.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

from infra.clouds import cloud_module
from infra.engine.events import stream
from infra.engine.naming import base_stack_name
from infra.engine.program import base_fingerprint, base_program
from infra.engine.workspace import Engine, Printer
from infra.errors import StackError
from infra.rules import RunnerSpec

LOCK_WAIT_S = 600.0  # how long a run waits for another run that is creating the same base
POLL_S = 2.0


def ensure_bases(pools: Sequence[RunnerSpec], engine: Engine, printer: Printer,
                 tick: Callable[[], None] = lambda: None,
                 sleep: Callable[[float], None] = time.sleep) -> dict[str, str]:
    """Make sure every pool's base exists and fits; returns pool name -> base stack."""
    bases = {spec.name: base_stack_name(spec) for spec in pools}
    for spec in pools:
        ensure_base(spec, bases[spec.name], engine, printer, tick, sleep)
    return bases


def read_bases(engine: Engine, name: str) -> dict[str, Any] | None:
    """The `bases` output of stack `name`, or None when the stack does not exist."""
    stack = engine.select(name)
    if stack is None:
        return None
    outputs = stable_outputs(stack)
    return dict(outputs["bases"].value) if "bases" in outputs else {}


def stable_outputs(stack: Any, attempts: int = 5) -> Any:
    """`stack.outputs()`, read again when another run's update changed them in between: the
    Automation API reads the masked and the plain outputs with two `pulumi stack output`
    calls and indexes one by the keys of the other (pulumi/automation/_local_workspace.py
    `stack_outputs`), so an output that appears between the calls raises KeyError."""
    for attempt in range(attempts):
        try:
            return stack.outputs()
        except KeyError:
            if attempt == attempts - 1:
                raise StackError(f"The outputs of stack {stack.name} kept changing while "
                                 "they were read; another run is updating it, so try again "
                                 "once it is done.") from None
    raise AssertionError("unreachable")


def ensure_base(spec: RunnerSpec, name: str, engine: Engine, printer: Printer,
                tick: Callable[[], None], sleep: Callable[[float], None]) -> None:
    from pulumi import automation as auto

    waited = 0.0
    while True:
        found = read_bases(engine, name)
        if _fits(spec, name, found):
            printer(f"base {name}: in place, reused")
            return
        printer(f"base {name}: creating what the pool's machines share (network, security "
                "group, identity)")
        stack = engine.create_or_select(name, lambda: base_program([spec]))
        try:
            stream(functools.partial(_up, stack), printer, tick=tick)
            return
        except auto.ConcurrentUpdateError:
            if waited >= LOCK_WAIT_S:
                raise StackError(f"Base stack {name} stayed locked for {LOCK_WAIT_S / 60:.0f} "
                                 "minutes; if no run is creating it, 'cml-infra gc' clears a "
                                 "dead run's lock (or 'cml-infra down --base "
                                 f"{name} --force-unlock' removes the base), then try "
                                 "again.") from None
            printer(f"base {name}: another run is creating it; waiting")
            sleep(POLL_S)
            waited += POLL_S


def _up(stack: Any, on_event: Callable[[Any], None]) -> Any:
    return stack.up(on_event=on_event)


def _fits(spec: RunnerSpec, name: str, found: dict[str, Any] | None) -> bool:
    """Whether the base holds this pool as it is now; refuse to touch another team's base."""
    if not found:
        return False
    mine = found.get(spec.name)
    if mine is not None and mine.get("fingerprint") == base_fingerprint(spec):
        # A base made by an earlier version lacks what this one adds (an output, and the
        # resources behind it): update it in place, which only adds.
        return set(cloud_module(spec.cloud).BASE_OUTPUTS) <= set(mine)
    others = sorted(pool for pool in found if pool != spec.name)
    if others:
        raise StackError(f"Base stack {name} holds pools {', '.join(others)} and was not made "
                         f"by cml-infra up for pool {spec.name}; change it with pulumi up, or "
                         "give this pool another name.")
    if mine is not None:
        raise StackError(f"Base stack {name} was made for other settings of pool {spec.name} "
                         "(zone, subnet, identity or the machine type its zone was chosen "
                         "for) and other runs may use it; give this pool another name "
                         f"(--name), or remove the base with 'cml-infra down --base {name}' "
                         "once no runner stack uses it.")
    return False
