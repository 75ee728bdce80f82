"""Done when: `cml-infra up --cloud local ...`, run as a user runs it, registers this machine
against the fake forge, takes it down after the idle timeout and leaves nothing registered.

The CLI runs as a subprocess with the sandbox's stubs first on PATH (`shutdown`, `poweroff`,
`useradd`, `runuser`, ... record their calls) and the runner package served on 127.0.0.1.
Short timeouts and a throwaway install directory come through `CML_INFRA_LOCAL_TUNING`
(`key=value,...`; see infra/local/run.py), a test-only variable that is not in --help.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fakes.fixtures import GITHUB_PAT, GITLAB_TOKEN
from tests.fakes.http import Response
from tests.sandbox import stubs
from tests.sandbox.runner import PACKAGE_PATH, Sandbox

NO_CI = ("GITHUB_ACTIONS", "GITHUB_REPOSITORY", "GITHUB_TOKEN", "GITHUB_API_URL",
         "GITHUB_SERVER_URL", "GITHUB_EVENT_PATH", "GITHUB_SHA", "REPO_TOKEN", "GITLAB_CI",
         "CI_PROJECT_ID", "CI_PROJECT_PATH", "CI_JOB_TOKEN", "CI_API_V4_URL", "CI_SERVER_URL",
         "GITLAB_TOKEN", "CI_MERGE_REQUEST_IID")
HOST_ENDING = ("shutdown", "poweroff")


@pytest.fixture
def sandbox(tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Stubs and a runner package that never gets a job (WAITS=never)."""
    sb = Sandbox(tmp_path, forge=request.param, cloud="local", waits="never")
    yield sb
    sb.forge_server.stop()
    sb.cloud_server.stop()


def _env(sb: Sandbox, **forge_env: str) -> dict[str, str]:
    tuning = (f"install_dir={sb.root / 'install'},poll_interval_s=1,network_timeout_s=2,"
              "download_attempts=2,retry_backoff_s=0,stop_grace_s=2,gpu_wait_s=2")
    return {**{name: "" for name in NO_CI}, "PATH": f"{sb.root / 'bin'}:{os.environ['PATH']}",
            "CML_INFRA_LOCAL_TUNING": tuning, "CML_INFRA_RETRY_BACKOFF": "0.001", **forge_env}


def _github(fake, sb: Sandbox, sha256: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The fake GitHub lists the sandbox's runner package for linux/x64."""
    fake.add_repo("acme/models")
    item = next(i for i in fake.runner_downloads
                if (i["os"], i["architecture"]) == ("linux", "x64"))
    item["download_url"] = sb.forge_server.url + PACKAGE_PATH["github"]
    item["sha256_checksum"] = sha256 or stubs.sha256(sb.package)
    return _env(sb, GITHUB_API_URL=fake.api_url, GITHUB_SERVER_URL=fake.server.url,
                GITHUB_TOKEN=GITHUB_PAT)


def _up(*args: str, env: dict[str, str]):  # type: ignore[no-untyped-def]
    return run_cli("up", "--cloud", "local", "--idle-timeout", "3s", "--max-runtime", "1m",
                   "--labels", "gpu-box", *args, env=env, timeout=60)


@pytest.mark.parametrize("sandbox", ["github"], indirect=True)
def test_github_registers_this_machine_then_unregisters_after_the_idle_timeout(
        fake_github, sandbox: Sandbox) -> None:
    seen = sandbox.root / "seen-env"
    env = {**_github(fake_github, sandbox), "REPO_TOKEN": GITHUB_PAT, "GITLAB_TOKEN": "glpat-x",
           "AWS_SECRET_ACCESS_KEY": "aws-secret-x"}
    result = _up("--forge", "github", "--repo", "acme/models",
                 "--extra-command", f"env > {seen}", env=env)
    assert result.returncode == 0, result.stderr
    script_env = seen.read_text()
    assert GITHUB_PAT not in script_env and "TOKEN=" not in script_env
    assert "aws-secret-x" not in script_env
    assert f"PATH={sandbox.root / 'bin'}:" in script_env
    [mint] = fake_github.server.hits("POST", "/api/v3/repos/acme/models/actions/runners/"
                                             "generate-jitconfig")
    assert mint.json()["labels"] == ["self-hosted", "linux", "x64", "gpu-box"]
    calls = sandbox.read_calls()
    assert [c for c in calls if c[0] == "run.sh"] == [["run.sh", ""]], "no --jitconfig on argv"
    [got] = [c for c in calls if c[0] == "jitconfig-from"]
    assert got[1] == "env" and len(got[2]) == 16, "ACTIONS_RUNNER_INPUT_JITCONFIG"
    assert "job-start" not in [c[0] for c in sandbox.read_calls()]
    deletes = fake_github.server.hits("DELETE", "/api/v3/repos/acme/models/actions/runners/")
    assert len(deletes) == 1 and fake_github.repos["acme/models"].runners == {}
    assert not [c for c in sandbox.read_calls() if c[0] in HOST_ENDING]
    log = (sandbox.root / "install" / "state" / "startup.log").read_text()
    assert "idle timeout: no job for 3s" in log and "this machine stays up" in log
    assert "Minted 1 just-in-time runner configuration(s)" in result.stdout
    assert "has stopped and is unregistered" in result.stdout
    assert fake_github.rejections == []
    assert GITHUB_PAT not in result.stdout + result.stderr


def _gitlab_up(fake, sb: Sandbox):  # type: ignore[no-untyped-def]
    """`up` on the fake GitLab, which also serves the binary and its release.sha256."""
    fake.add_project("acme/models")
    binary = "/v17.0.0/binaries/gitlab-runner-linux-amd64"
    listing = f"{stubs.sha256(sb.package)} *binaries/gitlab-runner-linux-amd64\n"
    fake.server.router.add("GET", binary, lambda r: Response(200, sb.package))
    fake.server.router.add("GET", "/v17.0.0/release.sha256",
                           lambda r: Response(200, listing.encode()))
    env = _env(sb, CI_API_V4_URL=fake.api_url, CI_SERVER_URL=fake.server.url,
               GITLAB_TOKEN=GITLAB_TOKEN)
    return _up("--forge", "gitlab", "--repo", "acme/models", "--gpu-model", "a100",
               "--gitlab-runner-url", fake.server.url + binary, env=env)


@pytest.mark.parametrize("sandbox", ["gitlab"], indirect=True)
def test_gitlab_creates_a_runner_then_deletes_it_after_the_idle_timeout(
        fake_gitlab, sandbox: Sandbox) -> None:
    (sandbox.root / "gpu").write_text("GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-1)\n")
    result = _gitlab_up(fake_gitlab, sandbox)
    assert result.returncode == 0, result.stderr
    [create] = fake_gitlab.server.hits("POST", "/api/v4/user/runners")
    body = create.json()
    assert body["tag_list"] == ["gpu-box", "a100"] and body["maximum_timeout"] == 600
    calls = sandbox.read_calls()
    register = next(c for c in calls if c[:2] == ["gitlab-runner", "register"])
    assert not [arg for arg in register if arg.startswith("glrt-")]  # never on the argv
    [token] = [c[1] for c in calls if c[0] == "register-env"]
    assert token.startswith("glrt-")
    # Root: `run` as root, jobs as cml-runner; a normal user: run-single, jobs as oneself.
    runner = "run" if os.geteuid() == 0 else "run-single"
    assert [c[1] for c in calls if c[0] == "gitlab-runner"] == ["register", runner]
    assert ("DELETE", "/api/v4/runners", 204) in fake_gitlab.server.log
    assert fake_gitlab.runners == {}
    assert not [c for c in sandbox.read_calls() if c[0] in HOST_ENDING]
    assert GITLAB_TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize("sandbox", ["github"], indirect=True)
def test_no_token_is_one_sentence_and_mints_nothing(fake_github, sandbox: Sandbox) -> None:
    env = {**_github(fake_github, sandbox), "GITHUB_TOKEN": ""}
    result = _up("--forge", "github", "--repo", "acme/models", env=env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "token" in result.stderr.lower() and "Traceback" not in result.stderr
    assert fake_github.server.hits("POST", "/api/v3") == []
    assert sandbox.read_calls() == []


@pytest.mark.parametrize("sandbox", ["github"], indirect=True)
def test_checksum_mismatch_deletes_the_registration_and_fails(fake_github,
                                                                sandbox: Sandbox) -> None:
    env = _github(fake_github, sandbox, sha256="0" * 64)
    result = _up("--forge", "github", "--repo", "acme/models", env=env)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: The runner on this machine ended with exit status 1 "
                            "(the runner could not be installed); read ")
    assert len(fake_github.server.hits("POST", "/api/v3/repos/acme/models/actions/runners/"
                                               "generate-jitconfig")) == 1
    assert fake_github.repos["acme/models"].runners == {}
    names = [c[0] for c in sandbox.read_calls()]
    assert "run.sh" not in names and not set(names) & set(HOST_ENDING)
    assert fake_github.rejections == []


@pytest.mark.parametrize("sandbox", ["gitlab"], indirect=True)
def test_gpu_missing_never_registers_and_leaves_no_runner(fake_gitlab, sandbox: Sandbox) -> None:
    result = _gitlab_up(fake_gitlab, sandbox)  # no `gpu` file: nvidia-smi fails
    assert result.returncode == 1
    assert "ended with exit status 1 (the GPU check failed)" in result.stderr.splitlines()[-1]
    assert len(fake_gitlab.server.hits("POST", "/api/v4/user/runners")) == 1
    assert fake_gitlab.runners == {}
    assert not [c for c in sandbox.read_calls() if c[0] == "gitlab-runner"]


@pytest.mark.parametrize("sandbox", ["github"], indirect=True)
def test_token_flag_is_refused_before_anything(fake_github, sandbox: Sandbox) -> None:
    result = _up("--forge", "github", "--repo", "acme/models", "--token", GITHUB_PAT,
                 env=_github(fake_github, sandbox))
    assert result.returncode == 1
    assert result.stderr == (
        "Error: --cloud local does not take --token, which would stay readable in this "
        "process's command line; set REPO_TOKEN, GITHUB_TOKEN or GITLAB_TOKEN instead.\n")
    assert fake_github.server.log == [] and sandbox.read_calls() == []
