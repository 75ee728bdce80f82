"""Engine events as progress lines, printed on the calling thread while the operation runs.

The Automation API hands events to a callback on a worker thread; they are queued and printed
here, in order. The calling (main) thread waits with a timeout so that it stays responsive to
signals and can print what a cancellation does (`infra.engine.cancel`).
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable
from typing import Any

Printer = Callable[[str], None]
# "infra.errors.SpecError: No zone ..." -> "No zone ...": our exceptions carry a sentence.
EXCEPTION_PREFIX = re.compile(r"^(?:[a-z_]+\.)+[A-Za-z]*Error: ")
Operation = Callable[[Callable[[Any], None]], Any]


def describe(event: Any) -> str | None:
    """One progress line for an engine event, or None for events not worth a line."""
    if event.resource_pre_event is not None:
        meta = event.resource_pre_event.metadata
        if _op(meta.op) in ("same", "read"):
            return None
        return f"{_op(meta.op)}: {meta.type} {meta.urn.split('::')[-1]}"
    if event.diagnostic_event is not None and event.diagnostic_event.severity == "error":
        return f"error: {last_line(event.diagnostic_event.message)}"
    if event.summary_event is not None:
        changes = ", ".join(f"{count} {_op(op)}" for op, count in
                            event.summary_event.resource_changes.items() if _op(op) != "same")
        return f"done: {changes or 'no changes'}"
    return None


def last_line(message: str) -> str:
    """A diagnostic's point: a program's traceback ends with the exception that stopped it."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return EXCEPTION_PREFIX.sub("", lines[-1]) if lines else ""


def _op(op: Any) -> str:
    return str(getattr(op, "value", op))


def stream(operation: Operation, printer: Printer, *,
           tick: Callable[[], None] = lambda: None) -> Any:
    """Run `operation(on_event)` on a worker thread, print its events here, return its result
    or raise its error. `tick` runs on this thread between events (cancellation messages)."""
    events: queue.Queue[Any] = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = operation(events.put)
        except BaseException as exc:  # handed back to the calling thread below
            outcome["error"] = exc
        finally:
            events.put(None)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    while True:
        tick()
        try:
            event = events.get(timeout=0.2)
        except queue.Empty:
            continue
        if event is None:
            break
        if line := describe(event):
            printer(line)
    tick()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
