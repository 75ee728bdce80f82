"""Resource steps: create, update, replace, delete, read, refresh. Each one journals a pending
operation before it calls the provider (creating/updating/deleting) and clears it after, then
saves the checkpoint and reports events. The Gate decides whether a new step may start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.fakes.engine.backend import now_iso
from tests.fakes.engine.dynamic import ProviderError
from tests.fakes.engine.props import mark_outputs
from tests.fakes.engine.providers import Providers
from tests.fakes.engine.report import Reporter
from tests.fakes.engine.snapshot import Snapshot, State


class Halted(Exception):
    """No new step may start: the operation was canceled or has failed."""


class StepFailed(Exception):
    """A provider call failed (already reported as a diagnostic)."""


class Gate:
    def __init__(self, parallel: int) -> None:
        self.closed = False
        self.reason = ""
        self.inflight = 0
        self._cond = threading.Condition()
        self._slots = threading.BoundedSemaphore(max(parallel, 1))

    @contextmanager
    def step(self) -> Iterator[None]:
        with self._cond:
            if self.closed:
                raise Halted(self.reason)
            self.inflight += 1
        try:
            yield
        finally:
            with self._cond:
                self.inflight -= 1
                self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Bounds provider calls by --parallel; a step queued behind the bound never starts
        once the gate is closed."""
        with self._slots:
            if self.closed:
                raise Halted(self.reason)
            yield

    def close(self, reason: str) -> None:
        with self._cond:
            if not self.closed:
                self.closed, self.reason = True, reason
            self._cond.notify_all()

    def wait_idle(self) -> None:
        with self._cond:
            while self.inflight:
                self._cond.wait(0.1)


class Steps:
    def __init__(self, snapshot: Snapshot, reporter: Reporter, providers: Providers,
                 gate: Gate) -> None:
        self.snap, self.report, self.providers, self.gate = snapshot, reporter, providers, gate

    def call(self, state: State, kind: str | None, fn: Any, *args: Any) -> Any:
        with self.gate.slot():
            token = self.snap.begin(kind, state) if kind else None
            try:
                return fn(*args)
            except ProviderError as exc:
                self.report.diag(str(exc), state["urn"])
                raise StepFailed(str(exc)) from exc
            finally:
                if token is not None:
                    self.snap.end(token)
                    self.snap.save()

    def _finish(self, state: State, outs: dict[str, Any]) -> State:
        return {**state, "outputs": mark_outputs(outs, state["inputs"],
                                                 state.get("additionalSecretOutputs") or []),
                "modified": now_iso()}

    def component(self, state: State, old: State | None) -> State:
        op = "same" if old else "create"
        new = {**state, "outputs": (old or {}).get("outputs", {}),
               "created": (old or {}).get("created") or now_iso(), "modified": now_iso()}
        self.report.pre(op, old, new)
        self.snap.put(new)
        self.report.done(op, old, new)
        return new

    def same(self, old: State, state: State) -> State:
        new = self._finish({**state, "id": old["id"], "created": old.get("created")},
                           old.get("outputs", {}))
        self.report.pre("same", old, new)
        self.snap.put(new)
        self.report.done("same", old, new)
        return new

    def create(self, state: State, op: str = "create") -> State:
        provider = self.providers.for_type(state["type"])
        self.report.pre(op, None, state)
        id, outs = self.call(state, "creating", provider.create, state["urn"], state["type"],
                              state["inputs"])
        new = self._finish({**state, "id": id, "created": now_iso()}, outs)
        self.snap.put(new)
        self.report.done(op, None, new)
        return new

    def update(self, old: State, state: State, keys: list[str]) -> State:
        provider = self.providers.for_type(state["type"])
        staged = {**state, "id": old["id"], "created": old.get("created")}
        self.report.pre("update", old, staged, keys)
        outs = self.call(staged, "updating", provider.update, old, state["inputs"])
        new = self._finish(staged, outs)
        self.snap.put(new)
        self.report.done("update", old, new, keys)
        return new

    def replace(self, old: State, state: State, keys: list[str], dbr: bool) -> State:
        if dbr:
            self.delete(old, op="delete-replaced")
            new = self.create(state, op="create-replacement")
        else:
            new = self.create(state, op="create-replacement")
            self.snap.doom(old)
        self.report.pre("replace", old, new, keys)
        self.report.done("replace", old, new, keys)
        return new

    def delete(self, state: State, op: str = "delete", skip_provider: bool = False) -> None:
        self.report.pre(op, state, None)
        keep = state.get("retainOnDelete") or state.get("external") or skip_provider
        if state.get("custom") and not keep:
            provider = self.providers.for_type(state["type"])
            self.call(state, "deleting", provider.delete, state)
        if state.get("delete"):
            self.snap.undoom(state)
        else:
            self.snap.drop(state["urn"])
        self.report.done(op, state, None)

    def read(self, state: State, old: State | None) -> State:
        op = "same" if old and old.get("outputs") == state["outputs"] else "read"
        self.report.pre(op, old, state)
        state = {**state, "created": (old or {}).get("created") or now_iso(),
                 "modified": now_iso()}
        self.snap.put(state)
        self.report.done(op, old, state)
        return state

    def refresh(self, state: State) -> None:
        provider = self.providers.for_type(state["type"])
        self.report.pre("refresh", state, state)
        id, outs = self.call(state, None, provider.read, state)
        if not id:
            self.snap.drop(state["urn"])
            self.report.done("refresh", state, None, count_as="delete")
            return
        new = self._finish({**state, "id": id}, outs)
        changed = new["outputs"] != state.get("outputs")
        if changed:
            self.snap.put(new)
        self.report.done("refresh", state, new, count_as="update" if changed else "same")
