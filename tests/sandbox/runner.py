"""Run a rendered startup script in the sandbox and collect what it did."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from infra.startup import StartupConfig, render_startup_script
from tests.fakes.http import FakeServer
from tests.sandbox import stubs
from tests.sandbox.servers import CloudState, fake_cloud, fake_forge

GLRT = "glrt-t1_SandboxRunnerToken"
PACKAGE_PATH = {"github": "/actions-runner-linux-x64.tar.gz",
                "gitlab": "/gitlab-runner-linux-amd64"}


@dataclass
class Outcome:
    returncode: int | None
    log: str
    calls: list[list[str]]
    forge: FakeServer
    cloud: FakeServer
    root: Path
    registration: str = ""
    argv_leaks: list[str] = field(default_factory=list)
    """Command lines, seen while the script ran, that held the registration (if watched)."""
    argv_samples: int = 0
    """How many times the argv watch looked at every process (0: not watched)."""
    secrets: list[str] = field(default_factory=list)
    """The cloud credentials the machine held (Sandbox.secrets), which must never show."""

    def called(self, name: str) -> list[list[str]]:
        return [c[1:] for c in self.calls if c[0] == name]

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


@dataclass
class Sandbox:
    """One scenario: its own directory, stubs, fake forge and fake cloud."""

    root: Path
    forge: str = "github"
    cloud: str = "aws"
    waits: str = "0"
    job_s: int = 1
    ignore_term: bool = False
    gpu: str | None = None
    as_user: str | None = None
    """Run as this normal user (`id -un` says so), as `--cloud local` without root does."""
    watch_argv: bool = False
    """Sample every process's command line while the script runs, for the registration (and
    on Alibaba the RAM role's secret and security token)."""
    driver_flavour: str | None = None
    """The NVIDIA server driver flavour `ubuntu-drivers install --gpgpu` picks (e.g.
    "535-server"); nvidia-smi is then missing until apt-get installs its utilities."""
    state: CloudState = field(default_factory=CloudState)

    def __post_init__(self) -> None:
        # A just-in-time configuration of this scenario's own: the argv watch cannot mistake
        # another scenario's process (or another test run) for a leak of this one.
        self.jit = base64.b64encode(os.urandom(30)).decode()
        self.calls = self.root / "calls.log"
        self.watch: ArgvWatch | None = None
        if self.as_user:
            (self.root / "as-user").write_text(self.as_user)
        (self.root / "rc").mkdir(parents=True, exist_ok=True)
        (self.root / "systemd").mkdir()
        stubs.write_host_stubs(self.root / "bin", self.root, self.calls)
        build = stubs.github_package if self.forge == "github" else stubs.gitlab_binary
        self.package = build(self.root, self.calls)
        self.forge_server = fake_forge({PACKAGE_PATH[self.forge]: self.package},
                                       GLRT if self.forge == "gitlab" else "")
        self.cloud_server = fake_cloud(self.cloud, self.state)
        if self.gpu is not None:
            (self.root / "gpu").write_text(self.gpu)
        if self.driver_flavour:
            (self.root / "driver-flavour").write_text(self.driver_flavour)
            (self.root / "bin" / "nvidia-smi").rename(self.root / "nvidia-smi.pkg")
        (self.root / "runner.env").write_text(
            f"WAITS='{self.waits}'\nJOB_S={self.job_s}\nIGNORE_TERM={int(self.ignore_term)}\n")

    def config(self, **overrides: Any) -> StartupConfig:
        base = StartupConfig(
            forge=self.forge, cloud=self.cloud, runner_name="sandbox-1",  # type: ignore[arg-type]
            forge_url=self.forge_server.url,
            registration=self.jit if self.forge == "github" else GLRT,
            runner_package_url=self.forge_server.url + PACKAGE_PATH[self.forge],
            runner_package_sha256=stubs.sha256(self.package),
            labels=("sandbox",), idle_timeout_s=3, max_runtime_s=30,
            metadata_url=self.cloud_server.url if self.cloud != "local" else "",
            cloud_api_url=self.cloud_server.url if self.cloud not in ("aws", "local") else "",
            install_dir=str(self.root / "install"), systemd_dir=str(self.root / "systemd"),
            tool_cache=str(self.root / "hostedtoolcache"), network_timeout_s=2,
            download_attempts=3,
            retry_backoff_s=0, poll_interval_s=1, stop_grace_s=2, end_machine_retry_s=2,
            job_user=self.as_user or "cml-runner",
        )
        return replace(base, **overrides)

    def secrets(self) -> list[str]:
        """The cloud credentials this scenario's machine may hold (Alibaba's STS pair)."""
        ecs = self.state.ecs
        pair = [ecs.secret, ecs.token] if self.cloud == "alicloud" else []
        pair += [ecs.handed_secret] if self.cloud == "alicloud" and ecs.handed_secret else []
        return [*pair, *(quote(s, safe="-_.~") for s in pair)]  # as a signed URL holds them

    def set_rc(self, command: str, rc: int) -> None:
        (self.root / "rc" / command).write_text(str(rc))

    def start(self, config: StartupConfig, *args: str) -> subprocess.Popen[bytes]:
        """Run the script as user data would (`rearm`: as the unit does on a later boot)."""
        script = self.root / "startup.sh"
        script.write_text(render_startup_script(config))
        env = {**os.environ, "PATH": f"{self.root / 'bin'}:{os.environ['PATH']}"}
        self.output = (self.root / "console.log").open("wb")
        self.registration = config.registration
        if self.watch_argv:
            self.watch = ArgvWatch([*config.registration.split(), *self.secrets()]).start()
        return subprocess.Popen(["bash", str(script), *args], stdout=self.output,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def finish(self, proc: subprocess.Popen[bytes], timeout: float = 30) -> Outcome:
        """Wait for the script, then end whatever it left behind (a still-armed dead-man)."""
        try:
            rc: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        leaks = self.watch.stop() if self.watch else []
        samples = self.watch.samples if self.watch else 0
        self.output.close()
        self.forge_server.stop()
        self.cloud_server.stop()
        return Outcome(rc, (self.root / "console.log").read_text(), self.read_calls(),
                       self.forge_server, self.cloud_server, self.root, self.registration,
                       leaks, samples, self.secrets())

    def run(self, config: StartupConfig, timeout: float = 30) -> Outcome:
        return self.finish(self.start(config), timeout)

    def read_calls(self) -> list[list[str]]:
        if not self.calls.exists():
            return []
        return [line.split("\t") for line in self.calls.read_text().splitlines()]

    def wait_for_call(self, name: str, timeout: float = 20) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(c[0] == name for c in self.read_calls()):
                return True
            time.sleep(0.05)
        return False


class ArgvWatch:
    """Samples every process's command line (/proc/*/cmdline: what `ps` shows every local
    user) until stopped, and keeps those holding one of `secrets`, the secret masked."""

    def __init__(self, secrets: list[str], interval_s: float = 0.05) -> None:
        self.secrets = [s.encode() for s in secrets if s]
        self.interval_s = interval_s
        self.leaks: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> ArgvWatch:
        self._thread.start()
        return self

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join()
        return self.leaks

    def _run(self) -> None:
        while not self._stop.is_set():
            for path in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    argv = path.read_bytes()
                except OSError:
                    continue
                if any(secret in argv for secret in self.secrets):
                    for secret in self.secrets:
                        argv = argv.replace(secret, b"<secret>")
                    self.leaks.append(argv.replace(b"\0", b" ").decode(errors="replace"))
            self.samples += 1
            self._stop.wait(self.interval_s)
