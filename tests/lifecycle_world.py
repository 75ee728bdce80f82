"""A world for the lifecycle tests: the stand-in Pulumi engine (tests/fakes/engine) on PATH,
its file backend and fake cloud, and the fake GitHub; `cml-infra` runs in a subprocess as a
CI job would, with this CI run's variables.

A `pulumi` recorder sits in front of the stand-in: it appends its argv and the names (and
token-ness) of its environment to `calls.jsonl`, then execs the stand-in, so tests can assert
that no engine process ever saw a forge token.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from tests.fakes.fixtures import GITHUB_PAT

NO_CI = ("GITHUB_ACTIONS", "GITHUB_REPOSITORY", "GITHUB_TOKEN", "GITHUB_API_URL",
         "GITHUB_SERVER_URL", "GITHUB_EVENT_PATH", "GITHUB_SHA", "REPO_TOKEN", "GITLAB_CI",
         "CI_PROJECT_ID", "CI_PROJECT_PATH", "CI_JOB_TOKEN", "CI_API_V4_URL", "CI_SERVER_URL",
         "GITLAB_TOKEN", "CI_MERGE_REQUEST_IID", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT",
         "CI_PIPELINE_ID", "CI", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE",
         "CML_INFRA_DEBUG", "CML_INFRA_HOME")
RECORDER = """#!/bin/sh
{python} - "$@" <<'PY'
import json, os, sys
with open({log!r}, "a") as out:
    out.write(json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ)}}) + "\\n")
PY
exec {target!r} "$@"
"""
UP = ("up", "--cloud", "aws", "--gpu", "--zone", "us-east-1a", "--repo", "acme/models")


@dataclass
class World:
    fake: Any
    """The `fake_pulumi` fixture's object."""
    github: Any
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bin_dir = self.tmp / "recorder"
        bin_dir.mkdir()
        recorder = bin_dir / "pulumi"
        recorder.write_text(RECORDER.format(python=sys.executable, log=str(self.calls_log),
                                            target=str(self.fake.executable)))
        recorder.chmod(0o755)
        base = {k: v for k, v in os.environ.items() if k not in NO_CI}
        self.env = {**base, **self.fake.env, "PATH": f"{bin_dir}:{self.fake.env['PATH']}",
                    "CML_INFRA_HOME": str(self.tmp / "home"), "PYTHONPATH": str(ROOT),
                    "REPO_TOKEN": GITHUB_PAT, "GITHUB_API_URL": self.github.api_url,
                    "GITHUB_SERVER_URL": self.github.server.url,
                    "CML_INFRA_NO_PULUMI_INSTALL": "1", "CML_INFRA_RETRY_BACKOFF": "0.001"}

    @property
    def calls_log(self) -> Path:
        return self.tmp / "pulumi-calls.jsonl"

    def calls(self) -> list[dict[str, Any]]:
        if not self.calls_log.exists():
            return []
        return [json.loads(line) for line in self.calls_log.read_text().splitlines()]

    def run_env(self, run: str | None, **extra: str) -> dict[str, str]:
        env = {**self.env, **({"GITHUB_RUN_ID": run} if run else {}), **extra}
        return {k: v for k, v in env.items() if v is not None}

    def cli(self, *args: str, run: str | None = "1", timeout: float = 180,
            **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cml_cli", *args], capture_output=True,
                              text=True, env=self.run_env(run, **extra), cwd=self.tmp,
                              timeout=timeout)

    def start(self, *args: str, run: str | None = "1", **extra: str) -> subprocess.Popen[str]:
        """`cml-infra` in a process group of its own, as a CI job step runs it."""
        return subprocess.Popen([sys.executable, "-m", "cml_cli", *args], text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=self.run_env(run, **extra), cwd=self.tmp,
                                start_new_session=True)

    # --- what the backend, the cloud and the forge hold --------------------------------
    def stacks(self) -> list[str]:
        folder = self.fake.backend_dir / ".pulumi" / "stacks" / "cml-infra"
        return sorted(p.name.removesuffix(".json") for p in folder.glob("*.json"))

    def resources(self, stack: str) -> list[dict[str, Any]]:
        return [r for r in self.fake.resources(stack, "cml-infra")
                if r["type"] != "pulumi:pulumi:Stack"
                and not r["type"].startswith("pulumi:providers:")]

    def locks(self, stack: str) -> list[Path]:
        return self.fake.lock_files(stack, "cml-infra")

    def machines(self) -> list[dict[str, Any]]:
        return self.fake.cloud.objects("aws:ec2/instance:Instance")

    def forge_runners(self) -> dict[int, dict[str, Any]]:
        return self.github.repos["acme/models"].runners


class Booter(threading.Thread):
    """Marks every runner the fake GitHub gets online, as a booted machine's runner would."""

    def __init__(self, world: World) -> None:
        super().__init__(daemon=True)
        self.world, self.stop = world, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            for runner in list(self.world.forge_runners().values()):
                runner["status"] = "online"


def wait_for(predicate: Any, timeout: float = 60.0) -> None:
    """Poll until `predicate()` holds (a step of a scenario, not a timing assertion)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("the scenario did not reach the expected step")
        time.sleep(0.1)
