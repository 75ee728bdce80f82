"""The real program and components under Pulumi's mock runtime: exact inputs per cloud and
per GPU model of the catalog."""

from __future__ import annotations

import base64
import gzip
import random
import re
from datetime import datetime, timedelta, timezone

import pytest
from pulumi.runtime.rpc import is_rpc_secret

from infra import catalog
from infra.engine.plan import run_plan
from infra.engine.program import placeholder_registrar, startup_config
from infra.spec import build_spec

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
EXPIRES = "2026-01-01T18:00:00Z"
TAGS = {"cml-infra-pool": "gpu", "cml-infra-stack": "test", "cml-infra-expires": EXPIRES}
GCP_LABELS = {"cml-infra-pool": "gpu", "cml-infra-stack": "test",
              "cml-infra-expires": "20260101t180000z"}
def base_tags(cloud: str, region: str) -> dict[str, str]:
    """A base carries its pool and its own stack, no expiry: it outlives every run."""
    return {"cml-infra-pool": "gpu", "cml-infra-stack": f"cml-infra-base-gpu-{cloud}-{region}"}


def invoke(plan, token):
    found = [i for i in plan.invokes if i["token"] == token]
    assert len(found) == 1, [i["token"] for i in plan.invokes]
    return found[0]["args"]


SSM = "aws:ssm/getParameter:getParameter"
VM_TYPES = {"aws": "aws:ec2/instance:Instance", "gcp": "gcp:compute/instance:Instance",
            "azure": "azure-native:compute:VirtualMachine",
            "alicloud": "alicloud:ecs/instance:Instance"}
CLASSES = {"aws": "Aws", "gcp": "Gcp", "azure": "Azure", "alicloud": "Alicloud"}
CASES = [(cloud, model, count)
         for cloud in catalog.CLOUDS
         for model, family in catalog.table(cloud).GPUS.items()
         for count in family.counts]


def plan_for(**kwargs):
    spec = build_spec(name="gpu", **kwargs)
    return spec, run_plan([spec], clock=lambda: NOW, stack="test")


def only(plan, type_token):
    found = [r for r in plan.resources if r["type"] == type_token]
    assert len(found) == 1, [r["type"] for r in plan.resources]
    return found[0]["inputs"]


def secret_text(value) -> str:
    assert is_rpc_secret(value), "expected a Pulumi secret"
    return value["value"]


def selling_region(cloud: str, model: str, count: int) -> str:
    """The first portable region the catalog does not know to lack this model and count."""
    offering = catalog.table(cloud).offering_regions(
        catalog.resolve_machine(cloud, None, model, count))
    return next(region for region, (native, _) in catalog.table(cloud).REGIONS.items()
                if offering is None or native in offering)


@pytest.mark.parametrize(("cloud", "model", "count"), CASES)
def test_every_gpu_model_and_count(cloud, model, count):
    spec, plan = plan_for(cloud=cloud, gpu_model=model, gpu_count=count,
                          region=selling_region(cloud, model, count))
    vm = only(plan, VM_TYPES[cloud])
    machine = spec.machine
    if cloud == "aws":
        assert vm["instanceType"] == machine.instance_type
        assert invoke(plan, SSM)["name"] == catalog.table("aws").GPU_IMAGE
    elif cloud == "gcp":
        assert vm["machineType"] == machine.instance_type
        expected = [{"type": machine.accelerator, "count": float(count)}] \
            if machine.accelerator else []
        assert vm.get("guestAccelerators", []) == expected
        assert vm["scheduling"]["onHostMaintenance"] == "TERMINATE"
        assert vm["metadata"]["install-nvidia-driver"] == "True"
        assert plan.invokes[0]["args"] == {"family": "common-cu128-ubuntu-2204-nvidia-570",
                                           "project": "deeplearning-platform-release"}
    elif cloud == "azure":
        assert vm["hardwareProfile"] == {"vmSize": machine.instance_type}
        exts = [r["inputs"] for r in plan.resources
                if r["type"] == "azure-native:compute:VirtualMachineExtension"]
        image = vm["storageProfile"]["imageReference"]
        if machine.driver == "grid":  # NVadsA10_v5: GRID driver from the extension
            assert [(e["publisher"], e["type"]) for e in exts] == [
                ("Microsoft.HpcCompute", "NvidiaGpuDriverLinux")]
            assert image["publisher"] == "Canonical"
        else:  # CUDA sizes boot the HPC image, which has the driver
            assert exts == []
            assert image == {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc",
                             "sku": "2204", "version": "latest"}
    else:
        assert vm["instanceType"] == machine.instance_type
        assert plain_script(vm["userData"]).startswith("#!")
        config = startup_config(spec, placeholder_registrar(spec, 0), "x")
        assert "ubuntu-drivers install" in config.extra_commands[0]
        assert (config.gpu_model, config.gpu_count) == (model, count)


def secret_text_b64(value) -> str:
    return base64.b64decode(secret_text(value)).decode()


def gzipped_script(value) -> str:
    """AWS user data: the startup script, gzip-compressed, in base64."""
    return gzip.decompress(base64.b64decode(secret_text(value))).decode()


def plain_script(value) -> str:
    """Alibaba user data: the startup script itself, in base64 (Alibaba documents gzip only
    through an uploaded include file)."""
    return base64.b64decode(secret_text(value)).decode()


def test_aws_instance_inputs():
    _, plan = plan_for(cloud="aws", gpu=True, spot=True, max_price=0.4, identity="ci-data")
    vm = only(plan, "aws:ec2/instance:Instance")
    assert vm["instanceInitiatedShutdownBehavior"] == "terminate"
    assert vm["metadataOptions"] == {"httpTokens": "required", "httpEndpoint": "enabled",
                                     "httpPutResponseHopLimit": 2.0}
    assert vm["rootBlockDevice"] == {"volumeSize": 100.0, "volumeType": "gp3",
                                     "encrypted": True, "deleteOnTermination": True}
    assert vm["instanceMarketOptions"] == {"marketType": "spot", "spotOptions": {
        "spotInstanceType": "one-time", "instanceInterruptionBehavior": "terminate",
        "maxPrice": "0.4"}}
    assert vm["ami"] == "ami-PLACEHOLDER-resolved-at-deploy-time"
    assert vm["iamInstanceProfile"] == "ci-data"
    assert vm["tags"] == TAGS and vm["volumeTags"] == TAGS
    assert gzipped_script(vm["userDataBase64"]).startswith("#!") and "userData" not in vm
    group = only(plan, "aws:ec2/securityGroup:SecurityGroup")
    assert group["ingress"] == [] and group["tags"] == base_tags("aws", "us-east-1")
    assert group["vpcId"] == "gpu-base-vpc-id"
    assert vm["vpcSecurityGroupIds"] == ["gpu-base-sg-id"]
    assert vm["subnetId"] == "gpu-base-subnet-id"


def test_aws_base_has_its_own_network_in_a_zone_that_sells_the_type():
    _, plan = plan_for(cloud="aws", gpu_model="l4")
    subnet = only(plan, "aws:ec2/subnet:Subnet")
    assert subnet["availabilityZone"] == "PLACEHOLDER-zone-resolved-at-deploy-time"
    assert subnet["mapPublicIpOnLaunch"] is True and subnet["vpcId"] == "gpu-base-vpc-id"
    offers = invoke(plan, "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings")
    assert offers["filters"] == [{"name": "instance-type", "values": ["g6.xlarge"]}]
    routes = only(plan, "aws:ec2/routeTable:RouteTable")
    assert routes["routes"] == [{"cidrBlock": "0.0.0.0/0", "gatewayId": "gpu-base-igw-id"}]
    assert only(plan, "aws:ec2/routeTableAssociation:RouteTableAssociation")["subnetId"] \
        == "gpu-base-subnet-id"
    assert {r["stack"] for r in plan.resources if r["type"].startswith("aws:ec2/") and
            r["type"] != "aws:ec2/instance:Instance"} == {"cml-infra-base-gpu-aws-us-east-1"}


def test_aws_pool_with_its_own_subnet_gets_only_a_security_group_in_its_vpc():
    _, plan = plan_for(cloud="aws", subnet="subnet-0123456789abcdef0")
    base = [r["type"] for r in plan.resources if r["stack"].startswith("cml-infra-base-")]
    assert base == ["cml-infra:clouds:AwsBase", "aws:ec2/securityGroup:SecurityGroup",
                    "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"]
    assert only(plan, "aws:ec2/securityGroup:SecurityGroup")["vpcId"] \
        == "PLACEHOLDER-vpc-of-the-subnet"
    assert only(plan, "aws:ec2/instance:Instance")["subnetId"] == "subnet-0123456789abcdef0"


def test_aws_base_has_a_subnet_in_each_zone_that_sells_the_type(monkeypatch):
    """Zones are looked up while the program runs; each gets its own /20 and the route."""
    from infra.engine import plan as plan_module

    offers = "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings"
    monkeypatch.setitem(plan_module._INVOKE_RESULTS, offers, {
        "locations": ["us-east-1d", "us-east-1a", "us-east-1c"]})
    _, plan = plan_for(cloud="aws", gpu_model="l4")
    subnets = [r["inputs"] for r in plan.resources if r["type"] == "aws:ec2/subnet:Subnet"]
    assert [(s["availabilityZone"], s["cidrBlock"]) for s in subnets] == [
        ("us-east-1a", "10.77.0.0/20"), ("us-east-1c", "10.77.16.0/20"),
        ("us-east-1d", "10.77.32.0/20")]
    assert len([r for r in plan.resources
                if r["type"] == "aws:ec2/routeTableAssociation:RouteTableAssociation"]) == 3
    assert plan.base_outputs["gpu"]["zones"] == ["us-east-1a", "us-east-1c", "us-east-1d"]
    assert set(plan.base_outputs["gpu"]["subnets"]) == {"us-east-1a", "us-east-1c",
                                                        "us-east-1d"}


def test_aws_machine_in_a_named_zone_uses_that_zones_subnet():
    _, plan = plan_for(cloud="aws", gpu_model="l4", zone="us-east-1b")
    assert only(plan, "aws:ec2/subnet:Subnet")["availabilityZone"] == "us-east-1b"
    assert not [i for i in plan.invokes if "getInstanceTypeOfferings" in i["token"]]
    assert only(plan, "aws:ec2/instance:Instance")["subnetId"] == "gpu-base-subnet-id"


def assert_after_the_guests_teardown(deadline: datetime, expires: datetime) -> None:
    """A cloud-side deadline never cuts the guest's own teardown short: the guest's deadline
    lies after the expiry by its boot (5 minutes or more for a GPU machine), then its teardown
    may take the whole budget; nor does it wait past an hour."""
    from infra.startup import StartupConfig, teardown_budget_s

    config = StartupConfig(forge="github", cloud="aws", runner_name="x", forge_url="",
                           registration="", runner_package_url="", runner_package_sha256="")
    boot = timedelta(minutes=5)
    assert expires + boot + timedelta(seconds=teardown_budget_s(config)) <= deadline
    assert deadline - expires <= timedelta(hours=1)


def test_aws_instance_is_terminated_from_the_cloud_side_after_its_expiry():
    """A guest that never runs its script still ends: a one-time schedule terminates the
    instance, through a role that may terminate only the pool's tagged instances."""
    import json

    spec, plan = plan_for(cloud="aws", gpu=True, max_runtime="2h")
    schedule = only(plan, "aws:scheduler/schedule:Schedule")
    match = re.fullmatch(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)",
                         schedule["scheduleExpression"])
    assert match and schedule["scheduleExpressionTimezone"] == "UTC"
    at = datetime.fromisoformat(match.group(1)).replace(tzinfo=timezone.utc)
    expires = datetime.fromisoformat(
        only(plan, "aws:ec2/instance:Instance")["tags"]["cml-infra-expires"].replace("Z", "+00:00"))
    assert_after_the_guests_teardown(at, expires)
    assert schedule["actionAfterCompletion"] == "DELETE"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule["target"]
    assert target["arn"] == "arn:aws:scheduler:::aws-sdk:ec2:terminateInstances"
    assert json.loads(target["input"]) == {"InstanceIds": ["gpu-0-vm-id"]}
    assert target["roleArn"] == "gpu-base-terminator-arn"
    trust = json.loads(only(plan, "aws:iam/role:Role")["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    policy = json.loads(only(plan, "aws:iam/rolePolicy:RolePolicy")["policy"])
    assert policy["Statement"] == [{
        "Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/cml-infra-pool": spec.name}}}]


def test_aws_without_gpu_or_spot_uses_ubuntu_on_demand():
    _, plan = plan_for(cloud="aws")
    vm = only(plan, "aws:ec2/instance:Instance")
    assert "instanceMarketOptions" not in vm and "iamInstanceProfile" not in vm
    assert invoke(plan, SSM)["name"] == catalog.table("aws").CPU_IMAGE


def test_gcp_instance_inputs():
    _, plan = plan_for(cloud="gcp", gpu=True, spot=True, max_runtime="2h",
                       identity="ci@project.iam.gserviceaccount.com")
    vm = only(plan, "gcp:compute/instance:Instance")
    assert vm["scheduling"] == {
        "instanceTerminationAction": "DELETE", "maxRunDuration": {"seconds": 7200.0},
        "provisioningModel": "SPOT", "preemptible": True, "automaticRestart": False,
        "onHostMaintenance": "TERMINATE"}
    assert vm["zone"] == "us-east1-c" and vm["labels"] == {
        **GCP_LABELS, "cml-infra-expires": "20260101t140000z"}
    assert secret_text(vm["metadataStartupScript"]).startswith("#!")
    assert vm["serviceAccount"] == {"email": "ci@project.iam.gserviceaccount.com",
                                    "scopes": ["cloud-platform"]}
    assert vm["bootDisk"]["initializeParams"]["image"] == \
        "PLACEHOLDER-image-resolved-at-deploy-time"
    types = sorted(r["type"] for r in plan.resources)
    assert not [t for t in types if "firewall" in t.lower()]
    assert only(plan, "gcp:compute/network:Network")["autoCreateSubnetworks"] is False


def test_gcp_standard_vm_runs_as_its_pools_account_and_has_no_accelerator():
    _, plan = plan_for(cloud="gcp")
    vm = only(plan, "gcp:compute/instance:Instance")
    assert vm["serviceAccount"]["email"].startswith("cml-gpu-")
    assert not vm.get("guestAccelerators")
    assert vm["scheduling"]["provisioningModel"] == "STANDARD"
    assert "onHostMaintenance" not in vm["scheduling"]


def test_azure_inputs():
    _, plan = plan_for(cloud="azure", gpu=True, spot=True, identity="/subscriptions/s/id/data")
    vm = only(plan, "azure-native:compute:VirtualMachine")
    assert (vm["priority"], vm["evictionPolicy"], vm["billingProfile"]) \
        == ("Spot", "Delete", {"maxPrice": -1.0})
    profile = vm["osProfile"]
    assert is_rpc_secret(profile)
    assert base64.b64decode(profile["value"]["customData"]).decode().startswith("#!")
    assert profile["value"]["linuxConfiguration"]["disablePasswordAuthentication"] is True
    assert vm["identity"] == {"type": "SystemAssigned, UserAssigned",
                              "userAssignedIdentities": ["/subscriptions/s/id/data"]}
    assert vm["tags"] == TAGS and vm["resourceGroupName"] == "gpu-base-rg"
    assert vm["storageProfile"]["osDisk"]["deleteOption"] == "Delete"
    assert vm["networkProfile"]["networkInterfaces"][0]["deleteOption"] == "Delete"
    assert only(plan, "azure-native:network:NetworkSecurityGroup")["securityRules"] == []
    nic = only(plan, "azure-native:network:NetworkInterface")
    assert nic["networkSecurityGroup"] == {"id": "gpu-base-nsg-id"}
    assert nic["ipConfigurations"][0]["subnet"] == {"id": "gpu-base-subnet-id"}
    assert only(plan, "azure-native:network:PublicIPAddress")["deleteOption"] == "Delete"
    role = only(plan, "azure-native:authorization:RoleDefinition")
    assert role["assignableScopes"] == ["gpu-base-rg-id"] and role["scope"] == "gpu-base-rg-id"
    assert "Microsoft.Compute/virtualMachines/delete" in role["permissions"][0]["actions"]
    assert not [a for a in role["permissions"][0]["actions"] if a.startswith("*")]
    assert vm["storageProfile"]["osDisk"]["name"] == "gpu-0-osdisk"
    assignments = [r["inputs"] for r in plan.resources
                   if r["type"] == "azure-native:authorization:RoleAssignment"]
    assert sorted(a["scope"] for a in assignments) == [
        "gpu-0-ip-id", "gpu-0-nic-id", "gpu-0-vm-id",
        "gpu-base-rg-id/providers/Microsoft.Compute/disks/gpu-0-osdisk"]
    assert {(a["principalId"], a["principalType"], a["roleDefinitionId"]) for a in assignments} \
        == {("PLACEHOLDER-principal-id", "ServicePrincipal", "gpu-base-self-delete-role-id")}
    for resource in plan.resources:
        if "tags" in resource["inputs"]:
            expected = TAGS if resource["stack"] == "test" else base_tags("azure", "eastus")
            assert resource["inputs"]["tags"] == expected, resource["name"]


def test_azure_vm_is_standard_security_and_may_deallocate_itself():
    """Standard security: unset under API versions before 2025-11-01 (where unset is Standard
    and an explicit Standard needs a feature flag), pinned from that version on (where the
    default may be Trusted Launch, which the GPU driver extensions do not support)."""
    import inspect

    from pulumi_azure_native.compute import virtual_machine

    api = re.search(r"Uses Azure REST API version (\d{4}-\d\d-\d\d)",
                    inspect.getsource(virtual_machine))
    assert api, "the SDK no longer names its API version; check the security type by hand"
    _, plan = plan_for(cloud="azure", gpu=True)
    vm = only(plan, "azure-native:compute:VirtualMachine")
    if api.group(1) < "2025-11-01":
        assert "securityProfile" not in vm
    else:
        assert vm.get("securityProfile") == {"securityType": "Standard"}
    actions = only(plan, "azure-native:authorization:RoleDefinition")["permissions"][0]["actions"]
    assert "Microsoft.Compute/virtualMachines/deallocate/action" in actions


def test_azure_grid_driver_is_pinned_to_the_recommended_version():
    _, plan = plan_for(cloud="azure", gpu_model="a10")
    extension = only(plan, "azure-native:compute:VirtualMachineExtension")
    assert extension["settings"] == {"driverVersion": "535.161"}


@pytest.mark.parametrize("runtime", ["30m", "6h", "23h"])
def test_azure_auto_shutdown_deallocates_after_the_expiry_and_teardown(runtime):
    """Created at 12:00 UTC: the daily time (UTC, HHMM) lies after the guest's teardown."""
    spec, plan = plan_for(cloud="azure", max_runtime=runtime)
    schedule = only(plan, "azure-native:devtestlab:GlobalSchedule")
    expires = NOW + timedelta(seconds=spec.max_runtime_s)
    hhmm = schedule["dailyRecurrence"]["time"]
    at = expires.replace(hour=int(hhmm[:2]), minute=int(hhmm[2:]), second=0)
    if at < expires:
        at += timedelta(days=1)
    assert_after_the_guests_teardown(at, expires)
    # The API accepts only this name for a VM's auto-shutdown.
    assert schedule["name"] == "shutdown-computevm-gpu-0-vm"
    assert (schedule["taskType"], schedule["status"], schedule["timeZoneId"]) \
        == ("ComputeVmShutdownTask", "Enabled", "UTC")
    assert schedule["targetResourceId"] == "gpu-0-vm-id"


@pytest.mark.parametrize("runtime", ["24h", "72h"])
def test_azure_runtime_of_a_day_or_more_gets_no_daily_schedule(runtime):
    """A daily time would fire before such an expiry."""
    _, plan = plan_for(cloud="azure", max_runtime=runtime)
    assert not [r for r in plan.resources if r["type"].endswith("GlobalSchedule")]


def test_azure_machines_share_their_pools_group_but_each_may_delete_only_itself():
    _, plan = plan_for(cloud="azure", count=3)
    pool_pieces = {"resources:ResourceGroup": "rg", "network:VirtualNetwork": "vnet",
                   "network:Subnet": "subnet", "network:NetworkSecurityGroup": "nsg",
                   "authorization:RoleDefinition": "self-delete-role"}
    for token, piece in pool_pieces.items():
        name = f"gpu-base-{piece}"
        assert [r["name"] for r in plan.resources if r["type"] == f"azure-native:{token}"] \
            == [name]
    scopes = sorted(r["inputs"]["scope"] for r in plan.resources
                    if r["type"] == "azure-native:authorization:RoleAssignment")
    assert len(scopes) == 12  # each machine: its VM, NIC, address and OS disk, no more
    for machine in ("gpu-0-", "gpu-1-", "gpu-2-"):
        assert len([scope for scope in scopes if machine in scope]) == 4
    vms = [r for r in plan.resources if r["type"] == "azure-native:compute:VirtualMachine"]
    assert {vm["inputs"]["resourceGroupName"] for vm in vms} == {"gpu-base-rg"}
    assert vms[0]["inputs"]["identity"] == {"type": "SystemAssigned"}


def test_a_second_plan_in_one_process_builds_its_own_pool():
    for _ in range(2):
        _, plan = plan_for(cloud="azure")
        assert len([r for r in plan.resources if r["type"].endswith("ResourceGroup")]) == 1


def test_azure_regular_vm_without_gpu_has_no_driver():
    _, plan = plan_for(cloud="azure")
    assert only(plan, "azure-native:compute:VirtualMachine")["priority"] == "Regular"
    assert not [r for r in plan.resources if r["type"].endswith("VirtualMachineExtension")]


def test_alicloud_inputs():
    _, plan = plan_for(cloud="alicloud", gpu=True, spot=True, identity="ci-data-role")
    vm = only(plan, "alicloud:ecs/instance:Instance")
    assert (vm["spotStrategy"], vm["instanceChargeType"]) == ("SpotAsPriceGo", "PostPaid")
    # Released by the cloud once the guest's own teardown had its time.
    release = datetime.fromisoformat(vm["autoReleaseTime"][:-1] + "+00:00")
    assert_after_the_guests_teardown(release, datetime.fromisoformat(EXPIRES[:-1] + "+00:00"))
    assert (vm["httpTokens"], vm["systemDiskEncrypted"], vm["roleName"]) \
        == ("required", True, "ci-data-role")
    # The pool's role, no role of its own: one policy for the pool's tagged instances.
    assert not [r for r in plan.resources if r["type"] == "alicloud:ram/role:Role"]
    assert only(plan, "alicloud:ram/rolePolicyAttachment:RolePolicyAttachment")["roleName"] \
        == "ci-data-role"
    assert plain_script(vm["userData"]).startswith("#!")
    assert vm["tags"] == TAGS
    group = only(plan, "alicloud:ecs/securityGroup:SecurityGroup")
    assert "ingress" not in str(group).lower()
    assert group["tags"] == base_tags("alicloud", "us-east-1")
    assert not [r for r in plan.resources if "securityGroupRule" in r["type"]]
    assert only(plan, "alicloud:vpc/switch:Switch")["zoneId"] \
        == "PLACEHOLDER-zone-resolved-at-deploy-time"


def test_gcp_region_outside_the_zone_table_looks_its_zone_up_at_deploy_time():
    _, plan = plan_for(cloud="gcp", region="me-central2", gpu=True)
    assert invoke(plan, "gcp:compute/getZones:getZones") == {"region": "me-central2",
                                                              "status": "UP"}
    zone = "PLACEHOLDER-zone-resolved-at-deploy-time"
    assert only(plan, "gcp:compute/instance:Instance")["zone"] == zone
    assert only(plan, "gcp:compute/instanceIAMMember:InstanceIAMMember")["zone"] == zone


def test_alicloud_machine_may_delete_or_stop_only_its_own_instance():
    """A guest power-off keeps billing; the machine deletes itself through its own RAM
    role, whose policy names this instance alone."""
    import json

    _, plan = plan_for(cloud="alicloud", gpu=True, count=2)
    roles = [r["inputs"] for r in plan.resources if r["type"] == "alicloud:ram/role:Role"]
    vms = [r["inputs"] for r in plan.resources if r["type"] == "alicloud:ecs/instance:Instance"]
    assert sorted(v["roleName"] for v in vms) == sorted(r["roleName"] for r in roles)
    assert len({r["roleName"] for r in roles}) == 2
    for role in roles:
        assert re.fullmatch(r"[A-Za-z0-9.-]{1,64}", role["roleName"])
        trust = json.loads(role["assumeRolePolicyDocument"])
        assert trust["Statement"][0]["Principal"] == {"Service": ["ecs.aliyuncs.com"]}
    policies = {r["name"]: json.loads(r["inputs"]["policyDocument"]) for r in plan.resources
                if r["type"] == "alicloud:ram/policy:Policy"}
    assert policies == {f"gpu-{i}-self-end": {"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": ["ecs:DeleteInstance", "ecs:StopInstance"],
        "Resource": [f"acs:ecs:us-east-1:*:instance/gpu-{i}-vm-id"]}]} for i in range(2)}
    attached = {(a["inputs"]["policyName"], a["inputs"]["roleName"]) for a in plan.resources
                if a["type"] == "alicloud:ram/rolePolicyAttachment:RolePolicyAttachment"}
    by_machine = {r["name"]: r["inputs"]["roleName"] for r in plan.resources
                  if r["type"] == "alicloud:ram/role:Role"}
    policy_names = {r["name"]: r["inputs"]["policyName"] for r in plan.resources
                    if r["type"] == "alicloud:ram/policy:Policy"}
    assert attached == {(policy_names[f"gpu-{i}-self-end"], by_machine[f"gpu-{i}-role"])
                        for i in range(2)}


def test_alicloud_identity_pool_gets_one_policy_for_its_tagged_instances():
    """An instance has one RAM role; with the pool's identity, the pool's machines may end
    the pool's instances (tag condition), not any other instance."""
    import json

    _, plan = plan_for(cloud="alicloud", gpu=True, count=3, identity="ci-data-role")
    policy = json.loads(only(plan, "alicloud:ram/policy:Policy")["policyDocument"])
    assert policy["Statement"] == [{
        "Effect": "Allow", "Action": ["ecs:DeleteInstance", "ecs:StopInstance"],
        "Resource": ["acs:ecs:us-east-1:*:instance/*"],
        "Condition": {"StringEquals": {"ecs:tag/cml-infra-pool": "gpu"}}}]
    assert {v["inputs"]["roleName"] for v in plan.resources
            if v["type"] == "alicloud:ecs/instance:Instance"} == {"ci-data-role"}


def test_alicloud_zone_look_up_that_finds_none_says_so():
    from infra.clouds.alicloud import first_zone
    from infra.errors import SpecError

    spec = build_spec(name="gpu", cloud="alicloud", gpu=True)
    assert first_zone(spec, ["us-east-1b", "us-east-1a"]) == "us-east-1b"
    with pytest.raises(SpecError, match=r"No zone of us-east-1 sells ecs\.gn6i-c4g1\.xlarge"):
        first_zone(spec, [])


def test_alicloud_native_region_uses_its_own_provider_and_a_zone_lookup():
    _, plan = plan_for(cloud="alicloud", region="cn-hangzhou", gpu=True)
    providers = [r for r in plan.resources if r["type"] == "pulumi:providers:alicloud"]
    assert {(r["stack"], r["inputs"]["region"]) for r in providers} == {
        ("cml-infra-base-gpu-alicloud-cn-hangzhou", "cn-hangzhou"), ("test", "cn-hangzhou")}
    assert only(plan, "alicloud:vpc/switch:Switch")["zoneId"] \
        == "PLACEHOLDER-zone-resolved-at-deploy-time"
    zones = [i for i in plan.invokes if i["token"] == "alicloud:index/getZones:getZones"]
    assert zones[0]["args"]["availableInstanceType"] == "ecs.gn6i-c4g1.xlarge"


@pytest.mark.parametrize("region", [*catalog.table("alicloud").REGIONS, "cn-hangzhou"])
def test_alicloud_zone_is_looked_up_for_the_type_in_every_region(region):
    """No region has a fixed zone: the vSwitch goes to the first zone selling the type."""
    spec, plan = plan_for(cloud="alicloud", region=region, gpu=True)
    assert (spec.zone, spec.zones) == (None, ())
    assert only(plan, "alicloud:vpc/switch:Switch")["zoneId"] \
        == "PLACEHOLDER-zone-resolved-at-deploy-time"
    assert invoke(plan, "alicloud:index/getZones:getZones")["availableInstanceType"] \
        == spec.machine.instance_type


def test_aws_resources_carry_the_region():
    _, plan = plan_for(cloud="aws", region="eu-north")
    assert only(plan, "aws:ec2/instance:Instance")["region"] == "eu-north-1"
    assert only(plan, "aws:ec2/securityGroup:SecurityGroup")["region"] == "eu-north-1"
    assert invoke(plan, SSM)["region"] == "eu-north-1"


def test_alicloud_price_cap():
    _, plan = plan_for(cloud="alicloud", spot=True, max_price=0.3)
    vm = only(plan, "alicloud:ecs/instance:Instance")
    assert (vm["spotStrategy"], vm["spotPriceLimit"]) == ("SpotWithPriceLimit", 0.3)


@pytest.mark.parametrize("cloud", catalog.CLOUDS)
def test_children_are_prefixed_and_count_multiplies(cloud):
    _, plan = plan_for(cloud=cloud, count=3)
    runners = [r for r in plan.resources if r["type"].endswith("Runner")]
    assert [r["name"] for r in runners] == ["gpu-0", "gpu-1", "gpu-2"]
    assert {r["type"] for r in runners} == {f"cml-infra:clouds:{CLASSES[cloud]}Runner"}
    bases = [r for r in plan.resources if r["type"].endswith("Base")]
    assert [(r["name"], r["stack"]) for r in bases] == [("gpu-base", plan.stacks[0]["name"])]
    assert plan.stacks[0]["name"].startswith(f"cml-infra-base-gpu-{cloud}-")
    assert {r["stack"] for r in plan.resources if r["name"].startswith("gpu-base")} \
        == {bases[0]["stack"]}
    assert all(r["name"].startswith("gpu-") for r in plan.resources)
    for index in range(3):
        own = [r for r in plan.resources if r["name"].startswith(f"gpu-{index}-")]
        assert [r["type"] for r in own].count(VM_TYPES[cloud]) == 1
    assert len([r for r in plan.resources if r["type"] == VM_TYPES[cloud]]) == 3


def test_gcp_machines_share_their_pools_network():
    _, plan = plan_for(cloud="gcp", count=3)
    networks = [r["name"] for r in plan.resources if "compute/network:" in r["type"]]
    assert networks == ["gpu-base-net"]
    subnet = only(plan, "gcp:compute/subnetwork:Subnetwork")
    assert (subnet["network"], subnet["region"]) == ("gpu-base-net-id", "us-east1")
    vms = [r["inputs"] for r in plan.resources if r["type"] == VM_TYPES["gcp"]]
    assert {vm["networkInterfaces"][0]["subnetwork"] for vm in vms} == {"gpu-base-subnet-id"}


def test_registration_secret_reaches_the_script_only_as_secret():
    from infra.engine.program import Registration

    def registrar(spec, index):
        return Registration(f"{spec.name}-{index}", "jit-config-blob", "https://x/p.tgz", "a" * 64)

    spec = build_spec(name="gpu", cloud="aws")
    plan = run_plan([spec], registrar=registrar, clock=lambda: NOW, stack="test")
    vm = only(plan, "aws:ec2/instance:Instance")
    assert "jit-config-blob" in gzipped_script(vm["userDataBase64"])
    from infra.engine.plan import render_json, render_tree
    assert "jit-config-blob" not in render_json(plan) + render_tree(plan)


@pytest.mark.parametrize(("cloud", "limit"), [("aws", 16384), ("alicloud", 32768),
                                              ("azure", 65536)])
def test_oversized_startup_script_is_refused_before_anything_exists(cloud, limit):
    """One limit table, infra/startup's; the plan fails on it before any machine exists."""
    from infra.engine import program
    from infra.errors import SpecError

    assert not hasattr(program, "USER_DATA_LIMITS") and not hasattr(program, "checked_size")
    noise = random.Random(0).randbytes(45000).hex()  # incompressible, unlike "x" * N
    spec = build_spec(name="big", cloud=cloud, extra_commands=["echo " + noise])
    with pytest.raises(SpecError) as info:
        run_plan([spec], clock=lambda: NOW, stack="test")
    assert f"over the {limit}-byte user-data limit of {cloud}" in str(info.value)


def test_a_realistic_aws_script_leaves_room_under_16_kb():
    """A just-in-time configuration is a few KB of base64; compressed, the whole script
    must stay well inside AWS's 16 KB, where uncompressed it barely fit."""
    from infra.startup import StartupConfig, render_startup_script, user_data_bytes

    jit = base64.b64encode(random.Random(1).randbytes(3000)).decode()
    script = render_startup_script(StartupConfig(
        forge="github", cloud="aws", runner_name="gpu-test-0-abcdef",
        forge_url="https://github.com", registration=jit,
        runner_package_url="https://example.com/runner.tar.gz", runner_package_sha256="a" * 64,
        extra_commands=("pip install dvc[s3]",)))
    assert len(script.encode()) > 12000
    assert len(user_data_bytes("aws", script)) < 16384 // 2
    assert gzip.decompress(user_data_bytes("aws", script)).decode() == script
