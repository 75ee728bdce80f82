"""Azure: a pool base (resource group, network, self-delete role); per machine a VM that can
delete itself.

Azure has no expiry of its own, so each VM ends itself: its system-assigned identity holds the
pool's self-delete role on exactly four resources, its VM, NIC, public address and OS disk, so
it can delete itself (or, failing that, deallocate itself) and nothing else, not a sibling. A
guest shutdown would only stop a still-billed VM ("Stopped (allocated)"). From the cloud side,
the VM's auto-shutdown schedule deallocates it after its expiry plus the guest's own teardown
time, should the guest never get that far
(https://learn.microsoft.com/azure/virtual-machines/auto-shutdown-vm; the schedule is a daily
one, so it is set only for maximum runtimes that end within a day). The NIC, address and disk
carry `deleteOption: Delete`, so they go with the VM:
https://learn.microsoft.com/azure/virtual-machines/delete. The page does not say whether
that cascade checks the caller's rights on each of them; they are separate resources, not
children of the VM, so the role is granted on each, and no billed disk is left behind.

Why a long-lived base: Azure allows 980 resource groups per subscription
(https://learn.microsoft.com/azure/azure-resource-manager/management/azure-subscription-service-limits),
and a group, VNet, subnet, NSG and role definition per CI run would pile up; the base stack
creates them once per pool, and every run's runner stack adds only its machines (5 resources
each). The base costs nothing while no machine runs and goes with `cml-infra down --base`.
The system identity also goes with the VM, where a user-assigned one would be left behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pulumi
from pulumi_azure_native import authorization, compute, devtestlab, network, resources

from infra.catalog import azure as table
from infra.clouds.common import (
    BaseArgs,
    BaseOutputs,
    RunnerArgs,
    b64,
    cloud_deadline,
    iso,
    outputs,
)
from infra.spec import RunnerSpec

ADMIN_USER = "cmlrunner"
BASE_OUTPUTS = ("resource_group", "resource_group_id", "subnet_id", "nsg_id",
                "self_delete_role_id")
# Only what deleting a VM and what goes with it needs, granted at the VM's scope:
# https://learn.microsoft.com/azure/role-based-access-control/permissions/compute
# Deallocating is the fallback when deleting fails: a deallocated VM is not billed for compute:
# https://learn.microsoft.com/azure/virtual-machines/states-billing
SELF_DELETE_ACTIONS = ["Microsoft.Compute/virtualMachines/read",
                       "Microsoft.Compute/virtualMachines/delete",
                       "Microsoft.Compute/virtualMachines/deallocate/action",
                       "Microsoft.Network/networkInterfaces/delete",
                       "Microsoft.Network/publicIPAddresses/delete",
                       "Microsoft.Compute/disks/delete"]


# The GRID driver version Microsoft recommends for NVadsA10_v5: its page lists GRID 17.5 as
# making CUDA devices unavailable, worked around with `driverVersion` 535.161 ("Known issues"):
# https://learn.microsoft.com/azure/virtual-machines/extensions/hpccompute-gpu-linux
GRID_DRIVER_VERSION = "535.161"
# Standard security, never Trusted Launch: the driver extensions do not support Secure Boot
# (same page). Under the compute API version this SDK uses (2024-11-01) a VM without a
# security type is Standard, and an explicit "Standard" is accepted only from API version
# 2025-11-01 on (https://learn.microsoft.com/azure/virtual-machines/trusted-launch; before
# that, only with the subscription feature UseStandardSecurityType), so none is set here.
# tests/test_infra_components.py fails once the SDK moves to 2025-11-01 or later, whose
# default changes: then pin {"security_type": "Standard"} here.
SECURITY_PROFILE: compute.SecurityProfileArgsDict | None = None


def auto_shutdown_time(created: datetime, expires_at: datetime) -> str | None:
    """The daily `HHMM` (UTC) at which the auto-shutdown schedule deallocates the VM: after
    its expiry and teardown grace, rounded up to the minute. None when that moment is a day or
    more away, where a daily time would fire before it."""
    moment = cloud_deadline(expires_at)
    moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if moment - created >= timedelta(hours=24) - timedelta(minutes=2):
        return None
    return moment.astimezone(timezone.utc).strftime("%H%M")


def throwaway_ssh_key() -> str:
    """Azure requires an admin credential; this public key's private half is never kept."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


def os_disk_name(machine: str) -> str:
    return f"{machine}-osdisk"


def storage(name: str, spec: RunnerSpec) -> compute.StorageProfileArgsDict:
    """Ubuntu (driver-ready for CUDA GPUs) on a premium disk deleted with the VM (managed disks
    are encrypted at rest)."""
    image = table.image_for(spec.machine.driver if spec.machine.gpu_count else None)
    return {"image_reference": {"publisher": image["publisher"], "offer": image["offer"],
                                "sku": image["sku"], "version": image["version"]},
            "os_disk": {"name": os_disk_name(name), "create_option": "FromImage",
                        "delete_option": "Delete",
                        "disk_size_gb": spec.disk_size_gb,
                        "managed_disk": {"storage_account_type": "Premium_LRS"}}}


def os_profile(name: str, user_data: pulumi.Input[str]) -> compute.OSProfileArgsDict:
    """Custom data (base64) and key-only login with a key nobody holds."""
    return {"computer_name": name, "admin_username": ADMIN_USER,
            "custom_data": pulumi.Output.from_input(user_data).apply(b64),
            "linux_configuration": {"disable_password_authentication": True, "ssh": {
                "public_keys": [{"path": f"/home/{ADMIN_USER}/.ssh/authorized_keys",
                                 "key_data": throwaway_ssh_key()}]}}}


def nic_profile(nic_id: pulumi.Input[str]) -> compute.NetworkProfileArgsDict:
    return {"network_interfaces": [{"id": nic_id, "primary": True, "delete_option": "Delete"}]}


def billing(spec: RunnerSpec) -> compute.BillingProfileArgsDict | None:
    """Spot machines are capped at the asked price, or at the on-demand price (-1):
    https://learn.microsoft.com/azure/virtual-machines/spot-vms#pricing"""
    return {"max_price": spec.max_price or -1} if spec.spot else None


def first_private_ip(configurations: Sequence[Any] | None) -> str:
    first = (configurations or [None])[0]
    return getattr(first, "private_ip_address", None) or ""


def identities(spec: RunnerSpec) -> compute.VirtualMachineIdentityArgsDict:
    """The VM's own identity (it deletes the VM), plus the team's for data access if given."""
    if not spec.identity:
        return {"type": compute.ResourceIdentityType.SYSTEM_ASSIGNED}
    return {"type": compute.ResourceIdentityType.SYSTEM_ASSIGNED_USER_ASSIGNED,
            "user_assigned_identities": [spec.identity]}


def principal(identity: Any) -> str:
    return getattr(identity, "principal_id", None) or ""


class AzureBase(pulumi.ComponentResource):
    """What the machines of one pool share: the resource group, a network that admits no
    inbound traffic, and the self-delete role that each machine is granted on its own VM."""

    def __init__(self, name: str, args: BaseArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:clouds:AzureBase", name, None, opts)
        tags, where = args.tags, args.spec.region
        child = pulumi.ResourceOptions(parent=self)
        group = resources.ResourceGroup(f"{name}-rg", location=where, tags=tags, opts=child)
        rg = group.name
        # No rules: Azure's defaults then deny inbound from the internet.
        nsg = network.NetworkSecurityGroup(f"{name}-nsg", resource_group_name=rg,
                                           location=where, security_rules=[], tags=tags,
                                           opts=child)
        vnet = network.VirtualNetwork(f"{name}-vnet", resource_group_name=rg, location=where,
                                      address_space={"address_prefixes": ["10.0.0.0/16"]},
                                      tags=tags, opts=child)
        # 251 usable addresses, enough for the largest pool:
        # https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq#are-there-any-restrictions-on-using-ip-addresses-within-these-subnets
        subnet = network.Subnet(f"{name}-subnet", resource_group_name=rg,
                                virtual_network_name=vnet.name, address_prefix="10.0.0.0/24",
                                network_security_group={"id": nsg.id}, opts=child)
        role = authorization.RoleDefinition(
            f"{name}-self-delete-role", role_name=f"cml-infra-self-delete-{args.stack}",
            description="Lets a cml-infra runner delete its own VM, NIC, address and disk.",
            scope=group.id, assignable_scopes=[group.id],
            permissions=[{"actions": SELF_DELETE_ACTIONS}], opts=child)
        self.outputs = {"resource_group": rg, "resource_group_id": group.id,
                        "subnet_id": subnet.id, "nsg_id": nsg.id,
                        "self_delete_role_id": role.id}
        self.register_outputs(self.outputs)


class AzureRunner(pulumi.ComponentResource):
    """One runner machine on Azure, in its pool's resource group and subnet."""

    instance_id: pulumi.Output[str]
    private_ip: pulumi.Output[str]
    expires_at: pulumi.Output[str]

    def __init__(self, name: str, args: RunnerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:clouds:AzureRunner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec, tags, where = args.spec, args.tags, args.spec.region
        base = args.base
        nic, address = self._nic(name, base, where, tags, child)
        vm = compute.VirtualMachine(
            f"{name}-vm", resource_group_name=base["resource_group"], location=where, tags=tags,
            hardware_profile={"vm_size": spec.machine.instance_type},
            storage_profile=storage(name, spec), os_profile=os_profile(name, args.user_data),
            network_profile=nic_profile(nic.id), identity=identities(spec),
            # Spot machines are deleted, not deallocated, when evicted.
            priority="Spot" if spec.spot else "Regular",
            eviction_policy="Delete" if spec.spot else None, billing_profile=billing(spec),
            security_profile=SECURITY_PROFILE, opts=child)
        disk_id = pulumi.Output.concat(base["resource_group_id"],
                                       "/providers/Microsoft.Compute/disks/",
                                       os_disk_name(name))
        self._self_delete(name, base, vm, {"vm": vm.id, "nic": nic.id, "ip": address.id,
                                           "disk": disk_id})
        if spec.machine.gpu_count and table.needs_driver_extension(spec.machine.driver):
            self._driver(name, base, vm, spec, tags)
        self._auto_shutdown(name, base, vm, spec, tags, args)
        self.instance_id = vm.vm_id
        self.private_ip = nic.ip_configurations.apply(first_private_ip)
        self.expires_at = pulumi.Output.from_input(iso(args.expires_at))
        self.register_outputs(outputs(vm.vm_id, self.private_ip, args.expires_at))

    def _self_delete(self, name: str, base: BaseOutputs, vm: compute.VirtualMachine,
                     scopes: dict[str, pulumi.Input[str]]) -> None:
        """The base's role on this machine's own resources only: never on a sibling's."""
        after_vm = pulumi.ResourceOptions(parent=self, depends_on=[vm])  # the disk exists
        for what, scope in scopes.items():
            authorization.RoleAssignment(
                f"{name}-self-delete-{what}", principal_id=vm.identity.apply(principal),
                principal_type="ServicePrincipal", role_definition_id=base["self_delete_role_id"],
                scope=scope, opts=after_vm)

    def _nic(self, name: str, base: BaseOutputs, where: str, tags: dict[str, str],
             child: pulumi.ResourceOptions,
             ) -> tuple[network.NetworkInterface, network.PublicIPAddress]:
        """The machine's NIC in the base's subnet, with a public address for egress."""
        rg = base["resource_group"]
        # A Standard public address, closed to inbound unless an NSG opens it, deleted with
        # the VM: https://learn.microsoft.com/azure/virtual-network/ip-services/public-ip-addresses#sku
        address = network.PublicIPAddress(f"{name}-ip", resource_group_name=rg, location=where,
                                          sku={"name": "Standard"},
                                          public_ip_allocation_method="Static",
                                          delete_option="Delete", tags=tags, opts=child)
        return network.NetworkInterface(
            f"{name}-nic", resource_group_name=rg, location=where, tags=tags,
            network_security_group={"id": base["nsg_id"]},
            ip_configurations=[{"name": "primary", "subnet": {"id": base["subnet_id"]},
                                "public_ip_address": {"id": address.id},
                                "private_ip_allocation_method": "Dynamic"}],
            opts=child), address

    def _driver(self, name: str, base: BaseOutputs, vm: compute.VirtualMachine,
                spec: RunnerSpec, tags: dict[str, str]) -> None:
        """NVIDIA driver extension, for GRID sizes (NVadsA10_v5) only: the CUDA sizes boot an
        image that has the driver (infra/catalog/azure.py):
        https://learn.microsoft.com/azure/virtual-machines/extensions/hpccompute-gpu-linux"""
        compute.VirtualMachineExtension(
            f"{name}-gpu-driver", resource_group_name=base["resource_group"], vm_name=vm.name,
            location=spec.region, publisher="Microsoft.HpcCompute", type="NvidiaGpuDriverLinux",
            type_handler_version="1.6", auto_upgrade_minor_version=True, tags=tags,
            settings={"driverVersion": GRID_DRIVER_VERSION},
            opts=pulumi.ResourceOptions(parent=self))

    def _auto_shutdown(self, name: str, base: BaseOutputs, vm: compute.VirtualMachine,
                       spec: RunnerSpec, tags: dict[str, str], args: RunnerArgs) -> None:
        """The cloud-side fallback: the VM's auto-shutdown schedule (named
        `shutdown-computevm-<vm>`, the name the API requires) deallocates it:
        https://learn.microsoft.com/rest/api/dtl/global-schedules/create-or-update"""
        created = args.expires_at - timedelta(seconds=spec.max_runtime_s)
        at = auto_shutdown_time(created, args.expires_at)
        if at is None:
            return
        devtestlab.GlobalSchedule(
            f"{name}-auto-shutdown", name=vm.name.apply(lambda vm: f"shutdown-computevm-{vm}"),
            resource_group_name=base["resource_group"], location=spec.region,
            target_resource_id=vm.id, task_type="ComputeVmShutdownTask", status="Enabled",
            daily_recurrence={"time": at}, time_zone_id="UTC",
            notification_settings={"status": "Disabled"}, tags=tags,
            opts=pulumi.ResourceOptions(parent=self))
