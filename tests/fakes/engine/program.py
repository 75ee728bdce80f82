"""Running the program: LanguageRuntime.Run on the Automation API's language server (--client),
pointed at our monitor, in a thread, so the main thread stays free for signals."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

from tests.fakes.engine.steps import Gate


@dataclass
class RunOutcome:
    finished: bool = False
    error: str = ""
    host_gone: str = ""
    done: threading.Event = field(default_factory=threading.Event)


def start(client: str, monitor: str, engine: str, project: str, stack: str,
          config: dict[str, str], secret_keys: list[str], parallel: int,
          cwd: Path) -> RunOutcome:
    outcome = RunOutcome()
    request = language_pb2.RunRequest(
        project=project, stack=stack, pwd=str(cwd), program=".", args=[engine], config=config,
        dryRun=False, parallel=parallel, monitor_address=monitor,
        configSecretKeys=secret_keys, organization="organization")

    def run() -> None:
        channel = grpc.insecure_channel(client)
        try:
            response = language_pb2_grpc.LanguageRuntimeStub(channel).Run(request)
            outcome.error = response.error
            outcome.finished = True
        except grpc.RpcError as exc:
            outcome.host_gone = f"{exc.code().name}: {exc.details()}"
        finally:
            channel.close()
            outcome.done.set()

    threading.Thread(target=run, daemon=True, name="language-host").start()
    return outcome


def wait(outcome: RunOutcome, gate: Gate, grace: float = 5.0) -> None:
    """Until the program ends; once the gate is closed (cancel, failure), in-flight steps
    finish and the program gets a short grace to notice, as the monitor now refuses it."""
    while not outcome.done.wait(0.05):
        if gate.closed:
            gate.wait_idle()
            outcome.done.wait(grace)
            break
    gate.wait_idle()
