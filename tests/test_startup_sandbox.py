"""The rendered startup scripts, run for real in the sandbox (tests/sandbox/): one scenario
per kill switch and per failure. All scenarios start together in one module fixture, so the
file takes about as long as its slowest scenario; each test then checks one outcome."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from infra.catalog.alicloud import DRIVER_COMMANDS
from tests.fakes.http import Fault
from tests.sandbox import ecs
from tests.sandbox.runner import GLRT, PACKAGE_PATH, Outcome, Sandbox
from tests.sandbox.servers import AZURE_VM

T4 = "GPU 0: Tesla T4 (UUID: GPU-0000)\n"
Scenario = Callable[[Path], Outcome]
# Alibaba's driver install before it also installed the utilities (nvidia-smi).
HEADLESS_ONLY = ("command -v nvidia-smi >/dev/null || (apt-get update -q && "
                 "DEBIAN_FRONTEND=noninteractive ubuntu-drivers install --gpgpu)")
# The sandbox's teardown budget past the deadline (infra/startup/templates/guards.sh):
# 2 x stop_grace_s 2 + unregister 35 + end_machine_retry_s 2 + last attempt, fallback, margin 300.
SANDBOX_TEARDOWN_S = 2 * 2 + 35 + 2 + 300


def single_job(root: Path) -> Outcome:
    sb = Sandbox(root, gpu=T4, watch_argv=True)
    return sb.run(sb.config(gpu_model="t4", gpu_count=1))


def gitlab_single_job(root: Path) -> Outcome:
    """Two jobs are waiting: a single-job machine must take only the first."""
    sb = Sandbox(root, forge="gitlab", cloud="gcp", waits="0 0", watch_argv=True)
    return sb.run(sb.config())


def github_idle(root: Path) -> Outcome:
    sb = Sandbox(root, cloud="azure", waits="0 never", watch_argv=True)
    return sb.run(sb.config(idle_mode=True, registration=f"{sb.jit} {sb.jit}x {sb.jit}y"))


def gitlab_idle_shell(root: Path) -> Outcome:
    sb = Sandbox(root, forge="gitlab", cloud="aws", waits="0 0")
    return sb.run(sb.config(idle_mode=True))


def gitlab_idle_docker(root: Path) -> Outcome:
    sb = Sandbox(root, forge="gitlab", cloud="alicloud", waits="0 0")
    return sb.run(sb.config(idle_mode=True, docker=True))


def max_runtime(root: Path) -> Outcome:
    sb = Sandbox(root, job_s=60, ignore_term=True)
    return sb.run(sb.config(max_runtime_s=8))


def spot(cloud: str) -> Scenario:
    def scenario(root: Path) -> Outcome:
        sb = Sandbox(root, cloud=cloud, job_s=60)
        proc = sb.start(sb.config())
        assert sb.wait_for_call("job-start")
        sb.state.spot = True
        return sb.finish(proc)

    return scenario


def gpu_missing(root: Path) -> Outcome:
    sb = Sandbox(root)
    return sb.run(sb.config(gpu_model="t4", gpu_count=1, gpu_wait_s=2))


def gpu_late(root: Path) -> Outcome:
    """The driver appears after boot (GCP metadata flag, Azure extension): the check waits."""
    sb = Sandbox(root, cloud="gcp")
    proc = sb.start(sb.config(gpu_model="t4", gpu_count=1, gpu_wait_s=20))
    # A second look means the first one failed and the wait was logged: only then does the
    # driver arrive (writing it after the first call could beat that call's own check).
    deadline = time.monotonic() + 20
    while sum(c[0] == "nvidia-smi" for c in sb.read_calls()) < 2:
        assert time.monotonic() < deadline, "the script never looked for the GPU twice"
        time.sleep(0.05)
    (root / "gpu").write_text(T4)
    return sb.finish(proc)


def driver_by_extra_command(root: Path) -> Outcome:
    """Alibaba installs the driver with extra commands: they must run before the GPU check."""
    sb = Sandbox(root, cloud="alicloud")
    install = f"printf 'GPU 0: Tesla T4 (UUID: GPU-0000)\\n' >'{root}/gpu'"
    return sb.run(sb.config(gpu_model="t4", gpu_count=1, gpu_wait_s=1,
                            extra_commands=(install,)))


def alicloud_driver(command: str) -> Scenario:
    """Alibaba's GPU image has no driver: the extra command installs it with ubuntu-drivers,
    whose --gpgpu install leaves out nvidia-smi (tests/sandbox/stubs.py)."""
    def scenario(root: Path) -> Outcome:
        sb = Sandbox(root, cloud="alicloud", gpu=T4, driver_flavour="535-server")
        return sb.run(sb.config(gpu_model="t4", gpu_count=1, gpu_wait_s=2,
                                extra_commands=(command,)))

    return scenario


def later_boot(cloud: str, deadline_in_s: int, started: bool = True) -> Scenario:
    """A reboot: the unit runs the kept script with `rearm` and the first boot's deadline;
    `started`: the runner had been started before the reboot."""
    def scenario(root: Path) -> Outcome:
        sb = Sandbox(root, cloud=cloud)
        state = root / "install" / "state"
        state.mkdir(parents=True)
        (state / "deadline").write_text(str(int(time.time()) + deadline_in_s))
        if started:
            (state / "runner-started").touch()
        proc = sb.start(sb.config(), "rearm")
        if deadline_in_s > 0 and started:  # the re-armed dead-man waits: look once it is armed
            assert sb.wait_for_call("shutdown")
            return sb.finish(proc, timeout=2)
        return sb.finish(proc)

    return scenario


def checksum_mismatch(root: Path) -> Outcome:
    sb = Sandbox(root)
    return sb.run(sb.config(runner_package_sha256="0" * 64))


def download_retried(root: Path) -> Outcome:
    sb = Sandbox(root)
    sb.forge_server.faults.add(Fault(status=503, path_contains=PACKAGE_PATH["github"], times=2))
    return sb.run(sb.config(retry_backoff_s=1))


def forge_unreachable(root: Path) -> Outcome:
    sb = Sandbox(root)
    closed = "http://127.0.0.1:9"  # discard port: nothing listens there
    return sb.run(sb.config(forge_url=closed, runner_package_url=closed + "/runner.tar.gz"))


def teardown_fails(root: Path) -> Outcome:
    sb = Sandbox(root, cloud="gcp", job_s=0)
    sb.state.delete_status = 500
    return sb.run(sb.config(max_runtime_s=10))


def delete_retried(root: Path) -> Outcome:
    """The VM's new role is not in effect yet: the first three deletes are refused (the
    script used to give up after three)."""
    sb = Sandbox(root, cloud="gcp")
    sb.cloud_server.faults.add(Fault(status=403, method="DELETE", times=3))
    return sb.run(sb.config(retry_backoff_s=1, end_machine_retry_s=20))


def azure_deallocates(root: Path) -> Outcome:
    sb = Sandbox(root, cloud="azure")
    sb.state.delete_status = 403
    return sb.run(sb.config())


def azure_powers_off(root: Path) -> Outcome:
    """Neither delete nor deallocate is allowed, and the graceful shutdown fails too."""
    sb = Sandbox(root, cloud="azure", job_s=0)
    sb.state.delete_status = sb.state.deallocate_status = 403
    sb.set_rc("shutdown", 1)
    return sb.run(sb.config(max_runtime_s=10))


def backstop_budget(root: Path) -> Outcome:
    """The default 15-minute self-delete budget and a 5 s grace: only the backstop uses them."""
    sb = Sandbox(root)
    return sb.run(sb.config(max_runtime_s=600, stop_grace_s=5, end_machine_retry_s=900))


def alicloud_releases(root: Path) -> Outcome:
    sb = Sandbox(root, cloud="alicloud", watch_argv=True)
    return sb.run(sb.config())


def alicloud_stops(root: Path) -> Outcome:
    """The role's policy lacks DeleteInstance: the instance stops without charges instead."""
    sb = Sandbox(root, cloud="alicloud", watch_argv=True)
    sb.state.ecs.delete_code = "Forbidden.RAM"
    return sb.run(sb.config())


def alicloud_bad_signature(root: Path) -> Outcome:
    """Metadata hands out another secret than the API checks: every call is refused, and
    Alibaba's SignatureDoesNotMatch message quotes the string to sign, token included."""
    sb = Sandbox(root, cloud="alicloud", job_s=0, watch_argv=True)
    sb.state.ecs.handed_secret = "not" + sb.state.ecs.secret
    return sb.run(sb.config(max_runtime_s=10))


def local_planted_link(root: Path) -> Outcome:
    """A reused `local` machine: an earlier job left `.env` pointing at a file of root's."""
    sb = Sandbox(root, cloud="local")
    runner_dir = root / "install" / "actions-runner"
    runner_dir.mkdir(parents=True)
    (runner_dir / ".env").symlink_to(root / "victim")
    return sb.run(sb.config())


def machine_identity(root: Path) -> Outcome:
    sb = Sandbox(root)
    return sb.run(sb.config(job_metadata_access=True))


def local_github(root: Path) -> Outcome:
    sb = Sandbox(root, cloud="local", watch_argv=True)
    return sb.run(sb.config())


def local_github_as_user(root: Path) -> Outcome:
    """`--cloud local` run by a normal user: jobs run as that user."""
    sb = Sandbox(root, cloud="local", as_user="alice", watch_argv=True)
    return sb.run(sb.config())


def local_gitlab_as_user(root: Path) -> Outcome:
    sb = Sandbox(root, forge="gitlab", cloud="local", as_user="alice", waits="0 0")
    return sb.run(sb.config())


SCENARIOS: dict[str, Scenario] = {
    "single_job": single_job, "gitlab_single_job": gitlab_single_job,
    "github_idle": github_idle, "gitlab_idle_docker": gitlab_idle_docker,
    "gitlab_idle_shell": gitlab_idle_shell,
    "max_runtime": max_runtime, "gpu_missing": gpu_missing, "gpu_late": gpu_late,
    "driver_by_extra_command": driver_by_extra_command,
    "alicloud_driver": alicloud_driver(DRIVER_COMMANDS[0]),
    "alicloud_driver_headless_only": alicloud_driver(HEADLESS_ONLY),
    "reboot_past_deadline": later_boot("azure", -10),
    "reboot_before_deadline": later_boot("aws", 600),
    "reboot_before_the_runner": later_boot("azure", 30, started=False),
    "checksum_mismatch": checksum_mismatch, "download_retried": download_retried,
    "forge_unreachable": forge_unreachable, "teardown_fails": teardown_fails,
    "delete_retried": delete_retried, "azure_deallocates": azure_deallocates,
    "azure_powers_off": azure_powers_off, "backstop_budget": backstop_budget,
    "alicloud_releases": alicloud_releases, "alicloud_stops": alicloud_stops,
    "alicloud_bad_signature": alicloud_bad_signature,
    "local_github": local_github, "machine_identity": machine_identity,
    "local_github_as_user": local_github_as_user, "local_gitlab_as_user": local_gitlab_as_user,
    "local_planted_link": local_planted_link,
    **{f"spot_{cloud}": spot(cloud) for cloud in ("aws", "gcp", "azure", "alicloud")},
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    with ThreadPoolExecutor(max_workers=len(SCENARIOS)) as pool:
        futures = {name: pool.submit(run, tmp_path_factory.mktemp(name))
                   for name, run in SCENARIOS.items()}
        return {name: future.result() for name, future in futures.items()}


def _before(out: Outcome, first: str, then: str) -> bool:
    names = out.names()
    return first in names and then in names and names.index(first) < names.index(then)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _job_user_can_read(out: Outcome, path: Path, job_user: str = "cml-runner") -> bool:
    """Whether the job user could read `path`, from the modes on disk and the ownership the
    script handed out (the sandbox's chown only records: every file is the test user's)."""
    install = out.root / "install"
    given = [Path(c[-1]) for c in out.called("chown") if c[:2] == ["-R", f"{job_user}:"]]
    same_user = (out.root / "as-user").exists()  # runner and jobs share one user

    def owned(p: Path) -> bool:
        return same_user or any(p == g or g in p.parents for g in given)

    folders = [install, *(d for d in reversed(path.parents) if install in d.parents)]
    if not all(_mode(d) & (0o100 if owned(d) else 0o001) for d in folders):
        return False
    return bool(_mode(path) & (0o400 if owned(path) else 0o004))


def _files_with_the_token(out: Outcome) -> list[Path]:
    return [p for p in (out.root / "install").rglob("*")
            if p.is_file() and GLRT.encode() in p.read_bytes()]


def test_single_job_runs_as_job_user_then_shuts_down(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["single_job"]
    assert out.returncode == 0, out.log
    assert out.called("run.sh") == [[""]]
    assert out.called("jitconfig-from") == [["env", _digest(out.registration)]]
    assert not out.called("config.sh")
    assert out.called("runuser")[0][:3] == ["-u", "cml-runner", "--"]
    assert _before(out, "iptables", "run.sh") and _before(out, "useradd", "run.sh")
    assert out.called("nvidia-smi") == [["-L"]]
    assert out.calls.index(["job-done", ""]) < out.calls.index(["shutdown", "-h", "now"])
    assert "teardown: the runner finished" in out.log


def test_setup_actions_can_install_into_the_tool_cache(outcomes: dict[str, Outcome]) -> None:
    """actions/setup-python installs into AGENT_TOOLSDIRECTORY, which the job user must be
    able to write; a cloud machine hands it over before the runner starts, a local runner
    leaves the machine's own alone."""
    out = outcomes["single_job"]
    cache = out.root / "hostedtoolcache"
    assert cache.is_dir()
    chowns = out.called("chown")
    assert ["-R", "cml-runner:", str(cache)] in chowns
    assert out.calls.index(["chown", "-R", "cml-runner:", str(cache)]) < out.names().index(
        "run.sh")
    env = (out.root / "install" / "actions-runner" / ".env").read_text().splitlines()
    assert f"AGENT_TOOLSDIRECTORY={cache}" in env
    local = outcomes["local_github"]
    assert not (local.root / "hostedtoolcache").exists()
    assert not any(line.startswith("AGENT_TOOLSDIRECTORY=") for line in (
        local.root / "install" / "actions-runner" / ".env").read_text().splitlines())


def test_dead_man_is_armed_before_anything_else(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["single_job"]
    # 30 s runtime + the teardown budget, in whole minutes, plus one.
    assert SANDBOX_TEARDOWN_S == 341
    assert out.called("shutdown")[0] == ["-h", "+8"], "ceil((30 + 341) / 60) + 1"
    assert out.log.index("dead-man switch armed") < out.log.index("network up")


def test_the_os_backstop_waits_for_the_whole_teardown(outcomes: dict[str, Outcome]) -> None:
    """600 s runtime, 5 s grace, 900 s of self-delete retries: the OS halts no earlier than
    the deadline plus everything the dead-man's teardown may take."""
    out = outcomes["backstop_budget"]
    assert out.returncode == 0, out.log
    teardown_s = 2 * 5 + 35 + 900 + 300
    assert out.called("shutdown")[0] == ["-h", "+32"], "ceil((600 + 1245) / 60) + 1"
    assert 600 + teardown_s + 60 <= 32 * 60, "a minute after deadline + teardown"


def test_first_boot_keeps_the_deadline_for_later_boots(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["single_job"]
    state = out.root / "install" / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "deadline").stat().st_mode) == 0o600
    assert int((state / "deadline").read_text()) > time.time() - 60
    assert stat.S_IMODE((state / "startup.sh").stat().st_mode) == 0o700
    unit = (out.root / "systemd" / "cml-infra-rearm.service").read_text()
    assert f"ExecStart=/bin/bash {state}/startup.sh rearm" in unit
    assert ["enable", "cml-infra-rearm.service"] in out.called("systemctl")
    assert not (outcomes["local_github"].root / "systemd" / "cml-infra-rearm.service").exists()


def test_a_reboot_past_the_deadline_tears_down(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["reboot_past_deadline"]
    assert out.returncode == 0, out.log
    assert "teardown: maximum runtime reached (after a reboot)" in out.log
    assert len(out.cloud.hits("DELETE", AZURE_VM)) == 1
    assert not out.called("run.sh") and not out.called("gitlab-runner")


def test_a_reboot_after_the_runner_started_rearms_for_the_rest(
        outcomes: dict[str, Outcome]) -> None:
    out = outcomes["reboot_before_deadline"]
    assert out.returncode is None, "still waiting on the re-armed dead-man switch"
    assert out.called("shutdown") == [["-h", "+17"]], "ceil((600 + 341) / 60) + 1"
    assert "dead-man switch armed for 59" in out.log or "armed for 600s" in out.log
    assert not out.called("run.sh") and not out.cloud.hits("DELETE", "/")


def test_a_reboot_before_the_runner_started_resumes_the_start_up(
        outcomes: dict[str, Outcome]) -> None:
    """Azure's GPU driver extension rebooted the VM during the set-up: the runner starts now,
    within what is left of the first boot's deadline, and the machine deletes itself."""
    out = outcomes["reboot_before_the_runner"]
    assert out.returncode == 0, out.log
    assert "no runner started yet; resuming the start-up with" in out.log
    armed = re.search(r"dead-man switch armed for (\d+)s", out.log)
    assert armed and 0 < int(armed.group(1)) <= 30, "never beyond the first boot's deadline"
    assert out.called("shutdown")[0] == ["-h", "+8"], "ceil((30 + 341) / 60) + 1 at most"
    assert out.called("jitconfig-from") and "job-done" in out.names()
    assert (out.root / "install" / "state" / "runner-started").exists()
    assert not out.called("systemctl"), "the unit from the first boot stays as it is"
    assert len(out.cloud.hits("DELETE", AZURE_VM)) == 1


def test_the_first_boot_marks_the_runner_started_before_it_registers(
        outcomes: dict[str, Outcome]) -> None:
    out = outcomes["single_job"]
    marker = out.root / "install" / "state" / "runner-started"
    assert marker.exists()
    assert not (outcomes["gpu_missing"].root / "install" / "state" / "runner-started").exists()


def test_logs_go_to_the_journal_with_timestamps(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["single_job"]
    assert ["-t", "cml-infra", "--", "teardown complete"] in out.called("logger")
    ours = [line for line in out.log.splitlines() if "cml-infra: " in line]
    assert len(ours) > 10
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ cml-infra: ", line) for line in ours)


def test_gitlab_registers_runs_one_job_and_deletes_itself(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["gitlab_single_job"]
    assert out.returncode == 0, out.log
    register, run = out.called("gitlab-runner")
    assert register[:2] == ["register", "--non-interactive"]
    assert not any("glrt-" in arg for arg in register), "the token is not on argv"
    assert out.called("register-env") == [[GLRT]], "but in CI_SERVER_TOKEN"
    assert register[register.index("--executor") + 1] == "shell"
    assert run[0] == "run" and run[run.index("--user") + 1] == "cml-runner"
    assert out.argv_samples > 0 and out.argv_leaks == []
    assert [r.body for r in out.forge.hits("DELETE", "/api/v4/runners")] == [
        f"token={GLRT}".encode()]
    assert ("DELETE", "/api/v4/runners", 204) in out.forge.log, "the fake GitLab deleted it"
    assert len(out.cloud.hits("DELETE", "/compute/v1/projects/proj/zones/zone-a")) == 1
    assert not out.called("shutdown"), "on GCP a halt would clear maxRunDuration"


def test_gitlab_single_job_mode_takes_one_job_of_two(outcomes: dict[str, Outcome]) -> None:
    """`gitlab-runner run` has no --max-builds: the script tells it to take no further job
    (SIGQUIT) while the job still waits in the runner's hook, before any of its own code."""
    out = outcomes["gitlab_single_job"]
    assert out.names().count("job-start") == 1 and out.names().count("job-done") == 1
    assert out.called("gitlab-runner-signal") == [["QUIT"]]
    assert _before(out, "gitlab-runner-signal", "job-start")
    assert out.called("gitlab-runner-exit") == [["1"]]
    assert "a job is running; the runner takes no other" in out.log
    assert "teardown: the runner finished" in out.log
    config = (out.root / "install" / "gitlab-runner" / "config.toml").read_text()
    hook = out.root / "install" / "hooks" / "gitlab-one-job.sh"
    assert f'pre_get_sources_script = "{hook}"' in config
    assert f'pre_build_script = "{hook}"' in config and 'limit = "1"' in config
    assert _mode(hook) == 0o755 and not _job_user_can_write(out, hook)


def _job_user_can_write(out: Outcome, path: Path) -> bool:
    given = [Path(c[-1]) for c in out.called("chown") if c[:2] == ["-R", "cml-runner:"]]
    return any(path == g or g in path.parents for g in given) or bool(_mode(path) & 0o002)


def test_gitlab_runner_runs_as_root_and_its_jobs_as_the_job_user(
        outcomes: dict[str, Outcome]) -> None:
    for name in ("gitlab_single_job", "gitlab_idle_shell"):
        out = outcomes[name]
        assert out.called("gitlab-runner-as") == [["root"]], name
        assert not [c for c in out.called("runuser") if "gitlab-runner" in " ".join(c)]
        jobs = out.names().count("job-start")
        assert out.called("su") == [["-s", "/bin/bash", "cml-runner", "-c", "bash"]] * jobs
        assert out.called("job-as") == [["cml-runner"]] * jobs and jobs >= 1


@pytest.mark.parametrize("name", ["gitlab_single_job", "gitlab_idle_shell",
                                  "gitlab_idle_docker"])
def test_gitlab_token_is_root_only(outcomes: dict[str, Outcome], name: str) -> None:
    """config.toml: 0600 in a 0700 directory, the script's user's (root on a machine), never
    handed to the job user; no job's environment and no file the job user can read has it."""
    out = outcomes[name]
    folder = out.root / "install" / "gitlab-runner"
    config = folder / "config.toml"
    assert f'token = "{GLRT}"' in config.read_text()
    assert (_mode(folder), _mode(config)) == (0o700, 0o600)
    assert folder.stat().st_uid == config.stat().st_uid == os.geteuid()
    assert not _job_user_can_read(out, config)
    assert [p for p in _files_with_the_token(out) if _job_user_can_read(out, p)] == []
    assert out.called("job-env-token") == [["0"]] * out.names().count("job-start")
    assert out.names().count("job-start") >= 1


def test_gitlab_idle_mode_takes_jobs_until_the_idle_timeout(
        outcomes: dict[str, Outcome]) -> None:
    out = outcomes["gitlab_idle_shell"]
    assert out.returncode == 0, out.log
    assert out.names().count("job-done") == 2
    assert "stop requested: idle timeout: no job for 3s" in out.log
    assert out.called("gitlab-runner-signal") == [["QUIT"]], "a graceful stop, not SIGTERM"
    assert out.called("gitlab-runner-exit") == [["2"]]
    config = (out.root / "install" / "gitlab-runner" / "config.toml").read_text()
    assert "pre_build_script" not in config, "no single-job hook in idle mode"
    assert ["-h", "now"] in out.called("shutdown")


def test_idle_mode_takes_jobs_until_the_idle_timeout(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["github_idle"]
    assert out.returncode == 0, out.log
    assert len(out.called("run.sh")) == 2 and out.names().count("job-done") == 1
    assert "stop requested: idle timeout" in out.log
    assert len(out.cloud.hits("DELETE", AZURE_VM)) == 1


def test_gitlab_idle_mode_uses_docker_with_gpus(outcomes: dict[str, Outcome]) -> None:
    """The docker executor keeps run-single (--max-builds, --wait-timeout), as root: its jobs
    run in containers, and the job user needs no docker group (root in all but name)."""
    out = outcomes["gitlab_idle_docker"]
    register, run_single = out.called("gitlab-runner")
    assert register[register.index("--executor") + 1] == "docker"
    assert "--docker-gpus" in register and "--max-builds" not in run_single
    assert run_single[:2] == ["run-single", "--config"] and "--runner" in run_single
    assert out.called("gitlab-runner-as") == [["root"]]
    assert out.names().count("job-done") == 2
    assert out.called("job-as") == [["container"]] * 2
    assert not out.called("usermod")
    assert any(call[2] == "FORWARD" for call in out.called("iptables"))
    assert _ecs_actions(out) == ["DeleteInstance"] and ["-h", "now"] not in out.called("shutdown")


def _ecs_actions(out: Outcome) -> list[str]:
    return [r.query.get("Action", "") for r in out.cloud.requests if r.path == "/"]


def test_max_runtime_stops_a_hung_job(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["max_runtime"]
    assert out.returncode == 1
    assert "job-start" in out.names() and "job-done" not in out.names()
    assert "dead-man switch: maximum runtime" in out.log
    assert "ignored SIGTERM" in out.log
    assert ["-h", "now"] in out.called("shutdown")


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure", "alicloud"])
def test_spot_notice_stops_the_runner_then_tears_down(
        outcomes: dict[str, Outcome], cloud: str) -> None:
    out = outcomes[f"spot_{cloud}"]
    assert "stop requested: spot interruption" in out.log, out.log
    assert "job-done" not in out.names()
    assert "teardown: spot interruption" in out.log
    assert out.log.index("stopping the runner") < out.log.index("teardown: spot")


def test_missing_gpu_never_registers(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["gpu_missing"]
    assert out.returncode == 1
    assert "waiting for the GPU driver: nvidia-smi failed" in out.log
    assert "no usable GPU after 2s: nvidia-smi failed" in out.log
    assert "aborting: the GPU check failed" in out.log
    assert len(out.called("nvidia-smi")) >= 2, "polled, not single-shot"
    assert out.log.index("dead-man switch armed") < out.log.index("waiting for the GPU driver")
    assert not out.called("run.sh") and not out.forge.hits("GET", PACKAGE_PATH["github"])
    assert ["-h", "now"] in out.called("shutdown")


def test_gpu_driver_arriving_after_boot_is_waited_for(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["gpu_late"]
    assert out.returncode == 0, out.log
    assert "waiting for the GPU driver" in out.log and "GPU check passed" in out.log
    assert out.log.index("dead-man switch armed") < out.log.index("waiting for the GPU driver")
    assert "job-done" in out.names()


def test_alibaba_driver_install_brings_nvidia_smi(outcomes: dict[str, Outcome]) -> None:
    """The catalog's driver commands: the headless server driver ubuntu-drivers picks, then
    the utilities of that flavour; the GPU check passes and the job runs."""
    out = outcomes["alicloud_driver"]
    assert out.returncode == 0, out.log
    drivers = out.called("ubuntu-drivers")
    assert len(drivers) == 1 and drivers[0][:3] == ["install", "--gpgpu", "--package-list"]
    assert out.called("apt-get")[-1][-1] == "nvidia-utils-535-server"
    assert _before(out, "ubuntu-drivers", "nvidia-smi") and "GPU check passed" in out.log
    assert "job-done" in out.names()


def test_the_headless_driver_alone_fails_the_gpu_check(outcomes: dict[str, Outcome]) -> None:
    """The former driver command: no nvidia-smi, so the machine never registers."""
    out = outcomes["alicloud_driver_headless_only"]
    assert out.returncode == 1
    assert out.called("ubuntu-drivers") == [["install", "--gpgpu"]]
    assert "aborting: the GPU check failed" in out.log and not out.called("nvidia-smi")
    assert not out.called("run.sh")


def test_extra_commands_run_before_the_gpu_check(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["driver_by_extra_command"]
    assert out.returncode == 0, out.log
    assert out.called("nvidia-smi") == [["-L"]], "the driver was there at the first look"
    assert out.log.index("running an extra setup command") < out.log.index("GPU check passed")
    assert _before(out, "useradd", "nvidia-smi") and _before(out, "iptables", "nvidia-smi")
    assert "job-done" in out.names()


def test_checksum_mismatch_runs_nothing(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["checksum_mismatch"]
    assert out.returncode == 1
    assert "checksum mismatch" in out.log and not out.called("run.sh")
    assert not (out.root / "install" / "actions-runner" / "run.sh").exists()
    assert ["-h", "now"] in out.called("shutdown")


def test_download_is_retried_with_backoff(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["download_retried"]
    assert out.returncode == 0, out.log
    assert "retrying in 1s" in out.log and "retrying in 2s" in out.log
    assert len(out.forge.hits("GET", PACKAGE_PATH["github"])) == 3
    assert "job-done" in out.names()


def test_unreachable_forge_aborts_to_teardown(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["forge_unreachable"]
    assert out.returncode == 1
    assert "is unreachable" in out.log and not out.called("run.sh")
    assert ["-h", "now"] in out.called("shutdown")


def test_failed_teardown_leaves_the_dead_man_to_fire(outcomes: dict[str, Outcome]) -> None:
    """GCP: the VM is never halted, since its maxRunDuration deletes it only while running."""
    out = outcomes["teardown_fails"]
    assert out.returncode == 1
    assert out.log.index("teardown failed") < out.log.index("dead-man switch: maximum runtime")
    assert len(re.findall(r"ending the machine failed \d+ times in 2s", out.log)) == 2
    assert len(out.cloud.hits("DELETE", "/compute/v1/")) >= 2, "main path and dead-man"
    assert "not powering off: the VM's maxRunDuration deletes it" in out.log
    assert not out.called("shutdown") and not out.called("poweroff")


def test_deleting_is_retried_with_backoff(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["delete_retried"]
    assert out.returncode == 0, out.log
    path = "/compute/v1/projects/proj/zones/zone-a/instances/vm-1"
    assert [entry for entry in out.cloud.log if entry[0] == "DELETE"] == [
        ("DELETE", path, 403)] * 3 + [("DELETE", path, 200)]
    delays = re.findall(r"\(attempt (\d)\); retrying in (\d+)s", out.log)
    assert delays == [("1", "1"), ("2", "2"), ("3", "4")], "exponential backoff"
    assert "teardown complete" in out.log


def test_azure_deallocates_a_vm_it_cannot_delete(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["azure_deallocates"]
    assert out.returncode == 0, out.log
    deallocate = out.cloud.hits("POST", AZURE_VM + "/deallocate")
    assert out.cloud.requests[-1] is deallocate[0], "once deleting has failed for 2 s"
    assert out.cloud.hits("DELETE", AZURE_VM)
    assert [r.headers.get("content-length") for r in deallocate] == ["0"]
    assert ("POST", AZURE_VM + "/deallocate", 202) in out.cloud.log
    assert "teardown complete: the machine is stopped, not deleted" in out.log
    assert ["-h", "now"] not in out.called("shutdown") and not out.called("poweroff")


def test_azure_powers_off_only_when_delete_and_deallocate_fail(
        outcomes: dict[str, Outcome]) -> None:
    out = outcomes["azure_powers_off"]
    assert out.returncode == 1
    assert len(out.cloud.hits("POST", AZURE_VM + "/deallocate")) == 2, "main path and dead-man"
    assert out.log.index("deallocating VM") < out.log.index("powering off as the last resort")
    assert out.called("poweroff") == [["-f"]]


def test_alibaba_releases_itself_through_the_api(outcomes: dict[str, Outcome]) -> None:
    """DeleteInstance signed with the instance RAM role's STS credentials, which the fake
    ECS API verifies (tests/sandbox/ecs.py); no power-off, which would keep it billed."""
    out = outcomes["alicloud_releases"]
    assert out.returncode == 0, out.log
    assert _ecs_actions(out) == ["DeleteInstance"]
    call = next(r for r in out.cloud.requests if r.path == "/")
    assert call.method == "GET" and call.query["InstanceId"] == ecs.INSTANCE
    assert call.query["Force"] == "true" and call.query["SecurityToken"]
    assert ("GET", "/", 200) in out.cloud.log
    assert "Alibaba Cloud: releasing instance i-sandbox0001" in out.log
    assert ["-h", "now"] not in out.called("shutdown")


def test_alibaba_stops_without_charges_when_it_cannot_release(
        outcomes: dict[str, Outcome]) -> None:
    out = outcomes["alicloud_stops"]
    assert out.returncode == 0, out.log
    *deletes, last = _ecs_actions(out)
    assert deletes and set(deletes) == {"DeleteInstance"} and last == "StopInstance"
    stop = [r for r in out.cloud.requests if r.path == "/"][-1]
    assert stop.query["StoppedMode"] == "StopCharging"
    assert out.cloud.log[-1] == ("GET", "/", 200)
    assert "DeleteInstance failed: HTTP 403 Forbidden.RAM" in out.log
    assert ["-h", "now"] not in out.called("shutdown")


def test_alibaba_signature_errors_are_logged_without_the_secrets(
        outcomes: dict[str, Outcome]) -> None:
    out = outcomes["alicloud_bad_signature"]
    assert out.returncode == 1
    assert "DeleteInstance failed: HTTP 400 SignatureDoesNotMatch" in out.log
    assert "StopInstance failed: HTTP 400 SignatureDoesNotMatch" in out.log
    assert out.called("shutdown")[-1] == ["-h", "now"], "then the last resort"


@pytest.mark.parametrize("name", ["alicloud_releases", "alicloud_stops",
                                  "alicloud_bad_signature"])
def test_alibaba_credentials_never_reach_a_command_line_or_a_log(
        outcomes: dict[str, Outcome], name: str) -> None:
    """The RAM role's AccessKeySecret and SecurityToken (also percent-encoded, as a signed URL
    holds them): in no process's argv, no recorded call (curl included), no log."""
    out = outcomes[name]
    secrets = out.secrets
    assert len(secrets) >= 4 and out.argv_samples > 0 and out.argv_leaks == []
    calls = (out.root / "calls.log").read_text()
    assert any(c[0] == "curl" for c in out.calls)
    files = [calls, out.log, (out.root / "install" / "state" / "startup.log").read_text()]
    assert not [s for s in secrets for text in files if s in text]


def test_local_never_powers_off_the_host(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["local_github"]
    assert out.returncode == 0, out.log
    assert "job-done" in out.names()
    assert not out.called("shutdown") and not out.called("poweroff")
    assert not out.called("iptables")


def test_root_writes_nothing_into_job_owned_places(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["github_idle"]
    activity = str(out.root / "install" / "activity")
    as_job_user = [c[3:] for c in out.called("runuser") if c[:3] == ["-u", "cml-runner", "--"]]
    assert ["touch", f"{activity}/last-activity"] in as_job_user
    assert ["tee", "-a", str(out.root / "install" / "actions-runner" / ".env")] in as_job_user


def test_a_planted_link_in_the_runner_dir_is_not_followed(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["local_planted_link"]
    assert out.returncode == 0, out.log
    assert not (out.root / "victim").exists()
    env = out.root / "install" / "actions-runner" / ".env"
    assert not env.is_symlink() and "ACTIONS_RUNNER_HOOK_JOB_STARTED" in env.read_text()


def test_machine_identity_keeps_metadata_for_the_job(outcomes: dict[str, Outcome]) -> None:
    blocked, kept = outcomes["single_job"], outcomes["machine_identity"]
    assert any("--uid-owner" in call for call in blocked.called("iptables"))
    assert not kept.called("iptables")
    assert kept.called("run.sh") and kept.called("shutdown")


@pytest.mark.parametrize("name", ["single_job", "github_idle", "local_github",
                                  "local_github_as_user"])
def test_no_command_line_ever_holds_the_jit_configuration(
        outcomes: dict[str, Outcome], name: str) -> None:
    """The configuration reaches run.sh in ACTIONS_RUNNER_INPUT_JITCONFIG: no process had it
    in its argv, neither one the argv watch saw nor one a stub recorded."""
    out = outcomes[name]
    assert out.returncode == 0, out.log
    configs = out.registration.split()
    assert out.argv_samples > 0 and out.argv_leaks == []
    calls = (out.root / "calls.log").read_text()
    assert not [c for c in configs if c in calls]
    got = out.called("jitconfig-from")
    assert got and got == [["env", _digest(c)] for c in configs[:len(got)]]
    assert out.called("run.sh") == [[""]] * len(got)


def test_local_as_a_normal_user_runs_the_job_as_that_user(outcomes: dict[str, Outcome]) -> None:
    """Without root, `--cloud local` runs runner and jobs as the caller: no job user, no
    runuser or su. That gives no isolation from the runner: a GitLab job can read the
    runner's config.toml (its token) and /proc, a GitHub job the runner's files."""
    github, gitlab = outcomes["local_github_as_user"], outcomes["local_gitlab_as_user"]
    for out in (github, gitlab):
        assert out.returncode == 0, out.log
        assert not out.called("runuser") and not out.called("su") and not out.called("useradd")
    assert github.called("jitconfig-from")[0][0] == "env" and "job-done" in github.names()
    run_single = next(c for c in gitlab.called("gitlab-runner") if c[0] == "run-single")
    assert run_single[run_single.index("--runner") + 1] == "sandbox-1"
    assert "--max-builds" in run_single and gitlab.names().count("job-done") == 1
    assert gitlab.called("gitlab-runner-as") == gitlab.called("job-as") == [["alice"]]
    config = gitlab.root / "install" / "gitlab-runner" / "config.toml"
    assert (_mode(config.parent), _mode(config)) == (0o700, 0o600)
    assert _job_user_can_read(gitlab, config), "the isolation a normal user does not get"
