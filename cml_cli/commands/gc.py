"""`cml-infra gc`: sweep expired and orphaned runner stacks, dead locks, ghost runners."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated

import typer

from cml_cli.lifecycle import JsonFlag, TokenFileOption
from cml_cli.up_support import ForgeName

SHORT_HELP = "Sweep expired and orphaned runner stacks, dead locks, ghost runners."
HELP = (
    "Destroy runner stacks past their expiry (plus --grace) or whose machines are all gone, "
    "clear locks of runs that are dead, and delete idle forge runners with our name shape "
    "that no stack owns. One line per action; exit 0 when nothing failed. Safe from a "
    "scheduled job, next to running up jobs. Bases and stacks of autoscaled pools (kind: "
    "autoscale) are never destroyed: gc only clears the lock of a run that died while "
    "updating one; remove them with down STACK.\n\n"
    "Example: cml-infra gc --dry-run"
)
DryRunFlag = Annotated[bool, typer.Option("--dry-run", help="Say what would be done; do "
                                                           "nothing.")]
GraceOption = Annotated[str, typer.Option(
    metavar="DURATION", help="Time past a stack's expiry before it is destroyed (30s, 5m, 2h; "
    "at most 7 days, 168h).")]
LockAgeOption = Annotated[str, typer.Option(
    metavar="DURATION", show_default=False, help="A lock older than this belongs to a dead "
    "run (default: 6h, GitHub's job timeout; at most 7 days, 168h).")]
ReposOption = Annotated[list[str] | None, typer.Option(
    "--repo", metavar="OWNER/NAME", help="Also sweep this repository's forge runners "
    "(repeatable; default: the repositories of the backend's runner stacks).")]
PoolsOption = Annotated[list[str] | None, typer.Option(
    "--name", metavar="NAME", help="Pool names whose runners may be swept (repeatable; "
    "default: the pools of the backend's stacks and cml-runner).")]
ForgeOption = Annotated[ForgeName, typer.Option(help="Forge of the --repo repositories.")]


def gc(dry_run: DryRunFlag = False, json_output: JsonFlag = False, grace: GraceOption = "15m",
       lock_age: LockAgeOption = "6h", repo: ReposOption = None, name: PoolsOption = None,
       forge: ForgeOption = ForgeName.github, token_file: TokenFileOption = None) -> None:
    from cml_cli import lifecycle
    from infra.engine.gc import GcOptions
    from infra.engine.gc import gc as sweep
    from infra.rules import bounded_duration, parse_repo

    repos = [parse_repo(forge.value, value) for value in repo or []]  # as up refuses them
    options = GcOptions(now=datetime.now(timezone.utc), dry_run=dry_run,
                        grace_s=bounded_duration(grace, "--grace", "grace"),
                        lock_age_s=bounded_duration(lock_age, "--lock-age", "lock age"))
    if token_file is not None:  # checked before anything runs, as up checks it
        lifecycle.read_token_file(token_file)
    engine = lifecycle.engine("cml-infra gc")
    printer = (lambda line: None) if json_output else lifecycle.say
    inventories = _inventories(engine, repos, name or [], forge.value, token_file, printer)
    actions = sweep(engine, printer, options, inventories)
    failed = [a for a in actions if a.error]
    if json_output:
        from cml_cli.redact import redact

        typer.echo(redact(json.dumps({"dry_run": dry_run,
                                      "actions": [a.to_json() for a in actions]}, indent=2)))
    else:
        typer.echo(f"gc: {len([a for a in actions if a.kind != 'skip'])} action(s)"
                   f"{' planned' if dry_run else ''}, {len(failed)} failed.")
    if failed:
        raise typer.Exit(1)


def _inventories(engine, repos, pools, forge, token_file, printer):  # type: ignore[no-untyped-def]
    """Each forge repository to sweep, with the pool names whose runners are ours."""
    from cml_cli import lifecycle
    from infra.engine.status import collect

    summaries = {(str(s.get("forge")), str(s.get("repo"))): s for stack in collect(engine)
                 for s in stack.pools.values() if stack.kind == "runner" and s.get("repo")}
    summaries.update({(forge, path): {"forge": forge, "repo": path, "forge_url": server or ""}
                      for server, path in repos})
    names = {"cml-runner", *pools} | {p for stack in collect(engine) for p in stack.pools}
    found = []
    for (kind, repository), summary in summaries.items():
        token = lifecycle.forge_token(kind, token_file)
        if not token:
            printer(f"skipping the forge runners of {repository}: no {kind} token")
            continue
        found.append((lifecycle.inventory_for(summary, token), names))
    return found


def register(app: typer.Typer) -> None:
    from cml_cli.app import INFRA_PANEL

    app.command("gc", help=HELP, short_help=SHORT_HELP,
                rich_help_panel=INFRA_PANEL)(gc)
