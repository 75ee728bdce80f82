"""Entry point of `pulumi up` (Pulumi.yaml's `main: infra/`): pools from stack config.

Reads `cml-infra:pools` with `require_object` and validates each pool exactly as the CLI
validates its flags. `cml-infra:kind` says which of a pool's two stacks this one is:
`base` (what the pool's machines share: network, security group, identity; platform teams own
it and `cml-infra up` reuses it) or `runner` (the default: the machines, on the base named by
the pool's `base` setting, by default `cml-infra-base-<pool>-<cloud>-<region>`). Each machine
is registered with its pool's forge through a `RunnerRegistration`
(infra/forges/registration.py); the forge token comes from the secret setting
`cml-infra:forgeToken` (`pulumi config set --secret cml-infra:forgeToken`) or REPO_TOKEN.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pulumi

from infra.engine.naming import base_stack_name
from infra.engine.program import base_program, program
from infra.errors import ForgeError
from infra.forges.registration import ForgeSettings, forge_registrar
from infra.forges.runners import GITLAB_RUNNER_URL
from infra.settings import (
    DEFAULT_KEYS,
    FORGE_KEYS,
    default_kwargs,
    forge_values,
    program_config_keys,
    read_stack,
)
from infra.spec import RunnerSpec, check_one_forge, pools_from_config


def defaults(config: pulumi.Config) -> dict[str, object]:
    """Project-wide defaults declared in Pulumi.yaml, applied to pools that omit them."""
    return default_kwargs({key: config.get(key) for key in DEFAULT_KEYS})


def forge_settings(config: pulumi.Config, env: Mapping[str, str]) -> ForgeSettings:
    """Token (secret setting, else REPO_TOKEN), API root and gitlab-runner binary."""
    given = forge_values({key: config.get(key) for key in FORGE_KEYS})
    token = config.get_secret("forgeToken")
    if token is None and not env.get("REPO_TOKEN"):
        raise ForgeError("No forge token; run 'pulumi config set --secret cml-infra:forgeToken' "
                         "with a token that may create runners, or set REPO_TOKEN.")
    return ForgeSettings(
        token=token if token is not None else env["REPO_TOKEN"],
        api_url=given["forgeApiUrl"],
        gitlab_runner_url=given["gitlabRunnerUrl"] or GITLAB_RUNNER_URL,
        gitlab_runner_sha256=given["gitlabRunnerSha256"])


def base_names(entries: list[dict[str, object]], pools: list[RunnerSpec]) -> dict[str, str]:
    """Pool name -> the base stack a pool's `base` setting names (the others take the default);
    `entries` are the settings `pools` were built from, in order."""
    return {spec.name: str(entry["base"]) for entry, spec in zip(entries, pools, strict=True)
            if entry.get("base")}


def main() -> None:
    config = pulumi.Config("cml-infra")
    kind, entries = read_stack(config, program_config_keys(), missing=(
        "cml-infra:pools is not set; declare the pools under config: in Pulumi.<stack>.yaml, "
        "as examples/Pulumi.dev.yaml does."))
    pools = pools_from_config(entries, defaults(config))
    if kind == "base":
        return base_program(pools)
    check_one_forge(pools)
    named = base_names(entries, pools)
    bases = {spec.name: named.get(spec.name) or base_stack_name(spec) for spec in pools}
    program(pools, forge_registrar(forge_settings(config, os.environ)), bases=bases)


main()
