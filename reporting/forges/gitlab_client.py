"""python-gitlab with its transient retries made here, so that each wait is announced.

python-gitlab retries inside `Gitlab.http_request` and sleeps silently
(`gitlab.utils.Retry`); this subclass asks it for one attempt at a time and keeps the same
policy: 429 is retried when `obey_rate_limit` (the request was not processed), 5xx and
dropped connections only when `retry_transient_errors` (creates pass False, see
`reporting.forges.gitlab`). A 429's wait comes, as in python-gitlab, from Retry-After
(https://gitlab.com/gitlab-org/gitlab/-/merge_requests/206603), else RateLimit-Reset (the
Unix time the quota resets), else the backoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from gitlab import Gitlab
from gitlab.exceptions import GitlabError

from reporting.retries import (
    ATTEMPTS,
    Say,
    attempts_for,
    cause_of_error,
    cause_of_status,
    check_wait,
    quiet,
    wait_line,
)

_TRANSIENT = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
              requests.exceptions.Timeout)


def transient_cause(exc: BaseException, *, rate_limit: bool = True,
                    transient: bool = True) -> str | None:
    """How to tell a retryable failure ("answered 502"), or None when it is not one."""
    if isinstance(exc, GitlabError):
        code = exc.response_code or 0
        if (code == 429 and rate_limit) or (transient and code >= 500):
            return cause_of_status(code)
        return None
    return cause_of_error(exc) if transient and isinstance(exc, _TRANSIENT) else None


class AnnouncedGitlab(Gitlab):
    def __init__(self, *args: Any, say: Say = quiet, backoff: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._say, self._backoff, self._sleep = say, backoff, sleep
        self._last: requests.Response | None = None
        self.session.hooks["response"].append(self._remember)

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last = response

    def http_request(self, verb: str, path: str, obey_rate_limit: bool = True,  # type: ignore[override]
                     retry_transient_errors: bool | None = None, max_retries: int = 10,
                     **kwargs: Any) -> Any:
        """python-gitlab's request (its own callers pass everything after `path` by name)."""
        transient = self.retry_transient_errors if retry_transient_errors is None \
            else retry_transient_errors
        attempts = min(ATTEMPTS, max_retries + 1) if max_retries >= 0 else ATTEMPTS
        waited = 0.0
        for attempt in range(1, attempts + 1):
            self._last = None
            try:
                return super().http_request(verb, path, obey_rate_limit=False,
                                            retry_transient_errors=False, max_retries=0,
                                            **kwargs)
            except (GitlabError, *_TRANSIENT) as exc:
                cause = transient_cause(exc, rate_limit=obey_rate_limit, transient=transient)
                limit = attempts_for(exc, attempts)
                if cause is not None and attempt >= limit:
                    exc.attempts = attempt  # type: ignore[union-attr]  # for the sentence
                if cause is None or attempt >= limit:
                    raise
            wait = self._wait(attempt)
            check_wait("GitLab", wait, waited)
            waited += wait
            self._say(wait_line("GitLab", cause, wait, attempt + 1, limit))
            self._sleep(wait)
        raise AssertionError("unreachable")

    def _wait(self, attempt: int) -> float:
        headers = self._last.headers if self._last is not None else {}
        after, reset = headers.get("Retry-After", ""), headers.get("RateLimit-Reset", "")
        if after.strip().isdigit():
            return float(after)
        if reset.strip().isdigit():
            return max(0.0, int(reset) - time.time())
        return self._backoff * 2 ** (attempt - 1)
