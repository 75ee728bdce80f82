"""The CI context: which forge, repository, token, commit and pull request, read once.

Built from the variables GitHub Actions and GitLab CI set, with command-line flags
overriding each of them. Outside CI, a repository (`--repo`) and a token are enough, and
the checkout's HEAD is the commit (`local`). The token is never part of `repr()`, so it
cannot leak through a log or a traceback.

GitHub Actions variables: https://docs.github.com/en/actions/reference/variables-reference
GitLab CI variables: https://docs.gitlab.com/ci/variables/predefined_variables/
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from reporting.errors import ContextError
from reporting.validate import checked_token, checked_url, parse_repo, positive_number

GITHUB_COM = "https://github.com"
GITHUB_COM_API = "https://api.github.com"
_PR_EVENTS = ("pull_request", "pull_request_target")


def _event_fix(env: Mapping[str, str]) -> str:
    """What to do about a broken event file: GitHub Actions writes it, so inside a run a step
    has overwritten the file or the variable; outside, the variables were set by hand."""
    if env.get("GITHUB_ACTIONS") == "true":
        return ("GitHub Actions writes this file, so check that no step overwrites it or sets "
                "GITHUB_EVENT_PATH")
    return "outside GitHub Actions, unset GITHUB_EVENT_PATH and GITHUB_EVENT_NAME"


class Driver(str, Enum):
    GITHUB = "github"
    GITLAB = "gitlab"


# Per forge: its name, the variables of its CI, and an example API root for messages.
_CI = {
    Driver.GITHUB: ("GitHub", "GitHub Actions", ("GITHUB_ACTIONS", "GITHUB_REPOSITORY"),
                    "GITHUB_SERVER_URL", "GITHUB_API_URL", GITHUB_COM_API),
    Driver.GITLAB: ("GitLab", "GitLab CI", ("GITLAB_CI", "CI_PROJECT_ID"),
                    "CI_SERVER_URL", "CI_API_V4_URL", "https://gitlab.com/api/v4"),
}


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
    local: bool = False  # no CI variable named the repository: the checkout's HEAD is the commit
    note: str | None = None  # which CI was assumed, and why, when both CIs' variables are set

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
    token_source: str = "--token"  # what to call `token` in messages
    token_flag: str | None = "--token"  # suggested when no token is found; None: no such flag
    repo_source: str = "--repo"  # where `repo` came from, for messages


def context_from_env(env: Mapping[str, str], flags: Overrides | None = None) -> CIContext:
    """Read the CI context once; raise `ContextError` naming what is missing."""
    flags = flags or Overrides()
    if not flags.repo and not any(env.get(n) for d in Driver for n in _CI[d][2]):
        # Outside CI the checkout's origin remote names the repository, as in CML.
        from dataclasses import replace

        from reporting.checkout import origin_remote
        from reporting.validate import remote_repo

        remote = remote_repo(origin_remote() or "")
        if remote.startswith(("https://", "http://")):  # not a clone of a local folder
            flags = replace(flags, repo=remote, repo_source="the origin remote")
        else:  # the repository is asked for first: with it, the driver is often told
            raise ContextError(_NO_REPO)
    driver, note = _driver(env, flags)
    try:
        return _context(env, flags, driver, note)
    except ContextError as exc:
        if not note:
            raise
        raise ContextError(f"{str(exc).rstrip('.')}; {note}.") from None


def _context(env: Mapping[str, str], flags: Overrides, driver: Driver,
             note: str | None) -> CIContext:
    ci = _github_env(env) if driver is Driver.GITHUB else _gitlab_env(env)
    repo, server, api = ci["repo"], ci["server"], ci["api"]
    same_repo = True
    if flags.repo:
        try:
            flag_server, flag_repo = parse_repo(flags.repo, driver.value, flags.token_flag)
        except ContextError as exc:
            if flags.repo_source == "--repo":
                raise
            raise ContextError(_origin_sentence(flags.repo, driver, str(exc))) from None
        same_repo = repo is None or flag_repo == repo  # a bare GITHUB_SHA applies too
        if flag_server and flag_server != (server or "").rstrip("/"):  # another host
            server, api = flag_server, None
        repo = flag_repo
    if not repo:
        raise ContextError(_NO_REPO)
    example = _CI[driver][5]
    api_url = (checked_url(flags.api_url, "--api-url", example) or api
               or _api_for(driver, server)).rstrip("/")
    server = (server or _server_for(driver, api_url)).rstrip("/")
    token, source = _token(env, flags, driver)
    return CIContext(
        driver=driver, repo=repo, api_url=api_url, server_url=server, token=token,
        token_source=source, sha=ci["sha"] if same_repo else None,
        pr_number=ci["pr"] if same_repo else None, local=ci["repo"] is None, note=note,
    )


_NO_REPO = ("No repository given; pass --repo OWNER/NAME or a repository URL (outside CI, "
            "the checkout's origin remote names it).")


def _origin_sentence(remote: str, driver: Driver, reason: str) -> str:
    """Why the origin remote, read because no --repo was given, cannot be used here."""
    noun = "repository" if driver is Driver.GITHUB else "project"
    for other in Driver:
        if other is not driver and f"is on {_CI[other][0]}" in reason:
            return (f"The checkout's origin remote ({remote}) is a {_CI[other][0]} repository, "
                    f"but --driver {driver.value} was given; pass --repo with the "
                    f"{_CI[driver][0]} {noun}, or drop --driver.")
    shape = "OWNER/NAME" if driver is Driver.GITHUB else "GROUP/PROJECT"
    return (f"The checkout's origin remote ({remote}) is not a {_CI[driver][0]} {noun} "
            f"address; pass --repo {shape}.")


def _driver(env: Mapping[str, str], flags: Overrides) -> tuple[Driver, str | None]:
    if flags.driver:
        return Driver(flags.driver), None
    seen = {d: [name for name in _CI[d][2] if env.get(name)] for d in Driver}
    if seen[Driver.GITHUB] or seen[Driver.GITLAB]:
        # The runtime's own marker wins over a repository variable a job may export.
        runtime = next((d for d in Driver if env.get(_CI[d][2][0]) == "true"), None)
        driver = runtime or next(d for d in Driver if seen[d])
        if not (seen[Driver.GITHUB] and seen[Driver.GITLAB]):
            return driver, None
        other = Driver.GITLAB if driver is Driver.GITHUB else Driver.GITHUB
        why = f"{_CI[driver][2][0]}=true" if runtime else f"{seen[driver][0]} is set"
        return driver, (
            f"both {_CI[Driver.GITHUB][1]} ({', '.join(seen[Driver.GITHUB])}) and "
            f"{_CI[Driver.GITLAB][1]} ({', '.join(seen[Driver.GITLAB])}) variables are set, "
            f"and {_CI[driver][1]} was assumed because {why}; pass --driver {other.value} to "
            f"report to {_CI[other][0]}")
    hint = (flags.repo or "") + " " + (flags.api_url or "")
    if "gitlab" in hint.lower():
        return Driver.GITLAB, None
    if "github" in hint.lower() or (flags.repo and "://" not in flags.repo):
        return Driver.GITHUB, None
    raise ContextError(
        "Cannot tell whether the repository is on GitHub or GitLab; pass --driver github "
        "or --driver gitlab."
    )


def _github_env(env: Mapping[str, str]) -> dict:
    pr, sha = None, env.get("GITHUB_SHA") or None
    path = env.get("GITHUB_EVENT_PATH")
    if env.get("GITHUB_EVENT_NAME") in _PR_EVENTS and path:
        fix = _event_fix(env)
        pull = _read_event(path, fix).get("pull_request")
        if not isinstance(pull, dict):
            raise ContextError(f"The GitHub event file {path} (GITHUB_EVENT_PATH) has no "
                               f"pull_request object; {fix}.")
        pr = positive_number(pull.get("number"), f"pull_request.number in the GitHub event "
                             f"file {path} (GITHUB_EVENT_PATH)", fix)
        head = pull.get("head")
        head_sha = head.get("sha") if isinstance(head, dict) else None
        sha = head_sha if isinstance(head_sha, str) and head_sha else sha
    return {"repo": _ci_repo(env, "GITHUB_REPOSITORY", Driver.GITHUB),
            "server": checked_url(env.get("GITHUB_SERVER_URL"), "GITHUB_SERVER_URL", GITHUB_COM),
            "api": checked_url(env.get("GITHUB_API_URL"), "GITHUB_API_URL", GITHUB_COM_API),
            "sha": sha, "pr": pr}


def _gitlab_env(env: Mapping[str, str]) -> dict:
    iid = positive_number(env.get("CI_MERGE_REQUEST_IID"), "CI_MERGE_REQUEST_IID",
                          "unset it, or set it to the merge request's number (its IID)",
                          noun="merge request")
    return {"repo": _ci_repo(env, "CI_PROJECT_PATH", Driver.GITLAB)
            or env.get("CI_PROJECT_ID") or None,
            "server": checked_url(env.get("CI_SERVER_URL"), "CI_SERVER_URL",
                                  "https://gitlab.com"),
            "api": checked_url(env.get("CI_API_V4_URL"), "CI_API_V4_URL",
                               "https://gitlab.com/api/v4"),
            "sha": env.get("CI_COMMIT_SHA") or None, "pr": iid}


def _ci_repo(env: Mapping[str, str], name: str, driver: Driver) -> str | None:
    """The repository a CI variable names, checked by `--repo`'s parser; a path only
    (OWNER/NAME, GROUP/SUBGROUP/PROJECT), never a URL, `..` or an empty segment."""
    value = env.get(name) or None
    if value is None:
        return None
    shape = "OWNER/NAME" if driver is Driver.GITHUB else "GROUP/PROJECT"
    fix = (f"{name} is {value!r}, not a {_CI[driver][0]} repository path like {shape}; "
           f"{_CI[driver][1]} sets it, so check that no step overrides it, or unset it and "
           "pass --repo.")
    if "://" in value or "@" in value or value != value.strip():
        raise ContextError(fix)
    try:
        server, repo = parse_repo(value, driver.value, None)
    except ContextError:
        raise ContextError(fix) from None
    if server is not None or repo != value:
        raise ContextError(fix)
    return repo


def _read_event(path: str, fix: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ContextError(
            f"Cannot read the GitHub event file {path} (GITHUB_EVENT_PATH): {exc}; "
            f"{fix}."
        ) from None
    return data if isinstance(data, dict) else {}


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
    if flags.token == "":
        raise ContextError(f"The token given with {flags.token_source} is empty; pass the "
                           f"token itself, or leave {flags.token_source} out to use "
                           f"{' or '.join(names[:2])}.")
    if flags.token:
        return checked_token(flags.token, flags.token_source), flags.token_source
    for name in names:
        if env.get(name):
            return checked_token(env[name], name), name
    or_flag = f", or pass {flags.token_flag}" if flags.token_flag else ""
    raise ContextError(
        f"No token found; set {' or '.join(names[:2])} in the job's environment{or_flag}."
    )
