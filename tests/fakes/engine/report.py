"""What an operation reports: engine events, the CLI's stdout display and its final line."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import Any

from tests.fakes.engine.errors import say
from tests.fakes.engine.events import EventSink, step_meta

HEADERS = {"update": "Updating", "refresh": "Refreshing", "destroy": "Destroying"}
SIGNS = {"create": "+", "update": "~", "delete": "-", "replace": "+-", "same": " ",
         "read": ">", "refresh": "~", "create-replacement": "++", "delete-replaced": "--"}
SUMMARY = [("create", "+", "created"), ("update", "~", "updated"), ("delete", "-", "deleted"),
           ("replace", "+-", "replaced"), ("same", "", "unchanged")]
# ops that count in the summary's resourceChanges (the others are parts of a replace)
COUNTED = {"create", "update", "delete", "replace", "same", "read", "refresh"}


class Reporter:
    def __init__(self, kind: str, stack: str, event_log: str | None) -> None:
        self.kind = kind
        self.sink = EventSink(event_log)
        self.changes: Counter[str] = Counter()
        self.diagnostics: list[tuple[str, str, str]] = []
        self.started = time.time()
        self._lock = threading.Lock()
        say(f"{HEADERS[kind]} ({stack}):")

    def prelude(self, config: dict[str, str]) -> None:
        self.sink.emit("preludeEvent", {"config": config})

    def pre(self, op: str, old: dict[str, Any] | None, new: dict[str, Any] | None,
            keys: list[str] | None = None) -> None:
        self.sink.emit("resourcePreEvent", {"metadata": step_meta(op, old, new, keys),
                                            "planning": False})

    def done(self, op: str, old: dict[str, Any] | None, new: dict[str, Any] | None,
             keys: list[str] | None = None, count_as: str | None = None) -> None:
        self.sink.emit("resOutputsEvent", {"metadata": step_meta(op, old, new, keys),
                                           "planning": False})
        subject = new or old or {}
        if "::pulumi:providers:" in subject.get("urn", "") and "::default" in subject["urn"]:
            return  # default providers are not shown or counted, as in the real display
        with self._lock:
            if (count_as or op) in COUNTED:
                self.changes[count_as or op] += 1
            if op != "same":
                say(f"    {SIGNS.get(op, '*')} {subject.get('type')} "
                    f"{subject.get('urn', '').rsplit('::', 1)[-1]} {op}")

    def diag(self, message: str, urn: str = "", severity: str = "error") -> None:
        with self._lock:
            self.diagnostics.append((urn, severity, message))
        self.sink.emit("diagnosticEvent", {"urn": urn, "prefix": f"{severity}: ",
                                           "message": message + "\n", "color": "never",
                                           "severity": severity})

    def finish(self, outcome: str) -> None:
        """outcome: succeeded, failed or canceled. Summary and cancelEvent always come last."""
        duration = int(time.time() - self.started)
        self._print_diagnostics()
        say("Resources:")
        for op, sign, word in SUMMARY:
            if self.changes.get(op):
                say(f"    {sign + ' ' if sign else ''}{self.changes[op]} {word}")
        say(f"\nDuration: {duration}s")
        self.sink.emit("summaryEvent", {"maybeCorrupt": False, "durationSeconds": duration,
                                        "resourceChanges": dict(self.changes),
                                        "PolicyPacks": {}})
        self.sink.emit("cancelEvent", {})
        self.sink.close()
        noun = "update" if self.kind == "update" else self.kind
        if outcome == "failed":
            say(f"error: {noun} failed", sys.stderr)
        elif outcome == "canceled":
            say(f"error: {noun} canceled", sys.stderr)

    def _print_diagnostics(self) -> None:
        if not self.diagnostics:
            return
        say("Diagnostics:")
        for urn, severity, message in self.diagnostics:
            where = urn.rsplit("::", 2)
            label = f"{where[-2].rsplit('$', 1)[-1]} ({where[-1]})" if len(where) == 3 else ""
            say(f"  {label or 'pulumi:pulumi:Stack'}:\n    {severity}: {message}\n")

