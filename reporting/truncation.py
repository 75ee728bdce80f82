"""Fit a report into a forge's size limit: keep as much as fits, cut where a reader expects.

The cut falls at a line break when one is near (a table row is never cut in half), else
at a space (a long paragraph keeps all the words that fit), else where the limit falls.
A code fence left open by the cut is closed before the note, so the note renders as text.
Fences follow CommonMark (https://spec.commonmark.org/0.31.2/#fenced-code-blocks): three
or more backticks or tildes, indented at most three spaces, closed by at least as many of
the same character.
"""

from __future__ import annotations

import re

TRUNCATION_NOTE = (
    "\n\n---\n> **Note:** this report was cut to fit the {forge} limit of {limit:,} "
    "characters; {hidden:,} characters are not shown. Keep the full report as a CI artifact."
)
LINE_SLACK = 1_000  # a line break at most this far back is where the cut goes
WORD_SLACK = 100  # else a space at most this far back
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def truncate(text: str, limit: int, *, forge: str, forge_limit: int | None = None) -> str:
    """`text` if it fits in `limit` characters, else its head and a visible note."""
    if len(text) <= limit:
        return text

    def note(hidden: int) -> str:
        return TRUNCATION_NOTE.format(forge=forge, limit=forge_limit or limit, hidden=hidden)

    room = max(0, limit - len(note(len(text))))
    budget = room
    while True:
        keep = _cut(text[:budget])
        closer = _closing_fence(keep) + _closing_html(keep)
        if len(keep) + len(closer) <= room or not keep:
            return keep + closer + note(len(text) - len(keep))
        budget -= max(1, len(keep) + len(closer) - room)


def _cut(head: str) -> str:
    """`head` ended at its last line break or space, when one is near enough."""
    line = head.rfind("\n")
    if line >= 0 and len(head) - line <= min(LINE_SLACK, len(head) // 2 + 1):
        return head[:line]
    space = max(head.rfind(" "), head.rfind("\t"))
    if space >= 0 and len(head) - space <= min(WORD_SLACK, len(head) // 2 + 1):
        return head[:space]
    return head


_HTML_BLOCK = re.compile(r"<(/?)(details|summary|table|blockquote|div)\b[^>]*>", re.IGNORECASE)


def _closing_html(text: str) -> str:
    """Closing tags for the HTML blocks (`<details>` ...) `text` leaves open outside code
    fences, so the note after them is not hidden in a collapsed block."""
    stack: list[str] = []
    fence = ""
    for line in text.split("\n"):
        found = _FENCE.match(line)
        if found and (not fence or found.group(1)[0] == fence[0]):
            fence = "" if fence else found.group(1)
            continue
        if fence:
            continue
        for closing, tag in _HTML_BLOCK.findall(line):
            tag = tag.lower()
            if not closing:
                stack.append(tag)
            elif tag in stack:
                del stack[len(stack) - 1 - stack[::-1].index(tag):]
    return "".join(f"\n</{tag}>" for tag in reversed(stack)) + ("\n" if stack else "")


def _closing_fence(text: str) -> str:
    """The line that closes the code fence `text` leaves open, or "" when none is open."""
    open_fence = ""
    for line in text.split("\n"):
        found = _FENCE.match(line)
        if not found:
            continue
        fence, rest = found.groups()
        if not open_fence:
            if not (fence[0] == "`" and "`" in rest):  # a backtick info string has none
                open_fence = fence
        elif fence[0] == open_fence[0] and len(fence) >= len(open_fence) and not rest.strip():
            open_fence = ""
    return f"\n{open_fence}" if open_fence else ""
