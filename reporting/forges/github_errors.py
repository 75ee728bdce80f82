"""PyGithub's exceptions, told as one sentence each (the adapter boundary for GitHub)."""

from __future__ import annotations

from github import GithubException, RateLimitExceededExceedsMaxWait

from reporting.errors import (
    ForgeAuthError,
    ForgeError,
    ForgeNotFoundError,
    ForgePermissionError,
    ForgeUnavailableError,
)

# https://docs.github.com/en/rest/checks/runs#create-a-check-run: "OAuth apps and personal
# access tokens (classic) cannot use this endpoint."
CHECKS_DOCS = "https://docs.github.com/rest/checks/runs"
CHECK_TOKEN_SENTENCE = (
    "GitHub check runs need the workflow's GITHUB_TOKEN (with 'checks: write' permission) "
    "or a GitHub App token ({docs}); the token from {source} is a personal or OAuth app "
    "token, which cannot create them, so {fix}."
)
_CHECK_TOKEN_FIX = {
    "REPO_TOKEN": "unset REPO_TOKEN for this step or pass --token \"$GITHUB_TOKEN\"",
    "GITHUB_TOKEN": "set GITHUB_TOKEN to the workflow's own token (${{ github.token }}) "
                    "for this step",
}
# Prefixes of personal and OAuth app tokens:
# https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/
PERSONAL_PREFIXES = ("ghp_", "github_pat_", "gho_")


def check_token_sentence(source: str) -> str:
    fix = _CHECK_TOKEN_FIX.get(source, "pass the workflow's token instead (--token "
                                       "\"$GITHUB_TOKEN\")")
    return CHECK_TOKEN_SENTENCE.format(docs=CHECKS_DOCS, source=source, fix=fix)


def message_of(exc: GithubException) -> str:
    data = exc.data
    text = data.get("message", "") if isinstance(data, dict) else str(data or "")
    return " ".join(str(text).split()).rstrip(".")[:200]


def is_already_there(exc: GithubException) -> bool:
    """A 422 for a file or branch that exists already: content-addressed, so same bytes."""
    text = message_of(exc).lower()
    return '"sha" wasn\'t supplied' in text or "already exists" in text


def translate(exc: GithubException, *, action: str, what: str, repo: str, source: str,
              check: bool = False, repo_missing: bool = False,
              personal: bool = False) -> ForgeError:
    if isinstance(exc, RateLimitExceededExceedsMaxWait):
        from reporting.retries import rate_limit_error

        return rate_limit_error("GitHub", exc.wait or 0.0)
    status, message = exc.status, message_of(exc)
    personal = personal or "personal access token" in message.lower()
    if status == 401:
        return ForgeAuthError(
            f"GitHub rejected the token from {source} (401 {message or 'Bad credentials'}); "
            "check that it is valid and has not expired."
        )
    if status == 403 and check and personal and "rate limit" not in message:
        return ForgePermissionError(check_token_sentence(source))
    if status == 403 and check and source == "GITHUB_TOKEN" and "rate limit" not in message:
        return ForgePermissionError(
            f"The workflow's GITHUB_TOKEN may not create check runs (403 {message}); add "
            "'permissions: checks: write' to the job.")
    if status == 403 and check and "rate limit" not in message:
        return ForgePermissionError(
            f"The token from {source} may not create check runs (403 {message}); check runs "
            "need the workflow's GITHUB_TOKEN with 'checks: write' or a GitHub App token with "
            f"the Checks write permission ({CHECKS_DOCS}).")
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
        from reporting.retries import unavailable_sentence

        return ForgeUnavailableError(unavailable_sentence("GitHub", action, exc, status=status,
                                                          detail=message))
    return ForgeError(f"GitHub refused to {action} ({status} {message}).")
