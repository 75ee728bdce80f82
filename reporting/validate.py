"""Values from CI variables and flags, checked once at the edge.

URLs, pull request numbers, repository names and tokens arrive as strings from the
environment, an event file or the command line; each that cannot be used is refused here
with one sentence naming where it came from and what to do, before any request.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from reporting.errors import ContextError

# `git@host:owner/name.git`, the form `git remote -v` shows for SSH remotes.
_SCP_LIKE = re.compile(r"[\w.-]+@([\w.-]+):(?!/)(.+)")


def checked_url(value: str | None, name: str, example: str) -> str | None:
    """`value` when it is an http(s) URL with a host; None when unset."""
    if not value:
        return None
    url = urlparse(value.strip())
    try:
        url.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        url = urlparse("")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ContextError(f"{name} {value!r} is not a URL; set it to an http(s) address "
                           f"like {example}.")
    return value.strip()


def positive_number(value: Any, name: str, fix: str) -> int | None:
    """A pull / merge request number from a variable or an event file; None when unset."""
    if value is None or value == "":
        return None
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        return text
    if isinstance(text, str) and text.isascii() and text.isdigit() and int(text) > 0:
        return int(text)
    raise ContextError(f"{name} is {value!r}, not a pull request number; {fix}.")


def parse_repo(value: str) -> tuple[str | None, str]:
    """`owner/name` or a repository URL -> (server URL or None, path).

    SSH remotes (`git@host:owner/name.git`, `ssh://git@host/owner/name`) name the web
    server on the same host, as CML reads them (iterative/cml src/cml.js `gitRemoteUrl`).
    Credentials in a URL are dropped, never kept in the server address.
    """
    value = value.strip()
    if scp := _SCP_LIKE.fullmatch(value):
        value = f"ssh://{scp[1]}/{scp[2]}"
    if "://" not in value:
        path = value.strip("/").removesuffix(".git")
        if path.count("/") < 1 or any(c.isspace() for c in path):
            raise ContextError(f"--repo {value!r} is not OWNER/NAME or a repository URL.")
        return None, path
    url = urlparse(value)
    path = url.path.strip("/").removesuffix(".git")
    if url.scheme not in ("http", "https", "ssh") or not url.hostname or path.count("/") < 1:
        raise ContextError(f"--repo {value!r} is not a repository URL; give "
                           "https://host/owner/name or OWNER/NAME.")
    if url.scheme == "ssh":  # the SSH port says nothing about the web server's
        return f"https://{url.hostname}", path
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.hostname}{port}", path


def checked_token(token: str, source: str) -> str:
    """`token`, unless whitespace around or inside it would make every request fail."""
    if token.rstrip(" \t") != token.rstrip():
        raise ContextError(
            f"The token from {source} ends with a line break; store it without one (printf "
            "'%s' rather than echo, or strip it) and run again.")
    if token != token.strip():
        raise ContextError(f"The token from {source} starts or ends with a space; store it "
                           "without surrounding spaces and run again.")
    if any(c.isspace() or not c.isprintable() for c in token):
        raise ContextError(f"The token from {source} contains spaces or control characters, "
                           "so it is not a single token; check what the variable holds.")
    return token
