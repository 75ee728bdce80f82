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
from reporting.errors import ContextError
from reporting.forges.base import Conclusion, Forge
from reporting.report import render_body
from reporting.target import Target


@dataclass(frozen=True)
class CheckResult:
    url: str
    comment_url: str | None = None  # GitLab: the note that carries the report


def create_check(forge: Forge, ctx: CIContext, report: Path, *, title: str,
                 conclusion: Conclusion, publish: bool = True, run_id: str | None = None,
                 sleep: Callable[[float], None] = time.sleep, backoff: float = 1.0
                 ) -> CheckResult:
    if not ctx.sha:
        raise ContextError(
            "No commit SHA known; run in CI, or set GITHUB_SHA (GitHub) or CI_COMMIT_SHA (GitLab) "
            "to the commit the check is for.")
    run_id = run_id or uuid.uuid4().hex
    markdown, images = load_report(report)  # a bad file or image fails before any request
    summary = title
    if forge.check_has_summary:
        if publish and images:
            markdown = _publish(forge, markdown, images)
        summary = render_body(markdown, watermark=title, run_id=run_id,
                              limit=forge.max_check_chars, forge=forge.name)
    sha = ctx.sha
    url = create_once(
        lambda: forge.create_check(sha, title, conclusion, summary, run_id),
        lambda: forge.find_check(sha, title, run_id), sleep=sleep, backoff=backoff,
    )
    if forge.check_has_summary:
        return CheckResult(url)
    # A commit status has no room for a report: it goes to the merge request as a note.
    posted = post_report(forge, ctx, report, CommentOptions(
        Target("auto"), watermark=title, publish=publish, update=True), sleep=sleep,
        backoff=backoff)
    return CheckResult(url, posted.comment.url)
