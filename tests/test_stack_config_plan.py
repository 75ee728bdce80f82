"""`cml-infra up --dry-run --stack-config Pulumi.<stack>.yaml`: every pool of a stack config
file planned as `pulumi up` runs them, offline; JSON and markdown (a pull-request comment);
one sentence per bad input."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from infra.engine.plan import masked, run_plan
from infra.engine.plan_text import whole_numbers
from infra.engine.stack_plan import plan_stack_config, render_json, render_markdown
from infra.spec import build_spec
from tests.conftest import ROOT, run_cli

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
CIPHERTEXT = "v1:9fZ1cUpl8M8tJxVc:BXqgtTcUk1QQ3ka5kPuVvuxRGHK2mYb0o6xg"
TOKEN = "ghp_" + "s" * 36
TWO_POOLS = {
    "cml-infra:forgeToken": {"secure": CIPHERTEXT},
    "aws:region": "us-east-1",
    "cml-infra:pools": [
        {"name": "train", "cloud": "aws", "gpuModel": "l4", "spot": True, "labels": ["gpu"],
         "forge": "github", "repo": "acme/models", "idleTimeout": "10m"},
        {"name": "evals", "cloud": "gcp", "region": "eu-west", "gpu": True, "count": 2,
         "repo": "acme/eval", "maxRuntime": "2h"},
    ],
}
# The same two pools as `cml-infra up` flags (and build_spec keywords) describe them.
ALONE = {
    "train": dict(name="train", cloud="aws", gpu_model="l4", spot=True, labels="gpu",
                  forge="github", repo="acme/models", idle_timeout="10m"),
    "evals": dict(name="evals", cloud="gcp", region="eu-west", gpu=True, count=2,
                  repo="acme/eval", max_runtime="2h"),
}


def stack_file(folder: Path, config: object, name: str = "Pulumi.dev.yaml",
               project: Path | None = ROOT / "Pulumi.yaml") -> Path:
    """A stack config file beside the project's Pulumi.yaml (the repository's by default)."""
    folder.mkdir(parents=True, exist_ok=True)
    if project is not None:
        shutil.copy(project, folder / "Pulumi.yaml")
    path = folder / name
    path.write_text(config if isinstance(config, str) else yaml.safe_dump({"config": config}))
    return path


def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "GOOGLE_", "ARM_", "ALICLOUD_", "PULUMI_", "GITHUB_",
                                "CI_", "GITLAB_"))
           and k not in ("REPO_TOKEN", "CI")}
    env.update(HOME=str(tmp_path / "home"), PATH=os.path.dirname(sys.executable), **extra)
    return env


def cli(tmp_path: Path, *args: str, **env: str):  # type: ignore[no-untyped-def]
    return run_cli("up", *args, env=bare_env(tmp_path, **env), cwd=tmp_path)


def shown(resources: list[dict]) -> list[dict]:
    return [{**r, "inputs": whole_numbers(masked(r["inputs"]))} for r in resources]


# ---- the plan is the program's, pool by pool --------------------------------------------


def test_each_pool_is_planned_as_the_single_pool_dry_run_plans_it(tmp_path):
    path = stack_file(tmp_path, TWO_POOLS)
    planned = plan_stack_config(path, clock=lambda: NOW, env={})
    assert [pool.spec.name for pool in planned.pools] == ["train", "evals"]
    for pool in planned.pools:
        alone = run_plan([build_spec(**ALONE[pool.spec.name])], clock=lambda: NOW, stack="dev")
        assert shown(pool.resources) == shown(alone.resources)
        assert pool.resources, "every pool has resources"
    document = json.loads(render_json(planned))
    assert [p["name"] for p in document["pools"]] == ["train", "evals"]
    for entry, pool in zip(document["pools"], planned.pools, strict=True):
        assert entry["resources"] == shown(pool.resources)
    every = [r for pool in planned.pools for r in pool.resources]
    assert sorted(every, key=id) == sorted(planned.plan.resources, key=id), \
        "each resource of the program is in exactly one pool"


def test_json_of_the_cli_has_both_pools_as_the_single_pool_cli_plans_them(tmp_path):
    path = stack_file(tmp_path, TWO_POOLS)
    result = cli(tmp_path, "--dry-run", "--stack-config", str(path), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["stack"] == "dev" and document["configFile"] == str(path)
    assert document["project"] == "cml-infra" and document["kind"] == "runner"
    assert document["settings"]["cml-infra:forgeToken"] == "[secret]"
    by_name = {pool["name"]: pool for pool in document["pools"]}
    assert list(by_name) == ["train", "evals"]
    for name, flags in (("train", ["--cloud", "aws", "--gpu-model", "l4", "--spot", "--labels",
                                   "gpu", "--repo", "acme/models", "--idle-timeout", "10m"]),
                        ("evals", ["--cloud", "gcp", "--region", "eu-west", "--gpu", "--count",
                                   "2", "--repo", "acme/eval", "--max-runtime", "2h"])):
        alone = cli(tmp_path, *flags, "--name", name, "--stack", "dev", "--dry-run", "--json")
        assert alone.returncode == 0, alone.stderr
        expected = [(r["stack"], r["type"], r["name"])
                    for r in json.loads(alone.stdout)["resources"]]
        assert [(r["stack"], r["type"], r["name"]) for r in by_name[name]["resources"]] \
            == expected
        assert all(set(r) == {"type", "name", "inputs", "stack"}
                   for r in by_name[name]["resources"])
    summary = by_name["evals"]["summary"]
    assert (summary["cloud"], summary["count"], summary["gpuModel"], summary["forge"]) \
        == ("gcp", 2, "t4", "github")
    assert CIPHERTEXT not in result.stdout + result.stderr


def test_markdown_has_a_heading_per_pool_and_never_a_secret(tmp_path):
    config = {**TWO_POOLS, "aws:secretKey": {"secure": CIPHERTEXT + "x"}}
    path = stack_file(tmp_path, config)
    result = cli(tmp_path, "--dry-run", "--stack-config", str(path), "--markdown",
                 REPO_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("# Plan of stack `dev`\n")
    assert "## Pool `train`" in out and "## Pool `evals`" in out
    assert out.index("## Pool `train`") < out.index("## Pool `evals`")
    assert "| `cml-infra:forgeToken` | `[secret]` |" in out
    assert "| `aws:secretKey` | `[secret]` |" in out
    assert "userDataBase64: [secret]" in out  # a secret input of a resource
    assert "g6.xlarge (1 x l4)" in out and "| capacity | spot |" in out
    for secret in (CIPHERTEXT, TOKEN, "v1:"):
        assert secret not in out and secret not in result.stderr
    assert result.stderr == ""


def test_a_token_in_clear_is_masked_and_warned_about(tmp_path):
    path = stack_file(tmp_path, {**TWO_POOLS, "cml-infra:forgeToken": TOKEN})
    result = cli(tmp_path, "--dry-run", "--stack-config", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert json.loads(result.stdout)["settings"]["cml-infra:forgeToken"] == "[secret]"
    assert result.stderr.startswith("Warning: cml-infra:forgeToken is written in clear")


def test_without_a_token_the_plan_warns_as_pulumi_up_would_refuse(tmp_path):
    config = {k: v for k, v in TWO_POOLS.items() if k != "cml-infra:forgeToken"}
    path = stack_file(tmp_path, config)
    result = cli(tmp_path, "--dry-run", "--stack-config", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("Warning: No forge token")
    assert result.stdout.startswith("Plan: ")  # without --json or --markdown: the text plan
    assert cli(tmp_path, "--dry-run", "--stack-config", str(path), REPO_TOKEN=TOKEN).stderr == ""


# ---- read as Pulumi reads it ------------------------------------------------------------


def test_project_defaults_bare_keys_and_the_gcp_project_are_read_as_pulumi_does(tmp_path):
    project = tmp_path / "project.yaml"
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    declared["config"]["cml-infra:defaultCloud"]["default"] = "gcp"
    project.write_text(yaml.safe_dump(declared))
    text = ("config:\n  gcp:project: acme-ml\n  cml-infra:forgeToken: {secure: v1:abc}\n"
            "  pools:\n    - {name: gpu, gpu: true, repo: acme/models, count: 2}\n")
    path = stack_file(tmp_path, text, project=project)
    planned = plan_stack_config(path, clock=lambda: NOW, env={})
    (pool,) = planned.pools
    assert pool.spec.cloud == "gcp" and pool.spec.count == 2  # project default
    projects = {r["inputs"].get("project") for r in pool.resources if "project" in r["inputs"]}
    assert projects == {"acme-ml"}


def test_base_setting_and_base_kind(tmp_path):
    pools = [{"name": "a1", "repo": "acme/models", "base": "platform-bases"},
             {"name": "b1", "repo": "acme/models", "cloud": "gcp", "base": "platform-bases"}]
    path = stack_file(tmp_path, {"cml-infra:pools": pools, "cml-infra:forgeToken": "x" * 8})
    planned = plan_stack_config(path, clock=lambda: NOW, env={})
    assert [s["name"] for s in planned.plan.stacks] == ["platform-bases", "dev"]
    assert {pool.base for pool in planned.pools} == {"platform-bases"}
    path = stack_file(tmp_path / "b", {"cml-infra:pools": pools, "cml-infra:kind": "base"},
                      name="Pulumi.platform-bases.yaml")
    planned = plan_stack_config(path, clock=lambda: NOW, env={})
    assert planned.plan.stacks == [{"name": "platform-bases", "kind": "base"}]
    assert {r["stack"] for r in planned.plan.resources} == {"platform-bases"}
    assert [len(pool.resources) for pool in planned.pools] == [9, 5]
    assert "(base stack" in render_markdown(planned)


def test_stack_flag_names_a_file_of_another_name(tmp_path):
    path = stack_file(tmp_path, TWO_POOLS, name="runners.yaml")
    result = cli(tmp_path, "--dry-run", "--stack-config", str(path), "--stack", "prod", "--json",
                 REPO_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stack"] == "prod"


def test_project_found_through_its_stack_config_dir(tmp_path):
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump({**declared, "stackConfigDir": "conf"}))
    path = stack_file(tmp_path / "conf", TWO_POOLS, project=None)
    assert [p.spec.name for p in plan_stack_config(path, env={}).pools] == ["train", "evals"]


# ---- the examples -------------------------------------------------------------------------


def test_golden_markdown_of_the_example_stack(tmp_path, golden):
    """examples/Pulumi.dev.yaml, copied next to Pulumi.yaml as its comment says."""
    example = (ROOT / "examples" / "Pulumi.dev.yaml").read_text()
    path = stack_file(tmp_path, example)
    planned = plan_stack_config(path, clock=lambda: NOW, env={})
    golden("stack-config-dev.md", render_markdown(planned))


def test_platform_example_plans_cleanly(tmp_path):
    path = ROOT / "examples" / "platform" / "Pulumi.ci.yaml"
    result = cli(tmp_path, "--dry-run", "--stack-config", str(path), "--json", REPO_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["stack"] == "ci"
    summaries = {pool["name"]: pool["summary"] for pool in document["pools"]}
    assert summaries["gh-t4"]["cloud"] == "aws" and summaries["gh-t4"]["gpuModel"] == "t4"
    assert summaries["gh-t4"]["spot"] is True and summaries["gh-t4"]["repo"] == "acme/models"
    assert summaries["gh-l4"]["cloud"] == "gcp" and summaries["gh-l4"]["gpuModel"] == "l4"
    markdown = cli(tmp_path, "--dry-run", "--stack-config", str(path), "--markdown")
    assert markdown.returncode == 0 and "## Pool `gh-t4`" in markdown.stdout
    assert markdown.stderr.startswith("Warning: No forge token")  # where pulumi up needs one


# ---- one sentence per bad input -------------------------------------------------------------


def pulumi_up_sentence(pools: list[dict]) -> str:
    """What `pulumi up` (infra/__main__.py under mocks) says about these pools."""
    from infra.errors import SpecError
    from tests.test_infra_program_config import run_main

    with pytest.raises(SpecError) as info:
        run_main({"cml-infra:pools": json.dumps(pools)})
    return str(info.value)


SETTINGS_ERRORS = [
    [{"name": "p1", "repo": "acme/models", "spot": "false"}],
    [{"name": "p1", "repo": "acme/models", "gpus": True}],
    [{"name": "p1", "repo": "acme/models", "count": 2.7}],
    [{"name": "p1", "cloud": "azure", "gpuModel": "l4"}],
    [{"name": "p1", "repo": "acme/models"}, {"name": "p1", "repo": "acme/models"}],
]


@pytest.mark.parametrize("pools", SETTINGS_ERRORS, ids=range(len(SETTINGS_ERRORS)))
def test_a_settings_error_is_the_sentence_pulumi_up_gives(pools, tmp_path):
    path = stack_file(tmp_path, {"cml-infra:pools": pools})
    result = cli(tmp_path, "--dry-run", "--stack-config", str(path))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"Error: {pulumi_up_sentence(pools)}\n"


def _bad_yaml(tmp: Path) -> list[str]:
    return [str(stack_file(tmp, "config:\n  cml-infra:pools: [\n")), "--dry-run"]


def _duplicate(tmp: Path) -> list[str]:
    text = "config:\n  cml-infra:maxRuntime: 2h\n  cml-infra:maxRuntime: 3h\n"
    return [str(stack_file(tmp, text)), "--dry-run"]


def _no_project(tmp: Path) -> list[str]:
    return [str(stack_file(tmp, TWO_POOLS, project=None)), "--dry-run"]


def _node_project(tmp: Path) -> list[str]:
    path = stack_file(tmp, TWO_POOLS)
    (tmp / "Pulumi.yaml").write_text("name: cml-infra\nruntime: nodejs\n")
    return [str(path), "--dry-run"]


def _file(config: object, name: str = "Pulumi.dev.yaml", *more: str):  # type: ignore[no-untyped-def]
    return lambda tmp: [str(stack_file(tmp, config, name=name)), "--dry-run", *more]


BAD = {
    "without --dry-run": (lambda tmp: [str(stack_file(tmp, TWO_POOLS))],
        "--stack-config only plans, with --dry-run; to create the pools of Pulumi.dev.yaml, "
        "run pulumi up --stack dev in its project's folder."),
    "with --cloud": (_file(TWO_POOLS, "Pulumi.dev.yaml", "--cloud", "gcp"),
                     "--stack-config plans the pools Pulumi.dev.yaml declares, so --cloud would "
                     "describe a pool the file already describes; drop it and change the pool "
                     "in the file."),
    "with --gpu and --type": (_file(TWO_POOLS, "Pulumi.dev.yaml", "--gpu", "--type", "xl"),
                              "--stack-config plans the pools Pulumi.dev.yaml declares, so "
                              "--type, --gpu would describe a pool the file already describes; "
                              "drop them and change the pool in the file."),
    "json and markdown": (_file(TWO_POOLS, "Pulumi.dev.yaml", "--json", "--markdown"),
                          "--json and --markdown are two forms of the same plan; choose one."),
    "markdown without a file": (lambda tmp: None,
                                "--markdown prints the plan of a stack config file; add "
                                "--stack-config Pulumi.<stack>.yaml --dry-run, or use --json for "
                                "one pool's plan."),
    "missing file": (lambda tmp: [str(tmp / "Pulumi.gone.yaml"), "--dry-run"],
                     "{tmp}/Pulumi.gone.yaml does not exist; give the path of a "
                     "Pulumi.<stack>.yaml file."),
    "a directory": (lambda tmp: [str(tmp), "--dry-run"],
                    "{tmp} is a directory; give the path of a Pulumi.<stack>.yaml file."),
    "bad YAML": (_bad_yaml, "{tmp}/Pulumi.dev.yaml is not valid YAML (expected the node "
                            "content, but found '<stream end>' at line 3, column 1); fix the "
                            "file and try again."),
    "duplicate keys": (_duplicate, "{tmp}/Pulumi.dev.yaml has the key 'cml-infra:maxRuntime' "
                                   "twice (again at line 3); keep only one of them, as Pulumi "
                                   "refuses the file too."),
    "another file name": (_file(TWO_POOLS, "dev.yaml"),
                          "dev.yaml is not named Pulumi.<stack>.yaml, so it names no stack; "
                          "rename it, or pass --stack NAME."),
    "--stack of another stack": (_file(TWO_POOLS, "Pulumi.dev.yaml", "--stack", "prod"),
                                 "Pulumi.dev.yaml is the config of stack dev, not prod; drop "
                                 "--stack, or give the file Pulumi.prod.yaml."),
    "no Pulumi.yaml": (_no_project, "There is no Pulumi.yaml beside the stack config in {tmp}; "
                                    "a Pulumi.<stack>.yaml file is read with its project's "
                                    "Pulumi.yaml, which must sit in the same folder (or name it "
                                    "as its stackConfigDir)."),
    "another runtime": (_node_project, "{tmp}/Pulumi.yaml declares the runtime 'nodejs', but "
                                       "cml-infra's program runs on Python; set runtime: python "
                                       "and main: to the cml-infra program (infra/)."),
    "no pools": (_file({"aws:region": "us-east-1"}),
                 "Pulumi.dev.yaml has no cml-infra:pools, which pulumi up requires; declare the "
                 "pools under config:, as examples/Pulumi.dev.yaml does."),
    "encrypted pools": (_file({"cml-infra:pools": {"secure": CIPHERTEXT}}),
                        "cml-infra:pools in Pulumi.dev.yaml is encrypted (secure:), and the plan "
                        "never decrypts; keep it in clear (only cml-infra:forgeToken needs to "
                        "be a secret)."),
    "YAML 1.1 yes is a string": (_file("config:\n  cml-infra:pools:\n    - {name: p1, spot: yes}"
                                       "\n"),
                                 "Pool 'p1': spot must be true or false, not the string 'yes'."),
    "unknown kind": (_file({**TWO_POOLS, "cml-infra:kind": "both"}),
                     "cml-infra:kind is 'both'; set it to runner or base."),
    "a bad forge setting": (_file({**TWO_POOLS, "cml-infra:forgeApiUrl": "ghe.example.com"}),
                            "cml-infra:forgeApiUrl must be a web address such as "
                            "https://gitlab.example.com, not the string 'ghe.example.com'."),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_sentence(case, tmp_path):
    make, sentence = BAD[case]
    made = make(tmp_path)  # None: a flag alone, no file
    args = ["--markdown", "--dry-run"] if made is None else ["--stack-config", *made]
    result = cli(tmp_path, *args)
    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    assert result.stderr == f"Error: {sentence.format(tmp=tmp_path)}\n"
    assert "Traceback" not in result.stderr and CIPHERTEXT not in result.stderr


@pytest.mark.parametrize("second", [
    {"forge": "gitlab", "repo": "ml/eval"},
    {"forge": "gitlab", "forgeUrl": "https://gitlab.example.com", "repo": "ml/eval"},
    {"forgeUrl": "https://ghe.example.com", "repo": "acme/eval"},
])
def test_pools_on_different_forges_cannot_share_a_runner_stack(tmp_path, second):
    """One stack has one forge token and one API root: pools of another forge or server are
    refused in the plan, as pulumi up refuses them (tests/test_infra_program_config.py)."""
    config = {"cml-infra:pools": [
        {"name": "train", "gpu": True, "repo": "acme/models"},
        {"name": "evals", "gpu": True, **second}]}
    result = cli(tmp_path, "--dry-run", "--stack-config", str(stack_file(tmp_path, config)),
                 REPO_TOKEN=TOKEN)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: The pools of one runner stack share one forge "
                                    "token, but 'train' (github at https://github.com), ")
    assert result.stderr.rstrip().endswith("put each forge's pools in a stack of their own.")
    assert "Traceback" not in result.stderr


def test_a_base_stack_may_hold_pools_of_any_forge(tmp_path):
    config = {"cml-infra:kind": "base", "cml-infra:pools": [
        {"name": "train", "gpu": True, "repo": "acme/models"},
        {"name": "evals", "gpu": True, "forge": "gitlab", "repo": "ml/eval"}]}
    result = cli(tmp_path, "--dry-run", "--stack-config", str(stack_file(tmp_path, config)))
    assert result.returncode == 0, result.stderr
