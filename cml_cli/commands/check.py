"""`cml-infra check create REPORT.md`: a GitHub check run or a GitLab commit status."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from cml_cli.forge_options import (
    ApiUrlOption,
    DriverOption,
    PublishOption,
    RepoOption,
    TokenOption,
)


class ConclusionChoice(str, Enum):
    success = "success"
    failure = "failure"
    neutral = "neutral"


def register(app: typer.Typer) -> None:
    from cml_cli.app import REPORTING_PANEL

    check = typer.Typer(help="Report as a check on the commit.\n\n"
                             "Example: cml-infra check create report.md --title Metrics",
                        no_args_is_help=True)

    @check.command("create")
    def create(
        report: Annotated[Path, typer.Argument(help="Markdown report: the check's summary.",
                                               show_default=False)],
        title: Annotated[str, typer.Option("--title", help="Name of the check.")] = "CML Report",
        conclusion: Annotated[ConclusionChoice, typer.Option(
            "--conclusion", help="Result shown on the commit.")] = ConclusionChoice.success,
        publish: PublishOption = True, repo: RepoOption = None, token: TokenOption = None,
        driver: DriverOption = None, api_url: ApiUrlOption = None,
    ) -> None:
        """Create a check run (GitHub) or a commit status plus a merge request note (GitLab).

        Example: cml-infra check create report.md --title Metrics --conclusion failure
        """
        from cml_cli.forge_options import build_forge, read_context, retry_backoff
        from reporting.checks import create_check
        from reporting.forges.base import Conclusion

        ctx = read_context(repo, token, driver, api_url)
        result = create_check(build_forge(ctx), ctx, report, title=title,
                              conclusion=Conclusion(conclusion.value), publish=publish,
                              backoff=retry_backoff())
        typer.echo(result.url)

    app.add_typer(check, name="check", rich_help_panel=REPORTING_PANEL)
