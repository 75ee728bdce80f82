"""What every stack command needs: project, backend, the stack named, its secrets and config."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.fakes.engine import secrets, settings
from tests.fakes.engine.backend import Backend
from tests.fakes.engine.errors import CliError

CURRENT_FILE = ".pulumi-stand-in-current-stack"


class Context:
    def __init__(self, flags: dict[str, list[str]], cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.flags = flags
        self.cwd = cwd or Path.cwd()
        self.env = dict(os.environ if env is None else env)
        self.project = settings.load_project(self.cwd)
        url = self.env.get("PULUMI_BACKEND_URL") or self.project.backend_url
        if not url:
            raise CliError("the stand-in pulumi needs a DIY backend: set PULUMI_BACKEND_URL or "
                           "backend.url in Pulumi.yaml to a file:// URL")
        self.backend = Backend(url, self.cwd)
        self._crypter: secrets.Crypter | None = None

    # stack selection
    def stack_ref(self, name: str | None = None, *, check_project: bool = True) -> tuple[str, str]:
        name = name or _last(self.flags, "stack") or self.current()
        if not name:
            raise CliError("no stack selected; please use `pulumi stack select`")
        project, stack = settings.split_stack(name, self.project.name)
        if check_project and project != self.project.name:
            raise CliError(f'provided project name "{project}" doesn\'t match Pulumi.yaml')
        return project, stack

    def require_stack(self, name: str | None = None, **kw: Any) -> tuple[str, str]:
        project, stack = self.stack_ref(name, **kw)
        if not self.backend.exists(project, stack):
            raise CliError(f"no stack named '{stack}' found")
        return project, stack

    def current(self) -> str | None:
        path = self.cwd / CURRENT_FILE
        return json.loads(path.read_text()).get("stack") if path.exists() else None

    def select(self, stack: str) -> None:
        (self.cwd / CURRENT_FILE).write_text(json.dumps({"stack": stack}))

    # secrets and config
    def stack_settings(self, stack: str) -> dict[str, Any]:
        return settings.load_stack_settings(self.cwd, stack)

    def crypter(self, project: str, stack: str, prefix: str = "") -> secrets.Crypter:
        """The stack's crypter; the real CLI's errors when the passphrase is missing or wrong."""
        if self._crypter is not None:
            return self._crypter
        data = self.stack_settings(stack)
        state = data.get("encryptionsalt") or self._checkpoint_salt(project, stack)
        try:
            phrase = secrets.read_passphrase(self.env)
            if state:
                self._crypter = secrets.open_state(phrase, state)
            else:
                state, self._crypter = secrets.new_state(phrase)
        except CliError as exc:
            raise CliError(prefix + exc.message) from exc
        if data.get("encryptionsalt") != state:
            data["encryptionsalt"] = state
            settings.save_stack_settings(self.cwd, stack, data)
        return self._crypter

    def _checkpoint_salt(self, project: str, stack: str) -> str | None:
        if not self.backend.exists(project, stack):
            return None
        latest = self.backend.load(project, stack)["checkpoint"].get("latest") or {}
        provider = latest.get("secrets_providers") or {}
        return (provider.get("state") or {}).get("salt")

    def config(self, project: str, stack: str,
               prefix: str = "") -> tuple[dict[str, str], list[str]]:
        """Stack config as the language host gets it: "ns:key" -> string, and the secret keys."""
        raw = self.stack_settings(stack).get("config") or {}
        values, secret_keys = {}, []
        for key, value in raw.items():
            full = settings.full_key(key, project)
            if isinstance(value, dict) and set(value) == {"secure"}:
                crypter = self.crypter(project, stack, prefix)
                values[full] = crypter.decrypt(value["secure"])
                secret_keys.append(full)
            else:
                values[full] = value if isinstance(value, str) else json.dumps(value)
        return values, secret_keys


def _last(flags: dict[str, list[str]], name: str) -> str | None:
    values = flags.get(name)
    return values[-1] if values else None
