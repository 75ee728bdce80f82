"""`cml-infra metrics show|diff`: metrics tables and gates, printed as markdown."""

from __future__ import annotations

import os
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cml_cli.ranges import between

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
Files = Annotated[list[str] | None, typer.Argument(
    metavar="[FILE...]", help=FILES_HELP, show_default=False)]


class OutputFormat(str, Enum):
    md = "md"
    json = "json"
    openmetrics = "openmetrics"


Format = Annotated[OutputFormat, typer.Option(
    "--format", metavar="md|json|openmetrics",
    help="Markdown table, JSON, or OpenMetrics text for GitLab's metrics report "
         "(artifacts:reports:metrics): one 'name value' line per numeric metric of the new "
         "revision, written in full (not rounded to --precision), names with every character "
         "but letters, digits, _ and : made '_' (eval.accuracy: eval_accuracy), text metrics "
         "left out, '# EOF' last; two metrics that become one name are refused.")]
Precision = Annotated[int, typer.Option(
    parser=between(1, 15), metavar="DIGITS", help="Significant digits shown (1 to 15).")]
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

    sources = metrics.resolve_sources(files or [], Path.cwd(), "show")
    report = metrics.show_metrics(sources, Path.cwd())
    typer.echo(_render(report, (), output, precision), nl=False)


@metrics_app.command("diff")
def diff(
    files: Files = None,
    base: Annotated[str | None, typer.Option(
        metavar="REV", help="Revision to compare with. Default: $GITHUB_BASE_REF, else "
             "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME, else main.", show_default=False)] = None,
    fail_if: Annotated[list[str] | None, typer.Option(
        "--fail-if", metavar="GATE", show_default=False,
        help="Gate; repeatable: 'accuracy < 0.9', 'accuracy drops > 0.005', "
             "'loss rises > 5%', 'f1 changes'.")] = None,
    conclusion_file: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Write 'success' or 'failure' here, for 'check create "
        "--conclusion'; never one of the metrics files read.",
        show_default=False, dir_okay=False)] = None,
    exit_zero: Annotated[bool, typer.Option(
        "--exit-zero", help=f"Exit 0 even when a gate fails (else {GATES_FAILED_EXIT}).")] = False,
    summary: Annotated[bool, typer.Option(
        "--summary", help="Also append the markdown report to the GitHub Actions job summary "
        "(the file $GITHUB_STEP_SUMMARY names), shown on the run's summary page; cut to keep "
        "the file within GitHub's 1 MiB limit. An error when $GITHUB_STEP_SUMMARY is not set, "
        "as on GitLab CI, which has no job summary.")] = False,
    junit: Annotated[Path | None, typer.Option(
        "--junit", metavar="FILE", show_default=False, dir_okay=False,
        help="Write the gates as a JUnit XML report here, for GitLab's test report "
        "(artifacts:reports:junit): suite 'cml-infra metrics gates', one test case per "
        "--fail-if gate, failed with the old, new and change values, skipped when the base "
        "lacks the metric; an empty suite (tests=\"0\") without gates. Written even when a "
        "gate fails; never one of the metrics files read.")] = None,
    output: Format = OutputFormat.md,
    precision: Precision = 5,
    md: DvcMd = False,
) -> None:
    """Compare metrics with the base branch: old, new and change per metric, then the gates.

    Exits 3 when a --fail-if gate fails (1 on errors, 2 on bad flags). The job summary
    (--summary), --junit and --conclusion-file are written whatever the gates say.

    Example: cml-infra metrics diff --base main --fail-if 'accuracy < 0.9' >> report.md
    """
    from reporting.metrics import diff_with_base, render_markdown

    summary_file = _summary_file() if summary else None  # before any work
    outputs = [(flag, path) for flag, path in (
        ("--conclusion-file", conclusion_file), ("--junit", junit),
        (f"${SUMMARY_VAR}", summary_file)) if path is not None]
    report, results = diff_with_base(files or [], base, os.environ, Path.cwd(), fail_if or [],
                                     outputs)
    typer.echo(_render(report, results, output, precision), nl=False)
    if summary_file is not None:
        _append_summary(summary_file, render_markdown(report, results, precision))
    if junit is not None:
        _write_junit(junit, report, results, precision)
    _conclude(results, conclusion_file, exit_zero)


def _render(report: MetricsReport, results: Sequence[GateResult], output: OutputFormat,
            precision: int) -> str:
    from reporting.metrics import render_json, render_markdown

    if output is OutputFormat.json:
        return render_json(report, results)
    if output is OutputFormat.openmetrics:
        from reporting.openmetrics import render_openmetrics

        return render_openmetrics(report)
    return render_markdown(report, results, precision)


SUMMARY_VAR = "GITHUB_STEP_SUMMARY"  # reporting.summary.SUMMARY_VAR, without importing it


def _summary_file() -> Path:
    from reporting.summary import summary_path

    return summary_path(os.environ)


def _append_summary(path: Path, markdown: str) -> None:
    """Append `markdown` to the job summary, secrets masked; a warning when it was cut."""
    from cml_cli.redact import redact
    from reporting.summary import append_summary

    warning = append_summary(path, redact(markdown)).warning(path)
    if warning:
        typer.echo(warning, err=True)


def _write_junit(path: Path, report: MetricsReport, results: Sequence[GateResult],
                 precision: int) -> None:
    from reporting.junit import render_junit
    from reporting.metrics.files import write_output

    write_output(path, render_junit(report, results, precision), f"--junit {path}")


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
    from reporting.metrics.files import write_output

    write_output(path, f"{verdict}\n".encode(), f"--conclusion-file {path}")


def register(app: typer.Typer) -> None:
    from cml_cli.app import REPORTING_PANEL

    app.add_typer(metrics_app, name="metrics", rich_help_panel=REPORTING_PANEL)
