"""The report as posted: our hidden marker, local images, and the forge's size limit.

Pure functions over markdown text; nothing here talks to a forge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from reporting.errors import ReportFileError
from reporting.truncation import TRUNCATION_NOTE, truncate

__all__ = ["TRUNCATION_NOTE", "truncate"]  # where they were first defined; tests import them

# An HTML comment renders as nothing on both forges; the watermark is URL-quoted so
# that no title can close the comment early.
_MARKER = '<!-- cml-infra report watermark="{watermark}" run="{run}" -->'
_MARKER_RE = re.compile(r'<!-- cml-infra report watermark="([^"]*)" run="([^"]*)" -->')

_MD_IMAGE = re.compile(r'!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
_HTML_IMAGE = re.compile(r'<img\b[^>]*?\bsrc\s*=\s*(["\']?)([^"\'\s>]+)\1', re.IGNORECASE)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_REMOTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//|#)")


def marker(watermark: str, run_id: str) -> str:
    return _MARKER.format(watermark=quote(watermark, safe=""), run=quote(run_id, safe=""))


def parse_marker(body: str) -> tuple[str, str] | None:
    """(watermark, run id) of our marker in `body`, or None when the comment is not ours."""
    found = _MARKER_RE.search(body)
    return (unquote(found.group(1)), unquote(found.group(2))) if found else None


def report_problem(path: Path) -> str | None:
    """Why `path` cannot be a report, before anything is read: missing, a directory, or not a
    regular file (/dev/null reads as empty, a FIFO blocks); None when it can be read."""
    from reporting.metrics.files import file_problem

    return file_problem(path, f"Report file {path}",
                        f"Report file {path} does not exist; check the path.")


def read_report(path: Path) -> str:
    """The report's text; one sentence for a file that is not a regular UTF-8 file with
    something in it (an empty report would post an empty comment)."""
    if problem := report_problem(path):
        raise ReportFileError(problem)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ReportFileError(f"Cannot read report file {path} ({reason}); check the file.") \
            from None
    if not text.strip():
        raise ReportFileError(f"Report file {path} is empty; write the report into it before "
                              "posting.")
    return text


@dataclass(frozen=True)
class LocalImage:
    ref: str  # the reference exactly as written in the markdown
    path: Path


def local_refs(markdown: str) -> list[str]:
    """The local image references of a report, in order, each once, unchecked."""
    prose = _FENCE.sub("", markdown)  # images inside code blocks are examples, not images
    refs = [m.group(1) for m in _MD_IMAGE.finditer(prose)]
    refs += [m.group(2) for m in _HTML_IMAGE.finditer(prose)]
    return list(dict.fromkeys(ref for ref in refs if not _REMOTE.match(ref)))


def local_images(markdown: str, base_dir: Path, workspace: Path | None = None) -> list[LocalImage]:
    """Every local image the report references, in order, each once; all must exist.

    Each must be an image file inside the report's folder or `workspace` (default: the
    current directory, i.e. the CI checkout), so that a report cannot publish other files
    such as `/proc/self/environ` or `~/.ssh/id_rsa` to the forge.
    """
    roots = (base_dir.resolve(), (workspace or Path.cwd()).resolve())
    return [LocalImage(ref, _checked_image(ref, base_dir, roots)) for ref in local_refs(markdown)]


_ALLOWED = ("only .png, .jpg, .jpeg, .gif, .svg and .webp image files inside the report's "
            "folder or the current directory can be posted")
# Leading bytes of each allowed format; SVG is text, checked separately.
_MAGIC: dict[str, tuple[bytes, ...]] = {".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",),
          ".jpeg": (b"\xff\xd8\xff",), ".gif": (b"GIF87a", b"GIF89a"), ".webp": (b"RIFF",)}
_KIND = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF", ".svg": "SVG",
         ".webp": "WebP"}


def _checked_image(ref: str, base_dir: Path, roots: tuple[Path, ...]) -> Path:
    """The resolved path of image `ref`, or a ReportFileError naming what is allowed."""
    path = base_dir / unquote(ref)
    real = path.resolve()
    if not any(real == root or root in real.parents for root in roots):
        raise ReportFileError(f"Image {ref} referenced in the report is not allowed; {_ALLOWED}.")
    if not real.is_file():
        raise ReportFileError(
            f"Image {ref} referenced in the report does not exist (looked for {path}); "
            "create it before posting or fix the path."
        )
    kind = _KIND.get(real.suffix.lower())
    if kind is None:
        raise ReportFileError(f"Image {ref} referenced in the report is not allowed; {_ALLOWED}.")
    if not _looks_like_image(real):
        raise ReportFileError(
            f"Image {ref} referenced in the report is not an image: its content is not "
            f"{kind}; regenerate it, or fix the path if it names the wrong file.")
    return real


def _looks_like_image(path: Path) -> bool:
    suffix = path.suffix.lower()
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    if suffix == ".svg":
        return head.lstrip().startswith((b"<svg", b"<?xml"))
    if suffix == ".webp":
        return head.startswith(b"RIFF") and head[8:12] == b"WEBP"
    return head.startswith(_MAGIC.get(suffix, ()))


def rewrite_images(markdown: str, urls: dict[str, str]) -> str:
    """Replace each local image reference with its published URL."""

    def markdown_image(match: re.Match[str]) -> str:
        ref = match.group(1)
        return match.group(0).replace(ref, urls[ref], 1) if ref in urls else match.group(0)

    def html_image(match: re.Match[str]) -> str:
        ref = match.group(2)
        return match.group(0).replace(ref, urls[ref], 1) if ref in urls else match.group(0)

    return _HTML_IMAGE.sub(html_image, _MD_IMAGE.sub(markdown_image, markdown))


def render_body(markdown: str, *, watermark: str, run_id: str, limit: int, forge: str,
                marked: bool = True) -> str:
    """The posted body: marker first (so truncation keeps it), then the report, cut to fit.
    Unmarked (CML's --rm-watermark), no later run can find the comment again."""
    head = marker(watermark, run_id) + "\n" if marked else ""
    return head + truncate(markdown, limit - len(head), forge=forge, forge_limit=limit)
