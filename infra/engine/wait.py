"""Wait until every runner of a fresh runner stack is online at its forge.

A machine that never registers (no capacity to boot, a broken image, a GPU driver that never
comes up: the startup script tears down) must not keep a CI job waiting for hours: after the
timeout, each missing machine is named with the command that prints its serial console on its
cloud, and the runner stack is destroyed (unless --keep-on-failure), as after a failed update.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from infra.engine.cancel import Cancellation, cancellable
from infra.engine.status import MachineStatus, RunnerStates, stack_status
from infra.engine.up import UpOptions, clean_up_after
from infra.engine.workspace import Engine, Printer
from infra.errors import StackError

POLL_S = 10.0
READY = ("online", "busy")


def _ready(state: str | None, machine: MachineStatus, seen: set[str]) -> bool:
    """Online or busy now; or gone after we saw it online (a just-in-time runner removes
    itself when its job is done). Gone without ever being online is a registration that
    something else removed: not ready."""
    return state in READY or (state == "gone" and machine.runner_id in seen)
# The serial console of one machine, per cloud:
# https://docs.aws.amazon.com/cli/latest/reference/ec2/get-console-output.html
# https://cloud.google.com/sdk/gcloud/reference/compute/instances/get-serial-port-output
# https://learn.microsoft.com/cli/azure/vm/boot-diagnostics#az-vm-boot-diagnostics-get-boot-log
# https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-getinstanceconsoleoutput
CONSOLE = {
    "aws": "aws ec2 get-console-output --region {region} --instance-id {id} --latest --output text",
    "gcp": "gcloud compute instances get-serial-port-output {id} --zone {zone}",
    "azure": "az vm boot-diagnostics get-boot-log --ids $(az vm list --query "
             "\"[?vmId=='{id}'].id\" -o tsv)",
    "alicloud": "aliyun ecs GetInstanceConsoleOutput --RegionId {region} --InstanceId {id}",
}


def _pause(seconds: float, cancellation: Cancellation,
           sleep: Callable[[float], None]) -> None:
    """Sleep in short steps, so a cancellation starts its clean-up at once (GitHub kills a
    cancelled step 10 s after its first signal)."""
    steps = max(int(seconds / 0.2), 1)
    for _ in range(steps):
        if cancellation.requested:
            return
        sleep(seconds / steps)


def console_command(summary: Mapping[str, Any], machine: MachineStatus) -> str:
    pattern = CONSOLE.get(str(summary.get("cloud")), "")
    return pattern.format(region=summary.get("region"), zone=summary.get("zone"),
                          id=machine.instance_id)


def wait_for_runners(outputs: dict[str, Any], engine: Engine, printer: Printer,
                     options: UpOptions, timeout_s: float, states: RunnerStates,
                     clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep) -> None:
    """Return when every runner is online; else clean up and raise StackError."""
    stack = stack_status(options.stack_name, "", outputs)
    cancellation = Cancellation(printer, lambda: None,
                                f"cancelling: stack {options.stack_name} is destroyed.")
    start, pending = clock(), list(stack.machines)
    with cancellable(cancellation):
        seen: set[str] = set()
        while pending and not cancellation.requested:
            found = {}
            for pool, summary in stack.pools.items():
                mine = [m for m in pending if m.pool == pool]
                found.update(states(summary, [(m.runner_id, m.runner_name) for m in mine]))
            seen.update(rid for rid, state in found.items() if state in ("online", "busy"))
            pending = [m for m in pending if not _ready(found.get(m.runner_id), m, seen)]
            waited = clock() - start
            if not pending or waited >= timeout_s:
                break
            printer(f"waiting for {len(pending)} of {len(stack.machines)} runners to come "
                    f"online ({waited:.0f}s of {timeout_s:.0f}s)")
            _pause(min(POLL_S, max(timeout_s / 10, 0.5)), cancellation, sleep)
            cancellation.tick()
        if cancellation.requested:
            raise clean_up_after(engine, printer, options, cancellation, [])
    if not pending:
        printer(f"all {len(stack.machines)} runners are online")
        return
    for machine in pending:
        printer(f"runner {machine.runner_name} (machine {machine.instance_id}) is not online; "
                f"its console: {console_command(stack.pools.get(machine.pool, {}), machine)}")
    head = (f"{len(pending)} of {len(stack.machines)} runners of stack {options.stack_name} "
            f"were not online after {timeout_s:.0f}s (the lines above name their consoles)")
    error = clean_up_after(engine, printer, options, cancellation, [], head=head)
    raise error if isinstance(error, StackError) else StackError(str(error))
