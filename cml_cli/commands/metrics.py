"""`cml-infra metrics show|diff`: metrics tables and gates, printed as markdown."""

from __future__ import annotations

import os
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from reporting.gates import GateResult
    from reporting.metrics import MetricsReport

# Exit codes of `metrics diff`: 0 all gates passed, 1 an error (printed as one sentence),
# 2 a usage error (bad flag), GATES_FAILED_EXIT when a --fail-if gate failed.
GATES_FAILED_EXIT = 3

FILES_HELP = (
    "Metrics files (.json, .yaml, .csv, .tsv; CSV: the last row, or 'file.csv#COLUMN=VALUE' "
    "or 'file.csv#row=N'), dvc.yaml files or DVCLive directories. Default: ./dvc.yaml, else "
    "dvclive/metrics.json."
)
Files = Annotated[list[str] | None, typer.Argument(help=FILES_HELP, show_default=False)]


class OutputFormat(str, Enum):
    md = "md"
    json = "json"


Format = Annotated[OutputFormat, typer.Option("--format", help="Markdown table or JSON.")]
Precision = Annotated[int, typer.Option(min=1, max=15, help="Significant digits shown.")]
DvcMd = Annotated[bool, typer.Option("--md", hidden=True, help="Markdown (the default).")]

metrics_app = typer.Typer(
    no_args_is_help=True,
    help=(
        "Metrics tables from JSON, YAML, CSV, DVC and DVCLive files, compared with the base "
        "branch through git; nested keys are joined with '.'.\n\n"
        "Example: cml-infra metrics diff metrics.json --fail-if 'accuracy drops > 0.005' "
        ">> report.md"
    ),
)


@metrics_app.command("show")
def show(files: Files = None, output: Format = OutputFormat.md, precision: Precision = 5,
         md: DvcMd = False) -> None:
    """Print the metrics of the working tree as a markdown table.

    Example: cml-infra metrics show dvclive/metrics.json results.csv#split=test
    """
    from reporting import metrics

    report = metrics.show_metrics(metrics.resolve_sources(files or [], Path.cwd()), Path.cwd())
    typer.echo(_render(report, (), output, precision), nl=False)


@metrics_app.command("diff")
def diff(
    files: Files = None,
    base: Annotated[str | None, typer.Option(
        help="Revision to compare with. Default: $GITHUB_BASE_REF, else "
             "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME, else main.", show_default=False)] = None,
    fail_if: Annotated[list[str] | None, typer.Option(
        "--fail-if", show_default=False,
        help="Gate; repeatable: 'accuracy < 0.9', 'accuracy drops > 0.005', "
             "'loss rises > 5%', 'f1 changes'.")] = None,
    conclusion_file: Annotated[Path | None, typer.Option(
        help="Write 'success' or 'failure' here, for 'check create --conclusion'.",
        show_default=False, dir_okay=False)] = None,
    exit_zero: Annotated[bool, typer.Option(
        "--exit-zero", help=f"Exit 0 even when a gate fails (else {GATES_FAILED_EXIT}).")] = False,
    output: Format = OutputFormat.md,
    precision: Precision = 5,
    md: DvcMd = False,
) -> None:
    """Compare metrics with the base branch: old, new and change per metric, then the gates.

    Exits 3 when a --fail-if gate fails (1 on errors, 2 on bad flags).

    Example: cml-infra metrics diff --base main --fail-if 'accuracy < 0.9' >> report.md
    """
    from reporting.metrics import diff_with_base

    report, results = diff_with_base(files or [], base, os.environ, Path.cwd(), fail_if or [])
    typer.echo(_render(report, results, output, precision), nl=False)
    _conclude(results, conclusion_file, exit_zero)


def _render(report: MetricsReport, results: Sequence[GateResult], output: OutputFormat,
            precision: int) -> str:
    from reporting.metrics import render_json, render_markdown

    if output is OutputFormat.json:
        return render_json(report, results)
    return render_markdown(report, results, precision)


def _conclude(results: Sequence[GateResult], path: Path | None, exit_zero: bool) -> None:
    from reporting.gates import conclusion

    if path is not None:
        _write_conclusion(path, conclusion(results))
    failed = [r for r in results if r.status == "failed"]
    if failed:
        listed = "; ".join(f"'{r.gate.text}' ({r.detail})" for r in failed)
        typer.echo(f"{len(failed)} of {len(results)} gates failed: {listed}.", err=True)
        if not exit_zero:
            raise typer.Exit(GATES_FAILED_EXIT)


def _write_conclusion(path: Path, verdict: str) -> None:
    from reporting.errors import ReportFileError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(verdict + "\n", encoding="utf-8")
    except (FileExistsError, NotADirectoryError):
        raise ReportFileError(
            f"--conclusion-file {path} is inside a file, not a folder; choose another path."
        ) from None


def register(app: typer.Typer) -> None:
    from cml_cli.app import REPORTING_PANEL

    app.add_typer(metrics_app, name="metrics", rich_help_panel=REPORTING_PANEL)
