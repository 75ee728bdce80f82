"""Post a report as a sticky comment: publish its images, then edit ours or create one.

Idempotent under retries: each run stamps its comment with a fresh run id in the hidden
marker. When a create's answer is lost (5xx, dropped connection), the thread is read
again and the comment counts as created if a comment with that run id is there, so a
re-post never leaves two copies.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from reporting.context import CIContext
from reporting.errors import ForgeUnavailableError
from reporting.forges.base import Comment, Forge, Thread
from reporting.report import (
    LocalImage,
    local_images,
    parse_marker,
    read_report,
    render_body,
    rewrite_images,
)
from reporting.target import Target, resolve_thread

T = TypeVar("T")
CREATE_ATTEMPTS = 5


@dataclass(frozen=True)
class CommentOptions:
    target: Target
    watermark: str = ""
    publish: bool = True
    update: bool = False  # True: edit our newest comment with this watermark, if any


@dataclass(frozen=True)
class Posted:
    thread: Thread
    comment: Comment
    created: bool


def load_report(report: Path) -> tuple[str, list[LocalImage]]:
    """Read the report and check that every local image exists, before any request."""
    markdown = read_report(report)
    return markdown, local_images(markdown, report.parent)


def publish_images(forge: Forge, markdown: str, images: list[LocalImage]) -> str:
    """Upload each local image once and point the markdown at the uploaded copies."""
    urls = {image.ref: forge.upload_image(image.path, image.path.read_bytes())
            for image in images}
    return rewrite_images(markdown, urls)


def post_report(forge: Forge, ctx: CIContext, report: Path, options: CommentOptions,
                *, run_id: str | None = None, sleep: Callable[[float], None] = time.sleep,
                backoff: float = 1.0) -> Posted:
    run_id = run_id or uuid.uuid4().hex
    markdown, images = load_report(report)
    thread = resolve_thread(options.target, ctx, forge)
    existing = ours(forge.list_comments(thread), options.watermark)  # also checks access
    if options.publish and images:
        markdown = publish_images(forge, markdown, images)
    body = render_body(markdown, watermark=options.watermark, run_id=run_id,
                       limit=forge.max_comment_chars, forge=forge.name)
    if options.update and existing:
        return Posted(thread, forge.update_comment(thread, existing[-1], body), created=False)
    comment = create_once(
        lambda: forge.create_comment(thread, body),
        lambda: next(iter(with_run(forge.list_comments(thread), run_id)[-1:]), None),
        sleep=sleep, backoff=backoff,
    )
    return Posted(thread, comment, created=True)


def ours(comments: list[Comment], watermark: str) -> list[Comment]:
    return [c for c in comments if (m := parse_marker(c.body)) and m[0] == watermark]


def with_run(comments: list[Comment], run_id: str) -> list[Comment]:
    return [c for c in comments if (m := parse_marker(c.body)) and m[1] == run_id]


def create_once(create: Callable[[], T], find: Callable[[], T | None], *,
                sleep: Callable[[float], None] = time.sleep, backoff: float = 1.0) -> T:
    """Create; after a lost answer, look for what was created before creating again."""
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return create()
        except ForgeUnavailableError:
            found = find()
            if found is not None:
                return found
            if attempt == CREATE_ATTEMPTS - 1:
                raise
        sleep(backoff * 2**attempt)
    raise AssertionError("unreachable")
