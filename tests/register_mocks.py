"""Mocks answering RunnerRegistration (a dynamic resource) as its provider would, on top of
the offline plan's recording mocks; shared by the program and `__main__` tests."""

from __future__ import annotations

import pulumi

from infra.engine.plan import Plan, _mocks

DYNAMIC = "pulumi-python:dynamic:Resource"
TOKEN = "ghp_" + "t" * 36
JIT = "JIT-CONFIG-FROM-THE-FORGE"
GLRT = "glrt-" + "r" * 20


class ForgeMocks(pulumi.runtime.Mocks):
    """The plan's recording mocks, answering registrations as the provider would."""

    def __init__(self, record: Plan) -> None:
        self.inner = _mocks(record)

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
