"""Help of the reporting commands: CML's names and options, and an example each."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli


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
    assert "'great' is not one of 'success', 'failure', 'neutral'" in result.stderr
