"""`cml-infra status`: every stack of the backend, its machines and their runners' states."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from cml_cli.lifecycle import JsonFlag, TokenFileOption

if TYPE_CHECKING:
    from infra.engine.status import StackStatus

SHORT_HELP = "List the stacks, their machines and their runners' states."
HELP = (
    "List the stacks of the backend: bases (and how many runner stacks use each) and runner "
    "stacks with their pool, cloud, region, machines (type, spot), expiry, and each runner's "
    "state at the forge (online, busy, offline, gone; unknown without a forge token); "
    "autoscaled pools with their cluster, namespace, GPUs, runner bounds and how many of "
    "their runners the forge lists, by state.\n\n"
    "Example: cml-infra status --json"
)


def status(json_output: JsonFlag = False, token_file: TokenFileOption = None) -> None:
    from cml_cli import lifecycle
    from cml_cli.redact import redact
    from infra.engine.status import collect

    if token_file is not None:  # checked before anything runs, as up checks it
        lifecycle.read_token_file(token_file)
    engine = lifecycle.engine("cml-infra status")

    def states(summary, runners):  # type: ignore[no-untyped-def]
        from infra.forges.inventory import states_of

        token = lifecycle.forge_token(str(summary.get("forge")), token_file)
        if not token:
            return {}
        return states_of(lifecycle.inventory_for(summary, token), runners)

    def forge_runners(summary):  # type: ignore[no-untyped-def]
        token = lifecycle.forge_token(str(summary.get("forge")), token_file)
        if not token:
            raise LookupError("no forge token")
        return [(r.name, r.state) for r in lifecycle.inventory_for(summary, token).runners()]

    stacks = collect(engine, states, forge_runners)
    if json_output:
        typer.echo(redact(json.dumps({"stacks": [s.to_json() for s in stacks]}, indent=2)))
    else:
        typer.echo(redact(render(stacks)))
    if any(not s.readable for s in stacks):
        from infra.errors import StackError

        raise StackError("The outputs of some stacks could not be read (marked unreadable "
                         "above); check PULUMI_CONFIG_PASSPHRASE and the backend.")


def render(stacks: list[StackStatus]) -> str:
    if not stacks:
        return "No stacks in this backend."
    from datetime import datetime, timezone

    from infra.engine.status import age_s

    now, lines = datetime.now(timezone.utc), []
    for stack in stacks:
        if not stack.readable:
            lines.append(f"{stack.kind:<6} {stack.name}  unreadable: its outputs could not be read")
            continue
        age = age_s(stack, now)
        if stack.kind == "base":
            where = ", ".join(f"{p} ({v.get('cloud')} {v.get('region')})"
                              for p, v in stack.pools.items())
            lines.append(f"base   {stack.name}  {where}  used by {len(stack.used_by)} "
                         "runner stack(s)")
            continue
        updated = f"updated {_ago(age) if age is not None else '-'}"
        if stack.autoscaled and not stack.machines:
            lines.append(f"runner {stack.name}  {len(stack.autoscaled)} autoscaled pool(s), "
                         f"{updated}")
        else:
            lines.append(f"runner {stack.name}  {len(stack.machines)} machine(s), "
                         f"expires {stack.expires_at or '-'}, {updated}")
        for pool, a in stack.autoscaled.items():
            lines.append(f"  {pool}  autoscaled: {a.get('cloud')} {a.get('region')} cluster "
                         f"{a.get('cluster')} namespace {a.get('namespace')}, "
                         f"{a.get('gpu_count')} {a.get('gpu')} GPU(s) a job, "
                         f"{a.get('min_runners')}-{a.get('max_runners')} runners, "
                         f"{a.get('forge')} {a.get('repo') or a.get('organization')}: "
                         f"{_counts(a.get('runners'))}")
        for m in stack.machines:
            summary = stack.pools.get(m.pool, {})
            lines.append(f"  {m.name}  {summary.get('cloud')} {summary.get('region')} "
                         f"{m.machine_type}{' spot' if m.spot else ''}  {m.instance_id}  "
                         f"runner {m.runner_name or '-'}: {m.forge_state}")
    return "\n".join(lines)


def _counts(counts: dict[str, int] | None) -> str:
    """`2 busy, 1 online` (none listed: `no runner now`; not known: `runners unknown`)."""
    if counts is None:
        return "runners unknown"
    shown = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()) if n)
    return shown or "no runner now"


def _ago(seconds: float) -> str:
    from infra.rules import format_duration

    return f"{format_duration(max(int(seconds), 0))} ago"


def register(app: typer.Typer) -> None:
    from cml_cli.app import INFRA_PANEL

    app.command("status", help=HELP, short_help=SHORT_HELP,
                rich_help_panel=INFRA_PANEL)(status)
