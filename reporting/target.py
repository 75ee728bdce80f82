"""`--target`: where a report goes (CML's vocabulary), resolved against the CI context.

CML's reference: https://github.com/iterative/cml.dev/blob/master/content/docs/ref/comment.md
(`pr`, `commit`, `issue`, optionally with `/ref`; `commit/` takes a git revision; the
default is the pull request, falling back to the commit). Outside CI the commit is the
checkout's HEAD, as in CML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reporting.checkout import head_sha, resolve_revision
from reporting.context import CIContext
from reporting.errors import ContextError
from reporting.forges.base import Forge, Thread, ThreadKind
from reporting.validate import MAX_NUMBER

TARGET_HELP = "auto, pr, commit, pr/N, commit/SHA or issue/N"
_EXPLICIT = re.compile(r"^(pr|commit|issue)/(\S+)$")
_NAMES = "pass --target commit/SHA, pr/N or issue/N"


@dataclass(frozen=True)
class Target:
    kind: str  # "auto", "pr", "commit", "issue"
    ref: str | None = None
    commit: str | None = None  # kind "pr": the pull request of this revision (CML's --pr
    # with --commit-sha, "an existing PR/MR associated with the specified commit")


def parse_target(value: str) -> Target:
    value = value.strip()
    if value.lower() in ("auto", "pr", "commit"):  # CML lower-cases the kind (src/commenttarget.js)
        return Target(value.lower())
    match = _EXPLICIT.match(value[:value.find("/")].lower() + value[value.find("/"):])
    if match:
        kind, ref = match.groups()
        if kind in ("pr", "issue") and not (ref.isascii() and ref.isdigit()
                                           and 0 < int(ref) <= MAX_NUMBER):
            raise ContextError(f"--target {value}: {kind}/N needs a number from 1 to "
                               f"{MAX_NUMBER:,}, like {kind}/12.")
        if kind in ("pr", "issue"):
            ref = str(int(ref))  # pr/007 is pull request 7
        if kind == "commit" and (".." in ref or ref.startswith("-")):
            raise ContextError(f"--target {value}: commit/REV needs one commit (a SHA, a "
                               "branch or HEAD), not a range.")
        return Target(kind, ref)
    raise ContextError(f"--target {value!r} is not one of {TARGET_HELP}.")


def resolve_thread(target: Target, ctx: CIContext, forge: Forge) -> Thread:
    """auto: this run's pull request, else the one containing the commit, else the commit."""
    if target.kind == "commit" and target.ref is not None:
        return Thread(ThreadKind.COMMIT, resolve_revision(target.ref))
    if target.ref is not None:
        return Thread(ThreadKind(target.kind), target.ref)
    if target.kind == "commit":
        return Thread(ThreadKind.COMMIT, commit_under_test(ctx, _NAMES))
    if target.commit is not None:
        return _pull_request_of(target.commit, forge)
    number = ctx.pr_number
    sha = ctx.sha or (head_sha(instead=_NAMES) if ctx.local else None)
    if number is None and sha:
        number = forge.pull_request_for_commit(sha)
    if number is not None:
        return Thread(ThreadKind.PR, str(number))
    if target.kind == "pr":
        noun = "merge request" if forge.name == "GitLab" else "pull request"
        where = f"commit {sha[:12]}" if sha else "this job"
        raise ContextError(
            f"No open {noun} found for {where}; use --target pr/N to name one, or "
            "--target commit to comment on the commit."
        )
    return Thread(ThreadKind.COMMIT, commit_under_test(ctx, _NAMES))


def _pull_request_of(rev: str, forge: Forge) -> Thread:
    """The open pull / merge request of commit `rev` (a SHA or a git revision)."""
    sha = resolve_revision(rev)
    number = forge.pull_request_for_commit(sha)
    if number is None:
        noun = "merge request" if forge.name == "GitLab" else "pull request"
        named = f"commit {sha[:12]}" + (f" ({rev})" if rev != sha else "")
        raise ContextError(f"No open {noun} found for {named}, which --pr --commit-sha names; "
                           f"pass --target pr/N to name one, or drop --pr to comment on the "
                           "commit.")
    return Thread(ThreadKind.PR, str(number))


def commit_under_test(ctx: CIContext, instead: str) -> str:
    """The CI's commit; outside CI the checkout's HEAD; `instead` names the flag to pass."""
    if ctx.sha:
        return ctx.sha
    if ctx.local:
        return head_sha(instead=instead)
    raise ContextError(f"No commit SHA is known for {ctx.repo} in this job; {instead}.")
