"""What a stack's state holds, and the operations that empty it: destroy, remove, unlock.

Counts come from the state after an operation (`stack export`), never from what was seen
before it. Root stack and provider entries are not counted: they are no cloud object.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from infra.engine.events import stream
from infra.engine.workspace import Engine, Printer

# The DIY backend's lock message ends with one line per lock file:
# "<url>.json: created by <user>@<host> (pid <n>) at <RFC 3339 time>"
# (pkg/backend/diy/lock.go in pulumi/pulumi).
LOCK_LINE = re.compile(r"created by (?P<user>[^@\s]+)@(?P<host>\S+) \(pid (?P<pid>\d+)\) "
                       r"at (?P<at>\S+)")


def _counted(resource: dict[str, Any]) -> bool:
    kind = str(resource.get("type", ""))
    return kind != "pulumi:pulumi:Stack" and not kind.startswith("pulumi:providers:")


def deployment(engine: Engine, name: str) -> dict[str, Any] | None:
    """The stack's exported state, or None when there is no such stack."""
    stack = engine.select(name)
    if stack is None:
        return None
    return dict(stack.export_stack().deployment or {})


def resources_of(engine: Engine, name: str) -> list[dict[str, Any]]:
    state = deployment(engine, name) or {}
    return [r for r in state.get("resources") or [] if _counted(r)]


def count_left(engine: Engine, name: str) -> int:
    return len(resources_of(engine, name))


def pending_creates(state: dict[str, Any]) -> list[str]:
    """URNs of creates an engine started and never finished (it was killed)."""
    return [op["resource"]["urn"] for op in state.get("pending_operations") or []
            if op.get("type") == "creating"]


# How `stack export --show-secrets` and `stack import` spell a secret value.
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"


def give_token(stack: Any, token: str) -> int:
    """Put a fresh forge token into the state's runner registrations, which delete their
    runners with the token saved at `up` (a GitHub App token lasts an hour). Exported and
    imported like a hand edit of the state; the stack's lock is taken by the import."""
    exported = stack.export_stack()
    deployment = dict(exported.deployment or {})
    changed = 0
    for resource in deployment.get("resources") or []:
        inputs = resource.get("inputs") or {}
        if resource.get("type") != DYNAMIC_TYPE or "name_prefix" not in inputs:
            continue
        for part in ("inputs", "outputs"):
            if "token" in (resource.get(part) or {}):
                resource[part]["token"] = {**SECRET_SIG, "plaintext": json.dumps(token)}
        changed += 1
    if changed:
        exported.deployment = deployment
        stack.import_stack(exported)
    return changed


def destroy_stack(engine: Engine, name: str, printer: Printer,
                  tick: Callable[[], None] = lambda: None, token: str | None = None) -> None:
    """Refresh (machines that deleted themselves leave the state), destroy, remove the stack
    when nothing is left; with `token`, the registrations are deleted with it. Raises the
    engine's CommandError when the destroy fails."""
    stack = engine.select(name)
    if stack is None:
        return
    pending = pending_creates(dict(stack.export_stack().deployment or {}))
    # The refresh takes the lock first: while an engine still runs, its creates are not
    # stale, and this raises ConcurrentUpdateError before anything is said or cleared.
    stream(lambda on_event: stack.refresh(clear_pending_creates=bool(pending) or None,
                                          on_event=on_event), printer, tick=tick)
    if pending:
        printer(f"{len(pending)} creates were in flight when an engine was stopped; they were "
                "cleared from the state (those machines still end at their expiry, and "
                "'cml-infra gc' deletes their forge runners)")
    if token and (count := give_token(stack, token)):
        printer(f"{count} runner registrations will be deleted with the token given now")
    stream(lambda on_event: stack.destroy(on_event=on_event, continue_on_error=True),
           printer, tick=tick)
    if count_left(engine, name) == 0:
        engine.workspace().remove_stack(name)


def clear_lock(engine: Engine, name: str) -> None:
    """Delete the stack's lock files (`pulumi cancel` on the DIY backend does only that)."""
    stack = engine.select(name)
    if stack is not None:
        stack.cancel()


@dataclass(frozen=True)
class Lock:
    user: str
    host: str
    pid: int
    at: datetime

    def _here(self) -> str | None:
        """"dead" or "alive" for a process of this machine; None for another machine's."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return "dead"
        except PermissionError:
            return "alive"
        return "alive"

    def dead_here(self) -> bool:
        """Held by a process of this machine that no longer exists."""
        return self._here() == "dead"

    def alive_here(self) -> bool:
        """Held by a process of this machine that still runs: never clear that lock."""
        return self._here() == "alive"

    def age_s(self, now: datetime) -> float:
        return (now - self.at).total_seconds()

    def __str__(self) -> str:
        return f"{self.user}@{self.host} (pid {self.pid}) since {self.at:%Y-%m-%d %H:%M:%S}Z"


def lock_of(error: BaseException) -> Lock | None:
    """The lock named in a ConcurrentUpdateError's text, if it names one."""
    found = LOCK_LINE.search(str(error))
    if not found:
        return None
    at = datetime.fromisoformat(found["at"].replace("Z", "+00:00"))
    return Lock(found["user"], found["host"], int(found["pid"]),
                at if at.tzinfo else at.replace(tzinfo=timezone.utc))
