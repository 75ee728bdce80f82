"""Entry point of `pulumi up` (Pulumi.yaml's `main: infra/`): pools from stack config.

Reads `cml-infra:pools` with `require_object` and validates each pool exactly as the CLI
validates its flags. Each machine is registered with its pool's forge through a
`RunnerRegistration` (infra/forges/registration.py); the forge token comes from the secret setting
`cml-infra:forgeToken` (`pulumi config set --secret cml-infra:forgeToken`) or REPO_TOKEN.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pulumi

from infra.engine.program import program
from infra.errors import ForgeError
from infra.forges.registration import ForgeSettings, forge_registrar
from infra.forges.runners import GITLAB_RUNNER_URL
from infra.spec import pools_from_config


def defaults(config: pulumi.Config) -> dict[str, object]:
    """Project-wide defaults declared in Pulumi.yaml, applied to pools that omit them."""
    values = {"cloud": config.get("defaultCloud"), "region": config.get("defaultRegion"),
              "max_runtime": config.get("maxRuntime"), "idle_timeout": config.get("idleTimeout"),
              "forge_url": config.get("forgeUrl")}
    return {key: value for key, value in values.items() if value is not None}


def forge_settings(config: pulumi.Config, env: Mapping[str, str]) -> ForgeSettings:
    """Token (secret setting, else REPO_TOKEN), API root and gitlab-runner binary."""
    token = config.get_secret("forgeToken")
    if token is None and not env.get("REPO_TOKEN"):
        raise ForgeError("No forge token; run 'pulumi config set --secret cml-infra:forgeToken' "
                         "with a token that may create runners, or set REPO_TOKEN.")
    return ForgeSettings(
        token=token if token is not None else env["REPO_TOKEN"],
        api_url=config.get("forgeApiUrl"),
        gitlab_runner_url=config.get("gitlabRunnerUrl") or GITLAB_RUNNER_URL,
        gitlab_runner_sha256=config.get("gitlabRunnerSha256"))


def main() -> None:
    config = pulumi.Config("cml-infra")
    pools = pools_from_config(config.require_object("pools"), defaults(config))
    program(pools, forge_registrar(forge_settings(config, os.environ)))


main()
