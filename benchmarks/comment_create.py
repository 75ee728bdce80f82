"""Wall time and HTTP requests of `cml-infra comment create|update` against the fake GitHub.

Run from the repository root: `python benchmarks/comment_create.py` (median of 10 runs).
Each run is the real CLI in a subprocess, as a CI job runs it, so the time includes
starting Python and importing PyGithub. Requests are counted by the fake server.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import run_cli  # noqa: E402
from tests.fakes.fixtures import GITHUB_APP_TOKEN  # noqa: E402
from tests.fakes.github import FakeGitHub  # noqa: E402
from tests.forge_scenarios import github_actions_env, png  # noqa: E402

RUNS = 10
IMAGES = 3


def _report(folder: Path, seed: int) -> Path:
    lines = ["# Benchmark report", "", "| metric | value |", "| --- | --- |", "| acc | 0.9 |"]
    for i in range(IMAGES):
        (folder / f"plot{i}.png").write_bytes(png(8, 8, (seed % 256, i * 40, 7)))
        lines.append(f"![plot {i}](plot{i}.png)")
    report = folder / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report


def _measure(fake: FakeGitHub, env: dict[str, str], folder: Path, command: str,
             seed: int) -> tuple[float, int]:
    report = _report(folder, seed)
    before = len(fake.api_requests())
    start = time.perf_counter()
    result = run_cli("comment", command, str(report), env=env, cwd=folder)
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    return elapsed, len(fake.api_requests()) - before


def _pr_env(base: dict[str, str], folder: Path, number: int) -> dict[str, str]:
    """A pull_request job of PR `number`: its event file names the PR and its head."""
    event = folder / f"event-{number}.json"
    event.write_text(json.dumps({"pull_request": {"number": number,
                                                  "head": {"sha": f"{number:040x}"}}}))
    return {**base, "GITHUB_EVENT_PATH": str(event)}


def main() -> None:
    fake = FakeGitHub()
    fake.tokens[GITHUB_APP_TOKEN] = "app"
    fake.server.start()
    fake.add_repo("acme/models")
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            base_env = github_actions_env(fake, folder, GITHUB_APP_TOKEN)
            # First ever run in the repository: the assets branch is created.
            fake.add_pull("acme/models", 1, f"{1:040x}")
            rows.append(("create, first run in the repository",
                         [_measure(fake, _pr_env(base_env, folder, 1), folder, "create", 1)]))
            fresh = []
            for run in range(RUNS):  # a fresh pull request with new images each time
                number = 100 + run
                fake.add_pull("acme/models", number, f"{number:040x}")
                env = _pr_env(base_env, folder, number)
                fresh.append(_measure(fake, env, folder, "create", number))
            rows.append((f"create, fresh PR, {IMAGES} new images", fresh))
            thread = fake.repos["acme/models"].comments.setdefault("issue/100", [])
            thread[:0] = [{"id": 5000 + i, "thread": "issue/100", "body": "human"}
                          for i in range(150)]
            env = _pr_env(base_env, folder, 100)
            updates = [_measure(fake, env, folder, "update", 100) for _ in range(RUNS)]
            rows.append(("update, same images, 151 comments (2 pages)", updates))
    finally:
        fake.server.stop()
    assert fake.rejections == [], fake.rejections
    print("| scenario | median wall time (s) | HTTP requests |")
    print("| --- | ---: | ---: |")
    for name, samples in rows:
        print(f"| {name} | {statistics.median(t for t, _ in samples):.2f} | "
              f"{statistics.median(n for _, n in samples):.0f} |")


if __name__ == "__main__":
    main()
