"""The Typer application: global options, command registration, and error handling.

Each module in `cml_cli.commands` exposes `register(app)`; this file only wires them
in, so commands arrive without touching anything else. Command modules import
nothing heavy at module level: `cml-infra --help` must not pay for Pulumi, a cloud
SDK, PyGithub or a plotting library.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cml_cli import errors
from cml_cli.redact import redact

INFRA_PANEL = "Infrastructure"
REPORTING_PANEL = "Reporting"

# Modules under cml_cli.commands, each with a `register(app)` function.
COMMAND_MODULES: tuple[str, ...] = ("up", "down", "status", "gc", "comment", "check", "metrics",
                                   "plot")


def first_sentence(text: str) -> str:
    """The first sentence of a help text's first paragraph, whole: Click's own short help
    cuts it at 45 characters (or the terminal width) with '...'."""
    words = " ".join(text.split("\n\n")[0].split())
    end = words.find(". ")
    return words if end < 0 else words[: end + 1]


def whole_short_help(command: Any) -> None:
    """Give `command` and every subcommand its first sentence as short help, unless it has one;
    the help formatter wraps it instead of cutting it."""
    if command.short_help is None and command.help:
        command.short_help = first_sentence(command.help)
    readable_arguments(command)
    for sub in getattr(command, "commands", {}).values():
        whole_short_help(sub)


def readable_arguments(command: Any) -> None:
    """Show an argument by its metavar (else its name) alone, `STACK...`, in the usage line
    and the help, as options are shown: Typer adds the Python type to it (`STACK <list[str]>`,
    `report <path>`) or braces (`{SOURCE}`); a choice shows its values (`--forge github|gitlab`).
    The one mechanism for every command."""
    for param in getattr(command, "params", []):
        if param.param_type_name == "option" and param.metavar is None:  # `a|b`, not `<a|b>`
            shown_type = param.display_type_rich
            param.display_type_rich = lambda ctx, shown_type=shown_type: _unbracketed(
                shown_type(ctx))
        if param.param_type_name == "argument":
            name = param.metavar or (param.name or "").upper()
            many = param.nargs != 1 and "..." not in name
            shown = name + ("..." if many else "")
            param.display_type_rich = lambda ctx: None
            param._rich_display_name = lambda shown=shown: shown
            usage = shown if param.required or shown.startswith("[") else f"[{shown}]"
            param._usage_display_name = lambda usage=usage: usage


def _unbracketed(shown: str | None) -> str | None:
    """`<a|b>` as `a|b`, the way choices are written elsewhere in the help."""
    if shown and shown.startswith("<") and shown.endswith(">") and "|" in shown:
        return shown[1:-1]
    return shown


class PanelGroup(TyperGroup):
    """Lists commands under their help panel (Infrastructure, Reporting) in plain-text help,
    each with its whole first sentence (`whole_short_help`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        whole_short_help(self)

    def format_commands(self, ctx, formatter) -> None:  # type: ignore[no-untyped-def]
        panels: dict[str, list[tuple[str, str]]] = {}
        commands = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        shown = [(name, cmd) for name, cmd in commands if cmd is not None and not cmd.hidden]
        if not shown:
            return
        for name, cmd in shown:
            panel = getattr(cmd, "rich_help_panel", None) or "Commands"
            panels.setdefault(panel, []).append((name, cmd.get_short_help_str()))
        for panel, rows in panels.items():
            with formatter.section(panel):
                formatter.write_dl(rows)


app = typer.Typer(
    name="cml-infra",
    cls=PanelGroup,
    rich_markup_mode=None,
    help=(
        "CI/CD for machine learning: GPU runners for GitHub Actions and GitLab CI on "
        "AWS, GCP, Azure and Alibaba Cloud, and ML reports in pull requests.\n\n"
        "Example: cml-infra up --cloud aws --gpu --dry-run"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _State:
    debug: bool = False


def debug_enabled() -> bool:
    return _State.debug or os.environ.get("CML_INFRA_DEBUG", "") not in ("", "0", "false")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"cml-infra {version('cml-infra')}")
        except PackageNotFoundError:
            typer.echo("cml-infra (not installed as a package)")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show tracebacks on errors (same as CML_INFRA_DEBUG=1); "
                     "also taken after the command, as in cml-infra up --debug."),
    ] = False,
) -> None:
    _State.debug = _State.debug or debug  # main() may have taken --debug from after the command


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"cml_cli.commands.{name}").register(app)


_register_commands()


INTERRUPTED = 130  # 128 + SIGINT, the shell convention


def fail(sentence: str, code: int = 1) -> None:
    """Print one redacted sentence to stderr and exit with `code`."""
    typer.echo(f"Error: {redact(sentence)}", err=True)
    sys.exit(code)


def without_debug(argv: list[str]) -> list[str]:
    """`argv` minus every --debug before a `--`, which turns debugging on: it is a global
    option wherever a user puts it (`cml-infra up --debug` as well as `cml-infra --debug up`)."""
    end = argv.index("--") if "--" in argv else len(argv)
    _State.debug = "--debug" in argv[:end]
    return [arg for arg in argv[:end] if arg != "--debug"] + argv[end:]


def command_path(args: list[str]) -> str:
    """The command `args` name (`cml-infra metrics diff`), as far as they name one: a usage
    error points at that command's help. Click's parser leaves some errors without the
    command's context ("Option '--gpu' does not take a value")."""
    command: Any = typer.main.get_command(app)
    path = ["cml-infra"]
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("-"):
            continue
        sub = getattr(command, "commands", {}).get(arg)
        if sub is None:
            break
        command, path = sub, [*path, arg]
    return " ".join(path)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `cml-infra` console script."""
    try:
        args = without_debug(list(sys.argv[1:] if argv is None else argv))
        code = app(args=args, prog_name="cml-infra", standalone_mode=False)
    except typer.TyperException as exc:  # unknown option, bad value, missing argument
        # A group called without its command shows its help, as --help does. Typer's own
        # check goes by the class name too (typer/rich_utils.py), the class being private.
        if type(exc).__name__ == "NoArgsIsHelpError":
            typer.echo(exc.ctx.get_help())  # type: ignore[attr-defined]
            sys.exit(0)
        fail(errors.usage_sentence(exc, command_path(args)), code=getattr(exc, "exit_code", 2))
    except (typer.Abort, KeyboardInterrupt):
        code = INTERRUPTED
    except Exception as exc:
        from infra.engine.cancel import Cancelled

        if isinstance(exc, Cancelled):  # the clean-up is done; its outcome is the sentence
            fail(str(exc), code=INTERRUPTED)
        if debug_enabled():  # the traceback, then the sentence last, where it is seen
            import traceback

            typer.echo(redact(traceback.format_exc()).rstrip("\n"), err=True)
        fail(errors.sentence_for(exc))
    if code == INTERRUPTED:  # typer turns Ctrl-C in a command into this exit code
        fail("Interrupted.", code=INTERRUPTED)  # `up` has printed what it cleaned up, if any
    sys.exit(code if isinstance(code, int) else 0)
