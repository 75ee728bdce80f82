"""CML's own report watermark, so that the first `comment update` after switching from CML
edits CML's comment instead of adding a second report.

CML appends `![](https://cml.dev/watermark.png#<sha> "CML watermark <label>")` to every
report, the label being `--watermark-title` with `_`, `*`, `[` and `<` escaped by a
backslash, and finds it again ignoring the SHA (iterative/cml src/watermark.js, `Watermark`
`toString`, `title` and `isIn`: https://github.com/iterative/cml/blob/master/src/watermark.js).
"""

from __future__ import annotations

import re

WATERMARK_IMAGE = "https://cml.dev/watermark.png"
_WATERMARK = re.compile(
    r'!\[\]\(' + re.escape(WATERMARK_IMAGE) + r'(?:#[0-9a-fA-F]+)? "((?:[^"\\]|\\.)*)"\)')


def cml_titles(body: str) -> list[str]:
    """The titles of CML watermarks in `body`, unescaped ("CML watermark Training")."""
    return [re.sub(r"\\(.)", r"\1", found) for found in _WATERMARK.findall(body)]


def is_cml_report(body: str, watermark: str) -> bool:
    """True when `body` carries CML's watermark for `--watermark-title watermark`."""
    return f"CML watermark {watermark}".strip() in cml_titles(body)
