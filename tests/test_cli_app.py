"""The CLI shell: help, version, usage errors, error translation, and lazy imports."""

from __future__ import annotations

import json
import re
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


def test_debug_env_shows_the_traceback(monkeypatch, capsys):
    monkeypatch.setattr(app_module, "app", _failing_app("bad"))
    monkeypatch.setenv("CML_INFRA_DEBUG", "1")
    with pytest.raises(SystemExit) as info:
        app_module.main([])
    err = capsys.readouterr().err
    assert info.value.code == 1 and "Traceback" in err and "SpecError" in err
    assert err.strip().splitlines()[-1] == "Error: bad"  # the sentence last, where it is seen


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


# ---- every command: its help, --debug wherever it is, a bare group (issue 10) ----

def _command_tree() -> dict[tuple[str, ...], typer.core.TyperCommand]:
    from typer.main import get_command

    found: dict[tuple[str, ...], typer.core.TyperCommand] = {}

    def walk(command, path):  # type: ignore[no-untyped-def]
        for name, sub in getattr(command, "commands", {}).items():
            found[(*path, name)] = sub
            walk(sub, (*path, name))

    walk(get_command(app_module.app), ())
    return found


COMMANDS = _command_tree()
GROUPS = [(), *[path for path, cmd in COMMANDS.items() if hasattr(cmd, "commands")]]
LEAVES = [path for path, cmd in COMMANDS.items() if not hasattr(cmd, "commands")]
INFRA = [("up",), ("down",), ("status",), ("gc",)]


def call(capsys, *args: str) -> tuple[int, str, str]:
    """`cml-infra ARGS` through main(), as the console script runs it."""
    with pytest.raises(SystemExit) as info:
        app_module.main(list(args))
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def _flat(text: str) -> str:
    """Help text without its wrapping (a wrapped hyphenated word is joined again)."""
    return re.sub(r"-\s+(?=\w)", "-", " ".join(text.split()))


def test_the_tree_has_every_command_module():
    assert {path[0] for path in COMMANDS} == set(app_module.COMMAND_MODULES)
    assert set(INFRA) <= set(COMMANDS) and LEAVES


@pytest.mark.parametrize("path", [*COMMANDS, ()], ids=lambda p: " ".join(p) or "cml-infra")
def test_every_command_lists_whole_sentences(path, capsys):
    code, out, err = call(capsys, *path, "--help")
    assert (code, err) == (0, "")
    command = COMMANDS.get(path)
    assert command is None or _flat(command.help or "")[:40] in _flat(out)
    for name, sub in getattr(command or typer.main.get_command(app_module.app),
                             "commands", {}).items():
        short = sub.get_short_help_str()
        assert short.endswith(".") and not short.endswith("..."), (name, short)
        assert sub.short_help or short == app_module.first_sentence(sub.help)
        assert f"{name} {short}" in _flat(out)


@pytest.mark.parametrize("path", INFRA, ids=" ".join)
def test_infra_commands_name_their_values(path, capsys):
    _, out, _ = call(capsys, *path, "--help")
    assert not re.search(r"--[\w-]+ <(str|int|float|list\[str\])>", out), out


def test_up_help_gives_durations_limits_and_metavars(capsys):
    from infra.rules import DURATION_PATTERN, MAX_RUNTIME_S
    from infra.spec import MAX_COUNT

    _, out, _ = call(capsys, "up", "--help")
    text = _flat(out)
    assert all(DURATION_PATTERN.fullmatch(d) for d in ("30s", "5m", "2h"))
    assert "a number and s, m or h: 30s, 5m, 2h" in text
    assert f"at most 7 days ({MAX_RUNTIME_S // 3600}h)" in text
    assert f"Number of machines, 1 to {MAX_COUNT}." in text
    for option, metavar in [("--idle-timeout", "DURATION"), ("--max-runtime", "DURATION"),
                            ("--wait-timeout", "DURATION"), ("--count", "N"),
                            ("--gpu-count", "N"), ("--region", "REGION"), ("--zone", "ZONE"),
                            ("--repo", "OWNER/NAME|URL"), ("--stack", "STACK")]:
        assert f"{option} {metavar} " in text, option


@pytest.mark.parametrize("path", [*COMMANDS, ()], ids=lambda p: " ".join(p) or "cml-infra")
@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_is_taken_before_or_after_every_command(path, where, capsys, monkeypatch):
    monkeypatch.setattr(app_module._State, "debug", False)  # restored after the test
    plain = call(capsys, *path, "--help")
    args = ["--debug", *path, "--help"] if where == "before" else [*path, "--debug", "--help"]
    assert call(capsys, *args) == plain
    assert app_module.debug_enabled()


def test_debug_after_a_double_dash_is_an_argument():
    assert app_module.without_debug(["up", "--", "--debug"]) == ["up", "--", "--debug"]
    assert not app_module.debug_enabled()


# A failing run of every leaf command, before any network or engine is reached.
FAILING = {
    ("up",): ("up", "--cloud", "azure", "--gpu-model", "l4", "--dry-run"),
    ("down",): ("down", "a b"),
    ("status",): ("status",),
    ("gc",): ("gc", "--grace", "5x"),
    ("comment", "create"): ("comment", "create", "missing.md"),
    ("comment", "update"): ("comment", "update", "missing.md"),
    ("check", "create"): ("check", "create", "missing.md"),
    ("metrics", "show"): ("metrics", "show", "missing.json"),
    ("metrics", "diff"): ("metrics", "diff", "missing.json"),
    ("plot",): ("plot", "missing.csv"),
}


@pytest.fixture
def bare(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """No CI, no forge, no Pulumi settings; an empty home and working directory."""
    import os

    for key in list(os.environ):
        if key.startswith(("GITHUB_", "GITLAB_", "CI", "PULUMI_", "REPO_TOKEN")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CML_INFRA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CML_INFRA_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)


def test_every_leaf_command_has_a_failing_run():
    assert set(FAILING) == set(LEAVES)


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
@pytest.mark.parametrize("position", [0, 1, -1])
def test_debug_anywhere_shows_the_traceback_of_every_command(path, position, bare, capsys,
                                                            monkeypatch):
    monkeypatch.setattr(app_module._State, "debug", False)
    args = list(FAILING[path])
    code, _, err = call(capsys, *args)
    assert code == 1 and err.startswith("Error: ") and err.count("\n") == 1, err
    args.insert(position if position >= 0 else len(args), "--debug")
    code, _, debug_err = call(capsys, *args)
    assert code == 1 and "Traceback (most recent call last)" in debug_err
    assert debug_err.strip().splitlines()[-1] == err.strip()  # the same sentence, last


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "cml-infra")
def test_a_group_without_its_command_prints_its_help(path, capsys):
    assert call(capsys, *path) == call(capsys, *path, "--help")


# ---- user-view review: a usage error names its command's help; readable metavars ----

def _a_flag_of(path: tuple[str, ...]) -> str | None:
    """A boolean flag of the command at `path` (one that takes no value), if it has one."""
    command = COMMANDS[path]
    flags = [p for p in command.params
             if getattr(p, "is_flag", False) and p.opts and p.opts[0].startswith("--")
             and p.opts[0] not in ("--help",)]
    return flags[0].opts[0] if flags else None


FLAGGED = [(path, flag) for path in LEAVES if (flag := _a_flag_of(path))]


def test_most_commands_have_a_flag_to_misuse():
    assert {("up",), ("down",), ("status",), ("gc",), ("metrics", "diff")} <= {
        path for path, _ in FLAGGED}


@pytest.mark.parametrize(("path", "flag"), FLAGGED, ids=lambda v: " ".join(v)
                         if isinstance(v, tuple) else v)
def test_a_flag_given_a_value_points_at_its_commands_help(path, flag, capsys):
    code, out, err = call(capsys, *path, f"{flag}=1")
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith("Error: ") and err.endswith(
        f" Run 'cml-infra {' '.join(path)} --help' to see what it accepts.\n")


@pytest.mark.parametrize("args", [("up", "--bogus"), ("down", "--lock-wait"), ("gc", "--grace"),
                                  ("--debug", "up", "--gpu=1"), ("metrics", "diff", "--bogus")])
def test_every_usage_error_names_the_subcommands_help(args, capsys):
    path = " ".join(a for a in args if not a.startswith("-"))
    code, _, err = call(capsys, *args)
    assert code == 2 and err.endswith(f"Run 'cml-infra {path} --help' to see what it accepts.\n")


@pytest.mark.parametrize("path", [*INFRA, *[p for p, c in COMMANDS.items()
                                            if any(x.param_type_name == "argument"
                                                   for x in getattr(c, "params", []))]],
                         ids=" ".join)
def test_arguments_and_options_show_no_python_types(path, capsys):
    _, out, _ = call(capsys, *path, "--help")
    assert not re.search(r"<(str|int|float|path|list\[[\w|]+\])>", out), out
