"""The CLI shell: help, version, usage errors, error translation, and lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer

from cml_cli import app as app_module
from cml_cli.errors import sentence_for
from cml_cli.redact import redact, register_secret
from infra.errors import SpecError
from reporting.errors import ForgeAuthError
from tests.conftest import ROOT, run_cli

HEAVY_MODULES = (
    "pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_alicloud",
    "matplotlib", "vl_convert", "github", "gitlab", "grpc",
)


def test_help_lists_global_options():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "--version" in result.stdout and "--debug" in result.stdout
    assert "Example:" in result.stdout


def test_version_prints_installed_version():
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"cml-infra {version('cml-infra')}"


def test_unknown_option_is_one_sentence_without_traceback():
    result = run_cli("--no-such-flag")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "Error: No such option: --no-such-flag. Run 'cml-infra --help' to see what it accepts."
    ]


def test_help_imports_no_heavy_module():
    probe = (
        "import sys, json\n"
        "from cml_cli.app import app\n"
        "try:\n"
        "    app(args=['--help'], prog_name='cml-infra', standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted(m for m in {list(HEAVY_MODULES)!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (SpecError("Use --gpu-count 1, 2 or 4."), "Use --gpu-count 1, 2 or 4."),
        (ForgeAuthError("GitHub rejected the token."), "GitHub rejected the token."),
        (FileNotFoundError(2, "No such file", "report.md"),
         "File not found: report.md; check the path and try again."),
    ],
)
def test_library_errors_become_their_sentence(exc, expected):
    assert sentence_for(exc) == expected


def test_unexpected_error_points_to_debug():
    assert "--debug" in sentence_for(RuntimeError("boom"))


def _failing_app(message: str) -> typer.Typer:
    broken = typer.Typer(pretty_exceptions_enable=False)

    @broken.command()
    def go() -> None:
        raise SpecError(message)

    return broken


def test_main_prints_sentence_and_exits_1(monkeypatch, capsys):
    monkeypatch.setattr(app_module, "app", _failing_app("Pick a region from: us-east, eu-west."))
    with pytest.raises(SystemExit) as exit_info:
        app_module.main([])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err == "Error: Pick a region from: us-east, eu-west.\n"


def test_debug_env_shows_the_traceback(monkeypatch):
    monkeypatch.setattr(app_module, "app", _failing_app("bad"))
    monkeypatch.setenv("CML_INFRA_DEBUG", "1")
    with pytest.raises(SpecError):
        app_module.main([])


def test_messages_never_show_tokens(monkeypatch, capsys):
    token = "ghp_" + "A1b2C3d4" * 5
    monkeypatch.setenv("GITHUB_TOKEN", "s3cr3t-value")
    register_secret("another-secret")
    text = redact(f"failed with {token}, s3cr3t-value and another-secret; glpat-abcdefghijk12")
    assert "ghp_" not in text and "s3cr3t" not in text and "another-secret" not in text
    assert "glpat-" not in text
    assert text.count("***") == 4
    monkeypatch.setattr(app_module, "app", _failing_app(f"token {token} refused"))
    with pytest.raises(SystemExit):
        app_module.main([])
    assert token not in capsys.readouterr().err


def test_help_groups_commands_by_panel():
    demo = typer.Typer(cls=app_module.PanelGroup, rich_markup_mode=None)

    @demo.command("up", rich_help_panel="Infrastructure", help="Start runners.")
    def _up() -> None: ...

    @demo.command("comment", rich_help_panel="Reporting", help="Post a report.")
    def _comment() -> None: ...

    @demo.command("plain", help="No panel.")
    def _plain() -> None: ...

    from typer.testing import CliRunner

    text = CliRunner().invoke(demo, ["--help"]).output
    infra, reporting, commands = (text.index(h) for h in ("Infrastructure:", "Reporting:",
                                                          "Commands:"))
    assert infra < text.index("Start runners.") < reporting < text.index("Post a report.")
    assert commands < text.index("No panel.")


CLOUD_AND_PLOTTING = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native",
                      "pulumi_alicloud", "matplotlib")


def _modules_after(args: list[str], env: dict[str, str], cwd) -> list[str]:  # type: ignore[no-untyped-def]
    """Run `cml-infra ARGS` in a fresh interpreter; return the heavy modules it imported."""
    probe = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: print('MODULES=' + json.dumps(sorted(m for m in "
        f"{list(CLOUD_AND_PLOTTING)!r} if m in sys.modules))))\n"
        "from cml_cli.app import main\n"
        f"main({args!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=cwd, env={**env, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("MODULES="))
    return json.loads(line.removeprefix("MODULES="))


def test_reporting_commands_import_no_pulumi_cloud_sdk_or_matplotlib(tmp_path, fake_github):
    import os

    from tests.fakes.fixtures import GITHUB_APP_TOKEN
    from tests.forge_scenarios import HEAD_SHA, PR_NUMBER, github_actions_env, write_report

    fake_github.add_repo("acme/models")
    fake_github.add_pull("acme/models", PR_NUMBER, HEAD_SHA)
    write_report(tmp_path)
    (tmp_path / "metrics.json").write_text('{"accuracy": 0.9}')
    (tmp_path / "loss.csv").write_text("epoch,loss\n1,0.5\n2,0.3\n")
    env = {**os.environ, **github_actions_env(fake_github, tmp_path, GITHUB_APP_TOKEN)}
    for args in (["comment", "update", "report.md"], ["metrics", "show", "metrics.json"],
                 ["plot", "loss.csv", "--out", "loss.png"]):
        assert _modules_after(args, env, tmp_path) == [], args
