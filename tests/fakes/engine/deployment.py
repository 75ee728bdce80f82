"""What the engine does with each registration of a running program: URN, default provider,
check, diff against the previous state, then the step (create/same/update/replace/read)."""

from __future__ import annotations

import threading
from typing import Any

from tests.fakes.engine import secrets
from tests.fakes.engine.backend import Backend
from tests.fakes.engine.cloud import FakeCloud
from tests.fakes.engine.errors import CliError
from tests.fakes.engine.props import (
    apply_ignore_changes,
    from_struct,
    is_secret,
    make_urn,
    mark_outputs,
)
from tests.fakes.engine.providers import default_provider_urn, package_of
from tests.fakes.engine.settings import split_stack
from tests.fakes.engine.snapshot import State
from tests.fakes.engine.steps import StepFailed, Steps


class Deployment:
    def __init__(self, project: str, stack: str, steps: Steps, backend: Backend,
                 cloud: FakeCloud, env: dict[str, str], force_replace: set[str]) -> None:
        self.project, self.stack, self.steps = project, stack, steps
        self.backend, self.cloud, self.env = backend, cloud, env
        self.force_replace = force_replace
        self.snap = steps.snap
        self.failed = False
        self._providers: dict[str, str] = {}
        self._provider_lock = threading.Lock()

    def urn(self, type: str, name: str, parent: str) -> str:
        return make_urn(self.stack, self.project, type, name, parent)

    def register(self, req: Any) -> State:
        urn = self.urn(req.type, req.name, req.parent)
        state: State = {
            "urn": urn, "custom": req.custom, "type": req.type,
            "inputs": from_struct(req.object), "outputs": {}, "parent": req.parent,
            "dependencies": list(req.dependencies),
            "propertyDependencies": {k: list(v.urns) for k, v in
                                     req.propertyDependencies.items()},
            "protect": bool(req.protect), "retainOnDelete": bool(req.retainOnDelete),
            "additionalSecretOutputs": list(req.additionalSecretOutputs),
        }
        if req.deletedWith:
            state["deletedWith"] = req.deletedWith
        if req.deleteBeforeReplaceDefined:
            state["deleteBeforeReplace"] = req.deleteBeforeReplace
        old = self.snap.old(urn)
        with self.steps.gate.step():
            if not req.custom:
                return self.steps.component(state, old)
            if not req.type.startswith("pulumi:providers:"):
                state["provider"] = req.provider or self._default_provider(req.type, req.version)
            try:
                return self._custom(state, old, list(req.ignoreChanges),
                                    list(req.replaceOnChanges))
            except StepFailed:
                self.failed = True
                raise

    def _custom(self, state: State, old: State | None, ignore: list[str],
                replace_on: list[str]) -> State:
        provider = self.steps.providers.for_type(state["type"])
        if old is not None and ignore:
            state["inputs"] = apply_ignore_changes(state["inputs"], old["inputs"], ignore)
        checked = self.steps.call(state, None, provider.check, state["urn"], state["type"],
                                  (old or {}).get("inputs", {}), state["inputs"])
        # the provider saw revealed values; what was secret stays secret
        state["inputs"] = mark_outputs(checked, state["inputs"], [])
        if old is None:
            return self.steps.create(state)
        diff = self.steps.call(state, None, provider.diff, old, state["inputs"])
        forced = state["urn"] in self.force_replace
        replaces = diff.replaces + [k for k in diff.keys if k in replace_on or "*" in replace_on]
        if not diff.keys and not forced:
            return self.steps.same(old, state)
        if replaces or forced:
            dbr = state.get("deleteBeforeReplace", diff.dbr or False)
            return self.steps.replace(old, state, diff.keys, bool(dbr))
        return self.steps.update(old, state, diff.keys)

    def _default_provider(self, type: str, version: str) -> str:
        package = package_of(type)
        key = f"{package}@{version}"
        with self._provider_lock:
            if key not in self._providers:
                urn = default_provider_urn(self.stack, self.project, package, version)
                state: State = {"urn": urn, "custom": True, "type": f"pulumi:providers:{package}",
                                "inputs": {"version": version} if version else {},
                                "outputs": {}, "parent": "", "dependencies": []}
                new = self._custom(state, self.snap.old(urn), [], [])
                self._providers[key] = f"{urn}::{new['id']}"
            return self._providers[key]

    def register_outputs(self, urn: str, outputs: dict[str, Any]) -> None:
        with self.snap.lock:
            state = self.snap.news.get(urn)
            if state is not None:
                self.snap.put({**state, "outputs": outputs})

    def read(self, req: Any) -> State:
        urn = self.urn(req.type, req.name, req.parent)
        props = from_struct(req.properties)
        if req.type == "pulumi:pulumi:StackReference":
            outputs = {**props, **self.stack_reference(req.id)}
        else:
            obj = self.cloud.get(req.id)
            if obj is None:
                self.steps.report.diag(f"resource '{req.id}' does not exist", urn)
                raise StepFailed(f"resource '{req.id}' does not exist")
            outputs = {**obj["inputs"], **props, "id": req.id}
        state: State = {"urn": urn, "custom": True, "type": req.type, "id": req.id,
                        "inputs": props, "outputs": outputs, "parent": req.parent,
                        "external": True, "dependencies": list(req.dependencies),
                        "additionalSecretOutputs": list(req.additionalSecretOutputs)}
        if req.provider:
            state["provider"] = req.provider
        with self.steps.gate.step():
            return self.steps.read(state, self.snap.old(urn))

    def stack_reference(self, name: str) -> dict[str, Any]:
        project, stack = split_stack(name, self.project)
        if not self.backend.exists(project, stack):
            message = f'unknown stack "organization/{project}/{stack}"'
            self.steps.report.diag(message)
            raise StepFailed(message)
        latest = self.backend.load(project, stack)["checkpoint"].get("latest") or {}
        root = next((r for r in latest.get("resources", [])
                     if r["type"] == "pulumi:pulumi:Stack"), {})
        # the referenced stack's own salt, with this process's passphrase
        salt = ((latest.get("secrets_providers") or {}).get("state") or {}).get("salt")
        try:
            crypter = secrets.open_state(secrets.read_passphrase(self.env), salt or "")
        except CliError:
            crypter = None
        outputs, secret_names = {}, []
        for key, value in (root.get("outputs") or {}).items():
            try:
                value = secrets.unseal(value, crypter)
                if is_secret(value) and "ciphertext" in value:
                    raise CliError("undecryptable")
            except CliError:  # the real engine elides what it cannot decrypt
                self.steps.report.diag("eliding undecryptable secrets for stack reference",
                                       severity="info")
                continue
            outputs[key] = value
            if is_secret(value):
                secret_names.append(key)
        return {"name": name, "outputs": outputs, "secretOutputNames": sorted(secret_names)}
