"""Post a report as a sticky comment: publish its images, then edit ours or create one.

Idempotent under retries: each run stamps its comment with a fresh run id in the hidden
marker. When a create's answer is lost (5xx, dropped connection), the thread is read
again and the comment counts as created if a comment with that run id is there, so a
re-post never leaves two copies. An update edits our newest comment with the same
watermark title or, the first time after switching from CML, CML's report of that title.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from reporting.cml_watermark import is_cml_report
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
from reporting.retries import Say, quiet, wait_line
from reporting.target import Target, resolve_thread

T = TypeVar("T")
CREATE_ATTEMPTS = 5


@dataclass(frozen=True)
class CommentOptions:
    target: Target
    watermark: str = ""
    publish: bool = True
    update: bool = False  # True: edit our newest comment with this watermark, if any
    marked: bool = True  # False (CML's --rm-watermark): no marker, so never found again


@dataclass(frozen=True)
class Posted:
    thread: Thread
    comment: Comment
    created: bool


def load_report(report: Path, publish: bool = True) -> tuple[str, list[LocalImage]]:
    """Read the report and, when its images are to be published, check that each exists,
    before any request. Unpublished, image links stay as they are, whatever they name."""
    markdown = read_report(report)
    return markdown, local_images(markdown, report.parent) if publish else []


def publish_images(forge: Forge, markdown: str, images: list[LocalImage]) -> str:
    """Upload each local image once and point the markdown at the uploaded copies."""
    urls = {image.ref: forge.upload_image(image.path, image.path.read_bytes())
            for image in images}
    return rewrite_images(markdown, urls)


def post_report(forge: Forge, ctx: CIContext, report: Path, options: CommentOptions,
                *, run_id: str | None = None, sleep: Callable[[float], None] = time.sleep,
                backoff: float = 1.0, say: Say = quiet) -> Posted:
    run_id = run_id or uuid.uuid4().hex
    markdown, images = load_report(report, options.publish)
    thread = resolve_thread(options.target, ctx, forge)
    listed = forge.list_comments(thread)  # also checks access before anything is written
    if images:
        markdown = publish_images(forge, markdown, images)
    body = render_body(markdown, watermark=options.watermark, run_id=run_id,
                       limit=forge.max_comment_chars, forge=forge.name, marked=options.marked)
    existing = editable(listed, options.watermark) if options.update else None
    if existing is not None:
        return Posted(thread, forge.update_comment(thread, existing, body), created=False)
    seen = {c.id for c in listed}

    def find() -> Comment | None:
        fresh = [c for c in forge.list_comments(thread) if c.id not in seen]
        return next(iter(with_run(fresh, run_id) if options.marked else
                         [c for c in fresh if c.body == body]), None)

    comment = create_once(lambda: forge.create_comment(thread, body), find, forge=forge.name,
                          what="comment", sleep=sleep, backoff=backoff, say=say)
    return Posted(thread, comment, created=True)


def editable(comments: list[Comment], watermark: str) -> Comment | None:
    """Our newest comment with `watermark`, else CML's newest report with that title."""
    for found in (ours(comments, watermark),
                  [c for c in comments if is_cml_report(c.body, watermark)]):
        if found:
            return found[-1]
    return None


def ours(comments: list[Comment], watermark: str) -> list[Comment]:
    return [c for c in comments if (m := parse_marker(c.body)) and m[0] == watermark]


def with_run(comments: list[Comment], run_id: str) -> list[Comment]:
    return [c for c in comments if (m := parse_marker(c.body)) and m[1] == run_id]


def create_once(create: Callable[[], T], find: Callable[[], T | None], *, forge: str = "The forge",
                what: str = "report", sleep: Callable[[float], None] = time.sleep,
                backoff: float = 1.0, say: Say = quiet) -> T:
    """Create; after a lost answer, look for what was created before creating again."""
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            return create()
        except ForgeUnavailableError:
            found = find()
            if found is not None:
                return found
            if attempt == CREATE_ATTEMPTS:
                raise
        wait = backoff * 2 ** (attempt - 1)
        say(wait_line(forge, f"lost the answer to the new {what}, which is not there", wait,
                      attempt + 1, CREATE_ATTEMPTS))
        sleep(wait)
    raise AssertionError("unreachable")
