"""Runner spec and catalog: validation, native pass-through, and every error sentence."""

from __future__ import annotations

import re

import pytest

from infra import catalog
from infra.errors import SpecError
from infra.rules import format_number
from infra.spec import build_spec, parse_duration, pools_from_config, spec_from_config


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("2h", 7200), (90, 90)])
def test_durations(text, seconds):
    assert parse_duration(text, "idle timeout") == seconds


@pytest.mark.parametrize(("cloud", "machine"), [
    ("aws", ("g4dn.xlarge", "t4", 1, None)),
    ("gcp", ("n1-standard-4", "t4", 1, "nvidia-tesla-t4")),
    ("azure", ("Standard_NC4as_T4_v3", "t4", 1, None)),
    ("alicloud", ("ecs.gn6i-c4g1.xlarge", "t4", 1, None)),
])
def test_gpu_alone_picks_one_t4(cloud, machine):
    m = build_spec(cloud=cloud, gpu=True).machine
    assert (m.instance_type, m.gpu_model, m.gpu_count, m.accelerator) == machine


def test_gpu_model_implies_gpu_and_aliases_a10():
    assert build_spec(cloud="aws", gpu_model="a10").machine.instance_type == "g5.xlarge"
    assert build_spec(cloud="azure", gpu_model="a10g").machine.instance_type \
        == "Standard_NV36ads_A10_v5"


def test_count_and_size_select_the_variant():
    spec = build_spec(cloud="gcp", gpu_model="l4", gpu_count=8)
    assert spec.machine.instance_type == "g2-standard-96"
    assert build_spec(cloud="aws", size="xl", gpu_model="a10g", gpu_count=4).machine \
        .instance_type == "g5.24xlarge"


def test_native_names_pass_through_and_are_described():
    spec = build_spec(cloud="aws", size="g6.12xlarge", region="eu-central-1")
    assert (spec.machine.instance_type, spec.machine.gpu_model, spec.machine.gpu_count) \
        == ("g6.12xlarge", "l4", 4)
    assert spec.region == "eu-central-1"
    assert build_spec(cloud="aws", size="c7i.large").machine.gpu_count == 0
    gcp = build_spec(cloud="gcp", size="n1-highmem-8", gpu_model="t4", gpu_count=2)
    assert (gcp.machine.accelerator, gcp.machine.gpu_count) == ("nvidia-tesla-t4", 2)


def test_portable_regions_and_zones():
    assert build_spec(cloud="gcp", region="eu-west").zone == "europe-west4-a"
    assert build_spec(cloud="gcp", region="us-central1").zone is None  # looked up at deploy
    assert build_spec(cloud="azure", region="ap-southeast").region == "southeastasia"
    assert build_spec(cloud="alicloud", region="cn-hangzhou").zone is None


def test_defaults():
    spec = build_spec()
    assert (spec.cloud, spec.region, spec.machine.instance_type, spec.disk_size_gb) \
        == ("aws", "us-east-1", "m6i.xlarge", 30)
    assert (spec.idle_timeout_s, spec.max_runtime_s, spec.labels, spec.count) \
        == (300, 21600, ("cml-infra",), 1)
    assert build_spec(labels="gpu, cml ,gpu").labels == ("gpu", "cml")


def test_every_cloud_lists_only_known_models_with_counts():
    for cloud in catalog.CLOUDS:
        for model, family in catalog.table(cloud).GPUS.items():
            assert model in catalog.GPU_MODELS
            assert family.counts and all(by_size for by_size in family.counts.values())
            for by_size in family.counts.values():
                assert set(by_size) <= set(catalog.SIZES)


def test_retired_families_are_not_offered():
    offered = [t for cloud in catalog.CLOUDS for f in catalog.table(cloud).GPUS.values()
               for s in f.counts.values() for t in s.values()]
    retired = r"p[23]\..*|Standard_NC(6|12|24)r?s_v3|Standard_NC(6|12|24)"
    assert not [t for t in offered if re.fullmatch(retired, t)]
    assert build_spec(cloud="azure", size="Standard_NC64as_T4_v3").machine.gpu_count == 4
    assert "k80" not in {m for c in catalog.CLOUDS for m in catalog.table(c).GPUS}


BAD_INPUT = [
    (dict(cloud="moon"), "Unknown cloud 'moon'; choose one of: aws, gcp, azure, alicloud, local."),
    (dict(cloud="azure", gpu_model="l4"),
     "GPU model l4 is not offered on azure; choose one of: t4, a10, a100, a100-80gb, h100."),
    (dict(cloud="aws", gpu_model="k80"),
     "GPU model k80 is retired on aws (the P2 family is retired); choose one of: t4, a10g, l4, "
     "l40s, a100, a100-80gb, h100."),
    (dict(cloud="azure", gpu_model="v100"),
     "GPU model v100 is retired on azure (NCv3 was retired in September 2025); choose one of: "
     "t4, a10, a100, a100-80gb, h100."),
    (dict(cloud="gcp", gpu_model="t4", gpu_count=3),
     "t4 is sold on gcp with 1, 2, 4 GPUs per machine, not 3; choose one of those GPU counts."),
    (dict(cloud="aws", gpu=True, gpu_count=0),
     "The GPU count must be 1 or more, not 0; drop it for no GPU."),
    (dict(cloud="aws", gpu=True, size="xl", gpu_count=4),
     "Size xl has no 4x t4 variant on aws; choose a size from: l."),
    (dict(cloud="aws", size="p2.xlarge"),
     "Machine type p2.xlarge is retired (K80, previous generation); use a current family such "
     "as g4dn, g5, g6, g6e."),
    (dict(cloud="azure", size="Standard_NC6s_v3"),
     "Machine type Standard_NC6s_v3 is retired (V100, NCv3); use a current family such as "
     "NCasT4_v3, NC A100 v4."),
    (dict(region="mars"),
     "Unknown region mars for aws; use a portable region (us-east, us-west, eu-west, eu-north, "
     "ap-southeast) or a native one such as us-east-1."),
    (dict(cloud="alicloud", region="eu-north"),
     "Region eu-north is not offered on alicloud; choose one of: us-east, us-west, eu-west, "
     "ap-southeast or a native alicloud region."),
    (dict(idle_timeout="5 minutes"),
     "The idle timeout '5 minutes' is not a duration; write a number followed by s, m or h, "
     "such as 30s, 5m or 2h."),
    (dict(max_runtime="1d"),
     "The maximum runtime '1d' is not a duration; write a number followed by s, m or h, such "
     "as 30s, 5m or 2h."),
    (dict(idle_timeout="2h", max_runtime="90m"),
     "The maximum runtime (90m) must be longer than the idle timeout (2h); raise the maximum "
     "runtime or lower the idle timeout."),
    (dict(cloud="alicloud", max_runtime="20m"),
     "The maximum runtime on alicloud must be at least 30m (its shortest auto-release time); "
     "raise it."),
    (dict(count=0), "The machine count must be between 1 and 50, not 0; split larger fleets "
                    "into several pools."),
    (dict(count=51), "The machine count must be between 1 and 50, not 51; split larger fleets "
                     "into several pools."),
    (dict(name="GPU_pool"), "Pool name 'GPU_pool' is not valid; use 2 to 40 lowercase letters, "
                            "digits and hyphens, starting with a letter and not ending with a "
                            "hyphen."),
    (dict(name="a" * 41), f"Pool name '{'a' * 41}' is not valid; use 2 to 40 lowercase letters, "
                          "digits and hyphens, starting with a letter and not ending with a "
                          "hyphen."),
    (dict(max_price=0.5), "A maximum price applies to spot machines only; add --spot or drop it."),
    (dict(cloud="gcp", spot=True, max_price=0.5),
     "GCP Spot VMs have no maximum price; drop the maximum price."),
    (dict(disk_size=5), "The disk size must be between 10 and 16384 GB, not 5."),
    (dict(labels="ok,bad label"), "Runner label 'bad label' is not valid; use letters, digits, "
                                  "dots, hyphens and underscores, at most 64 characters."),
    (dict(forge="gitea"), "Unknown forge 'gitea'; choose one of: github, gitlab."),
    (dict(repo="not a repo"), "Repository 'not a repo' is not a GitHub repository; write it "
                              "as OWNER/NAME or as its https:// address."),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_INPUT)
def test_bad_input_is_one_sentence(kwargs, message):
    with pytest.raises(SpecError) as info:
        build_spec(**kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize(("cloud", "model", "count", "only"), [
    ("aws", "a100", 1, 8), ("aws", "a100-80gb", 2, 8), ("gcp", "h100", 1, 8),
])
def test_a_model_sold_with_one_count_says_so(cloud, model, count, only):
    with pytest.raises(SpecError) as info:
        build_spec(cloud=cloud, gpu_model=model, gpu_count=count)
    assert f"only with {only} GPUs per machine, not {count}" in str(info.value)
    assert "choose one of those GPU counts" not in str(info.value)


def test_a_subnet_and_a_zone_together_are_refused():
    """The subnet's own zone is where its machines go; the plan cannot check another."""
    with pytest.raises(SpecError, match=r"^A subnet lies in one zone"):
        build_spec(cloud="aws", subnet="subnet-0123456789abcdef0", zone="us-east-1b")


def test_config_uses_the_same_rules_and_messages():
    defaults = {"cloud": "aws", "region": "us-east", "max_runtime": "6h"}
    spec = spec_from_config({"name": "train", "gpuModel": "l4", "gpuCount": 4, "spot": True,
                             "labels": ["gpu", "l4"], "idleTimeout": "10m"}, defaults)
    assert (spec.machine.instance_type, spec.spot, spec.labels, spec.idle_timeout_s) \
        == ("g6.12xlarge", True, ("gpu", "l4"), 600)
    with pytest.raises(SpecError) as info:
        spec_from_config({"name": "x1", "cloud": "gcp", "gpuModel": "t4", "gpuCount": 3}, {})
    assert str(info.value) == ("t4 is sold on gcp with 1, 2, 4 GPUs per machine, not 3; "
                               "choose one of those GPU counts.")


def test_config_rejects_unknown_keys_wrong_types_repeats_and_empty():
    with pytest.raises(SpecError, match=r"^Pool 'a1': unknown setting 'gpus'; did you mean 'gpu'"):
        spec_from_config({"name": "a1", "gpus": 1}, {})
    with pytest.raises(SpecError, match=r"^Pool 'a1': count must be a whole number, not the "):
        spec_from_config({"name": "a1", "count": "many"}, {})
    with pytest.raises(SpecError) as info:
        pools_from_config([{"name": "same"}, {"name": "same", "cloud": "gcp"}], {})
    assert str(info.value) == "Pool name 'same' is used twice; give every pool its own name."
    with pytest.raises(SpecError, match="must be a non-empty list"):
        pools_from_config([], {})


def test_gitlab_pool_does_not_inherit_the_github_default_url():
    spec = spec_from_config({"name": "gl", "forge": "gitlab"}, {"forge_url": "https://github.com"})
    assert spec.forge_url == "https://gitlab.com"


def test_spec_is_frozen():
    spec = build_spec()
    with pytest.raises(AttributeError):
        spec.count = 3  # type: ignore[misc]


# A4: a model asked without a count gets the fewest GPUs the cloud sells it with.
@pytest.mark.parametrize(("cloud", "model"), [(cloud, model) for cloud in catalog.CLOUDS
                                              for model in catalog.table(cloud).GPUS])
def test_no_gpu_count_means_the_fewest_sold_in_the_size(cloud, model):
    counts = catalog.table(cloud).GPUS[model].counts
    assert catalog.resolve_machine(cloud, None, model, None).gpu_count == min(counts)
    for size in catalog.SIZES:
        with_size = [n for n, by_size in counts.items() if size in by_size]
        if with_size:
            assert catalog.resolve_machine(cloud, size, model, None) \
                == catalog.resolve_machine(cloud, size, model, min(with_size))


@pytest.mark.parametrize(("cloud", "model", "region", "machine"), [  # the review's A4 cases
    ("aws", "a100", "us-east", ("p4d.24xlarge", 8)),
    ("aws", "a100-80gb", "us-east", ("p4de.24xlarge", 8)),
    ("gcp", "h100", "eu-west", ("a3-highgpu-8g", 8)),
    ("azure", "a100", "us-east", ("Standard_ND96asr_v4", 8)),
])
def test_models_without_a_one_gpu_machine_build_without_a_count(cloud, model, region, machine):
    spec = build_spec(cloud=cloud, gpu_model=model, region=region)
    assert (spec.machine.instance_type, spec.machine.gpu_count) == machine


@pytest.mark.parametrize(("count", "size"), [(1, "Standard_NC24ads_A100_v4"),
                                             (2, "Standard_NC48ads_A100_v4"),
                                             (4, "Standard_NC96ads_A100_v4")])
def test_azure_a100_counts_it_lacks_point_at_the_80gb_sizes(count, size):
    with pytest.raises(SpecError) as info:
        build_spec(cloud="azure", gpu_model="a100", gpu_count=count)
    gpus = "GPU" if count == 1 else "GPUs"
    assert str(info.value) == (
        f"a100 is sold on azure with 8 GPUs per machine, not {count}; for {count} {gpus} "
        f"choose the model a100-80gb ({size}) or one of those GPU counts.")


# --max-price: a positive, finite hourly price.
@pytest.mark.parametrize("cloud", ["aws", "azure", "alicloud"])
@pytest.mark.parametrize("price", [float("nan"), float("inf"), float("-inf"), 0, 0.0, -0.5])
def test_max_price_must_be_positive_and_finite(cloud, price):
    with pytest.raises(SpecError) as info:
        build_spec(cloud=cloud, spot=True, max_price=price)
    assert str(info.value) == (
        f"The maximum price must be a positive hourly price such as 0.5, not "
        f"{format_number(price)}.")  # as the user wrote it: 0, not 0.0
    assert build_spec(cloud=cloud, spot=True, max_price=0.5).max_price == 0.5


@pytest.mark.parametrize("cloud", catalog.CLOUDS)
def test_portable_regions_fix_no_zone_but_gcp_zones_come_from_its_table(cloud):
    for name, (native, zone) in catalog.table(cloud).REGIONS.items():
        assert zone is None, (cloud, name)
        spec = build_spec(cloud=cloud, region=name)
        if cloud == "gcp":
            assert spec.zones == catalog.table("gcp").ZONES[native]["n2-standard"]
        else:
            assert (spec.zone, spec.zones) == (None, ())
