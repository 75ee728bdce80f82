"""`up`: the pool's base when missing, then this run's runner stack; on failure or
cancellation, this run's stack is destroyed again and the final line counts what the state
still holds afterwards.

When a zone has no capacity for a pool's machine, that pool alone moves to its next zone, and a
spot pool then runs on demand (`infra.engine.capacity`), as updates of the same stack:
machines and registrations that do not change are kept (no second mint); a machine that moves
is replaced together with its registration (`machine_fingerprint`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from infra.engine.bases import ensure_bases, read_bases
from infra.engine.cancel import Cancellation, Cancelled, cancellable
from infra.engine.capacity import (
    Placement,
    candidate_zones,
    capacity_short,
    failed_pools,
    not_sold,
)
from infra.engine.events import last_line, stream
from infra.engine.program import Registrar, program
from infra.engine.state import count_left, destroy_stack
from infra.engine.workspace import Engine, Printer
from infra.errors import StackError
from infra.rules import RunnerSpec


@dataclass(frozen=True)
class UpOptions:
    stack_name: str
    keep_on_failure: bool = False


def cancel_message(stack_name: str) -> str:
    return (f"cancelling: the update stops after the steps in flight, then stack {stack_name} "
            "is destroyed. If this job is killed before that ends, 'cml-infra down' in an "
            "always-run job, or 'cml-infra gc', removes what is left.")


def up_pools(pools: Sequence[RunnerSpec], engine: Engine, registrar: Registrar,
             printer: Printer, options: UpOptions) -> dict[str, Any]:
    """Create or update this run's stack on its pools' bases; returns the stack's outputs."""
    name = options.stack_name
    cancellation = Cancellation(printer, engine.command.interrupt, cancel_message(name))
    errors: list[str] = []
    with cancellable(cancellation):
        bases = _bases(pools, engine, printer, cancellation)
        if cancellation.requested:
            raise Cancelled(f"Cancelled before stack {name} was created; nothing to remove.")
        try:
            outputs = _up_with_retry(pools, engine, registrar, printer, name, bases,
                                     cancellation, errors)
        except Cancelled:
            raise
        except Exception as exc:
            if not _engine_failure(exc):
                raise
            raise clean_up_after(engine, printer, options, cancellation, errors) from None
        if cancellation.requested:  # the signal came as the update ended: still clean up
            raise clean_up_after(engine, printer, options, cancellation, errors)
    return outputs


def _bases(pools: Sequence[RunnerSpec], engine: Engine, printer: Printer,
           cancellation: Cancellation) -> dict[str, str]:
    """The pools' bases; a base that fails is left as it is (it is shared, and the next run
    continues it), and nothing of this run exists yet."""
    from pulumi import automation as auto

    errors: list[str] = []
    try:
        return ensure_bases(pools, engine, _noting_lines(errors, printer),
                            tick=cancellation.tick)
    except auto.CommandError:
        if cancellation.requested:
            raise Cancelled("Cancelled while the pool's base was being created; nothing of "
                            "this run was created, and the next up finishes the base.") from None
        raise StackError(f"Pulumi could not create the pool's base ({_reason(engine, errors)});"
                         " nothing of this run was created; fix that and run up again.") from None


def _noting_lines(errors: list[str], printer: Printer) -> Printer:
    def note(line: str) -> None:
        if line.startswith("error: "):
            errors.append(line.removeprefix("error: "))
        printer(line)

    return note


def _engine_failure(exc: BaseException) -> bool:
    from pulumi import automation as auto

    return isinstance(exc, auto.CommandError)


def _up_with_retry(pools: Sequence[RunnerSpec], engine: Engine, registrar: Registrar,
                   printer: Printer, name: str, bases: dict[str, str],
                   cancellation: Cancellation, errors: list[str]) -> dict[str, Any]:
    """Update the stack; when a zone has no capacity for a pool, move that pool on and
    update again, until it runs or has no place left."""
    from pulumi import automation as auto

    places = {spec.name: Placement(spec, candidate_zones(spec, _base_of(engine, spec, bases)))
              for spec in pools}
    failures: list[tuple[str, str]] = []
    while True:
        specs = [places[spec.name].current() for spec in pools]
        stack = engine.create_or_select(
            name, functools.partial(program, specs, registrar, bases=bases))
        try:
            result = stream(functools.partial(_up, stack, errors, failures), printer,
                            tick=cancellation.tick)
            return {key: value.value for key, value in result.outputs.items()}
        except auto.CommandError as exc:
            if cancellation.requested:
                raise
            short = [urn for urn, message in failures if capacity_short(message)]
            if not short and capacity_short(str(exc)) and len(pools) == 1:
                short = [f"::{pools[0].name}-0"]
            moved = [line for pool in sorted(failed_pools(short, pools))
                     if (line := places[pool].advance())]
            if not moved:
                _explain_not_sold(failures, specs, errors)
                raise
        for line in moved:
            printer(line)
        errors.clear()
        failures.clear()


def _up(stack: Any, errors: list[str], failures: list[tuple[str, str]],
        on_event: Callable[[Any], None]) -> Any:
    return stack.up(on_event=_noting(errors, on_event, failures))


def _base_of(engine: Engine, spec: RunnerSpec, bases: dict[str, str]) -> dict[str, Any] | None:
    """What the pool's base exports (its zones), or None when it cannot be read."""
    try:
        found = read_bases(engine, bases[spec.name]) or {}
    except Exception:  # a plan or a base without outputs: the spec's own zone is all there is
        return None
    mine = found.get(spec.name)
    return dict(mine) if isinstance(mine, dict) else None


def _explain_not_sold(failures: list[tuple[str, str]], specs: Sequence[RunnerSpec],
                      errors: list[str]) -> None:
    """Azure's SkuNotAvailable: the size is not sold here; say so before the engine's text."""
    for urn, message in failures:
        if not_sold(message):
            pools = failed_pools([urn], specs) or {specs[0].name}
            spec = next(s for s in specs if s.name in pools)
            errors.insert(0, f"{spec.cloud} does not sell {spec.machine.instance_type} in "
                             f"{spec.region} to this subscription (SkuNotAvailable); choose "
                             "another region or machine size")
            return


def _noting(errors: list[str], then: Callable[[Any], None],
            failures: list[tuple[str, str]] | None = None) -> Callable[[Any], None]:
    """Keep the engine's error diagnostics (the reason for a failure, and which resource
    failed), then pass events on."""

    def on_event(event: Any) -> None:
        diagnostic = event.diagnostic_event
        if diagnostic is not None and diagnostic.severity == "error":
            errors.append(diagnostic.message.strip())
            if failures is not None:
                failures.append((diagnostic.urn or "", diagnostic.message))
        then(event)

    return on_event


def clean_up_after(engine: Engine, printer: Printer, options: UpOptions,
                   cancellation: Cancellation, errors: list[str], head: str = "") -> Exception:
    """Clean up after a failed or cancelled update; the exception that tells the outcome."""
    name = options.stack_name
    cancelled = cancellation.requested
    cancellation.interrupt = lambda: None  # from here on a signal must not stop the clean-up
    head = f"Stack {name} was cancelled" if cancelled else \
        head or f"Pulumi could not update stack {name} ({_reason(engine, errors)})"
    if options.keep_on_failure and not cancelled:
        left = count_left(engine, name)
        return StackError(f"{head}; the {left} resources it holds are kept (--keep-on-failure); "
                          f"run 'cml-infra down {name}' to remove them.")
    printer(f"destroying stack {name}")
    destroy_stack(engine, name, printer, tick=cancellation.tick)
    cancellation.tick()
    left = count_left(engine, name)
    tail = ("it was destroyed and nothing is left" if not left else
            f"{left} resources are left; run 'cml-infra down {name}' to remove them")
    return (Cancelled if cancelled else StackError)(f"{head}; {tail}.")


GENERIC = ("update failed", "destroy failed", "refresh failed")


def _reason(engine: Engine, errors: list[str]) -> str:
    """The engine's first specific error, or what it printed when it failed before any
    event."""
    specific = [last_line(e) for e in errors if not last_line(e).endswith(GENERIC)]
    if specific:
        return specific[0]
    stderr = getattr(engine.command, "last_stderr", "").strip()
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "the engine gave no reason; --debug shows its output"
