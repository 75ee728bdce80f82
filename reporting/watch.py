"""`comment --watch`: post the report again each time it (or an image it shows) changes.

CML's meaning (https://github.com/iterative/cml.dev/blob/master/content/docs/ref/comment.md):
watch for changes and update the comment, without exiting; nothing is posted until the
first change, the first post creates or updates as asked and later ones update it
(iterative/cml src/cml.js `commentCreate`). A change is posted once the files have stayed
the same for one polling interval, so a half-written report is not posted. With CML's
`--trigger-file`, only that file is watched: each time it appears the report is posted and
the file deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from reporting.errors import ForgeUnavailableError, ReportFileError
from reporting.metrics.files import file_problem
from reporting.report import local_refs, report_problem
from reporting.retries import Say

Snapshot = tuple[tuple[str, int, int] | None, ...]


def snapshot(report: Path) -> Snapshot:
    """Size and modification time of the report and of each local image it names."""
    try:  # never read a FIFO or a device: reading one blocks or gives nothing
        refs = [] if report_problem(report) else local_refs(report.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        refs = []
    return tuple(_stat(path) for path in (report, *(report.parent / unquote(r) for r in refs)))


def _stat(path: Path) -> tuple[str, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (str(path), info.st_mtime_ns, info.st_size)


def watch(report: Path, post: Callable[[bool], object], *, say: Say, interval: float = 1.0,
          sleep: Callable[[float], None] = time.sleep, trigger: Path | None = None,
          keep_going: Callable[[], bool] = lambda: True) -> None:
    """Call `post(first)` for each settled change of the report (it prints the URL).

    Report and image problems and an unavailable forge are told and watched past (the
    next change may fix them); anything else, such as a rejected token, ends the watch.
    """
    if problem := file_problem(report, f"Report file {report}", ""):  # missing: wait for it
        raise ReportFileError(problem)

    def look() -> Snapshot:
        return (_stat(trigger),) if trigger else snapshot(report)

    posted = previous = look()
    first = True
    say(f"Watching {trigger or report} for changes; stop with Ctrl-C.")
    while keep_going():
        sleep(interval)
        current = look()
        settled = current == previous and current != posted and current[0] is not None
        previous = current
        if not settled:
            continue
        posted = current
        try:
            post(first)
            first = False
        except (ReportFileError, ForgeUnavailableError) as exc:
            say(f"Not posted: {exc} Still watching.")
        if trigger:
            trigger.unlink(missing_ok=True)
            posted = (None,)
