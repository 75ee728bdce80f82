"""Shared fixtures. Test tiers are described in tests/README.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ("tests.fakes.fixtures", "tests.fakes.engine.fixtures")

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `cml-infra` in a subprocess, as a user would, with the repository on the path."""
    base = {k: v for k, v in os.environ.items() if k != "CML_INFRA_DEBUG"}
    full_env = {**base, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cml_cli", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd or ROOT, timeout=timeout,
    )


GOLDEN_DIR = ROOT / "tests" / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true",
        help="Rewrite the golden files under tests/golden/ from the current output.",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest):
    """`golden(name, text)` compares `text` with tests/golden/<name>, or rewrites it."""
    update = request.config.getoption("--update-golden")

    def check(name: str, actual: str) -> None:
        path = GOLDEN_DIR / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual)
            return
        assert path.exists(), f"{path} is missing; create it with pytest --update-golden"
        assert actual == path.read_text(), f"{name} changed; review, then pytest --update-golden"

    return check


@pytest.fixture
def main_cli(monkeypatch, tmp_path, capsys):  # type: ignore[no-untyped-def]
    """`cml-infra ARGS` through main() with no credentials, no CI and an empty home:
    returns (exit code, stdout, stderr)."""
    from cml_cli import app as app_module

    for key in list(os.environ):
        if key.startswith(("GITHUB_", "GITLAB_", "CI", "PULUMI_", "REPO_TOKEN", "CML_INFRA")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))

    def run(*args: str, **env: str) -> tuple[int, str, str]:
        with monkeypatch.context() as scoped:
            for key, value in env.items():
                scoped.setenv(key, value)
            with pytest.raises(SystemExit) as info:
                app_module.main(list(args))
        out = capsys.readouterr()
        return info.value.code, out.out, out.err

    return run
