"""The stack's checkpoint while an operation runs, saved after every step like the engine's
journal: pending operations are on disk before the provider is called and gone after."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from tests.fakes.engine import secrets
from tests.fakes.engine.backend import VERSION, Backend, now_iso

State = dict[str, Any]


class Snapshot:
    def __init__(self, backend: Backend, project: str, stack: str,
                 crypter: secrets.Crypter | None, salt: str | None) -> None:
        self.backend, self.project, self.stack = backend, project, stack
        self.crypter, self.salt = crypter, salt
        latest = backend.load(project, stack)["checkpoint"].get("latest") or {}
        self.base: list[State] = [secrets.unseal(r, crypter) for r in latest.get("resources", [])]
        self.old_pending: list[dict[str, Any]] = [
            secrets.unseal(p, crypter) for p in latest.get("pending_operations") or []]
        self.carried: list[dict[str, Any]] = []
        self.news: dict[str, State] = {}
        self.gone: set[str] = set()
        self.doomed: list[State] = []
        self.pending: dict[int, dict[str, Any]] = {}
        self._tokens = itertools.count()
        self.lock = threading.RLock()

    # reading
    def old(self, urn: str) -> State | None:
        for state in self.base:
            if state["urn"] == urn and not state.get("delete"):
                return state
        return None

    def current(self) -> list[State]:
        """Every live resource: registered ones, then old ones not yet replaced or deleted."""
        with self.lock:
            olds = [s for s in self.base if s["urn"] not in self.news
                    and s["urn"] not in self.gone and not s.get("delete")]
            return topo_sort(list(self.news.values()) + olds)

    # changing
    def put(self, state: State) -> None:
        with self.lock:
            self.news[state["urn"]] = state
            self.gone.discard(state["urn"])
            self.save()

    def drop(self, urn: str) -> None:
        with self.lock:
            self.news.pop(urn, None)
            self.gone.add(urn)
            self.save()

    def doom(self, state: State) -> None:
        with self.lock:
            self.doomed.append({**state, "delete": True})
            self.save()

    def undoom(self, state: State) -> None:
        with self.lock:
            self.doomed = [d for d in self.doomed if d.get("id") != state.get("id")
                           or d["urn"] != state["urn"]]
            self.save()

    def begin(self, kind: str, state: State) -> int:
        with self.lock:
            token = next(self._tokens)
            self.pending[token] = {"resource": dict(state), "type": kind}
            self.save()
            return token

    def end(self, token: int) -> None:
        with self.lock:
            self.pending.pop(token, None)

    def carry_pending(self, keep_creates: bool) -> list[dict[str, Any]]:
        """Pending operations of an earlier run: creates are kept (unknown cloud objects)
        unless told otherwise; the others are obsolete. Returns the dropped creates."""
        creates = [p for p in self.old_pending if p.get("type") == "creating"]
        self.carried = creates if keep_creates else []
        return [] if keep_creates else creates

    # saving
    def save(self) -> None:
        with self.lock:
            crypter = self.crypter
            resources = [*self.current(), *self.doomed]
            pending = [*self.carried, *self.pending.values()]
            latest = {
                "manifest": {"time": now_iso(), "magic": "", "version": VERSION},
                "secrets_providers": {"type": "passphrase", "state": {"salt": self.salt}},
                "resources": [secrets.seal(r, crypter) if crypter else r for r in resources],
            }
            if pending:
                latest["pending_operations"] = [secrets.seal(p, crypter) if crypter else p
                                                for p in pending]
            self.backend.save(self.project, self.stack, checkpoint(self.project, self.stack,
                                                                   latest))


def checkpoint(project: str, stack: str, latest: dict[str, Any] | None) -> dict[str, Any]:
    return {"version": 3, "checkpoint": {"stack": f"organization/{project}/{stack}",
                                         "latest": latest}}


def references(state: State) -> set[str]:
    """URNs a resource depends on: parent, dependencies, provider, property deps, deletedWith."""
    refs = {state.get("parent") or "", state.get("deletedWith") or ""}
    refs.update(state.get("dependencies") or [])
    for urns in (state.get("propertyDependencies") or {}).values():
        refs.update(urns)
    provider = state.get("provider") or ""
    refs.add(provider.rsplit("::", 1)[0] if provider else "")  # "<urn>::<id>"
    refs.discard("")
    return refs


def topo_sort(states: list[State]) -> list[State]:
    """Dependencies before dependents, otherwise in the order given."""
    by_urn = {s["urn"]: s for s in states}
    placed: set[str] = set()
    ordered: list[State] = []

    def visit(state: State, trail: set[str]) -> None:
        urn = state["urn"]
        if urn in placed or urn in trail:
            return
        for ref in sorted(references(state)):
            if ref in by_urn:
                visit(by_urn[ref], trail | {urn})
        placed.add(urn)
        ordered.append(state)

    for state in states:
        visit(state, set())
    return ordered
