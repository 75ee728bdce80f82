"""`pulumi config ...`: values in Pulumi.<stack>.yaml, secrets as `secure:` ciphertext."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.engine import settings
from tests.fakes.engine.context import Context
from tests.fakes.engine.errors import CliError, not_implemented


def _load(ctx: Context) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    project, stack = ctx.require_stack()
    data = ctx.stack_settings(stack)
    return project, stack, data, data.setdefault("config", {}) or {}


def _save(ctx: Context, stack: str, data: dict[str, Any], config: dict[str, Any]) -> None:
    data["config"] = config
    settings.save_stack_settings(ctx.cwd, stack, data)


def _store(ctx: Context, project: str, stack: str, config: dict[str, Any], key: str,
           value: str, secret: bool) -> None:
    if ctx.flags.get("path"):
        raise not_implemented("pulumi config --path")
    full = settings.full_key(key, project)
    config[full] = {"secure": ctx.crypter(project, stack).encrypt(value)} if secret else value


def _show(ctx: Context, project: str, stack: str, value: Any, reveal: bool) -> dict[str, Any]:
    if isinstance(value, dict) and set(value) == {"secure"}:
        shown = ctx.crypter(project, stack).decrypt(value["secure"]) if reveal else "[secret]"
        return {"value": shown, "secret": True}
    text = value if isinstance(value, str) else json.dumps(value)
    return {"value": text, "secret": False}


def run(ctx: Context, pos: list[str]) -> int:
    action, args = (pos[0], pos[1:]) if pos else ("", [])
    project, stack, data, config = _load(ctx)
    if action == "":
        shown = {settings.full_key(k, project): _show(ctx, project, stack, v,
                                                      bool(ctx.flags.get("show-secrets")))
                 for k, v in config.items()}
        print(json.dumps(shown, indent=4))
        return 0
    if action == "get" and len(args) == 1:
        full = settings.full_key(args[0], project)
        match = next((v for k, v in config.items() if settings.full_key(k, project) == full),
                     None)
        if match is None:
            raise CliError(f"configuration key '{full}' not found for stack '{stack}'")
        shown = _show(ctx, project, stack, match, True)
        print(json.dumps(shown) if ctx.flags.get("json") else shown["value"])
        return 0
    if action == "set" and len(args) == 2:
        _store(ctx, project, stack, config, args[0], args[1], bool(ctx.flags.get("secret")))
    elif action == "set-all":
        for item in ctx.flags.get("plaintext", []):
            _store(ctx, project, stack, config, *item.split("=", 1), secret=False)
        for item in ctx.flags.get("secret", []):
            _store(ctx, project, stack, config, *item.split("=", 1), secret=True)
        for key, spec in json.loads((ctx.flags.get("json") or ["{}"])[-1]).items():
            _store(ctx, project, stack, config, key, str(spec.get("value")),
                   bool(spec.get("secret")))
    elif action in ("rm", "rm-all") and args:
        wanted = {settings.full_key(a, project) for a in args}
        config = {k: v for k, v in config.items()
                  if settings.full_key(k, project) not in wanted}
    elif action == "refresh":
        return 0  # the stack file is already the one this workspace uses
    else:
        raise not_implemented(f"pulumi config {' '.join(pos)}")
    _save(ctx, stack, data, config)
    return 0
