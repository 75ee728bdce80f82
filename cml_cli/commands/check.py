"""`cml-infra check create REPORT.md`: a GitHub check run or a GitLab commit status.

Every CML option is taken with CML's meaning (see `cml_cli.cml_flags`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cml_cli.cml_flags import CheckShaOption, ConclusionChoice, StatusChoice
from cml_cli.forge_options import (
    ApiUrlOption,
    CmlCommand,
    DriverOption,
    LogLevel,
    LogOption,
    PublishOption,
    RepoOption,
    TokenOption,
)

ReportArg = Annotated[Path, typer.Argument(metavar="REPORT",
                                           help="Markdown report: the check's summary.",
                                           show_default=False)]
TitleOption = Annotated[str, typer.Option("--title", metavar="TITLE", help="Name of the check.")]
StatusOption = Annotated[StatusChoice, typer.Option(
    "--status", help="queued or in_progress: a check still running, with no conclusion.")]
ConclusionOption = Annotated[ConclusionChoice | None, typer.Option(
    "--conclusion", help="Result shown on the commit, for a completed check (default: "
    "success).", show_default=False)]


def register(app: typer.Typer) -> None:
    from cml_cli.app import REPORTING_PANEL

    check = typer.Typer(help="Report as a check on the commit.\n\n"
                             "Example: cml-infra check create report.md --title Metrics")

    @check.callback(invoke_without_command=True)
    def _group(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:  # help as help, not as an error
            typer.echo(ctx.get_help())

    @check.command("create", cls=CmlCommand)
    def create(report: ReportArg, title: TitleOption = "CML Report",
               status: StatusOption = StatusChoice.completed,
               conclusion: ConclusionOption = None, commit_sha: CheckShaOption = None,
               publish: PublishOption = True, repo: RepoOption = None,
               token: TokenOption = None, driver: DriverOption = None,
               api_url: ApiUrlOption = None, log: LogOption = LogLevel.info) -> None:
        """Create a check run (GitHub) or a commit status plus a merge request note (GitLab).

        Example: cml-infra check create report.md --title Metrics --conclusion failure
        """
        from cml_cli.cml_flags import check_commit, check_options
        from cml_cli.forge_options import (
            build_forge,
            log_printers,
            reporting_context,
            retry_backoff,
        )
        from reporting.checks import create_check

        options = check_options(title, status, conclusion, publish)
        warn, info = log_printers(log)
        ctx = reporting_context(repo, token, driver, api_url, warn)
        sha = check_commit(ctx, commit_sha)
        result = create_check(build_forge(ctx, info), ctx, report, sha, options,
                              backoff=retry_backoff(), say=info)
        typer.echo(result.url)

    app.add_typer(check, name="check", rich_help_panel=REPORTING_PANEL)
