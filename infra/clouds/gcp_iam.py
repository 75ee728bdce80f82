"""Google Cloud: what lets a runner VM delete itself, and nothing else.

The startup script deletes its own VM at the end (metadata-server token, then the Compute API's
`instances.delete`), which needs a service account on the VM with the cloud-platform scope:
https://cloud.google.com/compute/docs/access/create-enable-service-accounts-for-instances
Each pool gets a custom role holding only `compute.instances.delete` and `compute.instances.get`
(https://cloud.google.com/iam/docs/creating-custom-roles), granted on each VM alone
(https://cloud.google.com/compute/docs/access/granting-access-to-resources), so a machine can
delete itself and no other.

A VM carries ONE service account
(https://cloud.google.com/compute/docs/access/service-accounts#associating_a_service_account_to_an_instance).
Without `--identity` that is a dedicated account per pool; with `--identity` (the team's account
for data access) the team account is the VM's account and the self-delete role is bound, on
that VM only, to the team account too.

The project of the role and bindings: the `gcp:project` setting when given, else the
provider's own default (which also reads GOOGLE_PROJECT); the offline plan sets a clearly
marked placeholder (infra/engine/plan.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import pulumi
import pulumi_gcp as gcp

from infra.spec import RunnerSpec

# The provider expands the alias to https://www.googleapis.com/auth/cloud-platform.
SCOPES = ["cloud-platform"]
SELF_DELETE_PERMISSIONS = ["compute.instances.delete", "compute.instances.get"]


def _digest(stack: str, pool: str) -> str:
    return hashlib.sha256(f"{stack}/{pool}".encode()).hexdigest()[:8]


def account_id(stack: str, pool: str) -> str:
    """6 to 30 characters, lowercase letters, digits and hyphens, starting with a letter:
    https://cloud.google.com/iam/docs/service-accounts-create#creating ; the digest keeps two
    bases' pools of the same name apart. `stack` is the base stack, never a CI run's."""
    stem = re.sub(r"-+$", "", pool[:16])
    return f"cml-{stem}-{_digest(stack, pool)}"


def role_id(stack: str, pool: str) -> str:
    """Letters, digits, `_` and `.`, at most 64 characters (same creating-custom-roles page).
    A role deleted with its stack is undeleted when the same id is declared again."""
    return f"cmlInfraSelfDelete_{_digest(stack, pool)}"


def project() -> str | None:
    """The `gcp:project` setting, or None for the provider's default project."""
    return pulumi.Config("gcp").get("project")


class PoolIdentity:
    """The pool's self-delete role and the service account its VMs run as."""

    def __init__(self, prefix: str, spec: RunnerSpec, stack: str,
                 parent: pulumi.Resource) -> None:
        child = pulumi.ResourceOptions(parent=parent)
        self.role = gcp.projects.IAMCustomRole(
            f"{prefix}-self-delete", role_id=role_id(stack, spec.name), project=project(),
            title=f"cml-infra self-delete ({spec.name})",
            description="Lets a cml-infra runner VM delete itself; granted per VM.",
            permissions=SELF_DELETE_PERMISSIONS, stage="GA", opts=child)
        self.email: pulumi.Input[str]
        if spec.identity:
            self.email = spec.identity
        else:
            account = gcp.serviceaccount.Account(
                f"{prefix}-sa", account_id=account_id(stack, spec.name), project=project(),
                display_name=f"cml-infra runner pool {spec.name}", opts=child)
            self.email = account.email


def bind_self_delete(name: str, vm: gcp.compute.Instance, zone: pulumi.Input[str] | None,
                     base: Mapping[str, pulumi.Input[str]],
                     parent: pulumi.Resource) -> gcp.compute.InstanceIAMMember:
    """Grant the base's self-delete role on `vm` alone to the VM's own account."""
    return gcp.compute.InstanceIAMMember(
        f"{name}-self-delete", instance_name=vm.name, zone=zone, project=project(),
        role=base["self_delete_role"],
        member=pulumi.Output.concat("serviceAccount:", base["service_account_email"]),
        opts=pulumi.ResourceOptions(parent=parent))
