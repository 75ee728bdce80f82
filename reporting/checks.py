"""`check create`: the report as a GitHub check run, or a GitLab commit status plus a note."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reporting.comments import CommentOptions, create_once, load_report, post_report
from reporting.comments import publish_images as _publish
from reporting.context import CIContext
from reporting.forges.base import CheckStatus, Conclusion, Forge
from reporting.report import render_body
from reporting.retries import Say, quiet
from reporting.target import Target


@dataclass(frozen=True)
class CheckResult:
    url: str
    comment_url: str | None = None  # GitLab: the note that carries the report


@dataclass(frozen=True)
class CheckOptions:
    title: str = "CML Report"
    status: CheckStatus = CheckStatus.COMPLETED
    conclusion: Conclusion | None = Conclusion.SUCCESS  # None exactly when not completed
    publish: bool = True


def create_check(forge: Forge, ctx: CIContext, report: Path, sha: str, options: CheckOptions,
                 *, run_id: str | None = None, sleep: Callable[[float], None] = time.sleep,
                 backoff: float = 1.0, say: Say = quiet) -> CheckResult:
    """A check on commit `sha` (the caller resolves it: `reporting.target.commit_under_test`)."""
    run_id = run_id or uuid.uuid4().hex
    # A bad file or image fails before any request.
    markdown, images = load_report(report, options.publish)
    title, summary = options.title, options.title
    if forge.check_has_summary:
        if images:
            markdown = _publish(forge, markdown, images)
        summary = render_body(markdown, watermark=title, run_id=run_id,
                              limit=forge.max_check_chars, forge=forge.name)
    url = create_once(
        lambda: forge.create_check(sha, title, options.status, options.conclusion, summary,
                                   run_id),
        lambda: forge.find_check(sha, title, run_id), forge=forge.name, what="check",
        sleep=sleep, backoff=backoff, say=say,
    )
    if forge.check_has_summary:
        return CheckResult(url)
    # A commit status has no room for a report: it goes to the merge request as a note.
    posted = post_report(forge, ctx, report, CommentOptions(
        Target("auto"), watermark=title, publish=options.publish, update=True), sleep=sleep,
        backoff=backoff, say=say)
    return CheckResult(url, posted.comment.url)
