"""The CI context: which forge, repository, token, commit and pull request, read once.

Built from the variables GitHub Actions and GitLab CI set, with command-line flags
overriding each of them. Outside CI, a repository (`--repo`) and a token are enough.
The token is never part of `repr()`, so it cannot leak through a log or a traceback.

GitHub Actions variables: https://docs.github.com/en/actions/reference/variables-reference
GitLab CI variables: https://docs.gitlab.com/ci/variables/predefined_variables/
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from urllib.parse import urlparse

from reporting.errors import ContextError

GITHUB_COM = "https://github.com"
GITHUB_COM_API = "https://api.github.com"
_PR_EVENTS = ("pull_request", "pull_request_target")


class Driver(str, Enum):
    GITHUB = "github"
    GITLAB = "gitlab"


@dataclass(frozen=True)
class CIContext:
    driver: Driver
    repo: str  # "owner/name" on GitHub; the project path (or numeric id) on GitLab
    api_url: str
    server_url: str
    token: str = field(repr=False)
    token_source: str = "--token"  # the variable or flag the token came from, for messages
    sha: str | None = None  # the commit under test (a pull request's head, not its merge)
    pr_number: int | None = None  # the pull / merge request of this CI run, if any

    @property
    def is_job_token(self) -> bool:
        return self.token_source == "CI_JOB_TOKEN"


@dataclass(frozen=True)
class Overrides:
    """Command-line flags; each one, when given, wins over the environment."""

    repo: str | None = None
    token: str | None = field(default=None, repr=False)
    driver: Driver | None = None
    api_url: str | None = None


def context_from_env(env: Mapping[str, str], flags: Overrides | None = None) -> CIContext:
    """Read the CI context once; raise `ContextError` naming what is missing."""
    flags = flags or Overrides()
    driver = _driver(env, flags)
    ci = _github_env(env) if driver is Driver.GITHUB else _gitlab_env(env)
    repo, server, api = ci["repo"], ci["server"], ci["api"]
    same_repo = True
    if flags.repo:
        flag_server, flag_repo = _parse_repo(flags.repo)
        same_repo = repo is None or flag_repo == repo  # a bare GITHUB_SHA applies too
        if flag_server and flag_server != (server or "").rstrip("/"):  # another host
            server, api = flag_server, None
        repo = flag_repo
    if not repo:
        raise ContextError("No repository given; pass --repo OWNER/NAME or a repository URL.")
    api_url = (flags.api_url or api or _api_for(driver, server)).rstrip("/")
    server = (server or _server_for(driver, api_url)).rstrip("/")
    token, source = _token(env, flags, driver)
    return CIContext(
        driver=driver, repo=repo, api_url=api_url, server_url=server, token=token,
        token_source=source, sha=ci["sha"] if same_repo else None,
        pr_number=ci["pr"] if same_repo else None,
    )


def _driver(env: Mapping[str, str], flags: Overrides) -> Driver:
    if flags.driver:
        return Driver(flags.driver)
    if env.get("GITHUB_ACTIONS") == "true" or env.get("GITHUB_REPOSITORY"):
        return Driver.GITHUB
    if env.get("GITLAB_CI") == "true" or env.get("CI_PROJECT_ID"):
        return Driver.GITLAB
    hint = (flags.repo or "") + " " + (flags.api_url or "")
    if "gitlab" in hint.lower():
        return Driver.GITLAB
    if "github" in hint.lower() or (flags.repo and "://" not in flags.repo):
        return Driver.GITHUB
    raise ContextError(
        "Cannot tell whether the repository is on GitHub or GitLab; pass --driver github "
        "or --driver gitlab."
    )


def _github_env(env: Mapping[str, str]) -> dict:
    pr, sha = None, env.get("GITHUB_SHA") or None
    if env.get("GITHUB_EVENT_NAME") in _PR_EVENTS and env.get("GITHUB_EVENT_PATH"):
        pull = _read_event(env["GITHUB_EVENT_PATH"]).get("pull_request") or {}
        pr = pull.get("number")
        sha = (pull.get("head") or {}).get("sha") or sha
    return {"repo": env.get("GITHUB_REPOSITORY"), "server": env.get("GITHUB_SERVER_URL"),
            "api": env.get("GITHUB_API_URL"), "sha": sha, "pr": int(pr) if pr else None}


def _gitlab_env(env: Mapping[str, str]) -> dict:
    iid = env.get("CI_MERGE_REQUEST_IID")
    return {"repo": env.get("CI_PROJECT_PATH") or env.get("CI_PROJECT_ID"),
            "server": env.get("CI_SERVER_URL"), "api": env.get("CI_API_V4_URL"),
            "sha": env.get("CI_COMMIT_SHA") or None, "pr": int(iid) if iid else None}


def _read_event(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ContextError(
            f"Cannot read the GitHub event file {path} (GITHUB_EVENT_PATH): {exc}; "
            "run inside GitHub Actions or unset GITHUB_EVENT_PATH."
        ) from None
    return data if isinstance(data, dict) else {}


def _parse_repo(value: str) -> tuple[str | None, str]:
    """`owner/name` or `https://host/owner/name(.git)` -> (server URL or None, path)."""
    value = value.strip()
    if "://" not in value:
        path = value.strip("/")
        if path.count("/") < 1:
            raise ContextError(f"--repo {value!r} is not OWNER/NAME or a repository URL.")
        return None, path
    url = urlparse(value)
    path = url.path.strip("/").removesuffix(".git")
    if not url.netloc or path.count("/") < 1:
        raise ContextError(f"--repo {value!r} is not a repository URL like https://host/owner/name.")
    return f"{url.scheme}://{url.netloc}", path


def _api_for(driver: Driver, server: str | None) -> str:
    if driver is Driver.GITHUB:
        # GitHub Enterprise Server serves the REST API under /api/v3:
        # https://docs.github.com/en/enterprise-server@latest/rest/quickstart
        if not server or server.rstrip("/") == GITHUB_COM:
            return GITHUB_COM_API
        return server.rstrip("/") + "/api/v3"
    return (server or "https://gitlab.com").rstrip("/") + "/api/v4"


def _server_for(driver: Driver, api_url: str) -> str:
    if api_url == GITHUB_COM_API:
        return GITHUB_COM
    return api_url.removesuffix("/api/v3").removesuffix("/api/v4")


def _token(env: Mapping[str, str], flags: Overrides, driver: Driver) -> tuple[str, str]:
    names = ("REPO_TOKEN", "GITHUB_TOKEN") if driver is Driver.GITHUB else (
        "REPO_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN")
    if flags.token:
        return flags.token, "--token"
    for name in names:
        if env.get(name):
            return env[name], name
    raise ContextError(
        f"No token found; set {' or '.join(names[:2])} in the job's environment, or pass --token."
    )
