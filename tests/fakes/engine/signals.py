"""SIGINT and SIGTERM alike, as the real CLI treats them: the first cancels gracefully (no new
steps; in-flight ones finish; the checkpoint is saved and the lock released), the second
terminates at once, leaving the lock file and any pending operations behind."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from tests.fakes.engine.dynamic import CHILDREN


class CancelScope:
    def __init__(self) -> None:
        self.canceled = threading.Event()
        self.count = 0
        self.callbacks: list[Callable[[], None]] = []

    def install(self) -> CancelScope:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count > 1:
            hard_exit()
        # os.write, not print: the main thread may be inside a print right now
        with contextlib.suppress(OSError):
            os.write(1, b"received signal: canceling; signal again to terminate at once\n")
        self.canceled.set()
        for callback in self.callbacks:
            callback()


def hard_exit() -> None:
    """Terminate now: plugins are killed (they would outlive us), nothing is cleaned up."""
    for child in CHILDREN:
        if child.poll() is None:
            child.kill()
    with contextlib.suppress(OSError):
        os.write(2, b"error: operation terminated\n")
    os._exit(255)
