"""`cml-infra comment create|update REPORT.md`: the report as a sticky PR/MR comment.

Every CML option is taken with CML's meaning (see `cml_cli.cml_flags`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cml_cli.cml_flags import (
    CommentFlags,
    CommitShaOption,
    NativeOption,
    PrOption,
    PublishUrlOption,
    RmWatermarkOption,
    TargetOption,
    TriggerFileOption,
    UpdateOption,
    WatchOption,
    WatermarkOption,
)
from cml_cli.forge_options import (
    ApiUrlOption,
    CmlCommand,
    DriverChoice,
    DriverOption,
    LogLevel,
    LogOption,
    PublishOption,
    RepoOption,
    TokenOption,
)

if TYPE_CHECKING:
    from reporting.context import CIContext

ReportArg = Annotated[Path, typer.Argument(metavar="REPORT", help="Markdown report to post.",
                                           show_default=False)]
SummaryOption = Annotated[bool, typer.Option(
    "--summary", help="Also append the report as posted (uploaded image links, size limit "
    "and all) to the GitHub Actions job summary, the file $GITHUB_STEP_SUMMARY names, shown "
    "on the run's summary page; cut to keep the file within GitHub's 1 MiB limit. Checked "
    "before posting: an error when $GITHUB_STEP_SUMMARY is not set, as on GitLab CI, which "
    "has no job summary, and with --watch.")]
CREATE_HELP = """Post REPORT.md as a new comment, with its local images uploaded.

Example: cml-infra comment create report.md --target pr
"""
UPDATE_HELP = """Edit our newest comment (same --watermark-title), or post one if there is none.

Example: cml-infra comment update report.md --watermark-title "Training"
"""


def _post(report: Path, flags: CommentFlags, repo: str | None, token: str | None,
          driver: DriverChoice | None, api_url: str | None, log: LogLevel,
          summary: bool = False) -> None:
    from cml_cli.cml_flags import comment_options
    from cml_cli.forge_options import (
        build_forge,
        log_printers,
        reporting_context,
        retry_backoff,
        watch_interval,
    )
    from reporting.comments import post_report

    options = comment_options(flags)
    warn, info = log_printers(log)
    ctx = reporting_context(repo, token, driver, api_url, warn)
    summary_file = _summary_file(ctx, flags.watch) if summary else None
    forge = build_forge(ctx, info)

    def post(update: bool) -> None:
        posted = post_report(forge, ctx, report, replace(options, update=update),
                             backoff=retry_backoff(), say=info)
        typer.echo(posted.comment.url)
        if summary_file is not None:
            _append_summary(summary_file, posted.comment.body, warn)

    if not flags.watch:
        return post(options.update)
    from reporting.watch import watch

    try:  # CML's first post creates or updates as asked; later ones update it
        # without a marker (--rm-watermark) nothing can be found again: each post is new
        watch(report, lambda first: post(options.update or (not first and options.marked)),
              say=info,
              interval=watch_interval(), trigger=flags.trigger_file)
    except KeyboardInterrupt:
        info(f"Stopped watching {flags.trigger_file or report}.")


def _summary_file(ctx: CIContext, watch: bool) -> Path:
    """The job summary to append to, checked before anything is posted."""
    import os

    from reporting.context import Driver
    from reporting.errors import OptionError
    from reporting.summary import summary_path

    if watch:
        raise OptionError("--summary appends the report once, but --watch posts it again at "
                          "every change; drop one of them.")
    return summary_path(os.environ, gitlab=ctx.driver is Driver.GITLAB)


def _append_summary(path: Path, body: str, warn: Callable[[str], None]) -> None:
    """The posted `body`, without our hidden marker and with secrets masked, appended."""
    from cml_cli.redact import redact
    from reporting.report import parse_marker
    from reporting.summary import append_summary

    first, _, rest = body.partition("\n")
    if parse_marker(first) is not None:
        body = rest
    warning = append_summary(path, redact(body)).warning(path)
    if warning:
        warn(warning)


def _command(update: bool, doc: str):  # type: ignore[no-untyped-def]
    def command(report: ReportArg, target: TargetOption = None,
                watermark_title: WatermarkOption = "", publish: PublishOption = True,
                native: NativeOption = False, publish_url: PublishUrlOption = None,
                pr: PrOption = False, commit_sha: CommitShaOption = None,
                update_flag: UpdateOption = False, rm_watermark: RmWatermarkOption = False,
                watch: WatchOption = False, trigger_file: TriggerFileOption = None,
                repo: RepoOption = None, token: TokenOption = None,
                driver: DriverOption = None, api_url: ApiUrlOption = None,
                log: LogOption = LogLevel.info, summary: SummaryOption = False) -> None:
        flags = CommentFlags(target, watermark_title, publish, publish_url, pr, commit_sha,
                             update or update_flag, rm_watermark, watch, trigger_file)
        _post(report, flags, repo, token, driver, api_url, log, summary)

    command.__doc__ = doc
    return command


def register(app: typer.Typer) -> None:
    from cml_cli.app import REPORTING_PANEL

    comment = typer.Typer(help="Post a markdown report as a pull/merge request comment.\n\n"
                               "Example: cml-infra comment update report.md")

    @comment.callback(invoke_without_command=True)
    def _group(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:  # help as help, not as an error
            typer.echo(ctx.get_help())

    comment.command("create", cls=CmlCommand)(_command(False, CREATE_HELP))
    comment.command("update", cls=CmlCommand)(_command(True, UPDATE_HELP))
    app.add_typer(comment, name="comment", rich_help_panel=REPORTING_PANEL)
