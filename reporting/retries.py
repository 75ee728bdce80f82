"""Every wait before a retry is told as one line, so nobody watches silent seconds.

The forge adapters and their clients' retry policies call a `Say` (the CLI prints to
stderr; library callers may pass `quiet`) with the line `wait_line` builds:
"GitHub answered 502; retrying in 4 s, attempt 2 of 5".
"""

from __future__ import annotations

from collections.abc import Callable

Say = Callable[[str], None]


def quiet(line: str) -> None:
    """A `Say` that says nothing."""


def wait_line(forge: str, cause: str, seconds: float, attempt: int, attempts: int) -> str:
    """`cause` completes "<forge> ...": "answered 502", "dropped the connection"."""
    return f"{forge} {cause}; retrying {_after(seconds)}, attempt {attempt} of {attempts}"


def cause_of_status(status: int | None) -> str:
    return f"answered {status}" if status else "dropped the connection"


def cause_of_error(error: BaseException | None) -> str:
    name = type(error).__name__ if error is not None else ""
    if "Timeout" in name:
        return "did not answer in time"
    return "dropped the connection" if error is not None else "gave no answer"


def _after(seconds: float) -> str:
    if seconds <= 0:
        return "now"
    if seconds < 1:
        return "in under a second"
    return f"in {seconds:.0f} s"
