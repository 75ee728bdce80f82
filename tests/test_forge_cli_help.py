"""Help of the reporting commands: CML's names and options, and an example each."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize(("args", "options"), [
    (("comment", "create"), ("--target", "--watermark-title", "--publish", "--no-publish",
                             "--repo", "--token", "--driver", "--api-url")),
    (("comment", "update"), ("--target", "--watermark-title", "--publish")),
    (("check", "create"), ("--title", "--conclusion", "--repo", "--token")),
])
def test_help_shows_cml_options_and_an_example(args, options):
    result = run_cli(*args, "--help", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "Example: cml-infra " + " ".join(args) in result.stdout
    for option in options:
        assert option in result.stdout


def test_top_level_help_lists_both_under_reporting():
    result = run_cli("--help", env={"COLUMNS": "200"})
    section = result.stdout.split("Reporting", 1)[1]
    assert "comment" in section and "check" in section


def test_bad_conclusion_is_a_usage_error():
    result = run_cli("check", "create", "r.md", "--conclusion", "great")
    assert result.returncode == 2
    assert ("'great' is not one of 'success', 'failure', 'neutral', 'cancelled', 'skipped', "
            "'timed_out'") in result.stderr


def _help_options(*args: str) -> set[str]:
    """The long options a command's --help lists (the option column only)."""
    result = run_cli(*args, "--help", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    columns = re.findall(r"^  (-\S.*?)(?:\s{2,}|$)", result.stdout, flags=re.M)
    return {flag for column in columns for flag in re.findall(r"--[a-z][a-z-]*", column)}


def _readme_table() -> dict[str, set[str]]:
    """README's table of CML options: which options each place (comment, check, cml-infra)
    lists."""
    section = README.split("### CML's options of `comment` and `check`", 1)[1]
    rows = re.findall(r"^\| (`--.*?) \| (.*?) \|", section.split("\n## ", 1)[0], flags=re.M)
    table: dict[str, set[str]] = {}
    for flags, places in rows:
        for place in places.split(", "):
            table.setdefault(place, set()).update(re.findall(r"`(--[a-z-]+)`", flags))
    return table


@pytest.mark.parametrize(("place", "command"), [
    ("comment", ("comment", "create")), ("comment", ("comment", "update")),
    ("check", ("check", "create"))])
def test_readme_table_of_cml_options_matches_the_commands_help(place, command):
    assert _readme_table()[place] == _help_options(*command)


def test_readme_table_names_every_option_of_cmls_comment_and_check_references():
    # CML's own option names (https://github.com/iterative/cml.dev, content/docs/ref/
    # comment.md, check.md, index.md; hidden ones from iterative/cml bin/cml/comment/create.js).
    cml = {"--target", "--pr", "--commit-sha", "--head-sha", "--watch", "--trigger-file",
           "--publish", "--publish-url", "--publish-native", "--native", "--update",
           "--rm-watermark", "--watermark-title", "--token", "--conclusion", "--status",
           "--title", "--repo", "--driver", "--driver-token", "--log", "--help", "--version"}
    table = _readme_table()
    assert cml <= set().union(*table.values())
    assert table["cml-infra"] <= _help_options()


@pytest.mark.parametrize("group", ["comment", "check"])
def test_a_bare_group_prints_its_help_not_an_error(group):
    result = run_cli(group)
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.startswith(f"Usage: cml-infra {group} [OPTIONS] COMMAND")
    assert "Commands:" in result.stdout and "create" in result.stdout
