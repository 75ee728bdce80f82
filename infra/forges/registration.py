"""Each machine's forge registration as a Pulumi dynamic resource, minted once, deleted on
destroy.

`RunnerRegistration` creates, at deploy time, the one thing a machine needs to join its
forge: a GitHub just-in-time runner configuration (single use) or a GitLab runner created for
that machine alone (its glrt- token). The registration is a secret output that the program
writes into the machine's startup script; the user's forge token never reaches the machine.
Because the registration is a resource, `pulumi up` run again mints nothing new (the state
keeps it), and `pulumi destroy`, or the clean-up after a failed `cml-infra up`, deletes the
runner from the forge.

The exception to "clients are built only in cml_cli": the provider runs inside the Pulumi
engine's dynamic-provider process, later than and apart from the CLI (also under plain
`pulumi up`, where there is no CLI), so it builds its own PyGithub / python-gitlab client
from its inputs. The token is a secret input and a secret output, so it is encrypted in the
state and a later `pulumi destroy` can delete the runner without being handed it again.
https://www.pulumi.com/docs/iac/concepts/resources/dynamic-providers/
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

import pulumi
import pulumi.dynamic

from infra.engine.program import Registrar, Registration, runner_name_prefix
from infra.errors import ForgeError
from infra.forges.runners import GITLAB_MIN_TIMEOUT_S, GITLAB_RUNNER_URL
from infra.rules import default_api_url
from infra.spec import RunnerSpec

SECRET_OUTPUTS = ["registration", "token"]
# A change to any of these means another runner for another machine: replace, mint anew.
# Inputs only: outputs such as package_url are what the forge answered and may differ.
REPLACE_KEYS = ("forge", "api_url", "repo", "group", "name_prefix", "labels", "max_timeout_s",
                "machine", "gitlab_runner_url", "gitlab_runner_sha256")


@dataclass(frozen=True)
class ForgeSettings:
    """How registrations reach the forge; the pools say which forge and repository."""

    token: pulumi.Input[str] = field(repr=False)
    """A plain string from the CLI, or the secret setting under plain `pulumi up`."""
    api_url: str | None = None
    """REST API root; by default derived from each pool's forge URL."""
    gitlab_runner_url: str = GITLAB_RUNNER_URL
    gitlab_runner_sha256: str | None = None
    """SHA-256 of the gitlab-runner binary; by default read from the release's checksum file."""


def machine_fingerprint(spec: RunnerSpec) -> str:
    """What a machine is made of (the pool minus its count): when it changes the machine is
    replaced, so its registration is replaced too instead of being handed on used."""
    shape = {k: v for k, v in asdict(spec).items() if k != "count"}
    return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()[:16]


class RunnerRegistrationProvider(pulumi.dynamic.ResourceProvider):
    """Create and delete one runner; module-level so the engine can unpickle it by name."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        from infra.forges import clients as forge_clients

        name = f"{props['name_prefix']}-{secrets.token_hex(3)}"
        made = forge_clients.create_runner(props, name)
        outs = {**_public(props), **made, "runner_name": name, "token": props["token"]}
        return pulumi.dynamic.CreateResult(id_=str(made["runner_id"]), outs=outs)

    def diff(self, _id: str, olds: dict[str, Any],
             news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        replaces = [key for key in REPLACE_KEYS if olds.get(key) != news.get(key)]
        changed = bool(replaces) or olds.get("token") != news.get("token")
        return pulumi.dynamic.DiffResult(changes=changed, replaces=replaces,
                                         delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any],
               news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        """Only the token changed (rotated): keep the runner, remember the new token."""
        return pulumi.dynamic.UpdateResult(outs={**olds, "token": news["token"]})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        from infra.forges import clients as forge_clients

        forge_clients.delete_runner(props)


def _public(props: dict[str, Any]) -> dict[str, Any]:
    return {key: props.get(key) for key in REPLACE_KEYS}


class RunnerRegistration(pulumi.dynamic.Resource):
    """One machine's runner on its forge. Outputs: runner_id, runner_name, registration
    (secret), package_url, package_sha256."""

    runner_id: pulumi.Output[str]
    runner_name: pulumi.Output[str]
    registration: pulumi.Output[str]
    package_url: pulumi.Output[str]
    package_sha256: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        outputs = {"runner_id": None, "runner_name": None, "registration": None,
                   "package_url": None, "package_sha256": None}
        secret = pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS)
        super().__init__(RunnerRegistrationProvider(), name, {**outputs, **props},
                         pulumi.ResourceOptions.merge(secret, opts))


def registration_inputs(spec: RunnerSpec, index: int, settings: ForgeSettings) -> dict[str, Any]:
    """The dynamic resource's inputs for machine `index` of `spec`; the token is a secret."""
    from infra.forges.runners import runner_labels

    if not spec.repo:
        raise ForgeError(f"Pool {spec.name} names no repository; set its repo to owner/name "
                         "so its runners know where to register.")
    gitlab = spec.forge == "gitlab"
    return {
        "forge": spec.forge, "repo": spec.repo,
        "api_url": (settings.api_url or default_api_url(spec.forge, spec.forge_url)).rstrip("/"),
        "name_prefix": runner_name_prefix(spec.name, pulumi.get_stack(), index),
        "labels": list(runner_labels(spec.labels, spec.machine.gpu_model)),
        "max_timeout_s": max(spec.max_runtime_s, GITLAB_MIN_TIMEOUT_S) if gitlab
        else spec.max_runtime_s, "machine": machine_fingerprint(spec),
        "gitlab_runner_url": settings.gitlab_runner_url if gitlab else None,
        "gitlab_runner_sha256": settings.gitlab_runner_sha256 if gitlab else None,
        "token": pulumi.Output.secret(settings.token),
    }


def forge_registrar(settings: ForgeSettings) -> Registrar:
    """A registrar declaring one `RunnerRegistration` per machine. Its parent is the stack:
    the machine's component cannot be, since the machine needs the registration to exist."""

    def register(spec: RunnerSpec, index: int) -> Registration:
        resource = RunnerRegistration(f"{spec.name}-{index}-registration",
                                      registration_inputs(spec, index, settings))
        # Secret here too: the engine applies additional_secret_outputs, mocks do not.
        return Registration(runner_name=resource.runner_name,
                            secret=pulumi.Output.secret(resource.registration),
                            package_url=resource.package_url,
                            package_sha256=resource.package_sha256,
                            runner_id=resource.runner_id)

    return register
