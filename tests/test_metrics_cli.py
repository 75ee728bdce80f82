"""`cml-infra metrics show|diff` as a user runs them: a subprocess in a real git repository."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.test_metrics_git import git, make_repo

NO_CI = {"GITHUB_BASE_REF": "", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": ""}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("cli") / "repo")


def cli(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={**NO_CI, **env}, cwd=repo)


def assert_one_sentence(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert text in lines[0]


def test_diff_prints_the_markdown_table_and_exits_0(repo, golden):
    result = cli(repo, "metrics", "diff", "metrics.json", "--fail-if", "accuracy < 0.9")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    golden("metrics/cli_diff.md", result.stdout)


def test_failed_gate_exits_3_and_writes_the_conclusion(repo, tmp_path):
    conclusion = tmp_path / "conclusion.txt"
    result = cli(repo, "metrics", "diff", "metrics.json", "--fail-if", "accuracy < 0.95",
                 "--fail-if", "loss rises", "--conclusion-file", str(conclusion))
    assert result.returncode == 3
    assert "| `accuracy < 0.95` | ❌ failed: accuracy is 0.93 |" in result.stdout
    assert result.stderr == "1 of 2 gates failed: 'accuracy < 0.95' (accuracy is 0.93).\n"
    assert conclusion.read_text() == "failure\n"


def test_exit_zero_keeps_the_conclusion(repo, tmp_path):
    conclusion = tmp_path / "conclusion.txt"
    result = cli(repo, "metrics", "diff", "metrics.json", "--fail-if", "accuracy < 0.95",
                 "--exit-zero", "--conclusion-file", str(conclusion))
    assert result.returncode == 0
    assert conclusion.read_text() == "failure\n"


def test_passing_gates_write_success(repo, tmp_path):
    conclusion = tmp_path / "conclusion.txt"
    cli(repo, "metrics", "diff", "--conclusion-file", str(conclusion), "metrics.json")
    assert conclusion.read_text() == "success\n"


def test_json_format_and_base_from_github_variable(repo):
    git(repo, "branch", "-f", "release", "main")
    result = cli(repo, "metrics", "diff", "eval.yaml", "--format", "json",
                 GITHUB_BASE_REF="release")
    document = json.loads(result.stdout)
    assert document["base"] == "release"
    assert document["metrics"][0] == {
        "file": "eval.yaml", "metric": "auc", "old": 0.88, "new": 0.9, "delta": 0.02,
    }


def test_show_needs_no_git_and_accepts_dvc_md(tmp_path):
    (tmp_path / "m.csv").write_text("epoch,acc\n1,0.5\n2,0.75\n")
    result = run_cli("metrics", "show", "m.csv", "--md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "| File | Metric | Value |\n| :--- | :--- | ---: |\n"
        "| m.csv | epoch | 2 |\n| m.csv | acc | 0.75 |\n\n"
    )


def test_malformed_metrics_file(repo, tmp_path):
    bad = repo / "broken.json"
    bad.write_text('{"accuracy": 0.9,,}')
    try:
        result = cli(repo, "metrics", "diff", "broken.json")
    finally:
        bad.unlink()
    assert_one_sentence(result, 1, "broken.json is not valid JSON (Expecting property name")
    assert result.stdout == ""


def test_missing_metrics_file(repo):
    assert_one_sentence(cli(repo, "metrics", "diff", "nope.json"), 1,
                        "Metrics file nope.json does not exist; check the path.")


def test_bad_gate_fails_before_reading_anything(repo):
    result = cli(repo, "metrics", "diff", "nope.json", "--fail-if", "accuracy <> 0.9")
    assert_one_sentence(result, 1, "Cannot read the gate 'accuracy <> 0.9'; write METRIC OP")


def test_gate_on_a_missing_metric(repo):
    result = cli(repo, "metrics", "diff", "metrics.json", "--fail-if", "bleu < 30")
    assert_one_sentence(result, 1, "names the metric 'bleu', which no metrics file has")
    assert result.stdout == ""


def test_missing_base_revision(repo, tmp_path):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-b", "feature", str(repo), str(clone))
    result = cli(clone, "metrics", "diff", "metrics.json", "--base", "no-such-branch")
    assert_one_sentence(
        result, 1,
        "The base revision 'no-such-branch' is not in this clone; fetch it first with "
        "'git fetch origin no-such-branch' (on GitHub Actions, give actions/checkout "
        "'fetch-depth: 0'; on GitLab CI, set GIT_DEPTH: 0), or name another with --base.",
    )


def test_missing_base_revision_without_a_remote(repo):
    result = cli(repo, "metrics", "diff", "metrics.json", "--base", "no-such-branch")
    assert_one_sentence(result, 1, "does not exist in this repository, which has no 'origin'")


def test_not_a_git_repository(tmp_path):
    (tmp_path / "m.json").write_text('{"a": 1}')
    result = run_cli("metrics", "diff", "m.json", env=NO_CI, cwd=tmp_path)
    assert_one_sentence(result, 1, "is not inside a git repository")


def test_usage_errors_exit_2(repo):
    result = cli(repo, "metrics", "diff", "--format", "html")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_help_imports_neither_yaml_nor_vl_convert():
    probe = (
        "import sys, json\n"
        "from cml_cli.app import app\n"
        "for args in (['--help'], ['metrics', 'diff', '--help'], ['plot', '--help']):\n"
        "    try:\n"
        "        app(args=args, prog_name='cml-infra', standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps([m for m in ('yaml', 'vl_convert') if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def images_inside_blocks(markdown: str) -> list[str]:
    """The images a CommonMark + GFM-tables parser puts in a table cell or a list item
    (a line right after a list item continues it), rather than in a paragraph of their own."""
    from markdown_it import MarkdownIt  # installed with rich, which typer uses

    depth, found = 0, []
    for token in MarkdownIt("commonmark").enable("table").parse(markdown):
        depth += token.nesting if token.type.startswith(("table", "bullet_list")) else 0
        if depth and token.type == "inline":
            found += [child.attrs["src"] for child in token.children or []
                      if child.type == "image"]
    return found


REPORTS = {
    "show": ("metrics", "show", "metrics.json"),
    "diff": ("metrics", "diff", "metrics.json"),
    "diff with notes": ("metrics", "diff", "metrics.json", "new.json"),
    "diff with gates": ("metrics", "diff", "metrics.json", "--fail-if", "accuracy < 0.5"),
}


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("image", ["plot", "echo"])
def test_an_image_appended_after_the_table_is_not_in_the_table(repo, tmp_path, report, image):
    table = cli(repo, *REPORTS[report])
    assert table.returncode == 0, table.stderr
    if image == "plot":
        out = tmp_path / "loss.png"
        line = cli(repo, "plot", "history.csv", "--out", str(out)).stdout
    else:
        line = "![](plot.png)\n"  # echo '![](plot.png)' >> report.md
    assert table.stdout.endswith("\n\n")
    assert images_inside_blocks(table.stdout + line) == []
    assert images_inside_blocks(table.stdout.rstrip("\n") + "\n" + line) != []  # the old way


def test_whole_numbers_are_whole_in_the_table_and_the_gate_message(tmp_path):
    repo = make_repo(tmp_path / "r", {"m.json": '{"count": 3.0, "steps": 4}'},
                     {"m.json": '{"count": 6.0, "steps": 2.0}'})
    result = cli(repo, "metrics", "diff", "m.json", "--fail-if", "count rises > 50%")
    assert "| m.json | count ❌ | 3 | 6 | +3 (+100%) |" in result.stdout
    assert "| m.json | steps | 4 | 2 | -2 (-50%) |" in result.stdout
    assert result.stderr == (
        "1 of 1 gates failed: 'count rises > 50%' (count rose by 3 (100%), from 3 to 6).\n"
    )


BAD_INPUTS = [
    ("dup.json", '{"accuracy": 0.9, "accuracy": 0.8}', (),
     "dup.json has the key 'accuracy' twice; keep only one of them."),
    ("dup.yaml", "accuracy: 0.9\naccuracy: 0.8\n", (),
     "dup.yaml has the key 'accuracy' twice (again at line 2); keep only one of them."),
    ("dup.csv", "acc,acc\n1,2\n", (), "dup.csv has the column 'acc' twice; rename one of them."),
    ("list.json", "[0.9]", (), "list.json must hold a mapping of metric names to values"),
    ("number.yaml", "0.9\n", (), "not the single value '0.9'"),
    ("empty.json", '{"eval": {}}', (),
     "empty.json holds no metrics, only empty mappings or lists; name the file"),
    ("text.json", '{"accuracy": "high"}', ("--fail-if", "accuracy < 0.9"),
     "needs a number, but accuracy in text.json is 'high'; gate a numeric metric instead."),
    ("m.json", '{"accuracy": 0.9}', ("--fail-if", "bleu < 30"),
     "The gate 'bleu < 30' names the metric 'bleu', which no metrics file has; the metrics are: "
     "accuracy."),
    ("m.json", '{"accuracy": 0.9}', ("--fail-if", "accuracy drops > -5"),
     "has a negative amount, but amounts are magnitudes; write 'accuracy drops > 5'"),
    ("m.json", '{"accuracy": 0.9}', ("--fail-if", "accuracy < 90%"),
     "compares a value with a percentage, which only a change can be"),
    ("m.json", '{"accuracy": 0.9}', ("--base", "no-such-branch"),
     "The base revision 'no-such-branch' does not exist in this repository"),
]


@pytest.mark.parametrize(("name", "content", "flags", "message"), BAD_INPUTS,
                         ids=[f"{b[0]}{' '.join(b[2])}" for b in BAD_INPUTS])
def test_bad_input_is_one_sentence(repo, name, content, flags, message):
    (repo / name).write_text(content)
    try:
        result = cli(repo, "metrics", "diff", name, *flags)
    finally:
        (repo / name).unlink()
    assert_one_sentence(result, 1, message)
    assert result.stdout == ""


def test_conclusion_file_inside_a_file_is_one_sentence(repo, tmp_path):
    (tmp_path / "f").write_text("")
    result = cli(repo, "metrics", "diff", "metrics.json", "--conclusion-file",
                 str(tmp_path / "f" / "c.txt"))
    assert_one_sentence(result, 1, "cannot be written because a file in its path is not a "
                        "folder; choose another path.")


def test_conclusion_file_folders_are_created(repo, tmp_path):
    path = tmp_path / "out" / "c.txt"
    assert cli(repo, "metrics", "diff", "metrics.json", "--conclusion-file", str(path)
               ).returncode == 0
    assert path.read_text() == "success\n"
