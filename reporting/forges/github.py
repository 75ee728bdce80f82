"""GitHub (github.com and Enterprise Server) through PyGithub.

Images go to an orphan branch of the same repository through the contents API, named by
their SHA-256 so repeated runs add nothing, and are linked through the repository's own
`/raw/` URL, which renders for everyone who can read the repository, private ones
included (https://docs.github.com/en/repositories/working-with-files/using-files/viewing-and-understanding-files).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import requests
from github import Github, GithubException, GithubRetry, InputGitTreeElement
from github.GithubException import IncompletableObject
from github.GithubObject import NotSet
from urllib3 import Retry
from urllib3.exceptions import MaxRetryError

from reporting.errors import ForgeError, ForgeNotFoundError, ForgeUnavailableError
from reporting.forges import github_errors
from reporting.forges.base import CheckStatus, Comment, Conclusion, Thread, ThreadKind
from reporting.retries import (
    ATTEMPTS,
    MAX_WAIT,
    Say,
    attempts_for,
    cause_of_error,
    cause_of_status,
    check_wait,
    not_the_api,
    quiet,
    unavailable_sentence,
    wait_line,
)

T = TypeVar("T")
# https://docs.github.com/en/rest/issues/comments: a body over 65,536 characters gets 422.
MAX_COMMENT_CHARS = 65_536
# checks/create: output.summary has "maxLength": 65535 in GitHub's OpenAPI description.
MAX_CHECK_CHARS = 65_535
ASSETS_BRANCH = "cml-infra-assets"
API_URL_HINT = "--api-url (or GITHUB_API_URL)"
# What PyGithub raises reading an answer of the wrong shape (an HTML page, an object where
# a list belongs): the server at the API address is not GitHub's REST API.
NOT_THE_API = (KeyError, TypeError, ValueError, AttributeError, IndexError)
ASSETS_DIR = "images"
ASSETS_README = "Images of cml-infra reports, named by content. Safe to delete.\n"


class SafeRetry(GithubRetry):
    """PyGithub's retry, except that a POST whose answer may be lost is never repeated.

    A 429 or a rate-limit 403 means the request was not processed, so it is retried for
    every method; 5xx and dropped connections are retried only for idempotent methods
    (POST is left out of `allowed_methods`; PATCH here only sets a body, so it is in).
    Each wait is told through `say` before it starts; one over MAX_WAIT (a rate limit that
    resets later), or waits adding up to over MAX_TOTAL_WAIT, fail at once with one sentence.
    """

    def __init__(self, *, say: Say = quiet, attempts: int | None = None, waited: float = 0.0,
                 **kwargs: Any) -> None:
        kwargs.setdefault("allowed_methods", Retry.DEFAULT_ALLOWED_METHODS | {"GET", "PATCH"})
        kwargs.setdefault("status_forcelist", [429, *range(500, 600)])
        kwargs.setdefault("max_rate_limit_wait", MAX_WAIT)
        super().__init__(**kwargs)
        self.say = say
        self.waited = waited
        self.attempts = attempts or (int(self.total) + 1 if self.total else 1)

    def new(self, **kw: Any) -> Any:
        kw.update(say=self.say, attempts=self.attempts, waited=self.waited)
        return super().new(**kw)

    def sleep(self, response: Any = None) -> None:
        # The wait urllib3's Retry.sleep is about to make: Retry-After, else the backoff.
        wait = self.get_retry_after(response) if (
            self.respect_retry_after_header and response is not None) else None
        wait = wait or self.get_backoff_time()
        last = self.history[-1] if self.history else None
        error = last.error if last is not None else None
        cause = cause_of_status(last.status) if last is not None and last.status else \
            cause_of_error(error)
        check_wait("GitHub", wait, self.waited)
        self.waited += wait
        attempts = self.attempts if last is not None and last.status else \
            attempts_for(error, self.attempts)
        self.say(wait_line("GitHub", cause, wait, len(self.history) + 1, attempts))
        super().sleep(response)

    def increment(self, method: str | None = None, url: str | None = None, *args: Any,
                  **kwargs: Any) -> Any:
        """urllib3's next retry state; a name that does not resolve is given up after
        UNRESOLVED_ATTEMPTS, and the attempts made are recorded on the final error."""
        error = kwargs.get("error")
        made = len(self.history) + 1
        if error is not None and made >= attempts_for(error, self.attempts):
            failed = MaxRetryError(kwargs.get("_pool"), url or "", error)
            failed.attempts = made  # type: ignore[attr-defined]
            raise failed from error
        try:
            return super().increment(method, url, *args, **kwargs)
        except MaxRetryError as exc:
            exc.attempts = made  # type: ignore[attr-defined]
            raise

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method == "POST" and status_code in (403, 429) and self.total:
            return True
        return super().is_retry(method, status_code, has_retry_after)


def github_retry(backoff: float = 1.0, total: int = ATTEMPTS - 1,
                 say: Say = quiet) -> SafeRetry:
    """The retry policy the CLI gives PyGithub; tests pass a tiny backoff."""
    return SafeRetry(total=total, backoff_factor=backoff, secondary_rate_wait=60 * backoff,
                     say=say)


class GitHubForge:
    name = "GitHub"
    max_comment_chars = MAX_COMMENT_CHARS
    max_check_chars = MAX_CHECK_CHARS
    check_has_summary = True

    def __init__(self, client: Github, repo: str, *, server_url: str,
                 token_source: str = "GITHUB_TOKEN", personal_token: bool = False) -> None:
        self._gh = client
        self._api_url = str(getattr(client.requester, "base_url", "") or server_url)
        self._personal = personal_token  # a check run then fails for that reason
        self._slug = repo
        self._server = server_url.rstrip("/")
        self._source = token_source
        self._repo = client.get_repo(repo)  # lazy: the client is built with lazy=True
        self._known: set[str] | None = None  # image paths on the assets branch

    def pull_request_for_commit(self, sha: str) -> int | None:
        with self._translate("list pull requests of a commit", what=f"commit {sha[:12]}"):
            pulls = list(self._repo.get_commit(sha).get_pulls())
            open_pulls = [p for p in pulls if p.state == "open"]
            return open_pulls[0].number if open_pulls else None

    def list_comments(self, thread: Thread) -> list[Comment]:
        with self._translate("read comments", what=thread.describe(self.name)):
            items = list(self._comment_parent(thread).get_comments())
            return [Comment(c.id, c.body or "", c.html_url, handle=c) for c in items]

    def create_comment(self, thread: Thread, body: str) -> Comment:
        with self._translate("post a comment", what=thread.describe(self.name)):
            parent = self._comment_parent(thread)
            made = parent.create_comment(body)
            return Comment(made.id, body, made.html_url, handle=made)

    def update_comment(self, thread: Thread, comment: Comment, body: str) -> Comment:
        with self._translate("edit a comment", what=thread.describe(self.name)):
            comment.handle.edit(body)
        return Comment(comment.id, body, comment.url, handle=comment.handle)

    def upload_image(self, path: Path, data: bytes) -> str:
        name = f"{ASSETS_DIR}/{hashlib.sha256(data).hexdigest()[:32]}{path.suffix.lower()}"
        published = self._published()
        if name not in published:
            with self._translate("commit an image to the assets branch", exists_ok=True):
                self._repo.create_file(name, f"Add {path.name} of a cml-infra report", data,
                                       branch=ASSETS_BRANCH)
            published.add(name)
        return f"{self._server}/{self._slug}/raw/{ASSETS_BRANCH}/{name}"

    def create_check(self, sha: str, title: str, status: CheckStatus,
                     conclusion: Conclusion | None, summary: str, run_id: str) -> str:
        # A conclusion sets the status to completed, so it is sent only with that status:
        # https://docs.github.com/rest/checks/runs#create-a-check-run
        with self._translate("create a check run", what=f"commit {sha[:12]}", check=True):
            run = self._repo.create_check_run(
                name=title, head_sha=sha, status=status.value, external_id=run_id,
                conclusion=conclusion.value if conclusion else NotSet,
                output={"title": title, "summary": summary})
            return run.html_url

    def find_check(self, sha: str, title: str, run_id: str) -> str | None:
        with self._translate("list check runs", what=f"commit {sha[:12]}"):
            runs = list(self._repo.get_commit(sha).get_check_runs(check_name=title))
            return next((r.html_url for r in runs if r.external_id == run_id), None)

    def _comment_parent(self, thread: Thread) -> Any:
        if thread.kind is ThreadKind.COMMIT:
            return self._repo.get_commit(thread.ref)
        return self._repo.get_issue(int(thread.ref))  # pull requests are issues here

    def _published(self) -> set[str]:
        """Images already on the assets branch (one listing; the branch made if missing).

        The contents API lists at most 1,000 entries of a directory
        (https://docs.github.com/en/rest/repos/contents); beyond that an image is sent
        again and answered 422, which is harmless.
        """
        if self._known is None:
            try:
                with self._translate("read the assets branch", probe_repo=False):
                    listing = self._repo.get_contents(ASSETS_DIR, ref=ASSETS_BRANCH)
                    entries = listing if isinstance(listing, list) else [listing]
                    self._known = {entry.path for entry in entries}
            except ForgeNotFoundError:  # no branch yet, or no image on it yet
                self._create_assets_branch()
                self._known = set()
        return self._known

    def _create_assets_branch(self) -> None:
        """An orphan branch: no history of the project, only report images."""
        with self._translate("create the assets branch", exists_ok=True):
            tree = _again(lambda: self._repo.create_git_tree(
                [InputGitTreeElement("README.md", "100644", "blob", content=ASSETS_README)]))
            commit = _again(lambda: self._repo.create_git_commit(
                "Start the cml-infra assets branch", tree, []))
            _again(lambda: self._repo.create_git_ref(f"refs/heads/{ASSETS_BRANCH}", commit.sha))

    def _repo_visible(self) -> bool:
        try:
            self._gh.get_repo(self._slug).update()  # lazy objects fetch only on update()
        except GithubException as exc:
            return exc.status != 404
        except (requests.RequestException, *NOT_THE_API):
            return True
        return True

    @contextmanager
    def _translate(self, action: str, *, what: str = "", exists_ok: bool = False,
                   check: bool = False, probe_repo: bool = True) -> Iterator[None]:
        try:
            yield
        except IncompletableObject as exc:  # an object without its URL: not GitHub's answer
            raise ForgeError(not_the_api("GitHub", self._api_url, API_URL_HINT)) from exc
        except GithubException as exc:
            if exists_ok and exc.status == 422 and github_errors.is_already_there(exc):
                return
            repo_missing = exc.status == 404 and probe_repo and not self._repo_visible()
            raise github_errors.translate(
                exc, action=action, what=what, repo=self._slug, source=self._source,
                check=check, repo_missing=repo_missing, personal=self._personal) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema) as exc:
            raise ForgeError(f"The GitHub API address is not a valid URL ({type(exc).__name__}); "
                             "check --api-url and the CI's URL variables.") from None
        except requests.RequestException as exc:
            raise ForgeUnavailableError(unavailable_sentence(
                "GitHub", action, exc, url_hint=API_URL_HINT)) from None
        except NOT_THE_API as exc:  # an HTML page, or JSON of another shape
            raise ForgeError(not_the_api("GitHub", self._api_url, API_URL_HINT)) from exc


def _again(step: Callable[[], T], attempts: int = 5) -> T:
    """Repeat a POST whose repetition is harmless: a git object or a ref that exists."""
    for attempt in range(attempts):
        try:
            return step()
        except GithubException as exc:
            if exc.status < 500 or attempt == attempts - 1:
                raise
        except requests.RequestException:
            if attempt == attempts - 1:
                raise
    raise ForgeError("unreachable")
