"""`--target`: where a report goes (CML's vocabulary), resolved against the CI context."""

from __future__ import annotations

import re
from dataclasses import dataclass

from reporting.context import CIContext
from reporting.errors import ContextError
from reporting.forges.base import Forge, Thread, ThreadKind

TARGET_HELP = "auto, pr, commit, pr/N, commit/SHA or issue/N"
_EXPLICIT = re.compile(r"^(pr|commit|issue)/(\S+)$")


@dataclass(frozen=True)
class Target:
    kind: str  # "auto", "pr", "commit", "issue"
    ref: str | None = None


def parse_target(value: str) -> Target:
    value = value.strip()
    if value in ("auto", "pr", "commit"):
        return Target(value)
    match = _EXPLICIT.match(value)
    if match:
        kind, ref = match.groups()
        if kind in ("pr", "issue") and not ref.isdigit():
            raise ContextError(f"--target {value}: {kind}/N needs a number, like {kind}/12.")
        if kind == "commit" and not re.fullmatch(r"[0-9a-fA-F]{7,64}", ref):
            raise ContextError(f"--target {value}: commit/SHA needs a hexadecimal commit SHA.")
        return Target(kind, ref)
    raise ContextError(f"--target {value!r} is not one of {TARGET_HELP}.")


def resolve_thread(target: Target, ctx: CIContext, forge: Forge) -> Thread:
    """auto: this run's pull request, else the one containing the commit, else the commit."""
    if target.ref is not None:
        return Thread(ThreadKind(target.kind), target.ref)
    if target.kind == "commit":
        return Thread(ThreadKind.COMMIT, _sha(ctx))
    number = ctx.pr_number
    if number is None and ctx.sha:
        number = forge.pull_request_for_commit(ctx.sha)
    if number is not None:
        return Thread(ThreadKind.PR, str(number))
    if target.kind == "pr":
        noun = "merge request" if forge.name == "GitLab" else "pull request"
        where = f"commit {ctx.sha[:12]}" if ctx.sha else "this job"
        raise ContextError(
            f"No open {noun} found for {where}; use --target pr/N to name one, or "
            "--target commit to comment on the commit."
        )
    return Thread(ThreadKind.COMMIT, _sha(ctx))


def _sha(ctx: CIContext) -> str:
    if not ctx.sha:
        raise ContextError(
            "No commit SHA known outside CI; pass --target commit/SHA, pr/N or issue/N."
        )
    return ctx.sha
