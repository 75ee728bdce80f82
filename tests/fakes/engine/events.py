"""Engine events to the Automation API: a gRPC `Events` stream (`tcp://host:port`, used by
3.272 when the CLI is newer than 3.205) or JSON lines appended to a file (older CLIs)."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from typing import Any

import grpc
from pulumi.runtime.proto import events_pb2, events_pb2_grpc

from tests.fakes.engine.props import mask

_END = object()


class EventSink:
    def __init__(self, target: str | None) -> None:
        self.sequence = 0
        self.delivered: list[str] = []
        self._lock = threading.Lock()
        self._file = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        if not target:
            return
        if target.startswith("tcp://"):
            self._channel = grpc.insecure_channel(target[len("tcp://"):])
            stub = events_pb2_grpc.EventsStub(self._channel)
            self._thread = threading.Thread(target=self._stream, args=(stub,), daemon=True)
            self._thread.start()
        else:
            self._file = open(target, "a", encoding="utf-8")  # noqa: SIM115 closed in close()

    def _stream(self, stub: events_pb2_grpc.EventsStub) -> None:
        def requests():
            while (item := self._queue.get()) is not _END:
                yield events_pb2.EventRequest(event=item)
        # if the Automation API stopped listening, events are lost, as with the real CLI
        with contextlib.suppress(grpc.RpcError):
            stub.StreamEvents(requests(), timeout=3600)

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        with self._lock:
            event = {"sequence": self.sequence, "timestamp": int(time.time()), kind: payload}
            self.sequence += 1
            line = json.dumps(event)
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()
            elif self._thread is not None:
                self._queue.put(line)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._thread is not None:
            self._queue.put(_END)
            self._thread.join(30)
            self._channel.close()


def state_meta(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """A resource state as step events carry it (secrets masked)."""
    if state is None:
        return None
    return {"type": state["type"], "urn": state["urn"], "id": state.get("id", ""),
            "parent": state.get("parent", ""), "provider": state.get("provider", ""),
            "custom": state.get("custom", False), "delete": state.get("delete", False),
            "protect": state.get("protect", False),
            "inputs": mask(state.get("inputs", {})), "outputs": mask(state.get("outputs", {}))}


def step_meta(op: str, old: dict[str, Any] | None, new: dict[str, Any] | None,
              keys: list[str] | None = None) -> dict[str, Any]:
    subject = new or old or {}
    return {"op": op, "urn": subject.get("urn", ""), "type": subject.get("type", ""),
            "provider": subject.get("provider", ""), "old": state_meta(old),
            "new": state_meta(new), "keys": keys or [], "diffs": keys or [],
            "detailedDiff": None, "logical": True}
