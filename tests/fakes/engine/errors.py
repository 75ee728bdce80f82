"""The exception every command raises for a user-facing failure, and safe printing."""

from __future__ import annotations

import contextlib
import sys
from typing import TextIO


class CliError(Exception):
    """Printed as `error: <message>` on stderr; the process exits with `code` (255 like the CLI)."""

    def __init__(self, message: str, code: int = 255) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def not_implemented(what: str) -> CliError:
    return CliError(f"the stand-in pulumi (tests/fakes/engine) does not implement `{what}`; "
                    "extend tests/fakes/engine if the product needs it")


def say(text: str, stream: TextIO | None = None) -> None:
    """Print, but never die of a reader that went away (the calling process was killed)."""
    with contextlib.suppress(ValueError, OSError):
        print(text, file=stream or sys.stdout, flush=True)
