"""Cancellation that a second signal cannot abort.

A cancelled GitHub Actions step gets SIGINT, then SIGTERM 7.5 s later, then is killed 2.5 s
after that (actions/runner src/Runner.Sdk/ProcessInvoker.cs); GitLab's shell executor sends
SIGTERM to the job's process group and kills it after its graceful timeout
(gitlab-runner helpers/process/killer_unix.go). The first SIGINT or SIGTERM here starts the
clean-up: one SIGINT to each `pulumi` child (its graceful cancel; the child runs in a session
of its own, see `infra.engine.workspace`), then the caller destroys what the run created.
Later signals only repeat what is happening; they interrupt nothing. What cannot finish before
the CI system kills the process is finished by `cml-infra down` (an always-run job) or by
`cml-infra gc`, and the first message says so.

Signal handlers only set flags and signal the children; the lines are printed by the calling
thread (`tick`), never from inside a handler, which could interrupt a print.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

Printer = Callable[[str], None]
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Cancelled(Exception):
    """The run was cancelled by a signal; the clean-up has been done (or said)."""


@dataclass
class Cancellation:
    """Signals received while an operation runs, and what to tell the user about them."""

    printer: Printer
    interrupt: Callable[[], Any]
    """Called once, on the first signal: stop the engine gracefully."""
    message: str
    """Printed once, after the first signal: what happens now, and what finishes it."""
    received: list[int] = field(default_factory=list)
    told: int = 0

    @property
    def requested(self) -> bool:
        return bool(self.received)

    def handle(self, signum: int, _frame: Any) -> None:
        self.received.append(signum)
        if len(self.received) == 1:
            self.interrupt()

    def tick(self) -> None:
        """Print what the signals received so far mean (on the calling thread)."""
        while self.told < len(self.received):
            name = signal.Signals(self.received[self.told]).name
            self.printer(f"{name} received; {self.message}" if self.told == 0 else
                         f"{name} received again; the clean-up goes on, it is not interrupted.")
            self.told += 1


@contextmanager
def cancellable(cancellation: Cancellation) -> Iterator[Cancellation]:
    """Route SIGINT and SIGTERM to `cancellation` while the block runs (main thread only:
    Python sets signal handlers there alone)."""
    if threading.current_thread() is not threading.main_thread():
        yield cancellation
        return
    previous = {sig: signal.signal(sig, cancellation.handle) for sig in SIGNALS}
    try:
        yield cancellation
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
