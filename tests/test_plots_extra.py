"""Plotting is the `plots` install extra: every other command works without vl-convert-python,
and `plot` without it is one sentence naming the extra."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reporting import plots
from reporting.errors import ReportingError
from tests.conftest import ROOT

SENTENCE = ("Plotting needs the plots extra: pip install 'cml-infra[plots]' "
            "(or add plots to the extras you install).")

# Runs cml-infra as if vl-convert-python were not installed: a finder placed first answers
# every import of vl_convert as a missing module would, and records the attempt.
BLOCKED_RUN = """\
import atexit, json, sys

attempts = []

class NoVlConvert:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] == "vl_convert":
            attempts.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoVlConvert)
sys.modules.pop("vl_convert", None)
atexit.register(lambda: print("ATTEMPTS=" + json.dumps(attempts)))
from cml_cli.app import main
main(json.loads(sys.argv[1]))
"""


def run_without_vl_convert(args: list[str], cwd: Path,
                           env: dict[str, str] | None = None) -> tuple[int, str, str, list[str]]:
    """Exit code, stdout (without the probe's line), stderr, and the vl_convert imports tried."""
    base = {k: v for k, v in os.environ.items() if k != "CML_INFRA_DEBUG"}
    result = subprocess.run([sys.executable, "-c", BLOCKED_RUN, json.dumps(args)],
                            capture_output=True, text=True, cwd=cwd, timeout=120,
                            env={**base, **(env or {}), "PYTHONPATH": str(ROOT)})
    lines = result.stdout.splitlines()
    probe = next(line for line in lines if line.startswith("ATTEMPTS="))
    stdout = "\n".join(line for line in lines if line != probe)
    return result.returncode, stdout, result.stderr, json.loads(probe.removeprefix("ATTEMPTS="))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "metrics.json").write_text('{"accuracy": 0.9, "loss": 0.25}')
    (tmp_path / "loss.csv").write_text("epoch,loss\n1,0.5\n2,0.3\n")
    return tmp_path


@pytest.mark.parametrize("args", [
    ["up", "--help"], ["down", "--help"], ["status", "--help"], ["gc", "--help"],
    ["metrics", "--help"], ["metrics", "show", "--help"], ["metrics", "diff", "--help"],
    ["comment", "--help"], ["comment", "create", "--help"], ["comment", "update", "--help"],
    ["check", "--help"], ["check", "create", "--help"], ["plot", "--help"],
])
def test_help_works_without_vl_convert(args, workdir):
    code, stdout, stderr, attempts = run_without_vl_convert(args, workdir)
    assert (code, stderr) == (0, "")
    assert "Usage: cml-infra " in stdout
    assert attempts == []


def test_metrics_show_works_without_vl_convert(workdir):
    code, stdout, stderr, attempts = run_without_vl_convert(
        ["metrics", "show", "metrics.json"], workdir)
    assert (code, stderr, attempts) == (0, "", [])
    assert "accuracy" in stdout and "0.9" in stdout


def test_up_plans_without_vl_convert(workdir):
    code, stdout, stderr, attempts = run_without_vl_convert(
        ["up", "--cloud", "aws", "--gpu", "--dry-run", "--json", "--repo", "acme/models"],
        workdir)
    assert code == 0, stderr
    assert attempts == []
    assert any(r["type"] == "aws:ec2/instance:Instance" for r in json.loads(stdout)["resources"])


def test_comment_and_check_upload_images_without_vl_convert(workdir, fake_github):
    from tests.fakes.fixtures import GITHUB_APP_TOKEN
    from tests.forge_scenarios import HEAD_SHA, PR_NUMBER, github_actions_env, write_report

    fake_github.add_repo("acme/models")
    fake_github.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
    write_report(workdir)  # a report with two images, which comment uploads
    env = github_actions_env(fake_github, workdir, GITHUB_APP_TOKEN)
    for args in (["comment", "create", "report.md"], ["check", "create", "report.md"]):
        code, _, stderr, attempts = run_without_vl_convert(args, workdir, env)
        assert (code, attempts) == (0, []), (args, stderr)


@pytest.mark.parametrize("source", ["loss.csv", "missing.csv"])
def test_plot_without_vl_convert_names_the_extra(source, workdir):
    """One sentence, exit 1, no traceback; before the source is read, so a missing extra is
    the first thing a user learns."""
    code, stdout, stderr, attempts = run_without_vl_convert(
        ["plot", source, "--out", "loss.png"], workdir)
    assert (code, stdout) == (1, "")
    assert stderr.splitlines() == [f"Error: {SENTENCE}"]
    assert attempts == ["vl_convert"]
    assert not (workdir / "loss.png").exists()


def test_missing_extra_is_a_reporting_error_with_the_sentence(monkeypatch):
    def missing(name: str):  # type: ignore[no-untyped-def]
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(plots.importlib, "import_module", missing)
    with pytest.raises(plots.MissingExtraError) as caught:
        plots.renderer()
    assert isinstance(caught.value, ReportingError)
    assert str(caught.value) == SENTENCE


def test_a_broken_vl_convert_install_is_not_called_a_missing_extra(monkeypatch):
    """A module vl_convert itself lacks is a different problem: it is not hidden."""
    def broken(name: str):  # type: ignore[no-untyped-def]
        raise ModuleNotFoundError("No module named 'some_dependency'", name="some_dependency")

    monkeypatch.setattr(plots.importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError) as caught:
        plots.renderer()
    assert not isinstance(caught.value, ReportingError)


def test_a_given_converter_needs_no_vl_convert(monkeypatch, workdir):
    def missing(name: str):  # type: ignore[no-untyped-def]
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(plots.importlib, "import_module", missing)
    line = plots.write_plot(workdir / "loss.csv", workdir / "loss.svg", plots.PlotOptions(),
                            convert=lambda spec, fmt, scale: b"<svg/>")
    assert line.startswith("![loss](")
    assert (workdir / "loss.svg").read_bytes() == b"<svg/>"
