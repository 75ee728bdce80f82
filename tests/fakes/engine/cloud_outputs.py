"""What the fake cloud answers: ids, computed outputs, force-new properties and invokes.

Generous on purpose: a missing output silently drops every input that depends on it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
GCP_PROJECT = "fake-project"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

# Inputs whose change makes the provider replace the resource (besides `name`, everywhere).
FORCE_NEW = {
    "aws:ec2/instance:Instance": ["ami", "availabilityZone", "subnetId", "userData",
                                  "instanceMarketOptions"],
    "aws:ec2/securityGroup:SecurityGroup": ["vpcId", "description"],
    "gcp:compute/instance:Instance": ["zone", "bootDisk", "scheduling"],
    "azure-native:compute:VirtualMachine": ["osProfile", "location"],
    "alicloud:ecs/instance:Instance": ["imageId", "vswitchId", "spotStrategy"],
}

_AWS_PREFIX = {"instance": "i", "securityGroup": "sg", "vpc": "vpc", "subnet": "subnet",
               "launchTemplate": "lt", "keyPair": "key"}


def _hex(n: int) -> str:
    return secrets.token_hex(n)


def new_id(type: str, name: str, inputs: dict[str, Any]) -> str:
    pkg, module, kind = _parts(type)
    if pkg == "aws":
        prefix = _AWS_PREFIX.get(_lower_first(kind))
        return f"{prefix}-{_hex(8)}" if prefix else inputs.get("name") or f"{name}-{_hex(4)}"
    if pkg == "gcp":
        return f"projects/{GCP_PROJECT}/{_lower_first(kind)}s/{inputs.get('name') or name}"
    if pkg == "azure-native":
        group = inputs.get("resourceGroupName") or inputs.get("resourceGroupName") or "rg"
        return (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/"
                f"Microsoft.{module.split('/')[0].capitalize()}/{kind}/{name}")
    if pkg == "alicloud":
        return f"{_lower_first(kind)[:3]}-{_hex(8)}"
    return _hex(8)


def computed(type: str, name: str, id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Outputs = inputs plus what the cloud computes."""
    pkg, module, kind = _parts(type)
    out = dict(inputs)
    out.setdefault("name", inputs.get("name") or f"{name}-{_hex(3)}")
    out["id"] = id
    if pkg == "aws":
        service = module.split("/")[0]
        out.setdefault("arn", f"arn:aws:{service}:{REGION}:{ACCOUNT}:{_lower_first(kind)}/{id}")
        out.setdefault("tagsAll", inputs.get("tags") or {})
        out.setdefault("ownerId", ACCOUNT)
        if kind == "Instance":
            out.update(instanceId=id, privateIp=_ip(id), publicIp="", instanceState="running",
                       primaryNetworkInterfaceId=f"eni-{_hex(8)}")
        if kind == "Role":
            out.setdefault("uniqueId", f"AROA{_hex(8).upper()}")
        if kind == "LaunchTemplate":
            out.setdefault("latestVersion", 1)
    elif pkg == "gcp":
        out.setdefault("project", GCP_PROJECT)
        out["selfLink"] = f"https://www.googleapis.com/compute/v1/{id}"
        if kind == "Account":
            account_id = inputs.get("accountId") or name
            out["email"] = f"{account_id}@{GCP_PROJECT}.iam.gserviceaccount.com"
            out["member"] = f"serviceAccount:{out['email']}"
            out["uniqueId"] = str(int(_hex(8), 16))
        if kind == "Instance":
            out.update(instanceId=str(int(_hex(6), 16)), currentStatus="RUNNING")
        if kind == "IAMCustomRole":
            out["name"] = f"projects/{GCP_PROJECT}/roles/{inputs.get('roleId') or name}"
    elif pkg == "azure-native":
        out.setdefault("location", inputs.get("location") or "eastus")
        if isinstance(inputs.get("identity"), dict) or kind in ("VirtualMachine",
                                                               "UserAssignedIdentity"):
            ident = dict(inputs.get("identity") or {})
            ident.update(principalId=_uuid(), tenantId=_uuid())
            out["identity"] = ident
            out.setdefault("principalId", ident["principalId"])
            out.setdefault("clientId", _uuid())
        if kind == "VirtualMachine":
            out.setdefault("vmId", _uuid())
        if kind == "PublicIPAddress":
            out.setdefault("ipAddress", _ip(id))
    elif pkg == "alicloud":
        out.setdefault("status", "Running")
        if kind == "Instance":
            out.update(instanceId=id, privateIp=_ip(id))
    return out


def force_new(type: str) -> list[str]:
    return ["name", *FORCE_NEW.get(type, [])]


def invoke(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """Plausible answers to data-source calls, the same for the same args (an image look-up
    must not change between two runs); anything else echoes its args plus an id."""
    def _hex(n: int) -> str:
        seed = json.dumps([token, args], sort_keys=True).encode()
        return hashlib.sha256(seed).hexdigest()[:2 * n]

    if token == "aws:ssm/getParameter:getParameter":
        return {**args, "id": args.get("name", ""), "value": f"ami-{_hex(8)}",
                "insecureValue": f"ami-{_hex(8)}", "type": "String", "version": 1,
                "arn": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{args.get('name', '')}"}
    if token == "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
        # Zones of the region that sell the type: the fake region sells every type in b and c.
        region = args.get("region") or REGION
        return {**args, "id": region, "locations": [f"{region}c", f"{region}b"],
                "locationTypes": ["availability-zone"] * 2,
                "instanceTypes": [(args.get("filters") or [{}])[0].get("values", ["?"])[0]] * 2}
    if token == "aws:ec2/getSubnet:getSubnet":
        return {**args, "id": f"subnet-{_hex(8)}", "vpcId": f"vpc-{_hex(8)}",
                "availabilityZone": f"{REGION}a", "cidrBlock": "10.0.0.0/24"}
    if token == "gcp:compute/getImage:getImage":
        family = args.get("family") or "image"
        link = f"https://www.googleapis.com/compute/v1/projects/{args.get('project')}/" \
               f"global/images/{family}-v20240101"
        return {**args, "id": link, "name": f"{family}-v20240101", "selfLink": link,
                "status": "READY", "diskSizeGb": 50}
    if token == "alicloud:ecs/getImages:getImages":
        image = {"id": f"m-{_hex(8)}", "imageId": f"m-{_hex(8)}", "name": "ubuntu_22_04_x64"}
        return {**args, "id": "images", "ids": [image["id"]], "images": [image]}
    if token == "gcp:container/getCluster:getCluster":  # a GKE cluster with Workload Identity
        return {**args, "id": args.get("name", ""),
                "workloadIdentityConfigs": [{"workloadPool": f"{GCP_PROJECT}.svc.id.goog"}]}
    if token == "gcp:compute/getZones:getZones":
        region = args.get("region") or "us-central1"
        return {**args, "id": region, "names": [f"{region}-c", f"{region}-b"]}
    if token == "alicloud:index/getZones:getZones":
        zones = [{"id": "ap-southeast-1a", "localName": "Singapore Zone A"},
                 {"id": "ap-southeast-1b", "localName": "Singapore Zone B"}]
        return {**args, "id": "zones", "ids": [z["id"] for z in zones], "zones": zones}
    return {**args, "id": args.get("id") or hashlib.sha1(token.encode()).hexdigest()[:12]}


def _parts(type: str) -> tuple[str, str, str]:
    pkg, _, rest = type.partition(":")
    module, _, kind = rest.partition(":")
    return pkg, module, kind


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _ip(seed: str) -> str:
    digest = hashlib.sha1(seed.encode()).digest()
    return f"10.0.{digest[0]}.{max(digest[1], 2)}"


def _uuid() -> str:
    h = _hex(16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
