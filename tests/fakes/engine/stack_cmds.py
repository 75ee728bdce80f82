"""`pulumi stack ...` and `pulumi cancel` on the DIY backend."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.engine import locks, secrets, settings
from tests.fakes.engine.backend import VERSION, now_iso
from tests.fakes.engine.context import Context
from tests.fakes.engine.errors import CliError, not_implemented
from tests.fakes.engine.props import mask, reveal
from tests.fakes.engine.snapshot import checkpoint


def _latest(ctx: Context, project: str, stack: str) -> dict[str, Any]:
    return ctx.backend.load(project, stack)["checkpoint"].get("latest") or {}


def select(ctx: Context, pos: list[str]) -> int:
    project, stack = ctx.stack_ref(pos[0] if pos else None)
    if not ctx.backend.exists(project, stack):
        if not ctx.flags.get("create"):
            raise CliError(f"no stack named '{stack}' found")
        return init(ctx, [stack])
    ctx.select(stack)
    return 0


def init(ctx: Context, pos: list[str]) -> int:
    project, stack = ctx.stack_ref(pos[0] if pos else None)
    provider = (ctx.flags.get("secrets-provider") or ["passphrase"])[-1]
    if provider not in ("passphrase", "default"):
        raise not_implemented(f"pulumi stack init --secrets-provider {provider}")
    if ctx.backend.exists(project, stack):
        raise CliError(f"stack 'organization/{project}/{stack}' already exists")
    ctx.crypter(project, stack)  # creates (or checks) the salt in Pulumi.<stack>.yaml
    ctx.backend.ensure_meta()
    ctx.backend.save(project, stack, checkpoint(project, stack, None))
    if not ctx.flags.get("no-select"):
        ctx.select(stack)
    print(f"Created stack '{stack}'")
    return 0


def ls(ctx: Context, pos: list[str]) -> int:
    current = ctx.current()
    rows = []
    for project, stack in ctx.backend.list_stacks():
        if project != ctx.project.name and not ctx.flags.get("all"):
            continue
        latest = _latest(ctx, project, stack)
        name = stack if project == ctx.project.name else f"organization/{project}/{stack}"
        row: dict[str, Any] = {"name": name, "current": project == ctx.project.name
                               and stack == current}
        if latest:
            row["lastUpdate"] = latest["manifest"]["time"]
            row["resourceCount"] = len(latest.get("resources", []))
        row["url"] = f"{ctx.backend.url}/.pulumi/stacks/{project}/{stack}.json"
        rows.append(row)
    print(json.dumps(rows, indent=4))
    return 0


def rm(ctx: Context, pos: list[str]) -> int:
    project, stack = ctx.require_stack(pos[0] if pos else None)
    lock = locks.acquire(ctx.backend, project, stack)
    try:
        resources = [r for r in _latest(ctx, project, stack).get("resources", [])
                     if r["type"] != "pulumi:pulumi:Stack"]
        if resources and not ctx.flags.get("force"):
            raise CliError("refusing to remove stack because it still contains resources. "
                           "Run `pulumi destroy` first, or use --force to orphan them")
        ctx.backend.remove(project, stack, bool(ctx.flags.get("remove-backups")))
    finally:
        locks.release(lock)
    if not ctx.flags.get("preserve-config"):
        settings.stack_file(ctx.cwd, stack).unlink(missing_ok=True)
    print(f"Stack '{stack}' has been removed!")
    return 0


def output(ctx: Context, pos: list[str]) -> int:
    project, stack = ctx.require_stack()
    root = next((r for r in _latest(ctx, project, stack).get("resources", [])
                 if r["type"] == "pulumi:pulumi:Stack"), {})
    outputs = root.get("outputs") or {}
    if ctx.flags.get("show-secrets"):
        outputs = _plain(secrets.unseal(outputs, ctx.crypter(project, stack)))
    else:
        outputs = mask(outputs)
    if pos:
        if pos[0] not in outputs:
            raise CliError(f"current stack does not have output property '{pos[0]}'")
        outputs = outputs[pos[0]]
    print(json.dumps(outputs, indent=2) if ctx.flags.get("json") or not pos else outputs)
    return 0


def _plain(value: Any) -> Any:
    return reveal(value)


def export(ctx: Context, pos: list[str]) -> int:
    project, stack = ctx.require_stack()
    latest = _latest(ctx, project, stack) or {
        "manifest": {"time": now_iso(), "magic": "", "version": VERSION}}
    if ctx.flags.get("show-secrets"):
        latest = secrets.exportable(secrets.unseal(latest, ctx.crypter(project, stack)))
    text = json.dumps({"version": 3, "deployment": latest}, indent=4)
    if ctx.flags.get("file"):
        with open(ctx.flags["file"][-1], "w") as handle:
            handle.write(text)
    else:
        print(text)
    return 0


def import_(ctx: Context, pos: list[str]) -> int:
    project, stack = ctx.require_stack()
    if not ctx.flags.get("file"):
        raise not_implemented("pulumi stack import from stdin")
    with open(ctx.flags["file"][-1]) as handle:
        data = json.load(handle)
    deployment = data.get("deployment") or {}
    lock = locks.acquire(ctx.backend, project, stack)
    try:
        if "plaintext" in json.dumps(deployment):
            crypter = ctx.crypter(project, stack)
            deployment = secrets.seal(secrets.unseal(deployment, None), crypter)
        ctx.backend.save(project, stack, checkpoint(project, stack, deployment))
    finally:
        locks.release(lock)
    print("Import complete.")
    return 0


def history(ctx: Context, pos: list[str]) -> int:
    project, stack = ctx.require_stack()
    entries = ctx.backend.history(project, stack)
    show = bool(ctx.flags.get("show-secrets"))
    for entry in entries:
        for value in entry.get("config", {}).values():
            if value.get("secret"):
                value["value"] = (ctx.crypter(project, stack).decrypt(value["value"])
                                  if show else "[secret]")
    size = int((ctx.flags.get("page-size") or ["0"])[-1])
    if size:
        page = int((ctx.flags.get("page") or ["1"])[-1])
        entries = entries[(page - 1) * size:page * size]
    print(json.dumps(entries, indent=4))
    return 0


def tag(ctx: Context, pos: list[str]) -> int:
    if not pos:
        raise not_implemented("pulumi stack tag")
    project, stack = ctx.require_stack()
    tags = ctx.backend.tags(project, stack)
    action, args = pos[0], pos[1:]
    if action == "set" and len(args) == 2:
        ctx.backend.save_tags(project, stack, {**tags, args[0]: args[1]})
    elif action == "rm" and len(args) == 1:
        tags.pop(args[0], None)
        ctx.backend.save_tags(project, stack, tags)
    elif action == "get" and len(args) == 1:
        shown = {"pulumi:project": project, **tags}
        if args[0] not in shown:
            raise CliError(f"stack tag '{args[0]}' not found for stack '{stack}'")
        print(shown[args[0]])
    elif action == "ls":
        print(json.dumps({"pulumi:project": project, **tags}, indent=4))
    else:
        raise not_implemented(f"pulumi stack tag {' '.join(pos)}")
    return 0


def cancel(ctx: Context, pos: list[str]) -> int:
    project, stack = ctx.require_stack(pos[0] if pos else None)
    locks.cancel(ctx.backend, project, stack)
    print(f"The currently running update for '{stack}' has been canceled!")
    return 0
