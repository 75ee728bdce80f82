"""`--cloud local` (infra.local.run): this machine registers against the fake forge, takes jobs
and, after the idle timeout, stops and unregisters; the host is never powered off."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from infra.errors import SpecError
from infra.local.run import check_local, run_local
from tests.sandbox.runner import GLRT, Sandbox


def test_local_runner_registers_then_unregisters_after_idle_timeout(tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, forge="gitlab", cloud="local", waits="0")
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    assert run_local(sb.config(idle_mode=True, max_runtime_s=4321), env=env) == 0
    sb.forge_server.stop()
    calls = sb.read_calls()
    register = next(c for c in calls if c[:2] == ["gitlab-runner", "register"])
    assert GLRT not in register and ["register-env", GLRT] in calls
    assert [c[0] for c in calls].count("job-done") == 1
    assert [r.body for r in sb.forge_server.hits("DELETE", "/api/v4/runners")] == [
        f"token={GLRT}".encode()]
    assert ("DELETE", "/api/v4/runners", 204) in sb.forge_server.log
    assert not [c for c in calls if c[0] in ("shutdown", "poweroff", "iptables")]
    # As root: `gitlab-runner run` as root, the job as the job user, ended by the script.
    run = next(c for c in calls if c[:2] == ["gitlab-runner", "run"])
    assert run[run.index("--user") + 1] == "cml-runner"
    assert ["job-as", "cml-runner"] in calls and ["job-env-token", "0"] in calls
    log = (tmp_path / "install" / "state" / "startup.log").read_text()
    assert "stop requested: idle timeout: no job for 3s" in log
    assert log.index("the runner exited") < log.index("deleted the GitLab runner")
    assert "this machine stays up" in log
    assert not _processes(["sleep", "4321"]), "the disarmed dead-man switch left its sleep"


def _processes(argv: list[str]) -> list[Path]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().split(b"\0")[:-1] == [a.encode() for a in argv]:
                found.append(cmdline)
        except OSError:
            continue
    return found


def test_local_refuses_a_cloud_script() -> None:
    with pytest.raises(SpecError, match="cloud local"):
        check_local(replace(_config(), cloud="aws"), 0, "root")


def test_local_without_root_needs_the_own_user_as_job_user() -> None:
    with pytest.raises(SpecError, match="Run as root"):
        check_local(_config(), 1000, "alice")
    check_local(replace(_config(), job_user="alice"), 1000, "alice")


def _config():  # type: ignore[no-untyped-def]
    from infra.startup import StartupConfig

    return StartupConfig(forge="gitlab", cloud="local", runner_name="box",
                         forge_url="https://gitlab.example.com", registration=GLRT,
                         runner_package_url="https://example.com/gitlab-runner",
                         runner_package_sha256="c" * 64)
