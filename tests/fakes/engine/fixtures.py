"""The `fake_pulumi` fixture: the stand-in CLI installed in a temporary bin dir, a fresh
file:// backend, its fake cloud, the environment to run the Automation API with, and helpers
to look at checkpoints, pending operations and lock files."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.engine.cloud import FakeCloud
from tests.fakes.engine.install import ROOT, install_fake_pulumi

PASSPHRASE = "correct horse battery staple"


@dataclass
class FakePulumi:
    executable: Path
    backend_dir: Path
    work_dir: Path
    cloud: FakeCloud
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bin_dir(self) -> Path:
        return self.executable.parent

    @property
    def root(self) -> Path:
        """For `PulumiCommand(root=...)`, which runs `<root>/bin/pulumi`."""
        return self.bin_dir.parent

    @property
    def backend_url(self) -> str:
        return f"file://{self.backend_dir}"

    def command(self) -> Any:
        from pulumi import automation as auto
        return auto.PulumiCommand(root=str(self.root))

    def options(self, project: str = "proj", work_dir: Path | None = None,
                env: dict[str, str] | None = None) -> Any:
        """LocalWorkspaceOptions for an inline program on this backend."""
        from pulumi import automation as auto
        settings = auto.ProjectSettings(name=project, runtime="python",
                                        backend=auto.ProjectBackend(url=self.backend_url))
        folder = work_dir or self.work_dir / project
        folder.mkdir(parents=True, exist_ok=True)
        return auto.LocalWorkspaceOptions(work_dir=str(folder), project_settings=settings,
                                          env_vars={**self.env, **(env or {})},
                                          pulumi_command=self.command())

    def checkpoint(self, stack: str, project: str = "proj") -> dict[str, Any] | None:
        path = self.backend_dir / ".pulumi" / "stacks" / project / f"{stack}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def _latest(self, stack: str, project: str) -> dict[str, Any]:
        return ((self.checkpoint(stack, project) or {}).get("checkpoint") or {}).get(
            "latest") or {}

    def resources(self, stack: str, project: str = "proj") -> list[dict[str, Any]]:
        return self._latest(stack, project).get("resources", [])

    def urns(self, stack: str, project: str = "proj") -> list[str]:
        return [r["urn"] for r in self.resources(stack, project)]

    def pending_operations(self, stack: str, project: str = "proj") -> list[dict[str, Any]]:
        return self._latest(stack, project).get("pending_operations") or []

    def lock_files(self, stack: str, project: str = "proj") -> list[Path]:
        folder = self.backend_dir / ".pulumi" / "locks" / "organization" / project / stack
        return sorted(folder.glob("*.json"))

    def backend_files(self) -> list[Path]:
        return [p for p in self.backend_dir.rglob("*") if p.is_file()]

    def children(self, parent: int | None = None) -> list[int]:
        """Pids of running stand-in processes started by `parent` (default: this process)."""
        parent = os.getpid() if parent is None else parent
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == parent and str(self.executable).encode() in argv[:2]:
                found.append(int(entry.name))
        return found


@pytest.fixture
def fake_pulumi(tmp_path: Path) -> Iterator[FakePulumi]:
    executable = install_fake_pulumi(tmp_path / "pulumi-root" / "bin")
    backend = tmp_path / "state"
    backend.mkdir()
    env = {
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_PYTHON_CMD": sys.executable,
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PATH": f"{executable.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH"))
                                      if p),
    }
    yield FakePulumi(executable=executable, backend_dir=backend, work_dir=tmp_path / "work",
                     cloud=FakeCloud(backend), env=env)
