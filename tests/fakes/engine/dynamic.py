"""Dynamic providers, run the way the real engine runs them: the Python SDK's own shim
(`python -m pulumi.dynamic`, what the plugin pulumi-resource-pulumi-python starts) as a gRPC
ResourceProvider in its own process group, with the interpreter named by PULUMI_PYTHON_CMD
(else python3) and the engine's environment. Every call carries the pickled `__provider`
from the properties it is given: for Delete and Read that is the one stored in state."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import grpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.fakes.engine.props import changed_keys, from_struct, reveal, to_struct

CHILDREN: list[subprocess.Popen[bytes]] = []  # killed on a hard exit (signals.py)


class ProviderError(Exception):
    """A provider call failed; the message is what the engine shows as the diagnostic."""


class Diff:
    def __init__(self, keys: list[str], replaces: list[str], dbr: bool | None = None) -> None:
        self.keys, self.replaces, self.dbr = keys, replaces, dbr


class DynamicProvider:
    def __init__(self, python: str, cwd: Path, env: dict[str, str], config: dict[str, str],
                 engine_address: str) -> None:
        self.python, self.cwd, self.env = python, cwd, env
        self.config, self.engine_address = config, engine_address
        self._stub: provider_pb2_grpc.ResourceProviderStub | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _client(self) -> provider_pb2_grpc.ResourceProviderStub:
        with self._lock:
            if self._stub is None:
                self._stub = self._start()
            return self._stub

    def _start(self) -> provider_pb2_grpc.ResourceProviderStub:
        cmd = [self.python, "-u", "-m", "pulumi.dynamic", self.engine_address]
        try:
            proc = subprocess.Popen(cmd, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                    start_new_session=True)
        except OSError as exc:
            raise ProviderError(f"could not start the dynamic provider plugin "
                                f"(PULUMI_PYTHON_CMD={self.python}): {exc}") from exc
        CHILDREN.append(proc)
        self._proc = proc
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line.isdigit():
            proc.kill()
            raise ProviderError(f"could not read port from plugin pulumi-resource-pulumi-python "
                                f"({' '.join(cmd)}): exited before it printed one")
        stub = provider_pb2_grpc.ResourceProviderStub(
            grpc.insecure_channel(f"127.0.0.1:{line}"))
        self._call(stub.Configure, provider_pb2.ConfigureRequest(
            variables=self.config, args=to_struct(dict(self.config)), acceptSecrets=False))
        return stub

    @staticmethod
    def _call(method: Any, request: Any) -> Any:
        try:
            return method(request)
        except grpc.RpcError as exc:
            raise ProviderError(exc.details() or str(exc)) from exc

    def check(self, urn: str, type: str, olds: dict[str, Any], news: dict[str, Any]) -> dict:
        resp = self._call(self._client().Check, provider_pb2.CheckRequest(
            urn=urn, olds=to_struct(reveal(olds)), news=to_struct(reveal(news)), type=type))
        if resp.failures:
            raise ProviderError("; ".join(f"{f.property}: {f.reason}" if f.property else
                                          f.reason for f in resp.failures))
        return from_struct(resp.inputs)

    def diff(self, old: dict[str, Any], news: dict[str, Any]) -> Diff:
        resp = self._call(self._client().Diff, provider_pb2.DiffRequest(
            id=old["id"], urn=old["urn"], olds=to_struct(reveal(old.get("outputs", {}))),
            news=to_struct(reveal(news)), old_inputs=to_struct(reveal(old.get("inputs", {}))),
            type=old["type"]))
        keys = changed_keys(old.get("inputs", {}), news)
        if resp.changes == provider_pb2.DiffResponse.DIFF_NONE:
            keys = []
        elif resp.changes == provider_pb2.DiffResponse.DIFF_SOME and not keys:
            keys = list(resp.diffs) or ["__provider"]
        dbr = resp.deleteBeforeReplace if resp.deleteBeforeReplace else None
        return Diff(keys, list(resp.replaces), dbr)

    def create(self, urn: str, type: str, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resp = self._call(self._client().Create, provider_pb2.CreateRequest(
            urn=urn, properties=to_struct(reveal(news)), type=type))
        return resp.id, from_struct(resp.properties)

    def update(self, old: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        resp = self._call(self._client().Update, provider_pb2.UpdateRequest(
            id=old["id"], urn=old["urn"], olds=to_struct(reveal(old.get("outputs", {}))),
            news=to_struct(reveal(news)), old_inputs=to_struct(reveal(old.get("inputs", {}))),
            type=old["type"]))
        return from_struct(resp.properties)

    def delete(self, state: dict[str, Any]) -> None:
        self._call(self._client().Delete, provider_pb2.DeleteRequest(
            id=state["id"], urn=state["urn"], properties=to_struct(reveal(state["outputs"])),
            old_inputs=to_struct(reveal(state.get("inputs", {}))), type=state["type"]))

    def read(self, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resp = self._call(self._client().Read, provider_pb2.ReadRequest(
            id=state["id"], urn=state["urn"], properties=to_struct(reveal(state["outputs"])),
            inputs=to_struct(reveal(state.get("inputs", {}))), type=state["type"]))
        return resp.id, from_struct(resp.properties)

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
