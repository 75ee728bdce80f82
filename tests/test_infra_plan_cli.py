"""`cml-infra up --dry-run` as a user runs it: no credentials, no pulumi binary, one sentence
per bad input; golden JSON plans per cloud."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone

import pytest

from infra import catalog
from infra.engine.plan import render_json, render_tree, run_plan
from infra.spec import build_spec
from tests.conftest import run_cli

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
CREDENTIAL_PREFIXES = ("AWS_", "GOOGLE_", "CLOUDSDK_", "ARM_", "AZURE_", "ALICLOUD_",
                       "ALIBABA_", "PULUMI_")


def bare_env(tmp_path) -> dict[str, str]:
    """No cloud credentials, no pulumi on PATH, an empty home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CREDENTIAL_PREFIXES)}
    env.update(HOME=str(tmp_path), PATH=os.path.dirname(sys.executable))
    return env


def run_bare(tmp_path, *args):
    env = bare_env(tmp_path)
    result = run_cli(*args, env=env)
    for key in [k for k in os.environ if k.startswith(CREDENTIAL_PREFIXES)]:
        assert key not in env
    return result


@pytest.mark.parametrize("cloud", catalog.CLOUDS)
def test_dry_run_json_without_credentials(cloud, tmp_path):
    result = run_bare(tmp_path, "up", "--cloud", cloud, "--gpu", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    types = [r["type"] for r in plan["resources"]]
    assert len([t for t in types if t.startswith("cml-infra:clouds:")
                and t.endswith("Runner")]) == 1
    assert all(set(r) == {"type", "name", "inputs", "stack"} for r in plan["resources"])
    assert [s["kind"] for s in plan["stacks"]] == ["base", "runner"]
    assert {r["stack"] for r in plan["resources"]} == {s["name"] for s in plan["stacks"]}
    assert "PLACEHOLDER" in result.stdout
    assert not list(tmp_path.iterdir()), "a dry run must create nothing"


def test_dry_run_tree_is_readable(tmp_path):
    result = run_bare(tmp_path, "up", "--cloud", "aws", "--gpu-model", "l4", "--spot",
                      "--labels", "gpu,l4", "--idle-timeout", "10m", "--max-runtime", "2h",
                      "--count", "2", "--region", "eu-north", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Plan: 17 resources would be created (nothing was created).")
    assert "Base stack cml-infra-base-cml-runner-aws-eu-north-1: 9 resources" in out
    assert "Runner stack cml-runner: 8 resources" in out
    assert "instanceType: g6.xlarge" in out and "userDataBase64: [secret]" in out
    assert "cml-runner-1-vm  (aws:ec2/instance:Instance)" in out


BAD = [
    (("--cloud", "moon"), "Invalid value for '--cloud'"),
    (("--cloud", "azure", "--gpu-model", "l4"), "GPU model l4 is not offered on azure"),
    (("--cloud", "gcp", "--gpu-count", "3"), "t4 is sold on gcp with 1, 2, 4 GPUs per machine"),
    (("--gpu", "--type", "xl", "--gpu-count", "4"), "Size xl has no 4x t4 variant on aws"),
    (("--region", "mars"), "Unknown region mars for aws"),
    (("--idle-timeout", "5min"), "The idle timeout '5min' is not a duration"),
    (("--idle-timeout", "2h", "--max-runtime", "1h"),
     "The maximum runtime (1h) must be longer than the idle timeout (2h)"),
    (("--count", "0"), "The machine count must be between 1 and 50, not 0"),
    (("--count", "500"), "The machine count must be between 1 and 50, not 500"),
    (("--name", "Bad_Name"), "Pool name 'Bad_Name' is not valid"),
    (("--type", "p2.xlarge"), "Machine type p2.xlarge is retired"),
]


@pytest.mark.parametrize(("args", "start"), BAD)
def test_bad_input_is_one_sentence_and_creates_nothing(args, start, tmp_path):
    result = run_bare(tmp_path, "up", *args, "--dry-run")
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {start}"), result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())


def test_missing_cloud_extra_names_the_pip_command(tmp_path):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'pulumi_gcp':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n")
    from tests.conftest import ROOT
    env = {**bare_env(tmp_path), "PYTHONPATH": f"{blocker}{os.pathsep}{ROOT}"}
    result = run_cli("up", "--cloud", "gcp", "--gpu", "--dry-run", env=env)
    assert result.returncode == 1
    assert result.stderr == ("Error: The gcp SDK is not installed; run: "
                             "pip install 'cml-infra[gcp]'.\n")


def test_real_up_names_every_missing_prerequisite_at_once(tmp_path):
    """The real up checks everything before anything (tests/test_lifecycle.py has more)."""
    result = run_bare(tmp_path, "up", "--cloud", "aws")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: Before cml-infra up can run: ")
    for part in ("PULUMI_CONFIG_PASSPHRASE", "REPO_TOKEN", "pass --repo OWNER/NAME"):
        assert part in result.stderr
    result = run_bare(tmp_path, "up", "--cloud", "aws", "--repo", "acme/models")
    assert "pass --repo" not in result.stderr and "Traceback" not in result.stderr


def test_tree_attributes_children_to_the_longest_component_name():
    pools = [build_spec(name="ab", count=2), build_spec(name="ab-1")]
    tree = render_tree(run_plan(pools, clock=lambda: NOW, stack="dev"))
    components = [line for line in tree.splitlines() if "(cml-infra:clouds:" in line]
    assert components == ["ab-base  (cml-infra:clouds:AwsBase)",
                          "ab-1-base  (cml-infra:clouds:AwsBase)",
                          "ab-0  (cml-infra:clouds:AwsRunner)",
                          "ab-1  (cml-infra:clouds:AwsRunner)",
                          "ab-1-0  (cml-infra:clouds:AwsRunner)"]
    block_ab1 = tree.split("ab-1  (")[1].split("ab-1-0  (")[0]
    assert "ab-1-vm" in block_ab1 and "ab-1-0-vm" not in block_ab1
    assert "ab-1-base-sg" in tree.split("ab-1-base  (")[1].split("Runner stack")[0]
    assert "ab-base-sg" in tree.split("ab-base  (")[1].split("ab-1-base  (")[0]
    assert tree.count("(aws:ec2/instance:Instance)") == 3


@pytest.mark.parametrize("cloud", catalog.CLOUDS)
def test_golden_plan(cloud, golden):
    spec = build_spec(name="gpu", cloud=cloud, gpu=True, spot=True, repo="acme/models",
                      labels="gpu,cml")
    plan = run_plan([spec], clock=lambda: NOW, stack="dev")
    golden(f"plans/{cloud}.json", render_json(plan))
    tree = render_tree(plan)
    assert tree.count("Runner)") == 1
    assert tree.count("Base)") == 1
    assert tree.count("\n├─ ") + tree.count("\n└─ ") == len(plan.resources) - tree.count(
        "(cml-infra:clouds:"), "every resource appears under its component"
