"""Mocks answering RunnerRegistration (a dynamic resource) as its provider would, on top of
the offline plan's recording mocks; shared by the program and `__main__` tests."""

from __future__ import annotations

import pulumi

from infra.catalog import CLOUDS
from infra.clouds import cloud_module
from infra.engine.plan import Plan, _mocks

DYNAMIC = "pulumi-python:dynamic:Resource"
TOKEN = "ghp_" + "t" * 36
JIT = "JIT-CONFIG-FROM-THE-FORGE"
GLRT = "glrt-" + "r" * 20


# Every output any cloud's base exports, so a new one is never missing here.
BASE_KEYS = tuple(sorted({key for cloud in CLOUDS for key in cloud_module(cloud).BASE_OUTPUTS}))


def fake_bases(*pools: str) -> dict[str, dict[str, str]]:
    """What base stacks of `pools` export, as their runner stacks read it."""
    return {pool: {key: f"{pool}-base-{key}" for key in BASE_KEYS} for pool in pools}


class ForgeMocks(pulumi.runtime.Mocks):
    """The plan's recording mocks, answering registrations as the provider would, and reads
    of base stacks with `bases`."""

    def __init__(self, record: Plan, bases: dict[str, dict[str, str]] | None = None) -> None:
        record.base_outputs.update(bases or {})
        self.inner = _mocks(record, "dev")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        ident, state = self.inner.new_resource(args)
        if args.typ == DYNAMIC:
            state = {**state, "runner_id": "42", "runner_name": f"{args.name}-abc123",
                     "registration": JIT if args.inputs["forge"] == "github" else GLRT,
                     "package_url": "https://dl.example/runner.tgz",
                     "package_sha256": "cd" * 32}
        return ident, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return self.inner.call(args)
