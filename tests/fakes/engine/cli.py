"""Entry point of the stand-in `pulumi`: argv in the shapes the Automation API 3.272 produces,
dispatched to the commands; every failure is `error: ...` on stderr and exit 255."""

from __future__ import annotations

import getpass
import importlib
import json
import sys
from collections.abc import Callable
from typing import Any

from tests.fakes.engine.errors import CliError, not_implemented, say

VERSION = "v3.272.0"

GLOBAL = {"non-interactive", "color", "logflow", "logtostderr", "verbose", "tracing", "emoji",
          "disable-integrity-checking", "fully-qualify-stack-names", "memprofilerate",
          "otel-traces", "profiling", "tracing-header", "debug", "stack", "yes"}
VALUES = {"stack", "color", "verbose", "tracing", "memprofilerate", "otel-traces", "profiling",
          "tracing-header", "secrets-provider", "file", "page-size", "page", "event-log",
          "client", "exec-kind", "parallel", "target", "exclude", "replace", "message",
          "config-file", "policy-pack", "policy-pack-config"}
SHORT = {"s": "stack", "p": "parallel", "t": "target", "m": "message", "y": "yes", "f": "force",
         "j": "json", "v": "verbose"}
OPS = {"skip-preview", "diff", "expect-no-changes", "target-dependents", "suppress-outputs",
       "suppress-progress", "continue-on-error", "refresh", "run-program", "client",
       "exec-kind", "event-log", "parallel", "message", "config-file", "show-secrets"}

Handler = Callable[[Any, list[str]], int]


def _lazy(module: str, name: str) -> Handler:
    """Import a command's module only when it runs: `pulumi version` must stay cheap."""
    def handler(ctx: Any, pos: list[str]) -> int:
        return getattr(importlib.import_module(f"tests.fakes.engine.{module}"), name)(ctx, pos)
    return handler


def _operation(kind: str) -> Handler:
    def handler(ctx: Any, pos: list[str]) -> int:
        from tests.fakes.engine import operations
        code = operations.run(kind, ctx)
        if code == 0 and kind == "destroy" and ctx.flags.get("remove"):
            return _lazy("stack_cmds", "rm")(ctx, [])
        return code
    return handler
S, C = "stack_cmds", "config_cmds"
COMMANDS: dict[tuple[str, ...], tuple[Handler, set[str], set[str]]] = {
    # path: (handler, allowed flags, flags taking a value besides VALUES)
    ("stack", "select"): (_lazy(S, "select"), {"create", "secrets-provider"}, set()),
    ("stack",): (_lazy(S, "select"), set(), set()),
    ("stack", "init"): (_lazy(S, "init"), {"secrets-provider", "no-select"}, set()),
    ("stack", "ls"): (_lazy(S, "ls"), {"json", "all"}, set()),
    ("stack", "rm"): (_lazy(S, "rm"), {"force", "preserve-config", "remove-backups"}, set()),
    ("stack", "output"): (_lazy(S, "output"), {"json", "show-secrets"}, set()),
    ("stack", "export"): (_lazy(S, "export"), {"show-secrets", "file"}, set()),
    ("stack", "import"): (_lazy(S, "import_"), {"file", "force"}, set()),
    ("stack", "history"): (_lazy(S, "history"), {"json", "show-secrets", "page-size", "page"},
                           set()),
    ("stack", "tag"): (_lazy(S, "tag"), {"json"}, set()),
    ("config",): (_lazy(C, "run"), {"json", "show-secrets", "secret", "plaintext", "path",
                                    "force"}, set()),
    ("config", "set-all"): (_lazy(C, "run"), {"json", "secret", "plaintext", "path"},
                            {"json", "secret", "plaintext"}),
    ("cancel",): (_lazy(S, "cancel"), set(), set()),
    ("up",): (_operation("update"), OPS | {"replace"}, set()),
    ("refresh",): (_operation("refresh"), OPS | {"clear-pending-creates"}, set()),
    ("destroy",): (_operation("destroy"), OPS | {"target", "exclude-protected", "remove"},
                   set()),
}


def parse(argv: list[str], values: set[str]) -> tuple[list[str], dict[str, list[str]]]:
    positional: list[str] = []
    flags: dict[str, list[str]] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            positional.extend(argv[i + 1:])
            break
        if arg.startswith("-") and len(arg) > 1:
            name, eq, value = arg.lstrip("-").partition("=")
            name = SHORT.get(name, name) if not arg.startswith("--") else name
            if not eq:
                if name in values and i + 1 < len(argv):
                    i += 1
                    value = argv[i]
                else:
                    value = "true"
            flags.setdefault(name, []).append(value)
        else:
            positional.append(arg)
        i += 1
    return positional, flags


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except CliError as exc:
        say(f"error: {exc.message}", sys.stderr)
        return exc.code


def _dispatch(args: list[str]) -> int:
    words = [a for a in args if not a.startswith("-")]
    if words[:1] == ["version"]:
        print(VERSION)
        return 0
    if words[:1] == ["whoami"]:
        user = getpass.getuser()
        print(json.dumps({"user": user, "organizations": [], "url": ""})
              if "--json" in args else user)
        return 0
    for size in (3, 2, 1):
        path = tuple(words[:size])
        if path in COMMANDS and _is_command_prefix(args, path):
            handler, allowed, extra = COMMANDS[path]
            rest = list(args)
            for word in path:
                rest.remove(word)
            positional, flags = parse(rest, VALUES | extra)
            unknown = set(flags) - allowed - GLOBAL
            if unknown:
                raise not_implemented(f"pulumi {' '.join(path)} --{sorted(unknown)[0]}")
            from tests.fakes.engine.context import Context
            return handler(Context(flags), positional)
    raise not_implemented(f"pulumi {' '.join(words[:2]) or ' '.join(args)}")


def _is_command_prefix(args: list[str], path: tuple[str, ...]) -> bool:
    """The command words come before any `--` separator; bare `stack` takes only flags."""
    cut = args.index("--") if "--" in args else len(args)
    if not all(word in args[:cut] for word in path):
        return False
    if path == ("stack",):
        after = args[args.index("stack") + 1:]
        return not after or after[0].startswith("-")
    return True
