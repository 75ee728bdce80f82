"""Pulumi.yaml and Pulumi.<stack>.yaml in the working directory, and stack names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.fakes.engine.errors import CliError


@dataclass
class Project:
    name: str
    backend_url: str | None
    main: str | None


def load_project(cwd: Path) -> Project:
    for ext in (".yaml", ".yml", ".json"):
        path = cwd / f"Pulumi{ext}"
        if path.exists():
            data = json.loads(path.read_text()) if ext == ".json" else yaml.safe_load(
                path.read_text())
            backend = data.get("backend") or {}
            return Project(name=data["name"], backend_url=backend.get("url"),
                           main=data.get("main"))
    raise CliError(f"no Pulumi.yaml project file found (searching upwards from {cwd}). If you "
                   "have not created a project yet, use `pulumi new` to do so")


def split_stack(name: str, project: str) -> tuple[str, str]:
    """(project, stack) of `stack`, `organization/stack` or `organization/<project>/<stack>`."""
    parts = name.split("/")
    if len(parts) == 1:
        return project, parts[0]
    if parts[0] != "organization":
        raise CliError(f"organization name must be 'organization', got {parts[0]!r} "
                       f"(DIY backends have no organizations)")
    if len(parts) == 2:
        return project, parts[1]
    if len(parts) == 3:
        return parts[1], parts[2]
    raise CliError(f"could not parse stack reference '{name}'")


def stack_file(cwd: Path, stack: str) -> Path:
    for ext in (".yaml", ".yml", ".json"):
        path = cwd / f"Pulumi.{stack}{ext}"
        if path.exists():
            return path
    return cwd / f"Pulumi.{stack}.yaml"


def load_stack_settings(cwd: Path, stack: str) -> dict[str, Any]:
    path = stack_file(cwd, stack)
    if not path.exists():
        return {}
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return data or {}


def save_stack_settings(cwd: Path, stack: str, data: dict[str, Any]) -> None:
    path = stack_file(cwd, stack)
    if path.suffix == ".json":
        path.write_text(json.dumps(data, indent=4))
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=True))


def full_key(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"
