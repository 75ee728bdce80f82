"""What `up`, `down`, `status` and `gc` share: the tool's home, the forge token (from the
environment or a file, never from a flag value), the engine, and printing engine lines.

Kept apart from the command modules so that each stays a thin parse-call-render function.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from infra.engine.workspace import Engine
    from infra.forges.inventory import Inventory

HOME_VAR = "CML_INFRA_HOME"
TOKEN_FILE_HELP = ("File holding the forge token (default: REPO_TOKEN, then GITHUB_TOKEN / "
                   "GITLAB_TOKEN); a token is never taken as a flag value, which every local "
                   "user could read in the process list.")
TokenFileOption = Annotated[Path | None, typer.Option(
    "--token-file", metavar="FILE", help=TOKEN_FILE_HELP, exists=True, dir_okay=False,
    readable=True)]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
POOL_HELP = "Pool name, as given to up."
PoolOption = Annotated[str, typer.Option("--name", metavar="NAME", help=POOL_HELP)]


def home(env: Mapping[str, str] | None = None) -> Path:
    """The tool's home: state, workspaces and the pinned Pulumi CLI (default ~/.cml-infra)."""
    env = os.environ if env is None else env
    return Path(env.get(HOME_VAR) or "~/.cml-infra").expanduser()


def say(line: str) -> None:
    """Print one progress line, with every secret masked."""
    from cml_cli.redact import redact

    typer.echo(redact(line))


def checked_token(token: str, source: str) -> str:
    """`token` (from `source`: the token file, or the variable), unless it is empty or holds
    whitespace or control characters, which would make every forge request fail: the one check
    of every token `up` (dry run included), `down`, `status` and `gc` take."""
    from infra.errors import PrerequisiteError

    if not token.strip():
        raise PrerequisiteError(f"The token from {source} is empty; write the forge token "
                                "into it.")
    bare = token.rstrip("\r\n")
    if bare != token and bare == bare.strip() and not _has_space(bare):
        raise PrerequisiteError(f"The token from {source} ends with a line break; write it with "
                                "printf '%s' (echo adds one), or strip it.")
    if _has_space(token.strip()):
        raise PrerequisiteError(f"The token from {source} contains spaces or control "
                                f"characters, so it is not a single token; check what {source} "
                                "holds.")
    if token != token.strip():
        raise PrerequisiteError(f"The token from {source} has whitespace at its start or end; "
                                "store it without (printf '%s' rather than echo).")
    return token


def _has_space(text: str) -> bool:
    return any(c.isspace() or not c.isprintable() for c in text)


def read_token_file(token_file: Path) -> str:
    """The token a --token-file holds, checked (`checked_token`)."""
    from infra.errors import PrerequisiteError

    try:
        token = token_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PrerequisiteError(f"The token file {token_file} is not a text file; write "
                                "the forge token into it as text.") from None
    except OSError as exc:
        raise PrerequisiteError(f"The token file {token_file} cannot be read "
                                f"({exc.strerror or exc}); give a readable file.") from None
    return checked_token(token, f"--token-file {token_file}")


def forge_token(forge: str, token_file: Path | None,
                env: Mapping[str, str] | None = None) -> str | None:
    """The token from --token-file, else the forge's variables; None when there is none."""
    from cml_cli.redact import register_secret

    env = os.environ if env is None else env
    token: str | None
    if token_file is not None:
        token = read_token_file(token_file)
    else:
        names = ("REPO_TOKEN", "GITHUB_TOKEN") if forge == "github" else (
            "REPO_TOKEN", "GITLAB_TOKEN")
        name = next((name for name in names if env.get(name)), None)
        register_secret(env[name] if name else None)
        token = checked_token(env[name], name) if name else None
    register_secret(token)
    return token


def fresh_token(token_file: Path | None, env: Mapping[str, str] | None = None) -> str | None:
    """A token to replace the one saved at `up`: --token-file or REPO_TOKEN only. GITHUB_TOKEN
    is not taken: in a workflow it is the job's own token, which cannot manage runners."""
    env = os.environ if env is None else env
    if token_file is not None:
        return forge_token("github", token_file, env)
    return forge_token("github", None, {"REPO_TOKEN": env.get("REPO_TOKEN") or ""})


def refuse_token_flag(token: str | None, command: str) -> None:
    from infra.errors import SpecError

    if token:
        raise SpecError(f"cml-infra {command} does not take --token, which every local user "
                        "could read in the process list; set REPO_TOKEN (or GITHUB_TOKEN / "
                        "GITLAB_TOKEN) or pass --token-file.")


def engine(what: str, *, need_token: bool = False, token: str | None = None) -> Engine:
    """The engine, after every prerequisite was checked in one pass."""
    from infra.engine.prerequisites import open_engine

    return open_engine(os.environ, home(), say, need_token=need_token, token=token, what=what)


def inventory_for(summary: Mapping[str, Any], token: str) -> Inventory:
    """The forge runners of a pool's repository (`summary`: a runner stack's pool output)."""
    from cml_cli.forge_options import DriverChoice, build_runner_client, read_context
    from infra.forges.inventory import GitHubInventory, GitLabInventory
    from infra.forges.registration import default_api_url
    from infra.forges.runners import GitHubScope

    forge = str(summary.get("forge") or "github")
    # A stack's pool names its forge's address; a `gc --repo` OWNER/NAME does not, and then
    # the API root is the CI variable's (GITHUB_API_URL, CI_API_V4_URL) or the public forge's;
    # an autoscale pool names the stack's cml-infra:forgeApiUrl when it has one.
    forge_url = str(summary.get("forge_url") or "")
    api_url = str(summary.get("api_url") or "") or (
        default_api_url(forge, forge_url) if forge_url else None)
    repo = str(summary.get("repo") or "")
    organization = str(summary.get("organization") or "")
    # an autoscaled pool of an organization or group has no repository: any path of it
    # builds the client, and the inventory lists the organization's or group's runners
    ctx = read_context(repo or f"{organization}/runners", token, DriverChoice(forge), api_url)
    client = build_runner_client(ctx)
    if forge == "github":
        return GitHubInventory(client, GitHubScope.parse(repo or organization))
    if not repo:
        return GitLabInventory(client, organization, group=True)
    return GitLabInventory(client, ctx.repo)
