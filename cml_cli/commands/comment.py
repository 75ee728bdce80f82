"""`cml-infra comment create|update REPORT.md`: the report as a sticky PR/MR comment."""

from __future__ import annotations

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

ReportArg = Annotated[Path, typer.Argument(help="Markdown report to post.", show_default=False)]
TargetOption = Annotated[str, typer.Option(
    "--target", help="Where to comment: auto, pr, commit, pr/N, commit/SHA or issue/N. "
    "auto: this run's pull request, else the one containing the commit, else the commit.")]
WatermarkOption = Annotated[str, typer.Option(
    "--watermark-title", help="Keeps several reports apart: update edits only the comment "
    "with the same title.")]


def _post(report: Path, target: str, watermark: str, publish: bool, update: bool,
          repo: str | None, token: str | None, driver: object, api_url: str | None) -> None:
    from cml_cli.forge_options import build_forge, read_context, retry_backoff
    from reporting.comments import CommentOptions, post_report
    from reporting.target import parse_target

    options = CommentOptions(parse_target(target), watermark, publish, update)
    ctx = read_context(repo, token, driver, api_url)  # type: ignore[arg-type]
    posted = post_report(build_forge(ctx), ctx, report, options, backoff=retry_backoff())
    typer.echo(posted.comment.url)


def register(app: typer.Typer) -> None:
    from cml_cli.app import REPORTING_PANEL

    comment = typer.Typer(help="Post a markdown report as a pull/merge request comment.\n\n"
                               "Example: cml-infra comment update report.md",
                          no_args_is_help=True)

    @comment.command("create")
    def create(report: ReportArg, target: TargetOption = "auto",
               watermark_title: WatermarkOption = "", publish: PublishOption = True,
               repo: RepoOption = None, token: TokenOption = None,
               driver: DriverOption = None, api_url: ApiUrlOption = None) -> None:
        """Post REPORT.md as a new comment, with its local images uploaded.

        Example: cml-infra comment create report.md --target pr
        """
        _post(report, target, watermark_title, publish, False, repo, token, driver, api_url)

    @comment.command("update")
    def update(report: ReportArg, target: TargetOption = "auto",
               watermark_title: WatermarkOption = "", publish: PublishOption = True,
               repo: RepoOption = None, token: TokenOption = None,
               driver: DriverOption = None, api_url: ApiUrlOption = None) -> None:
        """Edit our newest comment (same --watermark-title), or post one if there is none.

        Example: cml-infra comment update report.md --watermark-title "Training"
        """
        _post(report, target, watermark_title, publish, True, repo, token, driver, api_url)

    app.add_typer(comment, name="comment", rich_help_panel=REPORTING_PANEL)
