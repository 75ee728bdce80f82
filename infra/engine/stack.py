"""The real `up`: the same program through the Pulumi Automation API.

State lives in a local file backend (`~/.cml-infra/state`, nothing to sign up for) unless
`PULUMI_BACKEND_URL` names another (s3://, gs://, azblob://, Pulumi Cloud). Secrets use the
passphrase provider, so the registrations in the state are encrypted with
`PULUMI_CONFIG_PASSPHRASE`. Progress comes from the engine's events, which arrive on a worker
thread and are handed to the printer on the calling thread through a queue.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from infra.engine.naming import base_stack_name
from infra.engine.program import Registrar, program
from infra.errors import StackError
from infra.spec import RunnerSpec

PROJECT = "cml-infra"
DEFAULT_HOME = Path("~/.cml-infra")
INSTALL_URL = "https://www.pulumi.com/docs/iac/download-install/"
Printer = Callable[[str], None]
STOP_WAIT = 30.0  # seconds an interrupted engine gets to stop before its creations are removed
# Errors meaning "no capacity of this kind right now", per cloud:
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/troubleshooting-launch.html#troubleshooting-launch-capacity
# https://cloud.google.com/compute/docs/troubleshooting/troubleshooting-resource-availability
# https://learn.microsoft.com/troubleshoot/azure/virtual-machines/windows/allocation-failure
# https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-runinstances
CAPACITY_ERRORS = ("InsufficientInstanceCapacity", "MaxSpotInstanceCountExceeded",
                   "ZONE_RESOURCE_POOL_EXHAUSTED", "STOCKOUT", "SkuNotAvailable",
                   "AllocationFailed", "ZonalAllocationFailed", "OperationDenied.NoStock")


def backend_url(env: Mapping[str, str], home: Path) -> str:
    """PULUMI_BACKEND_URL when set, else an absolute file:// URL under `home`."""
    if env.get("PULUMI_BACKEND_URL"):
        return env["PULUMI_BACKEND_URL"]
    state = (home / "state").expanduser().resolve()
    private_dir(state)
    return f"file://{state}"


def private_dir(path: Path) -> None:
    """Create `path` (and its parent, our home) readable by the owner only: the state holds
    the forge token, encrypted with the passphrase, and the passphrase is all that guards it."""
    for folder in (path.parent, path):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)


def describe(event: Any) -> str | None:
    """One progress line for an engine event, or None for events not worth a line."""
    if event.resource_pre_event is not None:
        meta = event.resource_pre_event.metadata
        return f"{meta.op.value}: {meta.type} {meta.urn.split('::')[-1]}"
    if event.diagnostic_event is not None and event.diagnostic_event.severity == "error":
        return f"error: {event.diagnostic_event.message.strip()}"
    if event.summary_event is not None:
        changes = ", ".join(f"{count} {getattr(op, 'value', op)}" for op, count in
                            event.summary_event.resource_changes.items())
        return f"done: {changes or 'no changes'}"
    return None


def _workspace_options(stack_name: str, env: Mapping[str, str], home: Path,
                       command: Any | None) -> Any:
    from pulumi import automation as auto

    if not env.get("PULUMI_CONFIG_PASSPHRASE") and not env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        raise StackError("Set PULUMI_CONFIG_PASSPHRASE to a non-empty secret (or "
                         "PULUMI_CONFIG_PASSPHRASE_FILE to a file holding one); it encrypts the "
                         "forge token kept in the stack state.")
    work_dir = (home / "workspaces" / stack_name).expanduser().resolve()
    private_dir(work_dir.parent)
    work_dir.mkdir(exist_ok=True)
    settings = auto.ProjectSettings(name=PROJECT, runtime="python",
                                    backend=auto.ProjectBackend(url=backend_url(env, home)))
    passthrough = {k: v for k, v in env.items() if k.startswith("PULUMI_CONFIG_PASSPHRASE")}
    # The runner registrations' dynamic provider runs in a Python the engine starts; make it
    # this one, where `infra` is importable (the shim honours PULUMI_PYTHON_CMD):
    # https://github.com/pulumi/pulumi/blob/master/sdk/python/dist/pulumi-resource-pulumi-python
    passthrough["PULUMI_PYTHON_CMD"] = sys.executable
    return auto.LocalWorkspaceOptions(work_dir=str(work_dir), project_settings=settings,
                                      env_vars=passthrough, secrets_provider="passphrase",
                                      pulumi_command=command)


def _run_streaming(operation: Callable[[Callable[[Any], None]], Any], printer: Printer,
                   on_interrupt: Callable[[], Any]) -> Any:
    """Run `operation(on_event)` on a worker thread; print its events here, in order.

    On Ctrl-C (or SIGTERM, see `_terminate_as_interrupt`) call `on_interrupt` (cancel the
    update), give the engine STOP_WAIT seconds to stop, and re-raise."""
    events: queue.Queue[Any] = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = operation(events.put)
        except BaseException as exc:  # handed back to the calling thread below
            outcome["error"] = exc
        finally:
            events.put(None)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        while (event := events.get()) is not None:
            line = describe(event)
            if line:
                printer(line)
        if "error" in outcome:
            raise outcome["error"]
    except KeyboardInterrupt:
        printer("interrupted; stopping the update")
        with contextlib.suppress(Exception):  # self-managed backends have nothing to cancel
            on_interrupt()
        worker.join(STOP_WAIT)
        raise
    return outcome["result"]


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a cancelled CI job) like Ctrl-C while `up` runs, so that what it
    created is cleaned up either way. Signal handlers can only be set on the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _note_created(event: Any, *, created: list[str], then: Callable[[Any], None]) -> None:
    """Remember each resource the engine finished creating, then pass the event on (runs
    on the worker thread; list.append is atomic)."""
    done = event.res_outputs_event
    if done is not None and getattr(done.metadata.op, "value", done.metadata.op) == "create":
        created.append(done.metadata.urn)
    then(event)


def capacity_short(error: Exception) -> bool:
    """Whether the engine failed for lack of (spot) capacity, worth an on-demand retry."""
    return any(code in str(error) for code in CAPACITY_ERRORS)


def up_stack(pools: Sequence[RunnerSpec], *, stack_name: str, registrar: Registrar,
             printer: Printer, env: Mapping[str, str] | None = None,
             home: Path = DEFAULT_HOME, command: Any | None = None,
             keep_on_failure: bool = False) -> dict[str, Any]:
    """Create or update the stack holding `pools`; when spot capacity is short, retry the
    spot pools on demand once. Returns the stack's outputs. When the update fails, what it
    created (machines and their forge registrations) is destroyed unless `keep_on_failure`.

    The on-demand retry is an update of the same stack: machines and registrations that the
    first attempt created and that do not change are kept (no second mint); a spot machine
    turned on-demand is replaced together with its registration (`machine_fingerprint`).
    Ctrl-C or SIGTERM cancels the update, cleans up the same way, and re-raises."""
    created: list[str] = []
    env = os.environ if env is None else env
    run = functools.partial(_up_once, stack_name=stack_name, registrar=registrar,
                            printer=printer, env=env, home=home, command=command,
                            created=created)
    failed = functools.partial(_failed, stack_name, created, keep_on_failure, env, home, command)
    with _terminate_as_interrupt():
        try:
            return _with_on_demand_retry(pools, run, failed, printer)
        except KeyboardInterrupt:  # Ctrl-C or a cancelled CI job: clean up as on failure
            printer(failed(head=f"Stack {stack_name} was interrupted").args[0])
            raise


def _with_on_demand_retry(pools: Sequence[RunnerSpec], run: Callable[..., dict[str, Any]],
                          failed: Callable[[], StackError], printer: Printer) -> dict[str, Any]:
    from pulumi import automation as auto

    try:
        return run(pools)
    except auto.CommandError as exc:
        if not (capacity_short(exc) and any(pool.spot for pool in pools)):
            raise failed() from None
    printer("spot capacity is short; retrying on demand")
    try:
        return run([replace(pool, spot=False, max_price=None) for pool in pools])
    except auto.CommandError:
        raise failed() from None


def _failed(stack_name: str, created: list[str], keep: bool, env: Mapping[str, str],
            home: Path, command: Any | None, head: str = "") -> StackError:
    """The failure sentence, after destroying what the failed run created unless `keep`."""
    urns = list(dict.fromkeys(created))
    if not urns:
        return StackError(f"{head} before it created anything." if head else
                          f"Pulumi could not update stack {stack_name}; the lines above say "
                          "why, nothing was created, and --debug shows the engine's full output.")
    head = head or f"Pulumi could not update stack {stack_name}; the lines above say why"
    if keep:
        return StackError(f"{head}, and the {len(urns)} resources it created are kept "
                          f"(--keep-on-failure); run 'pulumi destroy' on stack {stack_name} "
                          "to remove them.")
    from pulumi import automation as auto

    try:
        stack = auto.select_stack(stack_name, project_name=PROJECT, program=lambda: None,
                                  opts=_workspace_options(stack_name, env, home, command))
        stack.destroy(target=urns, target_dependents=True)
    except auto.CommandError:
        return StackError(f"{head}, and removing the {len(urns)} resources it created failed "
                          f"too; run 'pulumi destroy' on stack {stack_name} to remove them.")
    return StackError(f"{head}; the {len(urns)} resources it created, forge runner "
                      "registrations included, were destroyed again.")


def _up_once(pools: Sequence[RunnerSpec], *, stack_name: str, registrar: Registrar,
             printer: Printer, env: Mapping[str, str], home: Path,
             command: Any | None, created: list[str]) -> dict[str, Any]:
    from pulumi import automation as auto

    try:
        stack = auto.create_or_select_stack(
            stack_name, project_name=PROJECT, program=lambda: program(pools, registrar, bases={
                pool.name: base_stack_name(pool) for pool in pools}),
            opts=_workspace_options(stack_name, env, home, command))
        result = _run_streaming(lambda on_event: stack.up(
            on_event=functools.partial(_note_created, created=created, then=on_event)),
            printer, on_interrupt=stack.cancel)
    except FileNotFoundError:
        raise StackError(f"The pulumi CLI is not installed; install it ({INSTALL_URL}) or "
                         "run with --dry-run.") from None
    except auto.ConcurrentUpdateError:
        raise StackError(f"Stack {stack_name} is being updated by another run; wait for it "
                         "to finish, or run 'pulumi cancel' if that run died.") from None
    return {key: value.value for key, value in result.outputs.items()}
