"""Every wait before a retry is told as one line, so nobody watches silent seconds.

The forge adapters and their clients' retry policies call a `Say` (the CLI prints to
stderr; library callers may pass `quiet`) with the line `wait_line` builds:
"GitHub answered 502; retrying in 4 s, attempt 2 of 7".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from reporting.errors import ForgeUnavailableError

Say = Callable[[str], None]
ATTEMPTS = 7  # tries of one request, on GitHub and GitLab alike: the first and six retries
UNRESOLVED_ATTEMPTS = 2  # tries of a server name that does not resolve
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


def _chain(error: BaseException | None) -> list[BaseException]:
    """`error` and what it wraps: causes, contexts, urllib3's `reason`, exceptions in args."""
    seen: list[BaseException] = []
    stack = [error]
    while stack and len(seen) < 30:
        item = stack.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        stack += [item.__cause__, item.__context__, getattr(item, "reason", None),
                  *[a for a in getattr(item, "args", ()) if isinstance(a, BaseException)]]
    return seen


def _endpoint(error: BaseException | None) -> str | None:
    """The host (and port) the failed connection went to, as the exception names it."""
    for item in _chain(error):
        holder = vars(item).get("conn") or vars(item).get("pool")  # urllib3's, if any
        host = getattr(holder, "host", None)
        if isinstance(host, str) and host:
            port = getattr(holder, "port", None)
            default = getattr(holder, "default_port", None)
            return host if port in (None, default) else f"{host}:{port}"
    return None


def failure_kind(error: BaseException | None) -> str:
    """What went wrong underneath a network exception: "unresolved" (the name does not
    resolve), "refused", "timeout", "status 502" (urllib3 retried a status until it gave up)
    or "dropped"."""
    import re
    import socket

    chain = _chain(error)
    for item in chain:
        if isinstance(item, socket.gaierror) or type(item).__name__ == "NameResolutionError":
            return "unresolved"
    for item in chain:
        if isinstance(item, ConnectionRefusedError) or "connection refused" in str(item).lower():
            return "refused"
    for item in chain:
        if "Timeout" in type(item).__name__ or isinstance(item, TimeoutError):
            return "timeout"
    for item in chain:
        if found := re.search(r"too many (\d{3}) error responses", str(item)):
            return f"status {found[1]}"
    return "dropped"


def attempts_for(error: BaseException | None, attempts: int) -> int:
    """How many attempts a failure gets: a name that does not resolve will not resolve a
    minute later, so it is tried UNRESOLVED_ATTEMPTS times; anything else `attempts`."""
    return min(attempts, UNRESOLVED_ATTEMPTS) if failure_kind(error) == "unresolved" \
        else attempts


def attempts_made(error: BaseException | None) -> int | None:
    """The attempts a client recorded on `error` (or what it wraps) when it gave up."""
    return next((a for item in _chain(error) if isinstance(a := getattr(item, "attempts", None),
                                                           int)), None)


def cause_of_error(error: BaseException | None) -> str:
    """What completes "<forge> ..." in a wait line, for a request without an answer."""
    if error is None:
        return "gave no answer"
    kind, where = failure_kind(error), _endpoint(error)
    if kind == "unresolved":
        host = (where or "").rsplit(":", 1)[0] if where and "]" not in where else where
        return f"cannot be reached: the name {host or 'of its server'} does not resolve"
    if kind == "refused":
        return f"at {where} refused the connection" if where else "refused the connection"
    if kind == "timeout":
        return "did not answer in time"
    if kind.startswith("status "):
        return cause_of_status(int(kind.split()[1]))
    return "dropped the connection"


def unavailable_sentence(forge: str, action: str, error: BaseException | None, *,
                         status: int | None = None, detail: str = "",
                         url_hint: str = "--api-url") -> str:
    """The one sentence after the last attempt failed: the real cause (the status every
    attempt got, a name that does not resolve, a refused connection), never a class name."""
    attempts = attempts_made(error)
    kind = f"status {status}" if status else failure_kind(error)
    where = _endpoint(error)
    if kind == "unresolved":
        where = (where or "").rsplit(":", 1)[0] if where and "]" not in where else where
        return (f"Cannot reach {where or forge}: the name does not resolve, so {forge} could "
                f"not be asked to {action}; check the network or {url_hint}.")
    if kind == "refused":
        return (f"Connection refused by {where or forge} while trying to {action}; check "
                f"{url_hint}, or run the command again once {forge} is up.")
    if kind.startswith("status "):
        what = cause_of_status(int(kind.split()[1])) + (f" ({detail})" if detail else "")
    else:
        what = {"timeout": "did not answer in time"}.get(kind, "dropped the connection")
    tries = f"on every one of {attempts} attempts" if attempts and attempts > 1 else \
        "even after retries"
    return (f"{forge} {what} {tries} to {action}; run the command again later (nothing is "
            "posted twice).") if attempts and attempts > 1 else (
        f"{forge} {what} while trying to {action}, {tries}; run the command again later "
        "(nothing is posted twice).")


def not_the_api(forge: str, api_url: str, url_hint: str) -> str:
    """An answer in the wrong shape (an HTML page, a JSON object where a list belongs)."""
    return (f"{forge} at {api_url} answered something that is not {forge}'s API; check "
            f"{url_hint}.")


def _after(seconds: float) -> str:
    if seconds <= 0:
        return "now"
    if seconds < 1:
        return "in under a second"
    return f"in {seconds:.0f} s"
