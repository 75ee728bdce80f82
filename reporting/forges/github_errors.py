"""PyGithub's exceptions, told as one sentence each (the adapter boundary for GitHub)."""

from __future__ import annotations

from github import GithubException

from reporting.errors import (
    ForgeAuthError,
    ForgeError,
    ForgeNotFoundError,
    ForgePermissionError,
    ForgeUnavailableError,
)

# https://docs.github.com/en/rest/checks/runs#create-a-check-run: "OAuth apps and personal
# access tokens (classic) cannot use this endpoint."
CHECK_TOKEN_SENTENCE = (
    "GitHub check runs need the workflow's GITHUB_TOKEN (with 'checks: write' permission) "
    "or a GitHub App token; the personal token from {source} cannot create them, so unset "
    "REPO_TOKEN for this step or pass --token \"$GITHUB_TOKEN\"."
)


def message_of(exc: GithubException) -> str:
    data = exc.data
    text = data.get("message", "") if isinstance(data, dict) else str(data or "")
    return " ".join(str(text).split()).rstrip(".")[:200]


def is_already_there(exc: GithubException) -> bool:
    """A 422 for a file or branch that exists already: content-addressed, so same bytes."""
    text = message_of(exc).lower()
    return '"sha" wasn\'t supplied' in text or "already exists" in text


def translate(exc: GithubException, *, action: str, what: str, repo: str, source: str,
              check: bool = False, repo_missing: bool = False) -> ForgeError:
    status, message = exc.status, message_of(exc)
    if status == 401:
        return ForgeAuthError(
            f"GitHub rejected the token from {source} (401 {message or 'Bad credentials'}); "
            "check that it is valid and has not expired."
        )
    if status == 403 and check and source == "GITHUB_TOKEN" and "rate limit" not in message:
        return ForgePermissionError(
            f"The workflow's GITHUB_TOKEN may not create check runs (403 {message}); add "
            "'permissions: checks: write' to the job.")
    if status == 403 and check and "rate limit" not in message:
        return ForgePermissionError(CHECK_TOKEN_SENTENCE.format(source=source))
    if status == 403 and "rate limit" not in message.lower():
        return ForgePermissionError(
            f"The token from {source} may not {action} in {repo} (403 {message}); grant it "
            "'contents', 'issues' and 'pull-requests' write access (or 'permissions:' in the "
            "workflow)."
        )
    if status == 404 and repo_missing:
        return ForgeNotFoundError(
            f"Repository {repo} was not found on GitHub, or the token from {source} cannot "
            "see it; check --repo and the token's access."
        )
    if status == 404:
        return ForgeNotFoundError(
            f"{what[:1].upper() + what[1:] if what else 'The resource'} was not found in "
            f"{repo}; check --target."
        )
    if status in (403, 429) or status >= 500:
        return ForgeUnavailableError(
            f"GitHub kept failing while trying to {action} ({status} {message}) even after "
            "retries; run the command again later (nothing is posted twice)."
        )
    return ForgeError(f"GitHub refused to {action} ({status} {message}).")
