"""Read metrics files as they are at the base revision, through git alone (no DVC).

The base is `--base`, else the branch the CI run merges into (`GITHUB_BASE_REF` on
GitHub Actions pull requests, https://docs.github.com/en/actions/reference/variables-reference;
`CI_MERGE_REQUEST_TARGET_BRANCH_NAME` in GitLab merge request pipelines,
https://docs.gitlab.com/ci/variables/predefined_variables/), else `main`. CI checkouts are
often shallow and hold no base branch at all, so a missing revision is told as the fetch
that brings it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reporting.errors import BaseRevisionError, ReportFileError

Runner = Callable[[Sequence[str], Path], "subprocess.CompletedProcess[bytes]"]
BASE_VARIABLES = ("GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
DEFAULT_BASE = "main"


def run_git(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run git without a terminal prompt; the seam tests may replace."""
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except FileNotFoundError:
        raise BaseRevisionError(
            "git is not installed or not on PATH; install git to compare metrics with the "
            "base branch."
        ) from None


class BaseTextError(ReportFileError):
    """A file at the base revision is not text; told as a note, since no branch can fix it."""


@dataclass(frozen=True)
class GitBase:
    """A base revision that git can show files from."""

    name: str  # as the user knows it: `main`
    rev: str  # what git resolved: `main` or `origin/main`
    toplevel: Path
    run: Runner = run_git

    def read(self, path: Path, cwd: Path) -> str | None:
        """The text of `path` at the base, or None when it did not exist there."""
        relative = self._relative(path, cwd)
        result = self.run(["show", f"{self.rev}:{relative}"], self.toplevel)
        if result.returncode != 0:
            return None
        try:
            return result.stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise BaseTextError(
                f"{relative} at {self.name} is not UTF-8 text; metrics files must be text."
            ) from None

    def _relative(self, path: Path, cwd: Path) -> str:
        full = (cwd / path).resolve()
        try:
            return full.relative_to(self.toplevel).as_posix()
        except ValueError:
            raise ReportFileError(
                f"{path} is outside the git repository at {self.toplevel}, so it has no base "
                "version; move it into the repository."
            ) from None


def base_name(flag: str | None, env: Mapping[str, str]) -> str:
    """The base the user means: the flag, else the CI's target branch, else `main`."""
    if flag:
        return flag
    return next((env[var] for var in BASE_VARIABLES if env.get(var)), DEFAULT_BASE)


def resolve_base(name: str, cwd: Path, run: Runner = run_git) -> GitBase:
    """Find `name` (or `origin/<name>`) in the repository around `cwd`."""
    if name.startswith("-"):
        raise BaseRevisionError(f"'{name}' is not a revision; give a branch, tag or commit.")
    top = run(["rev-parse", "--show-toplevel"], cwd)
    if top.returncode != 0:
        raise BaseRevisionError(_no_repository_sentence(cwd, top.stderr.decode(errors="replace")))
    toplevel = Path(top.stdout.decode().strip()).resolve()
    for rev in (name, f"origin/{name}"):
        found = run(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd)
        if found.returncode == 0:
            return GitBase(name=name, rev=rev, toplevel=toplevel, run=run)
    raise BaseRevisionError(_missing_sentence(name, cwd, run))


def _no_repository_sentence(cwd: Path, stderr: str) -> str:
    if "dubious ownership" in stderr:
        # Containers often run as another user than the checkout's owner; see
        # https://git-scm.com/docs/git-config#Documentation/git-config.txt-safedirectory
        return (
            f"git refuses to read the repository at {cwd} because another user owns it; run "
            f"{_shown(f'git config --global --add safe.directory {shlex.quote(str(cwd))}')} "
            "first."
        )
    return (
        f"{cwd} is not inside a git repository, so there is no base to compare with; run "
        "from your repository's checkout, or use 'cml-infra metrics show'."
    )


def _is_shallow(cwd: Path, run: Runner) -> bool:
    result = run(["rev-parse", "--is-shallow-repository"], cwd)
    return result.stdout.decode().strip() == "true"


def _fetch_command(name: str, refspecs: str) -> str:
    # `git fetch origin main` updates origin/main only when the remote's refspec covers it
    # (https://git-scm.com/docs/git-fetch#_configured_remote_tracking_branches); a
    # single-branch or `--depth` clone has a narrower one, so name the destination there.
    if "refs/heads/*:refs/remotes/origin/*" in refspecs:
        return f"git fetch origin {shlex.quote(name)}"
    return f"git fetch origin {shlex.quote(f'{name}:refs/remotes/origin/{name}')}"


def _shown(command: str) -> str:
    """A command to copy, in quotes that do not clash with its own (shlex) quoting."""
    return f"'{command}'" if "'" not in command else f"`{command}`"


def _missing_sentence(name: str, cwd: Path, run: Runner) -> str:
    refspecs = run(["config", "--get-all", "remote.origin.fetch"], cwd).stdout.decode()
    if not refspecs.strip():
        return (
            f"The base revision '{name}' does not exist in this repository, which has no "
            "'origin' remote to fetch it from; check the name, or name another with --base."
        )
    clone = "this shallow clone" if _is_shallow(cwd, run) else "this clone"
    return (
        f"The base revision '{name}' is not in {clone}; fetch it first with "
        f"{_shown(_fetch_command(name, refspecs))} (on GitHub Actions, give actions/checkout "
        "'fetch-depth: 0'; on GitLab CI, set GIT_DEPTH: 0), or name another with --base."
    )
