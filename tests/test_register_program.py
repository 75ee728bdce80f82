"""The program with the forge registrar under Pulumi's mock runtime: one RunnerRegistration
per machine, the token a secret input, the registration a secret output wired into the
machine's user data; and `pulumi up`'s __main__ reading the forge settings from config."""

from __future__ import annotations

import base64
import gzip
import json
import runpy
from typing import Any

import pulumi
import pytest
from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

from infra.engine.plan import PROJECT, Plan
from infra.engine.program import program
from infra.errors import ForgeError
from infra.forges.registration import ForgeSettings, forge_registrar
from infra.spec import build_spec
from tests.conftest import ROOT
from tests.register_mocks import DYNAMIC, JIT, TOKEN, ForgeMocks, fake_bases

BASES = {pool: f"cml-infra-base-{pool}" for pool in ("gpu", "cheap", "steady")}


def run(fn: Any, config: dict[str, str] | None = None) -> Plan:
    record = Plan()
    pulumi.runtime.set_all_config(config or {})
    try:
        mocks = ForgeMocks(record, fake_bases("gpu", "cheap", "steady", "lab"))
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", preview=False)
        pulumi.runtime.test(fn)()
    finally:
        pulumi.runtime.set_all_config({})
    return record


def by_name(plan: Plan, name: str) -> dict[str, Any]:
    return next(r for r in plan.resources if r["name"] == name)


def test_each_machine_gets_a_registration_with_a_secret_token() -> None:
    spec = build_spec(name="gpu", gpu=True, count=2, repo="acme/models", labels="gpu")
    plan = run(lambda: program([spec], forge_registrar(ForgeSettings(token=TOKEN)), bases=BASES))
    registrations = [r for r in plan.resources if r["type"] == DYNAMIC]
    assert sorted(r["name"] for r in registrations) == ["gpu-0-registration",
                                                        "gpu-1-registration"]
    inputs = by_name(plan, "gpu-1-registration")["inputs"]
    assert is_rpc_secret(inputs["token"]) and unwrap_rpc_secret(inputs["token"]) == TOKEN
    assert is_rpc_secret(inputs["__provider"])
    assert inputs["name_prefix"] == "gpu-dev-1" and inputs["labels"] == ["gpu", "t4"]
    assert inputs["forge"] == "github" and inputs["api_url"] == "https://api.github.com"
    assert inputs["repo"] == "acme/models" and inputs["max_timeout_s"] == spec.max_runtime_s
    assert TOKEN not in json.dumps({k: v for k, v in inputs.items() if k != "token"},
                                   default=str)


def test_registration_reaches_the_user_data_as_a_secret() -> None:
    spec = build_spec(name="gpu", gpu=True, repo="acme/models")
    plan = run(lambda: program([spec], forge_registrar(ForgeSettings(token=TOKEN)), bases=BASES))
    user_data = by_name(plan, "gpu-0-vm")["inputs"]["userDataBase64"]
    assert is_rpc_secret(user_data)
    script = gzip.decompress(base64.b64decode(unwrap_rpc_secret(user_data))).decode()
    assert JIT in script and "https://dl.example/runner.tgz" in script
    assert "gpu-0-registration-abc123" in script and TOKEN not in script


def test_registration_output_is_marked_secret(monkeypatch) -> None:
    from infra.forges import registration

    options: list[pulumi.ResourceOptions] = []
    real = pulumi.dynamic.Resource.__init__

    def spy(self, provider, name, props, opts=None):  # type: ignore[no-untyped-def]
        options.append(opts)
        real(self, provider, name, props, opts)

    monkeypatch.setattr(pulumi.dynamic.Resource, "__init__", spy)
    spec = build_spec(name="gpu", repo="acme/models")
    seen: dict[str, bool] = {}

    def declare() -> pulumi.Output[bool]:
        made = registration.forge_registrar(ForgeSettings(TOKEN))(spec, 0)
        secret = pulumi.Output.from_input(pulumi.Output.from_input(made.secret).is_secret())
        return secret.apply(lambda s: seen.setdefault("s", s))

    run(declare)
    assert seen == {"s": True}
    assert options[0].additional_secret_outputs == ["registration", "token"]


def test_pool_without_repository_is_one_sentence() -> None:
    spec = build_spec(name="gpu")
    with pytest.raises(ForgeError, match=r"^Pool gpu names no repository; set its repo"):
        run(lambda: program([spec], forge_registrar(ForgeSettings(token=TOKEN)), bases=BASES))


POOLS = json.dumps([{"name": "lab", "cloud": "gcp", "gpu": True, "forge": "gitlab",
                     "forgeUrl": "https://gitlab.acme.io", "repo": "ml/eval"}])


def test_main_reads_token_and_gitlab_runner_from_config() -> None:
    config = {"cml-infra:pools": POOLS, "cml-infra:forgeToken": TOKEN,
              "cml-infra:gitlabRunnerSha256": "ef" * 32}
    plan = run(lambda: runpy.run_path(str(ROOT / "infra" / "__main__.py")), config)
    inputs = by_name(plan, "lab-0-registration")["inputs"]
    assert inputs["api_url"] == "https://gitlab.acme.io/api/v4"
    assert inputs["gitlab_runner_sha256"] == "ef" * 32
    assert inputs["gitlab_runner_url"].endswith("/binaries/gitlab-runner-linux-amd64")
    assert is_rpc_secret(inputs["token"]) and unwrap_rpc_secret(inputs["token"]) == TOKEN


def test_main_without_token_is_one_sentence(monkeypatch) -> None:
    monkeypatch.delenv("REPO_TOKEN", raising=False)
    with pytest.raises(ForgeError, match=r"^No forge token; run 'pulumi config set --secret"):
        run(lambda: runpy.run_path(str(ROOT / "infra" / "__main__.py")),
            {"cml-infra:pools": POOLS})


def test_main_takes_repo_token_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("REPO_TOKEN", TOKEN)
    plan = run(lambda: runpy.run_path(str(ROOT / "infra" / "__main__.py")),
               {"cml-infra:pools": POOLS, "cml-infra:forgeApiUrl": "https://gl.acme.io/api/v4"})
    inputs = by_name(plan, "lab-0-registration")["inputs"]
    assert unwrap_rpc_secret(inputs["token"]) == TOKEN
    assert inputs["api_url"] == "https://gl.acme.io/api/v4"


def test_on_demand_retry_keeps_the_registrations_of_unchanged_machines() -> None:
    """What stack.up_stack's spot retry changes: the on-demand pool's registrations have the
    same inputs (the engine's diff says no change: no second mint); the spot pool's machines
    are replaced, and so are their registrations, rather than reusing a consumed one."""
    from dataclasses import replace

    from infra.forges.registration import RunnerRegistrationProvider

    spot = build_spec(name="cheap", gpu=True, spot=True, repo="acme/models")
    steady = build_spec(name="steady", gpu=True, repo="acme/models")
    settings = ForgeSettings(token=TOKEN)
    first = run(lambda: program([spot, steady], forge_registrar(settings), bases=BASES))
    retry = run(lambda: program([replace(spot, spot=False), steady], forge_registrar(settings),
                                bases=BASES))

    def inputs(plan: Plan, name: str) -> dict[str, Any]:
        return {k: unwrap_rpc_secret(v) for k, v in by_name(plan, name)["inputs"].items()
                if k != "__provider"}

    provider = RunnerRegistrationProvider()
    kept = provider.diff("1", inputs(first, "steady-0-registration"),
                         inputs(retry, "steady-0-registration"))
    assert not kept.changes
    moved = provider.diff("2", inputs(first, "cheap-0-registration"),
                          inputs(retry, "cheap-0-registration"))
    assert moved.replaces == ["machine"]
