"""One table from exception type to the sentence a user reads, applied once in `main()`.

Library exceptions (`infra.errors.InfraError`, `reporting.errors.ReportingError`) already
carry their sentence. Everything else a user can cause is listed here; anything not
listed is a bug of ours, reported as such with a pointer to `--debug`.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

DEBUG_HINT = "run again with --debug (or CML_INFRA_DEBUG=1) to see the traceback"


def _missing_file(exc: BaseException) -> str:
    name = getattr(exc, "filename", None) or exc
    return f"File not found: {name}; check the path and try again."


def _no_permission(exc: BaseException) -> str:
    name = getattr(exc, "filename", None) or exc
    return f"Permission denied reading or writing {name}; check the file's permissions."


def _is_directory(exc: BaseException) -> str:
    name = getattr(exc, "filename", None) or exc
    return f"{name} is a directory; give the path of a file."


_TABLE: tuple[tuple[type[BaseException], Callable[[BaseException], str]], ...] = (
    (FileNotFoundError, _missing_file),
    (IsADirectoryError, _is_directory),
    (PermissionError, _no_permission),
)


def _engine_failure(exc: BaseException) -> str:
    """The Pulumi CLI failed where cml-infra did not expect it: its last error line."""
    lines = [line.strip() for line in str(exc).splitlines()
             if line.strip().startswith("error:")]
    reason = lines[-1].removeprefix("error:").strip() if lines else "no reason given"
    return f"The Pulumi engine failed ({reason}); {DEBUG_HINT} and its full output."


def usage_sentence(exc: typer.TyperException, command: str = "cml-infra") -> str:
    """A bad flag or value: the parser's own message plus where to find the valid ones, the
    help of the command the error is in (its context's, else `command`, the one the arguments
    name), never the root's for a subcommand's flag."""
    message = " ".join(exc.format_message().split()).rstrip(".")
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else ""
    if len(command.split()) > len(path.split()):
        path = command
    end = "" if message.endswith(("?", "!")) else "."  # "Did you mean 'comment'?" as it is
    return f"{message}{end} Run '{path or 'cml-infra'} --help' to see what it accepts."


def sentence_for(exc: BaseException) -> str:
    """The one sentence that tells the user what went wrong and what to do."""
    from infra.errors import InfraError
    from reporting.errors import ReportingError

    if isinstance(exc, (InfraError, ReportingError)):
        return str(exc)
    if type(exc).__module__.startswith("pulumi.automation"):  # CommandError and kin
        return _engine_failure(exc)
    for exc_type, render in _TABLE:
        if isinstance(exc, exc_type):
            return render(exc)
    detail = f": {exc}" if str(exc) else ""
    return f"Unexpected error ({type(exc).__name__}{detail}); {DEBUG_HINT}."
