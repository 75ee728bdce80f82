"""`cml-infra up --dry-run` as a user runs it: no credentials, no pulumi binary, one sentence
per bad input; golden JSON plans per cloud."""

from __future__ import annotations

import json
import os
import re
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
                             "pip install 'cml-infra[gcp]' (or add gcp to the extras you "
                             "install).\n")


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


# ---- issue 10: one --repo parser, stack names, the plan's summary ----

@pytest.fixture
def cli(main_cli):  # type: ignore[no-untyped-def]
    return main_cli


# --repo forms a real up accepts: (forge, value, path, forge web address).
GOOD_REPOS = [
    ("github", "acme/models", "acme/models", "https://github.com"),
    ("github", "https://github.com/acme/models", "acme/models", "https://github.com"),
    ("github", "https://github.com/acme/models.git", "acme/models", "https://github.com"),
    ("github", "https://ghe.example.com/acme/models", "acme/models", "https://ghe.example.com"),
    ("gitlab", "group/sub/proj", "group/sub/proj", "https://gitlab.com"),
    ("gitlab", "https://gitlab.example.com/group/sub/proj", "group/sub/proj",
     "https://gitlab.example.com"),
    ("gitlab", "http://gitlab.internal:8080/ml/eval", "ml/eval", "http://gitlab.internal:8080"),
]
# And the ones it refuses, with the sentence.
BAD_REPOS = [
    ("github", "a/b/c/d", "Repository 'a/b/c/d' is not a GitHub repository; write it as "
                          "OWNER/NAME or as its https:// address."),
    ("github", "../..", "Repository '../..' is not a GitHub repository; write it as OWNER/NAME "
                        "or as its https:// address."),
    ("gitlab", "group/../proj", "Repository 'group/../proj' is not a GitLab repository; write "
                                "it as GROUP/PROJECT or GROUP/SUBGROUP/PROJECT or as its "
                                "https:// address."),
    ("gitlab", "https://gitlab.com/group/proj/-/tree/main",
     "Repository 'https://gitlab.com/group/proj/-/tree/main' is not a GitLab repository; write "
     "it as GROUP/PROJECT or GROUP/SUBGROUP/PROJECT or as its https:// address."),
    ("github", "https://github.com/acme/models/tree/main",
     "Repository 'https://github.com/acme/models/tree/main' is not a GitHub repository; write "
     "it as OWNER/NAME or as its https:// address."),
    ("github", "models", "Repository 'models' is not a GitHub repository; write it as "
                         "OWNER/NAME or as its https:// address."),
    ("github", "http://github.com/acme/models",
     "Repository address 'http://github.com/acme/models' uses http://; github.com is served "
     "over https://, so write https://github.com/acme/models."),
    ("gitlab", "http://gitlab.com/group/proj",
     "Repository address 'http://gitlab.com/group/proj' uses http://; gitlab.com is served "
     "over https://, so write https://gitlab.com/group/proj."),
    ("github", "ftp://example.com/acme/models",
     "Repository address 'ftp://example.com/acme/models' is not a repository URL; write it as "
     "https://HOST/OWNER/NAME."),
    ("github", "https://github.com/acme/models?tab=readme",
     "Repository address 'https://github.com/acme/models?tab=readme' is not a repository URL; "
     "write it as https://HOST/OWNER/NAME."),
    ("github", "https://gitlab.com/group/proj",
     "Repository 'https://gitlab.com/group/proj' is on GitLab; add --forge gitlab (forge: "
     "gitlab in stack config)."),
    ("github", "https://user:secret@github.com/acme/models",
     "The repository address holds credentials; drop them from the URL and give the token "
     "through REPO_TOKEN or --token-file."),
]


@pytest.mark.parametrize(("forge", "repo", "path", "url"), GOOD_REPOS)
def test_dry_run_takes_every_repo_form_the_real_up_takes(forge, repo, path, url, cli):
    code, out, err = cli("up", "--forge", forge, "--repo", repo, "--dry-run")
    assert (code, err) == (0, "")
    assert f"  runners     {forge}, repository {path} on {url};" in out
    code, _, err = cli("up", "--forge", forge, "--repo", repo)  # the real up, no credentials
    assert code == 1 and err.startswith("Error: Before cml-infra up can run: ")
    assert "--repo" not in err


@pytest.mark.parametrize(("forge", "repo", "message"), BAD_REPOS)
@pytest.mark.parametrize("dry_run", [True, False])
def test_dry_run_and_real_up_refuse_the_same_repos(forge, repo, message, dry_run, cli):
    code, out, err = cli("up", "--forge", forge, "--repo", repo, *["--dry-run"] * dry_run)
    assert (code, out, err) == (1, "", f"Error: {message}\n")


def test_a_repo_url_and_another_forge_url_disagree(cli):
    code, _, err = cli("up", "--repo", "https://ghe.example.com/a/b", "--forge-url",
                       "https://github.com", "--dry-run")
    assert (code, err) == (1, "Error: The repository is on https://ghe.example.com but the "
                              "forge URL is https://github.com; drop --forge-url (forgeUrl) or "
                              "make the two agree.\n")


BAD_STACKS = [("a b", "is not a valid Pulumi stack name; use 1 to 100 letters, digits, '-', '_' "
                       "and '.'."),
              ("dev!", "is not a valid"), ("", "is not a valid"), ("x" * 101, "is not a valid"),
              ("acme/dev", "has an organization part; pass the plain name after the last '/'"),
              ("acme/cml-infra/dev", "has an organization part")]


@pytest.mark.parametrize(("stack", "says"), BAD_STACKS)
@pytest.mark.parametrize("args", [("up", "--dry-run", "--stack"),
                                  ("up", "--repo", "a/b", "--stack"), ("down",),
                                  ("down", "--base")], ids=" ".join)
def test_a_bad_stack_is_called_a_bad_stack_name(stack, says, args, cli):
    code, out, err = cli(*args, stack)
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: Stack name {stack!r} {says}") and err.count("\n") == 1, err


@pytest.mark.parametrize("stack", ["dev", "feature-x_1.2", "A" * 100])
def test_a_good_stack_name_plans(stack, cli):
    code, out, _ = cli("up", "--repo", "a/b", "--stack", stack, "--dry-run")
    assert code == 0 and f"  stack       {stack} (runner)" in out


@pytest.mark.parametrize("forge", ["github", "gitlab"])
def test_dry_run_takes_the_ci_repository_or_warns_without_one(forge, cli):
    variable, server = {"github": ("GITHUB_REPOSITORY", "GITHUB_SERVER_URL"),
                        "gitlab": ("CI_PROJECT_PATH", "CI_SERVER_URL")}[forge]
    code, out, err = cli("up", "--forge", forge, "--dry-run",
                         **{variable: "acme/models", server: "https://forge.example.com"})
    assert (code, err) == (0, "")
    assert "repository acme/models on https://forge.example.com;" in out
    for cloud in ("aws", "local"):
        code, out, err = cli("up", "--cloud", cloud, "--forge", forge, "--dry-run")
        assert code == 0 and out
        assert err == (f"Warning: no repository is known (no --repo, no {variable} from CI), so "
                       "this plan registers the runners with none; pass --repo OWNER/NAME to "
                       "plan the real up.\n")


SUMMARY = {
    "aws": ["  machines    2 x g6.xlarge (1 x l4), spot at most $0.9/hour, pool gpu",
            "  where       aws region eu-north-1, zone looked up at deploy time",
            "  base adds   8 cloud resources if the base stack is missing: InternetGateway, "
            "RouteTable, RouteTableAssociation, SecurityGroup, Subnet, Role, RolePolicy, Vpc"],
    "gcp": ["  machines    2 x g2-standard-4 (1 x l4), spot, pool gpu",
            "  where       gcp region europe-west4, zones europe-west4-a, europe-west4-b, "
            "europe-west4-c (the next one when one has no capacity)"],
    "azure": ["  machines    2 x Standard_NC4as_T4_v3 (1 x t4), spot at most $0.9/hour, pool gpu",
              "  where       azure region swedencentral, no zone (Azure places the machine in the "
              "region)"],
    "alicloud": ["  where       alicloud region ",
                 "  base adds   4 cloud resources if the base stack is missing: alicloud "
                 "provider, "],
}


@pytest.mark.parametrize("cloud", catalog.CLOUDS)
def test_plan_starts_with_a_summary(cloud):
    model = "t4" if cloud in ("azure", "alicloud") else "l4"
    price = None if cloud == "gcp" else 0.9
    region = {"alicloud": "ap-southeast", "gcp": "eu-west"}.get(cloud, "eu-north")
    spec = build_spec(name="gpu", cloud=cloud, gpu_model=model, spot=True, max_price=price,
                      count=2, region=region, repo="acme/models", max_runtime="3h")
    lines = render_tree(run_plan([spec], clock=lambda: NOW, stack="dev")).splitlines()
    assert lines[0].startswith("Plan: ") and lines[1] == (
        f"  stack       dev (runner), on base cml-infra-base-gpu-{cloud}-{spec.region}")
    summary = lines[1:7]
    assert all(line.startswith("  ") for line in summary) and not lines[7].startswith("  ")
    assert summary[3] == ("  expiry      each machine ends 3h after it starts, by "
                          "2026-01-01T15:00:00Z if started now; idle timeout 5m")
    assert summary[4] == (f"  runners     github, repository acme/models on https://github.com; "
                          f"labels cml-infra, {model}")
    for expected in SUMMARY[cloud]:
        assert any(line.startswith(expected) for line in summary), (expected, summary)


def _leaves(value):  # type: ignore[no-untyped-def]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


@pytest.mark.parametrize("cloud", catalog.CLOUDS)
def test_plan_prints_whole_numbers_as_integers_and_never_cuts_a_value(cloud):
    from infra.engine.plan import masked

    spec = build_spec(name="gpu", cloud=cloud, gpu=True, repo="acme/models",
                      extra_commands=["echo " + "x" * 200])
    plan = run_plan([spec], clock=lambda: NOW, stack="dev")
    tree = render_tree(plan)
    leaves = [leaf for r in plan.resources for leaf in _leaves(masked(r["inputs"]))]
    floats = [leaf for leaf in leaves if isinstance(leaf, float) and leaf.is_integer()]
    assert floats, "the mock runtime hands numbers back as floats"
    assert not re.search(r"(?<![\d.])\d+\.0(?![\d.])", tree), "a whole number as a float"
    assert "..." not in tree.replace("subnet-...", "")
    for text in [leaf for leaf in leaves if isinstance(leaf, str)]:
        assert all(line in tree for line in text.split("\n")), text[:80]


# ---- user-view review: one validation for every way in, integers, CI variables ----

@pytest.mark.parametrize(("forge", "repo", "message"), BAD_REPOS)
def test_gc_refuses_the_repos_up_refuses(forge, repo, message, cli):
    code, out, err = cli("gc", "--forge", forge, "--repo", repo, "--dry-run")
    assert (code, out, err) == (1, "", f"Error: {message}\n")


# Forge inputs the real up refuses: (arguments, environment, the sentence's start).
BAD_FORGE_INPUTS = [
    (("--api-url", "notaurl"), {}, "--api-url 'notaurl' is not a web address; set it to an "
                                   "http(s) address such as https://ghe.example.com/api/v3."),
    (("--api-url", "ftp://x"), {}, "--api-url 'ftp://x' is not a web address"),
    ((), {"GITHUB_API_URL": "notaurl"}, "GITHUB_API_URL 'notaurl' is not a web address"),
    (("--forge", "gitlab"), {"CI_API_V4_URL": "gitlab/api/v4"},
     "CI_API_V4_URL 'gitlab/api/v4' is not a web address"),
    (("--forge", "gitlab", "--gitlab-runner-sha256", "xyz"), {},
     "--gitlab-runner-sha256 'xyz' is not a SHA-256 checksum; give its 64 hexadecimal digits"),
    (("--forge", "gitlab", "--gitlab-runner-url", "ftp://x"), {},
     "--gitlab-runner-url 'ftp://x' is not a web address"),
    (("--forge-url", "http://github.com"), {},
     "--forge-url (forgeUrl) 'http://github.com' is not GitHub's address; github.com is served "
     "over https://, so write https://github.com."),
    (("--forge-url", "https://github.com/acme"), {},
     "--forge-url (forgeUrl) 'https://github.com/acme' is not a forge's web address"),
    (("--forge-url", "notaurl"), {}, "--forge-url (forgeUrl) 'notaurl' is not a web address"),
    (("--api-url", "https://me:ghp_secret@ghe.example.com/api/v3"), {},
     "--api-url holds credentials; drop them from the address and give the token through "
     "REPO_TOKEN or --token-file."),
    (("--forge", "gitlab", "--forge-url", "https://github.com"), {},
     "--forge-url (forgeUrl) 'https://github.com' is GitHub; add --forge github"),
]


@pytest.mark.parametrize(("args", "env", "start"), BAD_FORGE_INPUTS)
@pytest.mark.parametrize("mode", [("--dry-run",), (), ("--cloud", "local", "--dry-run")],
                         ids=["dry-run", "real", "local-dry-run"])
def test_dry_run_and_real_up_refuse_the_same_forge_inputs(args, env, start, mode, cli):
    code, out, err = cli("up", "--repo", "acme/models", *args, *mode, **env)
    assert (code, out) == (1, ""), err
    assert err.startswith(f"Error: {start}") and err.count("\n") == 1, err


@pytest.mark.parametrize("labels", ["", " ", "gpu,", "gpu,,l4"])
@pytest.mark.parametrize("mode", [("--dry-run",), ("--cloud", "local", "--dry-run")])
def test_an_empty_label_is_refused(labels, mode, cli):
    code, out, err = cli("up", "--labels", labels, *mode)
    assert (code, out) == (1, "")
    assert err.startswith("Error: A runner label is empty; give at least one label")


@pytest.mark.parametrize(("flag", "value"), [("--count", "2.0"), ("--gpu-count", "1.0"),
                                             ("--disk-size", "100.0"), ("--disk-size", "1e2"),
                                             ("--count", "two")])
def test_integer_flags_take_whole_numbers_only(flag, value, cli):
    code, out, err = cli("up", flag, value, "--dry-run")
    assert (code, out) == (2, "")
    assert err == (f"Error: Invalid value for '{flag}': {value!r} is not a whole number. Run "
                   "'cml-infra up --help' to see what it accepts.\n")


@pytest.mark.parametrize("cloud", catalog.CLOUDS)
def test_the_json_plan_prints_whole_numbers_as_integers(cloud, cli):
    code, out, _ = cli("up", "--cloud", cloud, "--gpu", "--repo", "acme/models", "--dry-run",
                       "--json")
    assert code == 0
    leaves = [leaf for r in json.loads(out)["resources"] for leaf in _leaves(r["inputs"])]
    assert any(isinstance(leaf, int) and not isinstance(leaf, bool) for leaf in leaves)
    assert not [leaf for leaf in leaves if isinstance(leaf, float) and leaf.is_integer()]
    assert not re.search(r"(?<![\d.\"])\d+\.0(?![\d.])", out)


@pytest.mark.parametrize("content", [b"\xff\xfe\x00\x01", b"\x7fELF\x02\x01\x01\x00\xff"])
def test_a_token_file_that_is_not_text_is_one_sentence(content, cli, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_bytes(content)
    code, out, err = cli("up", "--repo", "acme/models", "--token-file", str(token_file))
    assert (code, out) == (1, "")
    assert err == (f"Error: The token file {token_file} is not a text file; write the forge "
                   "token into it as text.\n")


# CI variables holding what up refuses: (forge, variable, value, the sentence's start).
BAD_CI_VARIABLES = [
    ("github", "GITHUB_REPOSITORY", "a/b/c/d", "GITHUB_REPOSITORY 'a/b/c/d' is not a GitHub "
                                               "repository; set it to OWNER/NAME or pass --repo."),
    ("github", "GITHUB_REPOSITORY", "../..", "GITHUB_REPOSITORY '../..' is not a GitHub"),
    ("gitlab", "CI_PROJECT_PATH", "group/../proj", "CI_PROJECT_PATH 'group/../proj' is not a "
                                                   "GitLab repository"),
    ("github", "GITHUB_SERVER_URL", "notaurl", "GITHUB_SERVER_URL 'notaurl' is not a web "
                                               "address"),
    ("github", "GITHUB_SERVER_URL", "http://github.com", "GITHUB_SERVER_URL 'http://github.com' "
                                                         "is not GitHub's address"),
    ("gitlab", "CI_SERVER_URL", "ftp://x", "CI_SERVER_URL 'ftp://x' is not a web address"),
]


@pytest.mark.parametrize(("forge", "name", "value", "start"), BAD_CI_VARIABLES)
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_bad_ci_variable_is_named(forge, name, value, start, dry_run, cli):
    repo = {"GITHUB_REPOSITORY": "acme/models", "CI_PROJECT_PATH": "group/proj"}
    env = {("GITHUB_REPOSITORY" if forge == "github" else "CI_PROJECT_PATH"):
           repo["GITHUB_REPOSITORY" if forge == "github" else "CI_PROJECT_PATH"], name: value}
    code, out, err = cli("up", "--forge", forge, *["--dry-run"] * dry_run, **env)
    assert (code, out) == (1, ""), err
    assert err.startswith(f"Error: {start}") and err.count("\n") == 1, err
