"""Google Cloud: a pool base with a network that has no firewall rules and the self-delete
identity; one Compute Engine VM per machine on it.

Kill switches: `maxRunDuration` with `instanceTerminationAction: DELETE` deletes the VM at the
maximum runtime: https://cloud.google.com/compute/docs/instances/limit-vm-runtime
A network without firewall rules admits no inbound traffic (the implied deny-ingress rule):
https://cloud.google.com/firewall/docs/firewalls#default_firewall_rules

The network, subnet, service account and custom role live in the pool's base stack, created
once and shared by every CI run: a project may hold 15 networks by default
(https://cloud.google.com/vpc/docs/quota#per_project), 100 service accounts and 300 custom roles,
a deleted role counting for 7 days (https://cloud.google.com/iam/quotas). Networks and subnets
take no labels; the VMs and disks carry the pool, stack and expiry.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.catalog import gcp as table
from infra.clouds.common import BaseArgs, RunnerArgs, gcp_labels, iso, outputs, shared
from infra.clouds.gcp_iam import SCOPES, PoolIdentity, bind_self_delete
from infra.errors import SpecError
from infra.spec import RunnerSpec

BASE_OUTPUTS = ("network", "subnet", "service_account_email", "self_delete_role",
                "zone")


def image_source(spec: RunnerSpec) -> tuple[str, str] | None:
    """(project, family) of the image to look up, or None for a native image name."""
    image = spec.image or (table.GPU_IMAGE if spec.machine.gpu_count else table.CPU_IMAGE)
    project, _, family = image.partition("/")
    return (project, family) if family and "/" not in family else None


def scheduling(spec: RunnerSpec) -> gcp.compute.InstanceSchedulingArgsDict:
    """GPUs cannot live-migrate, Spot when asked, and deletion at the maximum runtime:
    https://cloud.google.com/compute/docs/instances/spot#terminate-spot"""
    result: gcp.compute.InstanceSchedulingArgsDict = {
        "instance_termination_action": "DELETE",
        "max_run_duration": {"seconds": spec.max_runtime_s},
        "provisioning_model": "SPOT" if spec.spot else "STANDARD",
        "preemptible": spec.spot,
        "automatic_restart": False,
    }
    if spec.machine.gpu_count:
        # https://cloud.google.com/compute/docs/gpus/create-vm-with-gpus#gpu-vm-limitations
        result["on_host_maintenance"] = "TERMINATE"
    return result


def image_of(spec: RunnerSpec) -> pulumi.Input[str]:
    """The image's self link, looked up from its family at deploy time, or the native name."""
    source = image_source(spec)
    if source is None:
        return str(spec.image)
    return gcp.compute.get_image_output(family=source[1], project=source[0]).self_link


def accelerators(spec: RunnerSpec) -> list[gcp.compute.InstanceGuestAcceleratorArgsDict]:
    """Only N1 machines take attached GPUs; A2, A3 and G2 have them built in."""
    if not spec.machine.accelerator:
        return []
    return [{"type": spec.machine.accelerator, "count": spec.machine.gpu_count}]


def first_zone(spec: RunnerSpec, parent: pulumi.Resource) -> pulumi.Output[str]:
    """A region the catalog's zone table does not cover: its first zone that is up, looked up
    at deploy time (https://cloud.google.com/compute/docs/reference/rest/v1/zones/list); GCP
    names a GPU that zone lacks in its error, and --zone chooses another."""
    found = gcp.compute.get_zones_output(region=spec.region, status="UP",
                                         opts=pulumi.InvokeOutputOptions(parent=parent))
    return found.names.apply(lambda names: sorted(names)[0] if names else _no_zone(spec))


def _no_zone(spec: RunnerSpec) -> str:
    raise SpecError(f"GCP lists no zone that is up in {spec.region}; choose another region.")


class GcpBase(pulumi.ComponentResource):
    """What the machines of one pool share: a network without firewall rules, a subnet, and
    the self-delete role and service account (infra/clouds/gcp_iam.py)."""

    def __init__(self, name: str, args: BaseArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:clouds:GcpBase", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        network = gcp.compute.Network(f"{name}-net", auto_create_subnetworks=False,
                                      description=f"cml-infra runner pool {spec.name}",
                                      opts=child)
        # 252 usable addresses, enough for the largest pool:
        # https://cloud.google.com/vpc/docs/subnets#unusable-ip-addresses-in-every-subnet
        subnet = gcp.compute.Subnetwork(f"{name}-subnet", network=network.id,
                                        region=spec.region, ip_cidr_range="10.64.0.0/24",
                                        opts=child)
        identity = PoolIdentity(name, spec, args.stack, self)
        self.outputs = {"network": network.id, "subnet": subnet.id,
                        "service_account_email": identity.email,
                        "self_delete_role": identity.role.name, "zone": spec.zone or ""}
        self.register_outputs(self.outputs)


class GcpRunner(pulumi.ComponentResource):
    """One runner machine on Compute Engine."""

    instance_id: pulumi.Output[str]
    private_ip: pulumi.Output[str]
    expires_at: pulumi.Output[str]

    def __init__(self, name: str, args: RunnerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cml-infra:clouds:GcpRunner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec = args.spec
        labels = gcp_labels(spec.name, args.stack, args.expires_at)
        base = args.base
        image = shared(("gcp-image", args.stack, spec.name), lambda: image_of(spec))
        metadata: dict[str, pulumi.Input[str]] = {"block-project-ssh-keys": "true"}
        if spec.machine.gpu_count:
            # Deep Learning VM images install the driver at first boot when asked:
            # https://cloud.google.com/deep-learning-vm/docs/cli#creating_an_instance_with_one_or_more_gpus
            metadata["install-nvidia-driver"] = "True"
        zone = spec.zone or shared(("gcp-zone", args.stack, spec.name),
                                   lambda: first_zone(spec, self))
        vm = gcp.compute.Instance(
            f"{name}-vm", machine_type=spec.machine.instance_type, zone=zone,
            boot_disk={"auto_delete": True, "initialize_params": {
                "image": image, "size": spec.disk_size_gb, "type": "pd-balanced",
                "labels": labels}},
            # An ephemeral external address for egress only; no rule admits inbound traffic.
            network_interfaces=[{"subnetwork": base["subnet"], "access_configs": [{}]}],
            guest_accelerators=accelerators(spec), scheduling=scheduling(spec),
            # Kept apart from `metadata` so that only the script is secret in state and plans.
            metadata_startup_script=args.user_data, metadata=metadata, labels=labels,
            # Always an account: the startup script deletes the VM with its token.
            service_account={"email": base["service_account_email"], "scopes": SCOPES},
            shielded_instance_config={"enable_integrity_monitoring": True,
                                      "enable_vtpm": True},
            opts=child)
        bind_self_delete(name, vm, zone, base, self)
        self.instance_id = vm.instance_id
        self.private_ip = vm.network_interfaces.apply(lambda nics: nics[0].network_ip or "")
        self.expires_at = pulumi.Output.from_input(iso(args.expires_at))
        self.register_outputs(outputs(self.instance_id, self.private_ip, args.expires_at))
