"""`metrics` and `plot` as a user mistypes them: outputs over inputs, files that are not
regular files, and the help's metavars."""

from __future__ import annotations

import errno
import json
import re
import subprocess
from pathlib import Path

import pytest
import typer

from reporting.metrics.files import os_sentence
from tests.conftest import run_cli
from tests.test_metrics_git import make_repo

NO_CI = {"GITHUB_BASE_REF": "", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": ""}
LONG = "n" * 300


def one_sentence(result: subprocess.CompletedProcess[str], text: str, code: int = 1) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "Unexpected error" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert text in lines[0], lines[0]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_repo(tmp_path_factory.mktemp("files") / "repo")
    (root / "sub").mkdir()
    (root / "link.json").symlink_to("metrics.json")
    (root / "dvclive" / "link.json").symlink_to("metrics.json")
    (root / "loop1").symlink_to("loop2")
    (root / "loop2").symlink_to("loop1")
    (root / "empty.json").write_text("")
    (root / "adir.json").mkdir()
    return root


@pytest.mark.parametrize(("files", "target"), [
    (["metrics.json"], "metrics.json"), (["."], "metrics.json"),
    (["dvc.yaml"], "dvclive/metrics.json"), (["dvclive"], "dvclive/metrics.json")])
@pytest.mark.parametrize("alias", ["{t}", "./{t}", "sub/../{t}", "{link}", "{repo}/{t}"])
def test_conclusion_file_never_overwrites_a_metrics_file(repo, files, target, alias):
    before = (repo / target).read_bytes()
    link = Path(target).parent / "link.json"
    out = alias.format(t=target, link=link.as_posix(), repo=repo)
    result = run_cli("metrics", "diff", *files, "--conclusion-file", out, env=NO_CI, cwd=repo)
    one_sentence(result, "is a metrics file that metrics diff reads")
    assert result.stderr.strip().endswith("; give --conclusion-file another path.")
    assert result.stdout == ""
    assert (repo / target).read_bytes() == before


def test_conclusion_file_may_not_be_the_dvc_yaml_read(repo):
    before = (repo / "dvc.yaml").read_bytes()
    result = run_cli("metrics", "diff", "--conclusion-file", "./dvc.yaml", env=NO_CI, cwd=repo)
    one_sentence(result, "dvc.yaml is a metrics file that metrics diff reads")
    assert (repo / "dvc.yaml").read_bytes() == before


@pytest.mark.parametrize(("name", "message"), [
    ("loop1", "loop1 is a symbolic link loop; point the link at a real file."),
    ("/dev/null", "/dev/null is not a regular file (a device, pipe or socket)"),
    ("empty.json", "empty.json is empty; write the metrics into it first."),
    (f"{LONG}.json", "is a name too long for the file system; choose a shorter path."),
    ("adir.json", "adir.json is a directory with no metrics.json or dvc.yaml in it."),
])
@pytest.mark.parametrize("command", ["show", "diff"])
def test_metrics_inputs_that_are_not_regular_files_are_one_sentence(repo, command, name,
                                                                     message):
    one_sentence(run_cli("metrics", command, name, env=NO_CI, cwd=repo), message)


def test_a_dvc_yaml_listing_a_link_loop_is_one_sentence(tmp_path):
    (tmp_path / "dvc.yaml").write_text("metrics:\n  - loop1\n")
    (tmp_path / "loop1").symlink_to("loop1")
    one_sentence(run_cli("metrics", "show", cwd=tmp_path),
                 "loop1 is a symbolic link loop; point the link at a real file.")


@pytest.fixture
def plots(tmp_path: Path) -> Path:
    (tmp_path / "h.csv").write_text("step,loss\n1,0.9\n2,0.5\n")
    (tmp_path / "loop1").symlink_to("loop1")
    (tmp_path / "loop.png").symlink_to("loop.png")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "data").mkdir()
    (tmp_path / "dirdata.json").write_text(json.dumps(
        {"mark": "line", "data": {"url": "data"}}))
    return tmp_path


@pytest.mark.parametrize(("args", "message"), [
    (["loop1"], "loop1 is a symbolic link loop; point the link at a real file."),
    (["/dev/null"], "/dev/null is not a regular file (a device, pipe or socket)"),
    ([f"{LONG}.csv"], "is a name too long for the file system; choose a shorter path."),
    (["empty.csv"], "empty.csv has no data rows"),
    (["dirdata.json"], "data is a directory; give the path of a file."),
    (["h.csv", "-o", "loop.png"], "loop.png is a symbolic link loop"),
    (["h.csv", "-o", f"{LONG}.png"], "is a name too long for the file system"),
])
def test_plot_files_that_cannot_be_read_or_written_are_one_sentence(plots, args, message):
    one_sentence(run_cli("plot", *args, cwd=plots), message)


@pytest.mark.parametrize("verb", ["read", "written"])
def test_permission_denied_is_one_sentence(verb):
    # Tests may run as root, who is never denied: the sentence is checked directly.
    sentence = os_sentence(PermissionError(errno.EACCES, "Permission denied"), "m.json", verb)
    assert sentence == f"m.json cannot be {verb} (permission denied); check its permissions."
    other = os_sentence(OSError(errno.EIO, "Input/output error"), "m.json", verb)
    assert other == f"m.json cannot be {verb} (Input/output error); check the path."


def _commands() -> list[tuple[str, object]]:
    """Every command of the app, by its full name."""
    from cml_cli.app import app

    found: list[tuple[str, object]] = []

    def walk(command, ctx, prefix):
        for name in getattr(command, "list_commands", lambda c: [])(ctx):
            sub = command.get_command(ctx, name)
            found.append((f"{prefix}{name}".strip(), sub))
            walk(sub, typer.Context(sub, parent=ctx, info_name=name), f"{prefix}{name} ")

    root = typer.main.get_command(app)
    walk(root, typer.Context(root, info_name="cml-infra"), "")
    return found


def test_every_command_is_walked():
    names = {name for name, _ in _commands()}
    assert {"up", "down", "gc", "status", "plot", "metrics show", "metrics diff",
            "comment create", "comment update", "check create"} <= names


@pytest.mark.parametrize("name", [name for name, _ in _commands()])
def test_every_option_and_argument_has_a_readable_metavar(name):
    command = dict(_commands())[name]
    ctx = typer.Context(command, info_name=name)
    for param in command.params:
        record = param.get_help_record(ctx)
        if record is None:
            continue
        assert not re.search(r"<[^>]*>", record[0]), record[0]
        assert "{" not in record[0], record[0]
    usage = " ".join(command.collect_usage_pieces(ctx))
    assert not re.search(r"[<{]", usage), usage
    for param in command.params:  # a default is stated once: in the sentence or by Click
        record = param.get_help_record(ctx)
        if record is not None:
            assert not ("(default:" in record[1] and "[default:" in record[1]), record
    for param in command.params:  # an optional argument is bracketed, a required one is not
        if param.param_type_name == "argument":
            shown = param._usage_display_name()
            assert shown.startswith("[") is (not param.required), (name, shown)


@pytest.mark.parametrize(("args", "shown"), [
    (["plot"], ["Usage: cml-infra plot [OPTIONS] SOURCE", "--y COLUMN", "--width PIXELS",
                "--scale FACTOR", "-o, --out FILE"]),
    (["metrics", "diff"], ["Usage: cml-infra metrics diff [OPTIONS] [FILE...]", "--base REV",
                           "--fail-if GATE", "--conclusion-file FILE", "--precision DIGITS"]),
    (["metrics", "show"], ["Usage: cml-infra metrics show [OPTIONS] [FILE...]"]),
])
def test_help_shows_readable_metavars(args, shown):
    result = run_cli(*args, "--help")
    assert result.returncode == 0, result.stderr
    assert not re.search(r"<[a-z][^>]*>|\{", result.stdout), result.stdout
    for text in shown:
        assert text in result.stdout
