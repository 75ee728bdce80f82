"""Every wait before a retry is told as one line, so nobody watches silent seconds.

The forge adapters and their clients' retry policies call a `Say` (the CLI prints to
stderr; library callers may pass `quiet`) with the line `wait_line` builds:
"GitHub answered 502; retrying in 4 s, attempt 2 of 5".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from reporting.errors import ForgeUnavailableError

Say = Callable[[str], None]
MAX_WAIT = 60.0  # one wait longer than this is not waited for: the command fails instead
MAX_TOTAL_WAIT = 300.0  # nor are waits adding up to more than this
RATE_LIMIT_DOCS = {
    "GitHub": "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
    "GitLab": "https://docs.gitlab.com/security/rate_limits/",
}


def quiet(line: str) -> None:
    """A `Say` that says nothing."""


def wait_line(forge: str, cause: str, seconds: float, attempt: int, attempts: int) -> str:
    """`cause` completes "<forge> ...": "answered 502", "dropped the connection"."""
    return f"{forge} {cause}; retrying {_after(seconds)}, attempt {attempt} of {attempts}"


def cause_of_status(status: int | None) -> str:
    """429 (and GitHub's 403 that is retried) is a rate limit, and is told as one."""
    if status in (403, 429):
        return f"answered {status} (rate limit)"
    return f"answered {status}" if status else "dropped the connection"


def rate_limit_error(forge: str, seconds: float) -> ForgeUnavailableError:
    """One sentence for a rate limit that resets later than the command waits."""
    try:
        at = (datetime.now(timezone.utc) + timedelta(seconds=seconds)).strftime(
            "%Y-%m-%d %H:%M UTC")
    except (OverflowError, ValueError):
        at = "a date too far ahead to show"
    return ForgeUnavailableError(
        f"{forge}'s rate limit for this token is used up and resets at {at} (in "
        f"{_duration(seconds)}); run the command again after that or with another token "
        f"({RATE_LIMIT_DOCS[forge]}).")


def check_wait(forge: str, seconds: float, waited: float) -> None:
    """Refuse a wait over MAX_WAIT, or one that brings the total over MAX_TOTAL_WAIT."""
    if seconds > MAX_WAIT or waited + seconds > MAX_TOTAL_WAIT:
        raise rate_limit_error(forge, seconds)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:,.0f} days"


def cause_of_error(error: BaseException | None) -> str:
    name = type(error).__name__ if error is not None else ""
    if "Timeout" in name:
        return "did not answer in time"
    if error is not None and "refused" in str(error).lower():
        return "refused the connection"
    return "dropped the connection" if error is not None else "gave no answer"


def _after(seconds: float) -> str:
    if seconds <= 0:
        return "now"
    if seconds < 1:
        return "in under a second"
    return f"in {seconds:.0f} s"
