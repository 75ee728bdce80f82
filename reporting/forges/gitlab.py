"""GitLab (gitlab.com and self-managed) through python-gitlab.

Comments are merge request / issue notes, or commit discussions (commit comments have
no id to edit them by). Images go through the project uploads API and are linked by
their absolute URL, readable by whoever can read the project. `check create` becomes a
commit status; the report itself goes to the merge request as a note.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from gitlab import Gitlab
from gitlab.exceptions import GitlabError, GitlabParsingError

from reporting.errors import (
    ForgeAuthError,
    ForgeError,
    ForgeNotFoundError,
    ForgePermissionError,
    ForgeUnavailableError,
)
from reporting.forges.base import CheckStatus, Comment, Conclusion, Thread, ThreadKind
from reporting.forges.gitlab_client import transient_cause
from reporting.retries import (
    ATTEMPTS,
    Say,
    attempts_for,
    not_the_api,
    quiet,
    unavailable_sentence,
    wait_line,
)

# Notes are limited to 1,000,000 characters (Gitlab::Database::MAX_TEXT_SIZE_LIMIT,
# https://gitlab.com/gitlab-org/gitlab-foss/-/commit/5af535d919c50951513f5859730afd924a01c29b);
# GitLab 12.5 widened it to 1 MB (https://gitlab.com/gitlab-org/gitlab/-/merge_requests/18617).
MAX_NOTE_CHARS = 1_000_000
# Commit status states: https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit
# (`skipped` since https://gitlab.com/gitlab-org/gitlab/-/merge_requests/168350).
_STATES = {Conclusion.SUCCESS: "success", Conclusion.FAILURE: "failed",
           Conclusion.NEUTRAL: "success", Conclusion.CANCELLED: "canceled",
           Conclusion.SKIPPED: "skipped", Conclusion.TIMED_OUT: "failed"}
_UNFINISHED = {CheckStatus.QUEUED: "pending", CheckStatus.IN_PROGRESS: "running"}
# A create whose answer is lost is not re-sent (the caller looks for it first).
_ONCE: dict[str, Any] = {"retry_transient_errors": False}
UPLOAD_ATTEMPTS = ATTEMPTS  # a repeated upload only leaves an unreferenced file behind
API_URL_HINT = "--api-url (or CI_API_V4_URL)"
# What python-gitlab raises reading an answer of the wrong shape (an HTML page, an object
# where a list belongs, GitlabList's KeyError 0): not GitLab's REST API at that address.
NOT_THE_API = (KeyError, TypeError, ValueError, AttributeError, IndexError, GitlabParsingError)


class GitLabForge:
    name = "GitLab"
    max_comment_chars = MAX_NOTE_CHARS
    max_check_chars = 255  # the status description; the report goes to a note
    check_has_summary = False

    def __init__(self, client: Gitlab, repo: str, *, server_url: str,
                 token_source: str = "REPO_TOKEN", backoff: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, say: Say = quiet) -> None:
        self._gl = client
        self._backoff, self._sleep, self._say = backoff, sleep, say
        self._path = repo
        self._server = server_url.rstrip("/")
        self._source = token_source
        self._project = client.projects.get(repo, lazy=True)

    def pull_request_for_commit(self, sha: str) -> int | None:
        with self._translate("list merge requests of a commit", what=f"commit {sha[:12]}"):
            found = self._project.commits.get(sha, lazy=True).merge_requests()
        opened = [mr for mr in found if mr.get("state") == "opened"]
        return int(opened[0]["iid"]) if opened else None

    def list_comments(self, thread: Thread) -> list[Comment]:
        with self._translate("read comments", what=thread.describe(self.name)):
            if thread.kind is ThreadKind.COMMIT:
                # `.notes` of a discussion is its note manager; the notes are in attributes.
                found = self._commit(thread).discussions.list(get_all=True)
                firsts = [(d, d.attributes["notes"][0]) for d in found if d.attributes["notes"]]
                return [Comment(n["id"], n["body"], self._note_url(thread, n["id"]), handle=d)
                        for d, n in firsts]
            notes = self._noteable(thread).notes.list(get_all=True, sort="asc",
                                                      order_by="created_at")
        return [Comment(n.id, n.body, self._note_url(thread, n.id), handle=n)
                for n in notes if not n.system]

    def create_comment(self, thread: Thread, body: str) -> Comment:
        with self._translate("post a comment", what=thread.describe(self.name)):
            if thread.kind is ThreadKind.COMMIT:
                made = self._commit(thread).discussions.create({"body": body}, **_ONCE)
                first = made.attributes["notes"][0]["id"]
                return Comment(first, body, self._note_url(thread, first), handle=made)
            note = self._noteable(thread).notes.create({"body": body}, **_ONCE)
        return Comment(note.id, body, self._note_url(thread, note.id), handle=note)

    def update_comment(self, thread: Thread, comment: Comment, body: str) -> Comment:
        with self._translate("edit a comment", what=thread.describe(self.name)):
            if thread.kind is ThreadKind.COMMIT:
                discussion = self._commit(thread).discussions.get(comment.handle.id, lazy=True)
                discussion.notes.update(comment.id, {"body": body})
            else:
                self._noteable(thread).notes.update(comment.id, {"body": body})
        return Comment(comment.id, body, self._note_url(thread, comment.id),
                       handle=comment.handle)

    def upload_image(self, path: Path, data: bytes) -> str:
        # https://docs.gitlab.com/api/project_markdown_uploads/ (not `Project.upload`: on a
        # lazy project named by its path, python-gitlab 8 encodes the path twice). Retried
        # here, not by python-gitlab, whose retry (also on 429) re-sends the multipart
        # stream it already consumed: an empty body that hangs until the timeout.
        uploaded: Any = None
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            try:
                uploaded = self._gl.http_post(
                    f"/projects/{self._project.encoded_id}/uploads", obey_rate_limit=False,
                    retry_transient_errors=False, files={"file": (path.name, data)})
                break
            except (GitlabError, requests.RequestException) as exc:
                cause = transient_cause(exc)
                limit = attempts_for(exc, UPLOAD_ATTEMPTS)
                if cause is None or attempt >= limit:
                    if cause is not None:
                        exc.attempts = attempt  # type: ignore[union-attr]  # for the sentence
                    with self._translate("upload an image"):
                        raise
                wait = self._backoff * 2 ** (attempt - 1)
                self._say(wait_line("GitLab", cause, wait, attempt + 1, limit))
                self._sleep(wait)
        if uploaded.get("full_path"):
            return self._server + uploaded["full_path"]
        return f"{self._server}/{self._path}{uploaded['url']}"

    def create_check(self, sha: str, title: str, status: CheckStatus,
                     conclusion: Conclusion | None, summary: str, run_id: str) -> str:
        shown = conclusion.value if conclusion else status.value
        description = f"{summary} ({shown})"[: self.max_check_chars]
        state = _STATES[conclusion] if conclusion else _UNFINISHED[status]
        with self._translate("set a commit status", what=f"commit {sha[:12]}"):
            made: Any = self._project.commits.get(sha, lazy=True).statuses.create(
                {"state": state, "name": title, "description": description})
        return str(getattr(made, "target_url", None) or
                   f"{self._server}/{self._path}/-/commit/{sha}")

    def find_check(self, sha: str, title: str, run_id: str) -> str | None:
        return None  # statuses are retried by python-gitlab itself; the newest one counts

    def _note_url(self, thread: Thread, note_id: int | str) -> str:
        """The web address of a note: GitLab's API gives none, the page anchors `note_<id>`."""
        page = {ThreadKind.PR: "merge_requests", ThreadKind.ISSUE: "issues",
                ThreadKind.COMMIT: "commit"}[thread.kind]
        return f"{self._server}/{self._path}/-/{page}/{thread.ref}#note_{note_id}"

    def _noteable(self, thread: Thread) -> Any:
        managers: dict[ThreadKind, Any] = {ThreadKind.PR: self._project.mergerequests,
                                           ThreadKind.ISSUE: self._project.issues}
        return managers[thread.kind].get(int(thread.ref), lazy=True)

    def _commit(self, thread: Thread) -> Any:
        return self._project.commits.get(thread.ref, lazy=True)

    def _project_visible(self) -> bool:
        try:
            self._gl.projects.get(self._path)
        except GitlabError as exc:
            return exc.response_code != 404
        except (requests.RequestException, *NOT_THE_API):
            return True
        return True

    @contextmanager
    def _translate(self, action: str, *, what: str = "") -> Iterator[None]:
        try:
            yield
        except NOT_THE_API as exc:  # before GitlabError: GitlabParsingError is one
            raise ForgeError(not_the_api("GitLab", self._gl.api_url, API_URL_HINT)) from exc
        except GitlabError as exc:
            raise self._error(exc, action, what) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema) as exc:
            raise ForgeError(f"The GitLab API address is not a valid URL ({type(exc).__name__}); "
                             "check --api-url and the CI's URL variables.") from None
        except requests.RequestException as exc:
            raise ForgeUnavailableError(unavailable_sentence(
                "GitLab", action, exc, url_hint=API_URL_HINT)) from None

    def _error(self, exc: GitlabError, action: str, what: str) -> ForgeError:
        code = exc.response_code or 0
        message = " ".join(str(exc.error_message or "").split()).rstrip(".")[:200]
        if code == 401:
            return ForgeAuthError(
                f"GitLab rejected the token from {self._source} (401 {message}); check that "
                "it is valid and has not expired.")
        if code == 403 and self._source == "CI_JOB_TOKEN":
            return ForgePermissionError(
                f"CI_JOB_TOKEN may not {action}; set REPO_TOKEN to a project access token "
                "with the api scope (Developer role).")
        if code == 403:
            return ForgePermissionError(
                f"The token from {self._source} may not {action} in {self._path} (403 "
                f"{message}); give it the api scope and at least the Developer role.")
        if code == 404 and not self._project_visible():
            return ForgeNotFoundError(
                f"Project {self._path} was not found on GitLab, or the token from "
                f"{self._source} cannot see it; check --repo and the token's access.")
        if code == 404:
            return ForgeNotFoundError(
                f"{what[:1].upper() + what[1:] if what else 'The resource'} was not found in "
                f"{self._path}; check --target.")
        if code >= 500 or code == 429:
            return ForgeUnavailableError(unavailable_sentence(
                "GitLab", action, exc, status=code, detail=message))
        if code == 0:
            return ForgeUnavailableError(unavailable_sentence(
                "GitLab", action, exc, url_hint=API_URL_HINT))
        return ForgeError(f"GitLab refused to {action} ({code} {message}).")
