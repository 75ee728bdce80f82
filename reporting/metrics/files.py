"""Files that `metrics` and `plot` read and write, every OS failure told as one sentence.

Shared by both commands: an input must be a regular file (a device such as /dev/null or a
FIFO would read as empty, or block), and an output is never written over one of the files
the command reads, whatever path names it (`./`, `..`, a symlink, a hard link).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from reporting.errors import ReportFileError


def file_problem(path: Path, label: str, missing: str) -> str | None:
    """Why `path` (shown as `label`) cannot be read as a file, or None when it can.
    `missing` is the sentence for a path that does not exist."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return missing if exc.errno == errno.ENOENT else os_sentence(exc, label, "read")
    if stat.S_ISDIR(mode):
        return f"{label} is a directory; give the path of a file."
    if not stat.S_ISREG(mode):
        return (f"{label} is not a regular file (a device, pipe or socket); give the path "
                "of a file.")
    return None


def read_text(path: Path, label: str, missing: str) -> str:
    """The UTF-8 text of the regular file `path`; one sentence for anything else."""
    if problem := file_problem(path, label, missing):
        raise ReportFileError(problem)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ReportFileError(f"{label} is not UTF-8 text; give the path of a text file.") from None
    except OSError as exc:
        raise ReportFileError(os_sentence(exc, label, "read")) from None


def is_dir(path: Path) -> bool:
    """`Path.is_dir`, False (not an exception) for a name too long or a link loop."""
    try:
        return stat.S_ISDIR(path.stat().st_mode)
    except OSError:
        return False


def refuse_overwrite(out: Path, inputs: Sequence[Path], what: str, fix: str) -> None:
    """One sentence (`{out} is {what}; {fix}.`) when `out` is one of `inputs`, by any name."""
    for path in inputs:
        if same_file(out, path):
            alias = "" if out == path else f" ({path})"
            raise ReportFileError(f"{out} is {what}{alias}; {fix}.")


def write_output(path: Path, content: bytes, label: str) -> None:
    """Write `path`, creating its folders; one sentence for every OS failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ReportFileError(
            f"{label} cannot be written because a file in its path is not a folder; "
            "choose another path."
        ) from None
    except OSError as exc:
        raise ReportFileError(os_sentence(exc, label, "written")) from None
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise ReportFileError(os_sentence(exc, label, "written")) from None


def os_sentence(exc: OSError, label: str, verb: str) -> str:
    """`exc`, raised reading (`verb` "read") or writing ("written") `label`, as one sentence."""
    if isinstance(exc, IsADirectoryError):
        return f"{label} is a directory; give the path of a file."
    if isinstance(exc, PermissionError):
        return f"{label} cannot be {verb} (permission denied); check its permissions."
    if exc.errno == errno.ELOOP:
        return f"{label} is a symbolic link loop; point the link at a real file."
    if exc.errno == errno.ENAMETOOLONG:
        return f"{label} is a name too long for the file system; choose a shorter path."
    if exc.errno == errno.ENOTDIR:
        return f"{label} cannot be {verb} because a file in its path is not a folder; check it."
    reason = exc.strerror or type(exc).__name__
    return f"{label} cannot be {verb} ({reason}); check the path."


def same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file: through `..`, symlinks, or (both existing) a hard
    link or a case-insensitive file system."""
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a link loop: checked when the file is read
        pass
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False
