"""Everything `up`, `down`, `status` and `gc` need before they touch a forge or a cloud,
checked in one pass so that a user fixes every missing piece at once.

The Pulumi CLI counts as present when it is found or may be installed (`pulumi_cli`); it is
installed only once everything else is in place, so a missing passphrase costs no download.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from infra.engine import pulumi_cli
from infra.engine.workspace import Engine, EngineCommand, Printer
from infra.errors import PrerequisiteError

# https://www.pulumi.com/docs/iac/concepts/state-and-backends/
BACKEND_SCHEMES = ("file://", "s3://", "gs://", "azblob://", "https://", "http://")
TOKEN_HELP = ("set REPO_TOKEN (or GITHUB_TOKEN / GITLAB_TOKEN) to a token that may manage "
              "runners, or pass --token-file")


def missing(env: Mapping[str, str], home: Path, *, need_token: bool,
            token: str | None) -> list[str]:
    """One clause per missing prerequisite, saying how to provide it."""
    problems = []
    if pulumi_cli.find_pulumi(env, home) is None and env.get(pulumi_cli.NO_INSTALL_VAR) == "1":
        problems.append(f"install the Pulumi CLI ({pulumi_cli.INSTALL_URL}) or unset "
                        f"{pulumi_cli.NO_INSTALL_VAR} so that cml-infra installs it")
    if not _passphrase(env):
        problems.append("set PULUMI_CONFIG_PASSPHRASE to a non-empty secret (or "
                        "PULUMI_CONFIG_PASSPHRASE_FILE to a file holding one); it encrypts "
                        "the forge token kept in the stack state")
    url = env.get("PULUMI_BACKEND_URL", "")
    if url and not url.startswith(BACKEND_SCHEMES):
        problems.append(f"set PULUMI_BACKEND_URL to a backend URL (file://, s3://, gs://, "
                        f"azblob:// or https://), not {url!r}")
    if need_token and not token:
        problems.append(TOKEN_HELP)
    return problems


def _passphrase(env: Mapping[str, str]) -> bool:
    if env.get("PULUMI_CONFIG_PASSPHRASE"):
        return True
    path = env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    try:
        return bool(path) and bool(Path(str(path)).read_text().strip())
    except OSError:
        return False


def open_engine(env: Mapping[str, str], home: Path, printer: Printer, *, need_token: bool,
                token: str | None, what: str,
                install: Callable[..., Path] = pulumi_cli.ensure_pulumi) -> Engine:
    """Check everything, then find or install the CLI and return the engine to work with."""
    problems = missing(env, home, need_token=need_token, token=token)
    if problems:
        raise PrerequisiteError(f"Before {what} can run: " + "; ".join(problems) + ".")
    path = install(env, home.expanduser(), printer)
    return Engine(env=env, home=home, command=EngineCommand(path, env))
