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

MAX_NUMBER = 2**31 - 1  # the largest pull request / issue id GitHub and GitLab store
# `git@host:owner/name.git`, the form `git remote -v` shows for SSH remotes.
_SCP_LIKE = re.compile(r"[\w.-]+@([\w.-]+):(?!/)(.+)")
# A DNS name or an IPv4 address (urlparse leaves spaces and other junk in `hostname`),
# or an IPv6 address (its brackets stripped).
_HOST = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?|[0-9A-Fa-f:.]+")


def checked_url(value: str | None, name: str, example: str) -> str | None:
    """`value` when it is an http(s) URL with a host; None when unset."""
    if not value:
        return None
    url = urlparse(value.strip())
    try:
        url.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        url = urlparse("")
    if (url.scheme not in ("http", "https") or not url.hostname
            or not _HOST.fullmatch(url.hostname) or any(c.isspace() for c in value.strip())):
        raise ContextError(f"{name} {value!r} is not a URL; set it to an http(s) address "
                           f"like {example}.")
    return value.strip()


def positive_number(value: Any, name: str, fix: str,
                    noun: str = "pull request") -> int | None:
    """A pull / merge request number from a variable or an event file; None when unset."""
    if value is None or value == "":
        return None
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, int) and not isinstance(text, bool) and 0 < text <= MAX_NUMBER:
        return text
    if isinstance(text, str) and text.isascii() and text.isdigit() and \
            0 < int(text) <= MAX_NUMBER:
        return int(text)
    raise ContextError(f"{name} is {value!r}, not a {noun} number; {fix}.")


def parse_repo(value: str, forge: str,
               token_flag: str | None = "--token") -> tuple[str | None, str]:
    """`--repo` as (server URL or None, path), by `up`'s own parser (`infra.rules.parse_repo`),
    so that every command refuses the same values (a URL with credentials, `..`, a pull
    request's address, http:// for github.com ...); its sentences name these commands' flags.
    An SSH remote (`git@host:owner/name.git`, `ssh://git@host:2222/owner/name`) names the web
    server on its host, as CML reads it (`remote_repo`)."""
    from infra.errors import SpecError
    from infra.rules import parse_repo as parse

    text = value.strip()
    if scp := _SCP_LIKE.fullmatch(text):  # SSH remotes name the web server on their host
        text = f"ssh://{scp[1]}/{scp[2]}"
    if text.lower().startswith("ssh://"):  # a password, unlike SSH's user, is refused below
        text = "https://" + text[6:] if urlparse(text).password else remote_repo(text)
    try:
        return parse(forge, text)
    except SpecError as exc:
        text = str(exc).replace(repr(text), repr(value)) if text != value else str(exc)
        text = re.sub(r"add --forge (\w+) \(forge: \w+ in stack config\)", r"pass --driver \1",
                      text)
        if token_flag:
            text = text.replace("or --token-file", f"or pass {token_flag}")
        raise ContextError(text) from None


def remote_repo(remote: str) -> str:
    """A git remote's address as a repository URL: SSH remotes (`git@host:owner/name.git`,
    `ssh://git@host/owner/name`) name the web server on the same host, and credentials are
    dropped, as CML reads the remote (iterative/cml src/cml.js `gitRemoteUrl`)."""
    value = remote.strip()
    if scp := _SCP_LIKE.fullmatch(value):
        value = f"ssh://{scp[1]}/{scp[2]}"
    url = urlparse(value)
    if url.scheme == "ssh" and url.hostname:  # the SSH port says nothing about the web server's
        return f"https://{url.hostname}{url.path}"
    if url.scheme in ("http", "https") and url.hostname:
        port = f":{url.port}" if url.port else ""
        return f"{url.scheme}://{url.hostname}{port}{url.path}"
    return value


def checked_token(token: str, source: str) -> str:
    """`token`, unless whitespace around or inside it would make every request fail; the
    sentence says which: a trailing line break (`echo` into a file), spaces around it, or
    whitespace inside."""
    stripped = token.strip()
    if stripped and token.rstrip("\r\n") == token.strip() and token != stripped:
        raise ContextError(
            f"The token from {source} ends with a line break; store it without one (printf "
            "'%s' rather than echo, or strip it) and run again.")
    if token != stripped:
        ends = [name for name, ok in (("start", token.lstrip() == token),
                                      ("end", token.rstrip() == token)) if not ok]
        raise ContextError(
            f"The token from {source} has whitespace (spaces, tabs or line breaks) at its "
            f"{' and '.join(ends)}; store it without (or strip it) and run again.")
    if any(c.isspace() or not c.isprintable() for c in token):
        raise ContextError(f"The token from {source} contains spaces or control characters, "
                           f"so it is not a single token; check what {source} holds.")
    return token
