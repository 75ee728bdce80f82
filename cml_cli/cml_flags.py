"""CML's options of `comment create|update` and `check create`, with CML's meaning.

CML's references: https://github.com/iterative/cml.dev/blob/master/content/docs/ref/comment.md,
.../ref/check.md and .../ref/index.md (generic options); the hidden ones (`--pr`,
`--commit-sha`, `--update`, `--rm-watermark`) from iterative/cml bin/cml/comment/create.js.
Each is turned here into the library's options, or refused with one sentence.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from reporting.checks import CheckOptions
    from reporting.comments import CommentOptions
    from reporting.context import CIContext

TargetOption = Annotated[str | None, typer.Option(
    "--target", metavar="TARGET",
    help="Where to comment: auto (the default), pr, commit, pr/N, commit/REV or "
    "issue/N. auto: this run's pull request, else the one containing the commit, else the "
    "commit; outside CI the commit is the checkout's HEAD.", show_default=False)]
WatermarkOption = Annotated[str, typer.Option(
    "--watermark-title", metavar="TITLE",
    help="Keeps several reports apart: update edits only the comment "
    "with the same title; {workflow} and {run} become the CI's workflow and run.")]
PrOption = Annotated[bool, typer.Option(
    "--pr", help="CML's older form of --target pr; with --commit-sha, the open pull/merge "
    "request of that commit.")]
CommitShaOption = Annotated[str | None, typer.Option(
    "--commit-sha", "--head-sha", metavar="SHA",
    help="CML's older form of --target commit/REV (a SHA or "
    "a git revision).", show_default=False)]
CheckShaOption = Annotated[str | None, typer.Option(
    "--commit-sha", "--head-sha", metavar="SHA",
    help="The commit to check, as a SHA or a git revision "
    "(default: the CI's commit; outside CI the checkout's HEAD).", show_default=False)]
UpdateOption = Annotated[bool, typer.Option(
    "--update", help="Edit our newest comment instead of adding one (what comment update "
    "does).")]
RmWatermarkOption = Annotated[bool, typer.Option(
    "--rm-watermark", help="Post without the hidden marker, so no later update finds the "
    "comment (with --watch, each change is a new comment); not with update or "
    "--watermark-title.")]
WatchOption = Annotated[bool, typer.Option(
    "--watch", help="Keep running and post the report again each time it or one of its "
    "images changes (stop with Ctrl-C, or run it in the background with &).")]
TriggerFileOption = Annotated[Path | None, typer.Option(
    "--trigger-file", metavar="FILE",
    help="With --watch: post each time this file appears (then delete it), "
    "instead of on every change of the report.", show_default=False)]
NativeOption = Annotated[bool, typer.Option(
    "--native", "--publish-native", help="Accepted for CML: images are always published "
    "to the forge itself.")]
PublishUrlOption = Annotated[str | None, typer.Option(
    "--publish-url", metavar="URL",
    help="Refused: cml-infra never sends images to an image server.",
    show_default=False)]


class StatusChoice(str, Enum):
    queued = "queued"
    in_progress = "in_progress"
    completed = "completed"


class ConclusionChoice(str, Enum):
    success = "success"
    failure = "failure"
    neutral = "neutral"
    cancelled = "cancelled"
    skipped = "skipped"
    timed_out = "timed_out"


@dataclass(frozen=True)
class CommentFlags:
    target: str | None = None
    watermark_title: str = ""
    publish: bool = True
    publish_url: str | None = None
    pr: bool = False
    commit_sha: str | None = None
    update: bool = False
    rm_watermark: bool = False
    watch: bool = False
    trigger_file: Path | None = None


def comment_options(flags: CommentFlags, env: Mapping[str, str] | None = None) -> CommentOptions:
    """The library's options from CML's flags; contradictions refused in one sentence."""
    from reporting.comments import CommentOptions
    from reporting.errors import OptionError
    from reporting.target import Target, parse_target

    refuse_publish_url(flags.publish_url)
    if flags.target is not None and (flags.pr or flags.commit_sha is not None):
        raise OptionError("--target, --pr and --commit-sha each say where to comment; give "
                          "only --target (CML's current form), or --pr and --commit-sha "
                          "without it.")
    # As CML: "watermarks are mandatory for updatable comments" (src/cml.js commentCreate)
    # and watermarkTitle conflicts with rmWatermark (bin/cml/comment/create.js).
    if flags.rm_watermark and (flags.update or flags.watermark_title):
        raise OptionError("--rm-watermark leaves nothing to find the comment by, so it cannot "
                          "go with comment update, --update or --watermark-title; drop one "
                          "of them.")
    if flags.trigger_file is not None and not flags.watch:
        raise OptionError("--trigger-file says when --watch posts; add --watch or drop it.")
    # CML's --pr with --commit-sha: "Post to an existing PR/MR associated with the specified
    # commit" (iterative/cml bin/cml/comment/create.js).
    if flags.commit_sha is not None and not flags.commit_sha.strip():
        raise OptionError("--commit-sha is empty; give a SHA or a git revision, or drop it.")
    target = (Target("pr", commit=flags.commit_sha) if flags.pr and flags.commit_sha
              else Target("pr") if flags.pr else Target("commit", flags.commit_sha)
              if flags.commit_sha else parse_target(flags.target or "auto"))
    title = expand_title(flags.watermark_title, os.environ if env is None else env)
    return CommentOptions(target, title, flags.publish, flags.update, not flags.rm_watermark)


def refuse_publish_url(url: str | None) -> None:
    from reporting.errors import OptionError

    if url is not None:
        raise OptionError("cml-infra never sends images to an image server, so it does not "
                          "take --publish-url; drop it: images go to the repository itself "
                          "(see --publish in the help).")


def expand_title(title: str, env: Mapping[str, str]) -> str:
    """CML's placeholders: {workflow} and {run} become the CI's workflow and run ids
    (GitHub: GITHUB_WORKFLOW, GITHUB_RUN_ID; GitLab: CI_PIPELINE_ID, CI_JOB_ID, as in
    iterative/cml src/drivers/github.js and gitlab.js); unset, they stay as written."""
    values = {"{workflow}": env.get("GITHUB_WORKFLOW") or env.get("CI_PIPELINE_ID"),
              "{run}": env.get("GITHUB_RUN_ID") or env.get("CI_JOB_ID")}
    for placeholder, value in values.items():
        title = title.replace(placeholder, value) if value else title
    return title


def check_options(title: str, status: StatusChoice, conclusion: ConclusionChoice | None,
                  publish: bool) -> CheckOptions:
    from reporting.checks import CheckOptions
    from reporting.errors import OptionError
    from reporting.forges.base import CheckStatus, Conclusion

    if not title.strip():  # GitHub needs a check run's name, GitLab a status's name
        raise OptionError("--title is empty; give the check a name, like --title Metrics.")
    if status is not StatusChoice.completed and conclusion is not None:
        raise OptionError(f"A check that is {status.value.replace('_', ' ')} has no "
                          "conclusion yet; drop --conclusion or pass --status completed.")
    final = Conclusion((conclusion or ConclusionChoice.success).value) \
        if status is StatusChoice.completed else None
    return CheckOptions(title, CheckStatus(status.value), final, publish)


def check_commit(ctx: CIContext, commit_sha: str | None, cwd: Path | None = None) -> str:
    """The commit a check is for: --commit-sha, else the CI's, else the checkout's HEAD."""
    from reporting.checkout import resolve_revision
    from reporting.target import commit_under_test

    if commit_sha:
        return resolve_revision(commit_sha, cwd)
    return commit_under_test(ctx, "pass --commit-sha SHA")
