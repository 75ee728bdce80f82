"""`--cloud local` in process: its spec rules, the dry-run, the test-only tuning variable, the
gitlab-runner checksum lookup, and the cleanup of what `up_local` minted when a step fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.errors import ForgeError, LocalRunError, SpecError
from infra.forges.local import Registration
from infra.forges.runners import gitlab_runner_sha256
from infra.local.run import LocalForge, dry_run_script, local_config, up_local
from infra.spec import build_spec, pools_from_config
from tests.conftest import run_cli
from tests.fakes.fixtures import GITHUB_PAT
from tests.fakes.http import Fault


def test_local_spec_describes_this_machine() -> None:
    spec = build_spec(cloud="local", gpu_model="RTX4090", gpu_count=2, repo="acme/models",
                      labels="big,gpu", idle_timeout="3s", max_runtime="1m", idle_mode=True)
    assert (spec.cloud, spec.count, spec.idle_mode) == ("local", 1, True)
    assert (spec.machine.gpu_model, spec.machine.gpu_count) == ("rtx4090", 2)
    assert build_spec(cloud="local", gpu=True).machine.gpu_model == "gpu"
    assert build_spec(cloud="local").machine.gpu_count == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(spot=True, region="eu-west", size="m", image="ami-1", disk_size=50),
     "--cloud local runs on this machine, so drop the cloud machine settings: --region, "
     "--type, --spot, --disk-size, --image."),
    (dict(zone="a", max_price=1.0, identity="role"),
     "--cloud local runs on this machine, so drop the cloud machine settings: --zone, "
     "--max-price, --identity."),
    (dict(count=3), "--cloud local registers this one machine, so the count must be 1, not 3; "
                    "run it on each machine instead."),
    (dict(gpu_model="a b"), "GPU model 'a b' is not valid; name it with letters, digits, dots, "
                            "hyphens and underscores, such as a100 or rtx4090."),
    (dict(idle_timeout="5m", max_runtime="5m"), "The maximum runtime (5m) must be longer than "
     "the idle timeout (5m); raise the maximum runtime or lower the idle timeout."),
])
def test_local_refuses_what_makes_no_sense_here(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError) as info:
        build_spec(cloud="local", **kwargs)
    assert str(info.value) == message


def test_local_refuses_a_stack_name() -> None:
    result = run_cli("up", "--cloud", "local", "--stack", "dev", "--dry-run")
    assert (result.returncode, result.stderr) == (
        1, "Error: --cloud local keeps no Pulumi stack; drop --stack.\n")


def test_a_stack_cannot_hold_a_local_pool() -> None:
    with pytest.raises(SpecError, match="run cml-infra up --cloud local on the machine"):
        pools_from_config([{"name": "box", "cloud": "local"}], {})


def test_dry_run_script_shows_placeholders_and_no_secret(monkeypatch, golden) -> None:
    monkeypatch.setattr("infra.local.run.os.geteuid", lambda: 0)
    spec = build_spec(cloud="local", repo="acme/models", gpu_model="a100", labels="gpu-box")
    script = dry_run_script(spec)
    golden("local/github-dry-run.sh", script)
    assert "CML_REGISTRATION='<single-use registration, minted by up>'" in script
    assert "CML_JOB_USER=cml-runner" in script and "CML_INSTALL_DIR=/opt/cml-infra" in script
    binary = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    shellcheck = subprocess.run([binary, "-"], input=script, text=True,
                                capture_output=True)
    assert shellcheck.returncode == 0, shellcheck.stdout


def test_dry_run_json_is_a_plan_with_one_pseudo_resource() -> None:
    result = run_cli("up", "--cloud", "local", "--forge", "gitlab", "--repo", "g/p",
                     "--gitlab-runner-sha256", "a" * 64, "--idle-mode", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    [resource] = json.loads(result.stdout)["resources"]
    assert (resource["type"], resource["name"]) == ("cml-infra:local:Runner", "cml-runner")
    assert resource["inputs"]["idleMode"] is True
    assert f"CML_PACKAGE_SHA256={'a' * 64}" in resource["inputs"]["script"]
    assert "gitlab-runner-linux-amd64" in resource["inputs"]["script"]


def test_help_explains_idle_mode_and_hides_test_knobs() -> None:
    result = run_cli("up", "--help", env={"COLUMNS": "200"})
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--idle-mode" in text and "use it only when every job" in text
    assert "--cloud local registers this machine" in text
    assert "TUNING" not in text and "install_dir" not in text


def test_tuning_variable_shortens_timeouts_and_refuses_unknown_keys() -> None:
    spec = build_spec(cloud="local", repo="acme/models")
    minted = Registration("ZmFrZS1qaXQ=", "https://example.com/p.tgz", "b" * 64)
    config = local_config(spec, "https://github.com", minted, name="box", tuning={
        "CML_INFRA_LOCAL_TUNING": "install_dir=/tmp/x,poll_interval_s=1"})
    assert (config.install_dir, config.poll_interval_s, config.cloud) == ("/tmp/x", 1, "local")
    with pytest.raises(SpecError, match="CML_INFRA_LOCAL_TUNING has registration=x"):
        local_config(spec, "https://github.com", minted, name="box",
                     tuning={"CML_INFRA_LOCAL_TUNING": "registration=x"})


def test_gitlab_runner_checksum_comes_from_release_sha256() -> None:
    listing = f"{'c' * 64}  binaries/gitlab-runner-linux-arm64\n{'d' * 64} *binaries/x-amd64\n"
    fetched: list[str] = []

    def fetch(url: str) -> str:
        fetched.append(url)
        return listing

    assert gitlab_runner_sha256("https://dl.example/v1/binaries/x-amd64", fetch) == "d" * 64
    assert fetched == ["https://dl.example/v1/release.sha256"]
    with pytest.raises(ForgeError, match=r"no published checksum for .*/binaries/y; give"):
        gitlab_runner_sha256("https://dl.example/v1/binaries/y", fetch)
    with pytest.raises(ForgeError, match="--gitlab-runner-sha256"):
        gitlab_runner_sha256("https://dl.example/gitlab-runner", fetch)


def _github_forge(fake) -> LocalForge:  # type: ignore[no-untyped-def]
    from github import Auth, Github

    fake.add_repo("acme/models")
    client = Github(base_url=fake.api_url, auth=Auth.Token(GITHUB_PAT), retry=None)
    return LocalForge(client, "acme/models", fake.server.url, fake.api_url)


@pytest.mark.parametrize("outcome", ["raises", "fails"])
def test_a_failed_run_leaves_nothing_registered(fake_github, outcome: str) -> None:
    def run(config) -> int:  # type: ignore[no-untyped-def]
        assert fake_github.repos["acme/models"].runners, "registered before the run"
        if outcome == "raises":
            raise KeyboardInterrupt
        return 1

    spec = build_spec(cloud="local", repo="acme/models")
    lines: list[str] = []
    error = KeyboardInterrupt if outcome == "raises" else LocalRunError
    with pytest.raises(error):
        up_local(spec, _github_forge(fake_github), lines.append, fetch=str, env={}, run=run)
    assert fake_github.repos["acme/models"].runners == {}
    assert any("Removed the runner registration" in line for line in lines)


def test_idle_mode_failing_to_mint_deletes_the_configurations_already_minted(
        fake_github) -> None:
    forge = _github_forge(fake_github)
    fake_github.server.faults.add(Fault(method="POST", path_contains="generate-jitconfig"))
    fake_github.server.faults.add(Fault(status=403, body={"message": "Forbidden"},
                                        method="POST", path_contains="generate-jitconfig"))
    spec = build_spec(cloud="local", repo="acme/models", idle_mode=True)
    with pytest.raises(ForgeError, match="GitHub refused to create the runner"):
        up_local(spec, forge, print, fetch=str, env={}, run=lambda config: 0)
    assert len(fake_github.server.hits("POST", "/api/v3/repos/acme/models/actions/runners/"
                                               "generate-jitconfig")) == 2
    assert fake_github.repos["acme/models"].runners == {}


@pytest.mark.parametrize("forge", ["github", "gitlab"])
@pytest.mark.parametrize("idle_mode", [False, True])
def test_local_runs_and_shows_the_script_as_the_templates_write_it(forge, idle_mode) -> None:
    """Comments and indentation kept (the clouds' copies drop them for the user-data limit);
    the same commands as the cloud form, line for line."""
    from infra.local.run import readable_script, strip_comments
    from infra.startup import render_startup_script

    spec = build_spec(cloud="local", forge=forge, repo="acme/models", idle_mode=idle_mode)
    minted = Registration("ZmFrZS1qaXQ=" if forge == "github" else "glrt-abcdefgh",
                          "https://example.com/p.tgz", "b" * 64)
    config = local_config(spec, spec.forge_url, minted, name="box")
    readable, compact = readable_script(config), render_startup_script(config)
    assert strip_comments(readable) == strip_comments(compact) and len(readable) > len(compact)
    assert "\n# ---- prelude: " in readable and "\n  local line\n" in readable
    assert readable.startswith(compact.split("\nset -euo pipefail")[0])
    shown = dry_run_script(spec, "https://example.com/gitlab-runner")
    assert "\n# ---- prelude: " in shown and "\n  local line\n" in shown
