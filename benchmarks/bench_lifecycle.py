"""Time `cml-infra up` and `down` spends outside the Pulumi engine and the cloud.

Runs the real CLI in a fresh process, as a CI job does, against the stand-in Pulumi engine
(tests/fakes/engine: it runs the program and keeps state, with no cloud latency) and the fake
GitHub. A timing wrapper in front of `pulumi` records the wall time of every engine call;
"outside" is the command's wall time minus those calls. The program itself runs in our
process while the engine waits for it, so its time counts as engine time here.

    PYTHONPATH=. python benchmarks/bench_lifecycle.py --runs 10

Scenarios (median of --runs): `up --no-wait` of a new runner stack on an existing base (the
base is created once, untimed; waiting for machines to boot is the cloud's time), and `down`
of a runner stack whose machine already deleted itself. Baseline, same run: a Python that
imports the Automation API and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WRAPPER = """#!{python}
import json, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call([{target!r}, *sys.argv[1:]])
with open({log!r}, "a") as out:
    out.write(json.dumps({{"argv": sys.argv[1:3], "s": time.perf_counter() - start}}) + "\\n")
sys.exit(code)
"""
UP = ["up", "--cloud", "aws", "--gpu", "--zone", "us-east-1a", "--repo", "acme/models",
      "--no-wait"]


def timed(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, int]:
    """(wall seconds, seconds inside engine calls, engine calls) of one run."""
    log.write_text("")
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"{cmd} failed:\n{result.stdout}\n{result.stderr}")
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return wall, sum(c["s"] for c in calls), len(calls)


def world(folder: Path):  # type: ignore[no-untyped-def]
    from tests.fakes.engine.cloud import FakeCloud
    from tests.fakes.engine.install import install_fake_pulumi
    from tests.fakes.fixtures import GITHUB_PAT
    from tests.fakes.github import FakeGitHub

    target = install_fake_pulumi(folder / "root" / "bin")
    log = folder / "calls.jsonl"
    wrapper = folder / "bin" / "pulumi"
    wrapper.parent.mkdir()
    wrapper.write_text(WRAPPER.format(python=sys.executable, target=str(target), log=str(log)))
    wrapper.chmod(0o755)
    github = FakeGitHub()
    github.tokens[GITHUB_PAT] = "pat"
    github.add_repo("acme/models")
    github.server.start()
    (folder / "state").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI"))}
    env.update(PATH=f"{wrapper.parent}:{target.parent}:{env['PATH']}", PYTHONPATH=str(ROOT),
               CML_INFRA_HOME=str(folder / "home"), PULUMI_CONFIG_PASSPHRASE="bench",
               PULUMI_BACKEND_URL=f"file://{folder / 'state'}", REPO_TOKEN=GITHUB_PAT,
               GITHUB_API_URL=github.api_url, GITHUB_SERVER_URL=github.server.url,
               CML_INFRA_NO_PULUMI_INSTALL="1", PULUMI_PYTHON_CMD=sys.executable)
    return env, log, github, FakeCloud(folder / "state")


def summary(name: str, runs: list[tuple[float, float, int]]) -> dict[str, float]:
    return {"scenario": name, "wall_s": statistics.median(r[0] for r in runs),
            "engine_s": statistics.median(r[1] for r in runs),
            "outside_s": statistics.median(r[0] - r[1] for r in runs),
            "engine_calls": statistics.median(r[2] for r in runs), "runs": len(runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    cli = [sys.executable, "-m", "cml_cli"]
    with tempfile.TemporaryDirectory() as tmp:
        env, log, github, cloud = world(Path(tmp))
        try:
            timed([*cli, *UP], {**env, "GITHUB_RUN_ID": "0"}, log)  # the base, untimed
            ups, downs = [], []
            for n in range(1, runs + 1):
                run_env = {**env, "GITHUB_RUN_ID": str(n)}
                ups.append(timed([*cli, *UP], run_env, log))
                for machine in cloud.objects("aws:ec2/instance:Instance", f"cml-runner-gh-{n}"):
                    cloud.delete(machine["id"])  # it deleted itself after its job
                downs.append(timed([*cli, "down"], run_env, log))
            base = [timed([sys.executable, "-c", "import pulumi.automation"], env, log)
                    for _ in range(runs)]
        finally:
            github.server.stop()
    rows = [summary("up --no-wait (new runner stack, base exists)", ups),
            summary("down (machine already gone)", downs),
            summary("baseline: python -c 'import pulumi.automation'", base)]
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
