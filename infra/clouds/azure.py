"""Azure: a resource group per machine holding its network, identity and VM.

Azure has no expiry of its own, so the VM's user-assigned identity may delete its own
resource group and nothing else (the fourth kill switch after the runner and the shutdown).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi_azure_native import authorization, compute, managedidentity, network, resources

from infra.catalog import azure as table
from infra.clouds.common import RunnerArgs, b64, iso, outputs
from infra.spec import RunnerSpec

ADMIN_USER = "cmlrunner"
# Only what deleting the group needs: https://learn.microsoft.com/azure/role-based-access-control/custom-roles
SELF_DELETE_ACTIONS = ["Microsoft.Resources/subscriptions/resourceGroups/read",
                       "Microsoft.Resources/subscriptions/resourceGroups/delete", "*/delete"]


def throwaway_ssh_key() -> str:
    """Azure requires an admin credential; this public key's private half is never kept."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


def storage(spec: RunnerSpec) -> compute.StorageProfileArgsDict:
    """Ubuntu on a premium disk deleted with the VM (managed disks are encrypted at rest)."""
    image = table.IMAGE
    return {"image_reference": {"publisher": image["publisher"], "offer": image["offer"],
                                "sku": image["sku"], "version": image["version"]},
            "os_disk": {"create_option": "FromImage", "delete_option": "Delete",
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


def identities(own: pulumi.Input[str],
               spec: RunnerSpec) -> compute.VirtualMachineIdentityArgsDict:
    """The self-delete identity, plus the team's identity for data access when given."""
    ids: list[pulumi.Input[str]] = [own, spec.identity] if spec.identity else [own]
    return {"type": compute.ResourceIdentityType.USER_ASSIGNED, "user_assigned_identities": ids}


class AzureRunner(pulumi.ComponentResource):
    """One runner machine on Azure."""

    instance_id: pulumi.Output[str]
    private_ip: pulumi.Output[str]
    expires_at: pulumi.Output[str]

    def __init__(self, name: str, args: RunnerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:clouds:AzureRunner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec, tags, where = args.spec, args.tags, args.spec.region
        group = resources.ResourceGroup(f"{name}-rg", location=where, tags=tags, opts=child)
        nic = self._network(name, group, where, tags, child)
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity", resource_group_name=group.name, location=where, tags=tags,
            opts=child)
        self._self_delete(name, args.stack, group, identity, child)
        vm = compute.VirtualMachine(
            f"{name}-vm", resource_group_name=group.name, location=where, tags=tags,
            hardware_profile={"vm_size": spec.machine.instance_type},
            storage_profile=storage(spec), os_profile=os_profile(name, args.user_data),
            network_profile=nic_profile(nic.id),
            identity=identities(identity.id, spec),
            # Spot machines are deleted, not deallocated, when evicted.
            priority="Spot" if spec.spot else "Regular",
            eviction_policy="Delete" if spec.spot else None, billing_profile=billing(spec),
            opts=child)
        if spec.machine.gpu_count:
            self._driver(name, group, vm, spec, tags)
        self.instance_id = vm.vm_id
        self.private_ip = nic.ip_configurations.apply(first_private_ip)
        self.expires_at = pulumi.Output.from_input(iso(args.expires_at))
        self.register_outputs(outputs(vm.vm_id, self.private_ip, args.expires_at))

    def _network(self, name: str, group: resources.ResourceGroup, where: str,
                 tags: dict[str, str], child: pulumi.ResourceOptions) -> network.NetworkInterface:
        """VNet, subnet and NIC behind a security group without inbound rules (Azure's
        defaults then deny inbound from the internet)."""
        rg = group.name
        nsg = network.NetworkSecurityGroup(f"{name}-nsg", resource_group_name=rg,
                                           location=where, security_rules=[], tags=tags,
                                           opts=child)
        vnet = network.VirtualNetwork(f"{name}-vnet", resource_group_name=rg, location=where,
                                      address_space={"address_prefixes": ["10.0.0.0/16"]},
                                      tags=tags, opts=child)
        subnet = network.Subnet(f"{name}-subnet", resource_group_name=rg,
                                virtual_network_name=vnet.name, address_prefix="10.0.0.0/24",
                                network_security_group={"id": nsg.id}, opts=child)
        # A Standard public address for egress; closed to inbound unless an NSG opens it:
        # https://learn.microsoft.com/azure/virtual-network/ip-services/public-ip-addresses#sku
        address = network.PublicIPAddress(f"{name}-ip", resource_group_name=rg, location=where,
                                          sku={"name": "Standard"},
                                          public_ip_allocation_method="Static", tags=tags,
                                          opts=child)
        return network.NetworkInterface(
            f"{name}-nic", resource_group_name=rg, location=where, tags=tags,
            network_security_group={"id": nsg.id},
            ip_configurations=[{"name": "primary", "subnet": {"id": subnet.id},
                                "public_ip_address": {"id": address.id},
                                "private_ip_allocation_method": "Dynamic"}],
            opts=child)

    def _self_delete(self, name: str, stack: str, group: resources.ResourceGroup,
                     identity: managedidentity.UserAssignedIdentity,
                     child: pulumi.ResourceOptions) -> None:
        """A custom role that can delete this resource group only, given to the VM."""
        role = authorization.RoleDefinition(
            f"{name}-self-delete-role", role_name=f"cml-infra-self-delete-{stack}-{name}",
            description="Lets a cml-infra runner delete its own resource group.",
            scope=group.id, assignable_scopes=[group.id],
            permissions=[{"actions": SELF_DELETE_ACTIONS}], opts=child)
        authorization.RoleAssignment(
            f"{name}-self-delete", principal_id=identity.principal_id,
            principal_type="ServicePrincipal", role_definition_id=role.id, scope=group.id,
            opts=child)

    def _driver(self, name: str, group: resources.ResourceGroup, vm: compute.VirtualMachine,
                spec: RunnerSpec, tags: dict[str, str]) -> None:
        """NVIDIA driver extension: CUDA for NC/ND, GRID for NVadsA10_v5 (its default):
        https://learn.microsoft.com/azure/virtual-machines/extensions/hpccompute-gpu-linux"""
        compute.VirtualMachineExtension(
            f"{name}-gpu-driver", resource_group_name=group.name, vm_name=vm.name,
            location=spec.region, publisher="Microsoft.HpcCompute", type="NvidiaGpuDriverLinux",
            type_handler_version="1.6", auto_upgrade_minor_version=True, tags=tags,
            opts=pulumi.ResourceOptions(parent=self))
