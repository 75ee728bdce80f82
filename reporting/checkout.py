"""The git checkout in the current directory: its HEAD and the revisions a flag names.

Outside CI nothing names the commit under test, so the checkout's HEAD does, as in CML
(`git rev-parse HEAD`, iterative/cml src/cml.js `revParse`). `--commit-sha` and
`--target commit/REV` take any git revision, as CML documents
(https://github.com/iterative/cml.dev/blob/master/content/docs/ref/check.md).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from reporting.errors import ContextError

_SHA = re.compile(r"[0-9a-fA-F]{7,64}")


def is_sha(value: str) -> bool:
    return bool(_SHA.fullmatch(value))


def head_sha(cwd: Path | None = None, *, instead: str) -> str:
    """The commit the checkout's HEAD points at; `instead` says what to pass otherwise."""
    return _rev_parse("HEAD", cwd, instead=instead)


def resolve_revision(rev: str, cwd: Path | None = None) -> str:
    """A SHA as it is (the forge resolves it); any other revision through git. Whichever flag
    named the revision, the way out is the same: name the commit by its SHA."""
    return rev if is_sha(rev) else _rev_parse(rev, cwd, instead="give the commit's SHA instead")


def origin_remote(cwd: Path | None = None) -> str | None:
    """The address of the checkout's `origin` remote, or None outside a checkout or without
    one; CML names the repository from it outside CI (iterative/cml src/cml.js)."""
    try:
        found = subprocess.run(["git", "remote", "get-url", "origin"], cwd=cwd or Path.cwd(),
                               capture_output=True, text=True, check=False,
                               env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except (FileNotFoundError, NotADirectoryError):
        return None
    return found.stdout.strip() or None if found.returncode == 0 else None


def _rev_parse(rev: str, cwd: Path | None, *, instead: str) -> str:
    where = cwd or Path.cwd()
    found = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], where, instead)
    if found.returncode == 0 and is_sha(sha := found.stdout.strip()):
        return sha
    if _git(["rev-parse", "--git-dir"], where, instead).returncode != 0:
        raise ContextError(f"{where} is not a git checkout, so {rev} names no commit; run in "
                           f"the project's checkout or {instead}.")
    raise ContextError(f"{rev} is not a commit of the checkout in {where}; check the name "
                       f"(git log shows the commits) or {instead}.")


def _git(args: list[str], cwd: Path, instead: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              check=False, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except FileNotFoundError:
        raise ContextError(f"git is not installed, so no commit can be read from the "
                           f"checkout; install git or {instead}.") from None
