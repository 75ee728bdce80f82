"""Where a machine may run: the regions and zones that sell it, checked offline from the
catalog's tables (SkyPilot's catalog of each cloud's offerings), and the --zone and --type
flags. Every case of the class is enumerated: clouds x portable regions x GPU models."""

from __future__ import annotations

import pytest

from infra import catalog
from infra.catalog import aws, gcp
from infra.errors import SpecError
from infra.spec import build_spec

GPU_CASES = [(cloud, model, count) for cloud in catalog.CLOUDS
             for model, family in catalog.table(cloud).GPUS.items() for count in family.counts]


def regions_of(cloud: str) -> list[tuple[str, str]]:
    return [(name, native) for name, (native, _) in catalog.table(cloud).REGIONS.items()]


def refusal(message_start: str, **kwargs) -> str:
    with pytest.raises(SpecError) as info:
        build_spec(**kwargs)
    assert str(info.value).startswith(message_start), str(info.value)
    return str(info.value)


def described(machine: catalog.Machine) -> str:
    return f"{machine.instance_type} ({machine.gpu_count}x {machine.gpu_model})"


# G2: GCP zones follow the GPU.
def gcp_key(machine: catalog.Machine) -> str:
    return machine.accelerator or machine.instance_type.rsplit("-", 1)[0]


def test_gcp_zone_table_covers_each_portable_region_with_zones_of_that_region():
    for _, native in regions_of("gcp"):
        by_key = gcp.ZONES[native]
        region_zones = by_key[gcp.CPU_ZONES_KEY]
        for zones in by_key.values():
            assert zones and len(set(zones)) == len(zones)
            assert all(z.startswith(f"{native}-") and z in region_zones for z in zones)


@pytest.mark.parametrize(("model", "count"), [(m, c) for cl, m, c in GPU_CASES if cl == "gcp"])
@pytest.mark.parametrize(("region", "native"), regions_of("gcp"))
def test_gcp_zone_sells_the_gpu_or_the_region_is_refused(model, count, region, native):
    machine = catalog.resolve_machine("gcp", None, model, count)
    sold = gcp.ZONES[native].get(gcp_key(machine))
    if sold:
        spec = build_spec(cloud="gcp", region=region, gpu_model=model, gpu_count=count)
        assert (spec.zone, spec.zones) == (sold[0], sold)
        return
    selling = [name for name, other in regions_of("gcp") if gcp_key(machine) in gcp.ZONES[other]]
    assert refusal("", cloud="gcp", region=region, gpu_model=model, gpu_count=count) == (
        f"{described(machine)} is not sold in {native} ({region}) on gcp; choose a region "
        f"that sells it: {', '.join(selling)}.")


@pytest.mark.parametrize(("kwargs", "zone"), [  # the gaps the cloud review found
    (dict(gpu_model="h100", region="eu-west"), "europe-west4-b"),
    (dict(gpu_model="h100", region="eu-north"), "europe-north1-c"),
    (dict(gpu_model="a100", region="us-east"), "us-east1-b"),
    (dict(gpu_model="a100-80gb", region="ap-southeast"), "asia-southeast1-c"),
    (dict(gpu_model="a100", gpu_count=16, region="ap-southeast"), "asia-southeast1-a"),
    (dict(gpu=True, region="us-east"), "us-east1-c"),
])
def test_gcp_zones_the_review_found_wrong(kwargs, zone):
    assert build_spec(cloud="gcp", **kwargs).zone == zone


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(gpu=True, region="eu-north"),
     "n1-standard-4 (1x t4) is not sold in europe-north1 (eu-north) on gcp; choose a region "
     "that sells it: us-east, us-west, eu-west, ap-southeast."),
    (dict(gpu_model="h100", region="us-east"),
     "a3-highgpu-8g (8x h100) is not sold in us-east1 (us-east) on gcp; choose a region that "
     "sells it: us-west, eu-west, eu-north, ap-southeast."),
    (dict(gpu_model="v100", region="asia-southeast1"),
     "n1-standard-4 (1x v100) is not sold in asia-southeast1 (ap-southeast) on gcp; choose a "
     "region that sells it: us-east, us-west, eu-west."),
    (dict(size="a2-ultragpu-2g", region="us-west1"),
     "a2-ultragpu-2g (2x a100-80gb) is not sold in us-west1 (us-west) on gcp; choose a region "
     "that sells it: eu-west, ap-southeast."),
])
def test_gcp_region_without_the_gpu_is_refused_in_one_sentence(kwargs, message):
    assert refusal("", cloud="gcp", **kwargs) == message


@pytest.mark.parametrize("size", catalog.SIZES)
@pytest.mark.parametrize(("region", "native"), regions_of("gcp"))
def test_gcp_machines_without_gpu_may_use_every_zone_of_the_region(size, region, native):
    spec = build_spec(cloud="gcp", region=region, size=size)
    assert spec.zones == gcp.ZONES[native][gcp.CPU_ZONES_KEY] and spec.zone == spec.zones[0]


@pytest.mark.parametrize("region", ["us-central1", "asia-east1", "me-west1"])
@pytest.mark.parametrize("kwargs", [{}, dict(gpu=True), dict(gpu_model="a100"),
                                    dict(size="a3-megagpu-8g")])
def test_gcp_regions_and_series_outside_the_table_are_left_to_deploy_time(region, kwargs):
    spec = build_spec(cloud="gcp", region=region, **kwargs)
    assert (spec.zone, spec.zones) == (None, ())


@pytest.mark.parametrize("cloud", ["aws", "azure", "alicloud"])
def test_other_clouds_have_no_offline_zones(cloud):
    for region, native in regions_of(cloud):
        for machine in (catalog.resolve_machine(cloud, None, None, None),
                        catalog.resolve_machine(cloud, None, "t4", None)):
            assert catalog.zones_for(cloud, region, machine) == ()
            assert catalog.zones_for(cloud, native, machine) == ()
        assert build_spec(cloud=cloud, region=region).zone is None


# A2: AWS regions follow the instance type.
def aws_offering(instance_type: str) -> tuple[str, ...]:
    return aws.REGION_OFFERS.get(instance_type) or aws.REGION_OFFERS[instance_type.split(".")[0]]


def test_aws_table_lists_every_gpu_type_in_known_regions():
    for _, model, count in [case for case in GPU_CASES if case[0] == "aws"]:
        for instance_type in aws.GPUS[model].counts[count].values():
            assert aws_offering(instance_type)
            assert set(aws_offering(instance_type)) <= set(aws.SOURCE_REGIONS)
    assert {native for _, native in regions_of("aws")} <= set(aws.SOURCE_REGIONS)


@pytest.mark.parametrize(("model", "count"), [(m, c) for cl, m, c in GPU_CASES if cl == "aws"])
@pytest.mark.parametrize(("region", "native"), regions_of("aws"))
def test_aws_type_not_offered_in_the_region_is_refused(model, count, region, native):
    machine = catalog.resolve_machine("aws", None, model, count)
    offering = aws_offering(machine.instance_type)
    if native in offering:
        assert build_spec(cloud="aws", region=region, gpu_model=model,
                          gpu_count=count).region == native
        return
    selling = [name for name, other in regions_of("aws") if other in offering]
    assert refusal("", cloud="aws", region=region, gpu_model=model, gpu_count=count) == (
        f"{described(machine)} is not sold in {native} ({region}) on aws; choose a region "
        f"that sells it: {', '.join(selling) or ', '.join(sorted(offering)[:3])}.")


@pytest.mark.parametrize(("kwargs", "message"), [  # the gaps the cloud review found
    (dict(gpu_model="a100", region="ap-southeast"),
     "p4d.24xlarge (8x a100) is not sold in ap-southeast-1 (ap-southeast) on aws; choose a "
     "region that sells it: us-east, us-west, eu-west, eu-north."),
    (dict(gpu_model="a100-80gb", region="eu-west"),
     "p4de.24xlarge (8x a100-80gb) is not sold in eu-west-1 (eu-west) on aws; choose a region "
     "that sells it: us-east, us-west, ap-southeast."),
    (dict(gpu_model="h100", gpu_count=8, region="ap-southeast"),
     "p5.48xlarge (8x h100) is not sold in ap-southeast-1 (ap-southeast) on aws; choose a "
     "region that sells it: us-east, us-west, eu-north."),
    (dict(gpu_model="h100", gpu_count=1, region="eu-north"),
     "p5.4xlarge (1x h100) is not sold in eu-north-1 (eu-north) on aws; choose a region that "
     "sells it: us-east, us-west."),
    (dict(gpu_model="l40s", region="ap-southeast-2"),
     "g6e.xlarge (1x l40s) is not sold in ap-southeast-2 on aws; choose a region that sells "
     "it: us-east, us-west, eu-north."),
    (dict(size="p4de.24xlarge", region="ap-south-1"),
     "p4de.24xlarge (8x a100-80gb) is not sold in ap-south-1 on aws; choose a region that "
     "sells it: us-east, us-west, ap-southeast."),
])
def test_aws_refusals_name_the_regions_that_sell(kwargs, message):
    assert refusal("", cloud="aws", **kwargs) == message


@pytest.mark.parametrize("kwargs", [
    dict(gpu_model="h100", region="sa-east-1"),  # a region the source does not list
    dict(gpu_model="l4", region="il-central-1"),
    dict(size="g7e.2xlarge", region="ap-southeast"),  # a type the table does not list
    dict(size="c7i.large", region="eu-north"),
])
def test_aws_regions_and_types_outside_the_table_pass(kwargs):
    assert build_spec(cloud="aws", **kwargs).zones == ()


# --zone: only where it means something, inside the region, and selling the machine.
@pytest.mark.parametrize(("cloud", "region", "zone"), [
    ("aws", "us-east", "us-east-1a"), ("aws", "us-west", "us-west-2-lax-1a"),
    ("aws", "us-east", "us-east-1-atl-2a"), ("aws", "us-east", "us-east-1-wl1-bos-wlz-1"),
    ("aws", "ap-southeast", "ap-southeast-1c"),
    ("gcp", "us-east", "us-east1-d"), ("gcp", "us-central1", "us-central1-f"),
    ("alicloud", "ap-southeast", "ap-southeast-1a"), ("alicloud", "us-east", "us-east-1b"),
    ("alicloud", "cn-hangzhou", "cn-hangzhou-h"),
])
def test_a_zone_of_the_region_is_kept(cloud, region, zone):
    spec = build_spec(cloud=cloud, region=region, zone=zone)
    assert (spec.zone, spec.zones) == (zone, (zone,))


@pytest.mark.parametrize(("cloud", "region", "zone", "example"), [
    ("aws", "us-east", "us-west-2a", "us-east-1a"), ("aws", "us-east", "us-east-1-a",
                                                    "us-east-1a"),
    ("aws", "us-east", "use1-az1", "us-east-1a"),
    ("gcp", "us-east", "us-east1b", "us-east1-b"), ("gcp", "eu-west", "europe-west1-b",
                                                     "europe-west4-b"),
    ("gcp", "us-central1", "us-central1-b1", "us-central1-b"),
    ("alicloud", "ap-southeast", "ap-southeast-1-a", "ap-southeast-1a"),
    ("alicloud", "cn-hangzhou", "cn-hangzhoub", "cn-hangzhou-a"),
    ("alicloud", "us-east", "cn-hangzhou-h", "us-east-1a"),
])
def test_a_zone_outside_the_region_is_refused(cloud, region, zone, example):
    native = catalog.resolve_region(cloud, region).region
    assert refusal("", cloud=cloud, region=region, zone=zone) == (
        f"Zone {zone} is not a zone of the {cloud} region {native}; give one such as "
        f"{example}, or drop it.")


@pytest.mark.parametrize("region", list(catalog.table("azure").REGIONS))
@pytest.mark.parametrize("zone", ["1", "eastus-1"])
def test_azure_refuses_any_zone(region, zone):
    assert refusal("", cloud="azure", region=region, zone=zone) == (
        f"azure pools are placed by region and take no zone; drop the zone {zone}.")


def gcp_zone_gaps() -> list[tuple[str, str, int, str]]:
    """Every (portable region, model, count, zone) where the zone does not sell the GPU but
    another zone of the region does."""
    gaps = []
    for _, model, count in [case for case in GPU_CASES if case[0] == "gcp"]:
        key = gcp_key(catalog.resolve_machine("gcp", None, model, count))
        for region, native in regions_of("gcp"):
            sold = gcp.ZONES[native].get(key, ())
            gaps += [(region, model, count, zone) for zone in
                     gcp.ZONES[native][gcp.CPU_ZONES_KEY] if sold and zone not in sold]
    return gaps


@pytest.mark.parametrize(("region", "model", "count", "zone"), gcp_zone_gaps())
def test_gcp_zone_that_does_not_sell_the_gpu_is_refused(region, model, count, zone):
    machine = catalog.resolve_machine("gcp", None, model, count)
    native = catalog.resolve_region("gcp", region).region
    assert refusal("", cloud="gcp", region=region, zone=zone, gpu_model=model,
                   gpu_count=count) == (
        f"Zone {zone} does not sell {described(machine)}; choose one of: "
        f"{', '.join(gcp.ZONES[native][gcp_key(machine)])}.")


def test_gcp_zone_gaps_include_the_review_findings():
    gaps = {(region, model, zone) for region, model, _, zone in gcp_zone_gaps()}
    assert {("us-east", "a100", "us-east1-c"), ("eu-west", "h100", "europe-west4-a"),
            ("ap-southeast", "a100-80gb", "asia-southeast1-b")} <= gaps


# --type: a native name must look like the cloud's own.
@pytest.mark.parametrize(("cloud", "instance_type"), [
    *[(cloud, t) for cloud in catalog.CLOUDS for t in catalog.table(cloud).CPU_SIZES.values()],
    *[(cloud, t) for cloud in catalog.CLOUDS for f in catalog.table(cloud).GPUS.values()
      for by_size in f.counts.values() for t in by_size.values()],
    ("aws", "c7i-flex.large"), ("aws", "p6-b200.48xlarge"), ("aws", "m8i.metal-48xl"),
    ("gcp", "custom-8-30720"), ("gcp", "n2-custom-8-32768"), ("gcp", "e2-micro"),
    ("azure", "Standard_M128-32ms"), ("azure", "Standard_D2s_v5"),
    ("azure", "standard_nc4as_t4_v3"),  # Azure compares size names without case
    ("alicloud", "ecs.ebmgn7e.32xlarge"),
])
def test_native_types_of_each_cloud_pass(cloud, instance_type):
    region = "us-central1" if cloud == "gcp" else "us-east"  # no offline zone table there
    assert build_spec(cloud=cloud, region=region, size=instance_type).machine.instance_type \
        == instance_type


@pytest.mark.parametrize(("cloud", "instance_type"), [
    ("aws", "medium"), ("aws", "g5-xlarge"), ("aws", "n1-standard-8"),
    ("gcp", "g5.xlarge"), ("gcp", "N1-standard-8"), ("gcp", "standard"),
    ("azure", "NC4as_T4_v3"), ("azure", "g5.xlarge"),
    ("alicloud", "gn6i-c4g1.xlarge"), ("alicloud", "ecs.gn6i"), ("alicloud", "g5.xlarge"),
])
def test_a_type_unlike_the_clouds_names_is_refused_with_an_example(cloud, instance_type):
    example = catalog.table(cloud).TYPE_EXAMPLE
    assert refusal("", cloud=cloud, size=instance_type) == (
        f"{instance_type!r} is not a size (s, m, l, xl) or a machine type of {cloud}; give one "
        f"of those sizes or a type such as {example}.")
