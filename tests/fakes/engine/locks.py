"""DIY stack locks: one `<uuid>.json` per holder with {pid, username, hostname, timestamp}.

Taking a lock is check, write, re-check, as the real backend does; there is no lease. `pulumi
cancel` deletes every lock file of the stack and stops nothing.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from datetime import datetime, timezone
from pathlib import Path

from tests.fakes.engine.backend import Backend
from tests.fakes.engine.errors import CliError, say


def lock_files(backend: Backend, project: str, stack: str) -> list[Path]:
    return sorted(backend.locks_dir(project, stack).glob("*.json"))


def acquire(backend: Backend, project: str, stack: str) -> Path:
    held = lock_files(backend, project, stack)
    if held:
        raise CliError(_held_message(backend, held))
    folder = backend.locks_dir(project, stack)
    folder.mkdir(parents=True, exist_ok=True)
    mine = folder / f"{uuid.uuid4()}.json"
    content = {"pid": os.getpid(), "username": getpass.getuser(),
               "hostname": socket.gethostname(),
               "timestamp": datetime.now(timezone.utc).isoformat()}
    mine.write_text(json.dumps(content))
    others = [p for p in lock_files(backend, project, stack) if p != mine]
    if others:
        mine.unlink(missing_ok=True)
        raise CliError(_held_message(backend, others))
    return mine


def release(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink()
        except OSError as exc:
            say(f"warning: failed to remove lock file {path}: {exc}; "
                "manual clean up may be required")


def cancel(backend: Backend, project: str, stack: str) -> int:
    files = lock_files(backend, project, stack)
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


def _held_message(backend: Backend, files: list[Path]) -> str:
    text = (f"the stack is currently locked by {len(files)} lock(s). Either wait for the other "
            "process(es) to end or delete the lock file with `pulumi cancel`.")
    for path in files:
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        when = datetime.fromisoformat(info["timestamp"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        rel = path.relative_to(backend.root).as_posix()
        text += (f"\n  {backend.url}/{rel}: created by {info['username']}@{info['hostname']} "
                 f"(pid {info['pid']}) at {when}")
    return text
