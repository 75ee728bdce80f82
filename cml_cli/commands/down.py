"""`cml-infra down [STACK...]`: remove runner stacks (by default this CI run's), or a base."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from cml_cli.lifecycle import PoolOption, TokenFileOption

HELP = (
    "Destroy runner stacks and their forge registrations, then remove them. With no STACK, "
    "this CI run's runner stack (the name up gave it), so an always-run job needs no "
    "arguments. A stack that is missing, or whose machines already deleted themselves, ends "
    "with exit 0. The registrations are deleted with the token saved at up, or with a fresh "
    "one from --token-file or REPO_TOKEN (a GitHub App token lasts an hour). --base NAME "
    "removes a pool base once no runner stack uses it. A stack of autoscaled pools (kind: "
    "autoscale, made with pulumi up) goes only when named: down STACK removes its Helm "
    "releases, GPU node pools and the GitLab runner it created.\n\n"
    "Example: cml-infra down   (in a job with if: always())"
)
StacksArgument = Annotated[list[str] | None, typer.Argument(
    metavar="STACK", help="Runner stacks to remove (default: this CI run's).",
    show_default=False)]
BaseOption = Annotated[str | None, typer.Option(
    "--base", metavar="STACK", help="Remove this base stack instead; refused while runner stacks "
    "use it.")]
LockWaitOption = Annotated[str, typer.Option(
    metavar="DURATION", help="How long to wait for a run that holds the stack's lock (30s, 5m, "
    "2h; at most 7 days, 168h).")]
ForceUnlockOption = Annotated[bool, typer.Option(
    "--force-unlock", help="After the wait, clear the lock: the run holding it is over. "
    "Implied for this CI run's own stack, whose up job has ended.")]


def down(stacks: StacksArgument = None, name: PoolOption = "cml-runner",
         base: BaseOption = None, lock_wait: LockWaitOption = "2m",
         force_unlock: ForceUnlockOption = False, token_file: TokenFileOption = None) -> None:
    from cml_cli import lifecycle
    from infra.engine.down import down_base, down_stacks
    from infra.engine.naming import check_stack_name, run_stacks
    from infra.errors import StackError
    from infra.rules import bounded_duration

    for stack in [*(stacks or []), *([base] if base is not None else [])]:
        check_stack_name(stack)
    wait_s = bounded_duration(lock_wait, "--lock-wait", "lock wait")
    token = lifecycle.fresh_token(token_file)  # checked before anything runs, as up checks it
    engine = lifecycle.engine("cml-infra down")
    if base:
        from infra.engine.naming import is_base
        from infra.engine.status import collect

        found = next((s for s in collect(engine) if s.name == base), None)
        results = [down_base(engine, base, lifecycle.say, found.used_by if found else [],
                             is_base=is_base(base) or (found is not None and
                                                       found.kind == "base"),
                             lock_wait_s=wait_s, force_unlock=force_unlock)]
    else:
        own = not stacks and bool(os.environ.get("GITHUB_RUN_ID") or
                                  os.environ.get("CI_PIPELINE_ID"))
        names = stacks or run_stacks(name, os.environ, [
            summary.name for summary in engine.workspace().list_stacks()])
        results = down_stacks(engine, names, lifecycle.say, lock_wait_s=wait_s,
                              force_unlock=force_unlock or own,
                              token=token)
    left = [r for r in results if r.left]
    if left:
        raise StackError(f"{sum(r.left for r in left)} resources are left in "
                         f"{', '.join(r.stack for r in left)}; the lines above say why; run "
                         "'cml-infra down' again once that is fixed.")
    gone = [r.stack for r in results if r.existed]
    typer.echo(f"Removed {len(gone)} stack(s)" + (f": {', '.join(gone)}." if gone else
                                                   "; there was nothing to remove."))


def register(app: typer.Typer) -> None:
    from cml_cli.app import INFRA_PANEL

    app.command("down", help=HELP, rich_help_panel=INFRA_PANEL)(down)
