"""Entry point of `pulumi up` (Pulumi.yaml's `main: infra/`): pools from stack config.

Reads `cml-infra:pools` with `require_object` and validates each pool exactly as the CLI
validates its flags. `cml-infra:kind` says which of a pool's two stacks this one is:
`base` (what the pool's machines share: network, security group, identity; platform teams own
it and `cml-infra up` reuses it) or `runner` (the default: the machines, on the base named by
the pool's `base` setting, by default `cml-infra-base-<pool>-<cloud>-<region>`). Each machine
is registered with its pool's forge through a `RunnerRegistration`
(infra/forges/registration.py); the forge token comes from the secret setting
`cml-infra:forgeToken` (`pulumi config set --secret cml-infra:forgeToken`) or REPO_TOKEN.

A `kind: autoscale` entry is an autoscaled pool (infra/autoscale/): runner pods on a GPU node
pool of an existing Kubernetes cluster, declared by infra.autoscale.program in the runner
stack; it has no base stack, so a stack of autoscale pools only reads none. Its credentials:
the forge token, or the GitHub App of `cml-infra:githubAppId`, `githubAppInstallationId` and
`githubAppPrivateKey` (a secret) for GitHub pools with `credentials: app` (their default).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pulumi

from infra.autoscale.program import (
    AutoscaleCredentials,
    app_pools,
    autoscale_program,
    missing_app,
    needs_token,
)
from infra.autoscale.spec import AutoscaleSpec
from infra.engine.naming import base_stack_name
from infra.engine.program import base_program, placeholder_registrar, program
from infra.errors import ForgeError
from infra.forges.registration import ForgeSettings, forge_registrar
from infra.forges.runners import GITLAB_RUNNER_URL
from infra.settings import (
    APP_ID_KEYS,
    DEFAULT_KEYS,
    FORGE_KEYS,
    NAMESPACE,
    check_app_ids,
    default_kwargs,
    forge_values,
    program_config_keys,
    read_stack,
)
from infra.spec import RunnerSpec, check_one_forge, stack_pools


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


def autoscale_credentials(config: pulumi.Config, forge: ForgeSettings | None,
                          specs: list[AutoscaleSpec]) -> AutoscaleCredentials:
    """The forge token (when a pool uses it) and the GitHub App (when a pool says
    credentials: app), from the stack's settings."""
    from infra.autoscale.kube import GitHubApp

    app = None
    if app_pools(specs):
        from pulumi.runtime.config import get_config, is_config_secret

        check_app_ids({key: get_config(f"{NAMESPACE}:{key}") for key in APP_ID_KEYS},
                      [key for key in APP_ID_KEYS if is_config_secret(f"{NAMESPACE}:{key}")])
        values = [config.get_secret(key) for key in
                  ("githubAppId", "githubAppInstallationId", "githubAppPrivateKey")]
        if any(value is None for value in values):
            raise ForgeError(missing_app(app_pools(specs)))
        app_id, installation_id, private_key = values
        app = GitHubApp(app_id=app_id, installation_id=installation_id,  # type: ignore[arg-type]
                        private_key=private_key)  # type: ignore[arg-type]
    return AutoscaleCredentials(token=forge.token if forge else None, github_app=app,
                                forge=forge)


def main() -> None:
    config = pulumi.Config("cml-infra")
    kind, entries = read_stack(config, program_config_keys(), missing=(
        "cml-infra:pools is not set; declare the pools under config: in Pulumi.<stack>.yaml, "
        "as examples/Pulumi.dev.yaml does."))
    pools, autoscaled = stack_pools(entries, defaults(config))
    if kind == "base":  # an autoscale pool has no base: its cluster is its own
        return base_program(pools)
    check_one_forge([*pools, *autoscaled])
    machines = [entry for entry in entries if not (isinstance(entry, dict) and "kind" in entry)]
    named = base_names(machines, pools)
    bases = {spec.name: named.get(spec.name) or base_stack_name(spec) for spec in pools}
    forge = (forge_settings(config, os.environ) if pools or needs_token(autoscaled)
             else None)
    credentials = autoscale_credentials(config, forge, autoscaled) if autoscaled else None
    program(pools, forge_registrar(forge) if forge else placeholder_registrar, bases=bases)
    if credentials is not None:
        autoscale_program(autoscaled, credentials)


main()
