"""The protocol every forge adapter implements, and the values it trades in.

`GitHubForge` and `GitLabForge` take an already-built vendor client and turn every vendor
exception into a `reporting.errors` exception at their boundary. Creating requests
(POST) are made once, never retried blindly: when the answer is lost (5xx, dropped
connection) they raise `ForgeUnavailableError` and the caller looks for what it just
created before trying again (see `reporting.comments`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol


class ThreadKind(str, Enum):
    PR = "pr"
    COMMIT = "commit"
    ISSUE = "issue"


@dataclass(frozen=True)
class Thread:
    """Where a comment lives: a pull/merge request, a commit or an issue."""

    kind: ThreadKind
    ref: str  # the number of a pull request or issue, or a commit SHA

    def describe(self, forge: str) -> str:
        if self.kind is ThreadKind.COMMIT:
            return f"commit {self.ref[:12]}"
        if self.kind is ThreadKind.ISSUE:
            return f"issue #{self.ref}"
        return f"merge request !{self.ref}" if forge == "GitLab" else f"pull request #{self.ref}"


@dataclass(frozen=True)
class Comment:
    id: int | str
    body: str
    url: str = ""
    handle: Any = field(default=None, compare=False, repr=False)  # the vendor object


class Conclusion(str, Enum):
    """CML's `check create --conclusion` choices, GitHub's own names
    (https://docs.github.com/rest/checks/runs#create-a-check-run)."""

    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"


class CheckStatus(str, Enum):
    """CML's `check create --status` choices; only a completed check has a conclusion."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class Forge(Protocol):
    name: str  # "GitHub" or "GitLab", for messages
    max_comment_chars: int
    max_check_chars: int
    check_has_summary: bool  # False: the check carries no report, post it as a comment

    def pull_request_for_commit(self, sha: str) -> int | None:
        """The open pull/merge request whose head is `sha`, if any."""
        ...

    def list_comments(self, thread: Thread) -> list[Comment]:
        """Every comment of the thread, all pages, oldest first."""
        ...

    def create_comment(self, thread: Thread, body: str) -> Comment: ...

    def update_comment(self, thread: Thread, comment: Comment, body: str) -> Comment: ...

    def upload_image(self, path: Path, data: bytes) -> str:
        """Publish an image where readers of the repository can see it; return its URL."""
        ...

    def create_check(self, sha: str, title: str, status: CheckStatus,
                     conclusion: Conclusion | None, summary: str, run_id: str) -> str:
        """Create a check (GitHub) or commit status (GitLab); return its URL. `conclusion`
        is None exactly when `status` is not completed."""
        ...

    def find_check(self, sha: str, title: str, run_id: str) -> str | None:
        """The URL of the check created with `run_id`, if the forge stored it."""
        ...
