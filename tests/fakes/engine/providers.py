"""Which provider serves a resource: the Python dynamic-provider shim for
`pulumi-python:dynamic:*`, the fake cloud for everything else that is custom."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes.engine import cloud_outputs
from tests.fakes.engine.cloud import CloudError, FakeCloud
from tests.fakes.engine.dynamic import Diff, DynamicProvider, ProviderError
from tests.fakes.engine.props import changed_keys

DYNAMIC_PREFIX = "pulumi-python:dynamic:"


class CloudProvider:
    """Resources of cloud packages (aws, gcp, azure-native, alicloud, provider resources,
    and any other package) live as objects in the fake cloud."""

    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud

    def check(self, urn: str, type: str, olds: dict[str, Any], news: dict[str, Any]) -> dict:
        return news

    def diff(self, old: dict[str, Any], news: dict[str, Any]) -> Diff:
        keys = changed_keys(old.get("inputs", {}), news)
        forcing = set(cloud_outputs.force_new(old["type"])) | set(
            self.cloud.replace_keys(old["type"]))
        if old["type"].startswith("pulumi:providers:"):
            forcing = set()
        return Diff(keys, [k for k in keys if k in forcing])

    def create(self, urn: str, type: str, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        try:
            return self.cloud.create(type, urn, news)
        except CloudError as exc:
            raise ProviderError(str(exc)) from exc

    def update(self, old: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.cloud.update(old["id"], old["type"], old["urn"], news)
        except CloudError as exc:
            raise ProviderError(str(exc)) from exc

    def delete(self, state: dict[str, Any]) -> None:
        try:
            self.cloud.destroy(state["id"], state["type"], state["urn"])
        except CloudError as exc:
            raise ProviderError(str(exc)) from exc

    def read(self, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Refresh: the id and outputs if the object still exists, else ("", {})."""
        if self.cloud.get(state["id"]) is None:
            return "", {}
        return state["id"], state.get("outputs", {})


class Providers:
    def __init__(self, cloud: FakeCloud, python: str, cwd: Path, env: dict[str, str],
                 config: dict[str, str]) -> None:
        self.cloud_provider = CloudProvider(cloud)
        self._dynamic_args = (python, cwd, env, config)
        self._dynamic: DynamicProvider | None = None
        self.engine_address = ""

    def for_type(self, type: str) -> CloudProvider | DynamicProvider:
        if type.startswith(DYNAMIC_PREFIX):
            if self._dynamic is None:
                self._dynamic = DynamicProvider(*self._dynamic_args,
                                                engine_address=self.engine_address)
            return self._dynamic
        return self.cloud_provider

    def close(self) -> None:
        if self._dynamic is not None:
            self._dynamic.close()


def package_of(type: str) -> str:
    """The provider package of a resource type (`aws`, `pulumi-python`, ...)."""
    return type.split(":", 1)[0]


def default_provider_urn(stack: str, project: str, package: str, version: str) -> str:
    name = "default" + (f"_{version.replace('.', '_').replace('-', '_')}" if version else "")
    return f"urn:pulumi:{stack}::{project}::pulumi:providers:{package}::{name}"
