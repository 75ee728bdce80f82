"""The GitHub Actions job summary: markdown appended to the file `$GITHUB_STEP_SUMMARY` names.

GitHub shows the file on the run's summary page once the step ends
(https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#adding-a-job-summary).
The file is per step and may already hold what earlier commands of the step appended, so
it is only ever appended to. A step's summary over 1 MiB is not uploaded at all (GitHub
shows an error annotation instead), so what we append is cut, with the truncation note of
`reporting.truncation`, to keep the whole file within `SUMMARY_LIMIT` bytes.

GitLab CI has no job summary: there the flag is refused with one sentence, before any work,
rather than silently doing nothing (GitLab's merge request widgets read `metrics diff
--format openmetrics` and `--junit` instead).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reporting.errors import ContextError, ReportFileError
from reporting.metrics.files import os_sentence
from reporting.truncation import truncate

SUMMARY_VAR = "GITHUB_STEP_SUMMARY"
SUMMARY_LIMIT = 1024 * 1024  # bytes per step; a bigger summary is not uploaded
SUMMARY_NAME = "GitHub job summary"  # for the truncation note: "cut to fit the GitHub job ..."


def summary_path(env: Mapping[str, str], *, gitlab: bool = False) -> Path:
    """The job summary file of this step; one sentence when there is none (`gitlab`: the
    job runs on GitLab CI, which has no job summary)."""
    name = env.get(SUMMARY_VAR, "")
    if name:
        return appendable(Path(name))
    if gitlab or env.get("GITLAB_CI") == "true":
        raise ContextError(
            "GitLab CI has no job summary, so --summary cannot be used there; drop it and "
            "let GitLab show the results through artifacts:reports (metrics diff --format "
            "openmetrics, --junit) or a merge request comment."
        )
    raise ContextError(
        f"--summary writes to the file that ${SUMMARY_VAR} names, but it is not set; run in "
        f"a GitHub Actions step, or set {SUMMARY_VAR} to a file to append to."
    )


def appendable(path: Path) -> Path:
    """`path`, once it has been opened for appending (nothing written; a missing file is
    created, as GitHub creates it), so that a summary that cannot be written fails before
    anything is posted, not after."""
    label = f"The job summary {path} (${SUMMARY_VAR})"
    try:  # O_NONBLOCK: a FIFO without a reader fails here instead of blocking
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o644)
    except FileNotFoundError:
        raise ReportFileError(f"{label} cannot be written because its folder does not exist; "
                              f"create the folder or point {SUMMARY_VAR} at another file."
                              ) from None
    except OSError as exc:
        raise ReportFileError(os_sentence(exc, label, "written")) from None
    os.close(fd)
    return path


@dataclass(frozen=True)
class Appended:
    """What `append_summary` did: the bytes written, and whether the report was cut."""

    written: int
    cut: bool

    def warning(self, path: Path) -> str | None:
        """The warning to print, when the report did not go in whole."""
        if not self.cut:
            return None
        if not self.written:
            return (f"Warning: the job summary {path} is already at GitHub's limit of "
                    f"{SUMMARY_LIMIT:,} bytes, so the report was not added to it.")
        return (f"Warning: the report was cut to keep the job summary {path} within GitHub's "
                f"limit of {SUMMARY_LIMIT:,} bytes.")


def append_summary(path: Path, markdown: str, limit: int = SUMMARY_LIMIT) -> Appended:
    """Append `markdown` to `path` as its own block, cut so that the file stays within
    `limit` bytes, counting what the file already holds."""
    label = f"The job summary {path} (${SUMMARY_VAR})"
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0  # GitHub creates the file; appending creates it too
    except OSError as exc:
        raise ReportFileError(os_sentence(exc, label, "read")) from None
    separator = "\n" if size and not _ends_with_newline(path) else ""
    block = markdown if markdown.endswith("\n") else markdown + "\n"
    room = limit - size - len(separator.encode())
    fitted = fit_bytes(block, room)
    cut = fitted != block
    if not fitted:
        return Appended(0, cut)
    data = (separator + fitted).encode("utf-8")
    try:
        with path.open("ab") as handle:
            handle.write(data)
    except OSError as exc:
        raise ReportFileError(os_sentence(exc, label, "written")) from None
    return Appended(len(data), cut)


def fit_bytes(text: str, room: int) -> str:
    """`text` if its UTF-8 form fits in `room` bytes, else the longest head that
    `reporting.truncation.truncate` cuts (fences closed, note added) that fits; "" when
    not even the note fits. Truncation counts characters, a summary bytes: the character
    limit is searched for, as a character takes one to four bytes."""
    if len(text.encode("utf-8")) <= room:
        return text
    best, low, high = "", 0, min(room, len(text) - 1)
    while low <= high:
        chars = (low + high) // 2
        cut = truncate(text, chars, forge=SUMMARY_NAME, forge_limit=SUMMARY_LIMIT) + "\n"
        if len(cut.encode("utf-8")) <= room:
            best, low = cut, chars + 1
        else:
            high = chars - 1
    return best


def _ends_with_newline(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"
    except OSError:
        return True  # unreadable: the append will say why
