"""The DIY backend on a local folder, v1 layout (project-scoped stacks).

.pulumi/meta.yaml, .pulumi/stacks/<project>/<stack>.json (+ .json.bak), .pulumi-tags beside
it, .pulumi/history/<project>/<stack>/, .pulumi/backups/<project>/<stack>/, and lock files
under .pulumi/locks/organization/<project>/<stack>/ (locks.py).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from tests.fakes.engine.errors import CliError

VERSION = "v3.272.0"


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Backend:
    def __init__(self, url: str, cwd: Path) -> None:
        if not url.startswith("file://"):
            raise CliError(f"the stand-in pulumi supports only file:// backends, not {url!r}")
        path = unquote(urlparse(url).path) if url.startswith("file:///") else url[7:]
        root = Path(os.path.expanduser(path))
        self.root = root if root.is_absolute() else (cwd / root).resolve()
        self.url = url.rstrip("/")
        self.dot = self.root / ".pulumi"

    # paths
    def checkpoint_path(self, project: str, stack: str) -> Path:
        return self.dot / "stacks" / project / f"{stack}.json"

    def tags_path(self, project: str, stack: str) -> Path:
        return self.dot / "stacks" / project / f"{stack}.pulumi-tags"

    def history_dir(self, project: str, stack: str) -> Path:
        return self.dot / "history" / project / stack

    def backups_dir(self, project: str, stack: str) -> Path:
        return self.dot / "backups" / project / stack

    def locks_dir(self, project: str, stack: str) -> Path:
        return self.dot / "locks" / "organization" / project / stack

    # stacks
    def ensure_meta(self) -> None:
        meta = self.dot / "meta.yaml"
        if not meta.exists():
            meta.parent.mkdir(parents=True, exist_ok=True)
            meta.write_text("version: 1\n")

    def exists(self, project: str, stack: str) -> bool:
        return self.checkpoint_path(project, stack).exists()

    def load(self, project: str, stack: str) -> dict[str, Any]:
        return json.loads(self.checkpoint_path(project, stack).read_text())

    def save(self, project: str, stack: str, data: dict[str, Any]) -> None:
        write_json(self.checkpoint_path(project, stack), data)

    def backup(self, project: str, stack: str) -> None:
        """Keep the checkpoint as it was before an operation (`.json.bak` and backups/)."""
        path = self.checkpoint_path(project, stack)
        if os.environ.get("PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS") or not path.exists():
            return
        shutil.copyfile(path, path.with_suffix(".json.bak"))
        folder = self.backups_dir(project, stack)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / f"{stack}.{time.time_ns()}.json")

    def list_stacks(self) -> list[tuple[str, str]]:
        found = []
        for path in sorted((self.dot / "stacks").glob("*/*.json")):
            found.append((path.parent.name, path.stem))
        return found

    def remove(self, project: str, stack: str, remove_backups: bool) -> None:
        path = self.checkpoint_path(project, stack)
        os.replace(path, path.with_suffix(".json.bak"))
        shutil.rmtree(self.history_dir(project, stack), ignore_errors=True)
        self.tags_path(project, stack).unlink(missing_ok=True)
        if remove_backups:
            path.with_suffix(".json.bak").unlink(missing_ok=True)
            shutil.rmtree(self.backups_dir(project, stack), ignore_errors=True)

    # history and tags
    def add_history(self, project: str, stack: str, entry: dict[str, Any]) -> None:
        folder = self.history_dir(project, stack)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{stack}-{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        write_json(folder / f"{name}.history.json", entry)
        path = self.checkpoint_path(project, stack)
        if path.exists():
            shutil.copyfile(path, folder / f"{name}.checkpoint.json")

    def history(self, project: str, stack: str) -> list[dict[str, Any]]:
        files = sorted(self.history_dir(project, stack).glob("*.history.json"), reverse=True)
        return [json.loads(f.read_text()) for f in files]

    def tags(self, project: str, stack: str) -> dict[str, str]:
        path = self.tags_path(project, stack)
        return json.loads(path.read_text()) if path.exists() else {}

    def save_tags(self, project: str, stack: str, tags: dict[str, str]) -> None:
        write_json(self.tags_path(project, stack), tags)


def write_json(path: Path, data: Any) -> None:
    """Write atomically, so a reader (or a kill) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
    tmp.write_text(json.dumps(data, indent=4))
    os.replace(tmp, path)
