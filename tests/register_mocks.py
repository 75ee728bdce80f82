"""Mocks answering RunnerRegistration (a dynamic resource) as its provider would, on top of
the offline plan's recording mocks; shared by the program and `__main__` tests."""

from __future__ import annotations

import pulumi

from infra.engine.plan import Plan, _mocks

DYNAMIC = "pulumi-python:dynamic:Resource"
TOKEN = "ghp_" + "t" * 36
JIT = "JIT-CONFIG-FROM-THE-FORGE"
GLRT = "glrt-" + "r" * 20


BASE_KEYS = ("vpc_id", "subnet_id", "security_group_id", "zone", "network", "subnet",
             "service_account_email", "self_delete_role", "resource_group",
             "resource_group_id", "nsg_id", "self_delete_role_id", "vswitch_id")


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
