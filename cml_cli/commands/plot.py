"""`cml-infra plot`: a Vega-Lite spec or a CSV series to an image, printed as markdown."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from cml_cli.ranges import between


class Kind(str, Enum):
    line = "line"
    scatter = "scatter"
    bar = "bar"


def plot(
    source: Annotated[Path, typer.Argument(
        metavar="SOURCE",
        help="A Vega-Lite (or Vega) spec .json, a .csv/.tsv series, or a .json list of records.",
        show_default=False, dir_okay=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", metavar="FILE",
        help="Image to write; its extension picks the format: .png, .svg, .jpg or .jpeg. "
        "Default: SOURCE with a .png suffix. Never one of the files the plot is drawn from.",
        show_default=False, dir_okay=False)] = None,
    x: Annotated[str | None, typer.Option(
        metavar="COLUMN", help="CSV: the x column. Default: the first column.",
        show_default=False)] = None,
    y: Annotated[list[str] | None, typer.Option(
        metavar="COLUMN", help="CSV: a y column; repeatable. Default: every other numeric column.",
        show_default=False)] = None,
    title: Annotated[str | None, typer.Option(
        metavar="TEXT", help="Title and alt text. Default: the spec's title or the file name.",
        show_default=False)] = None,
    kind: Annotated[Kind, typer.Option(
        metavar="line|scatter|bar", help="CSV: the mark to draw.")] = Kind.line,
    width: Annotated[int, typer.Option(
        parser=between(50, 4000), metavar="PIXELS",
        help="CSV: plot width (50 to 4000).")] = 600,
    height: Annotated[int, typer.Option(
        parser=between(50, 4000), metavar="PIXELS",
        help="CSV: plot height (50 to 4000).")] = 300,
    scale: Annotated[float, typer.Option(
        parser=between(0.1, 8, integer=False), metavar="FACTOR",
        help="Pixel scale factor (PNG and JPEG; 0.1 to 8).")] = 1.0,
) -> None:
    """Render a plot to PNG, SVG or JPEG without Node.js and print its markdown image line.

    Example: cml-infra plot dvclive/plots/metrics/loss.tsv --y loss >> report.md
    """
    from reporting.plots import PlotOptions, refuse_scale, write_plot

    refuse_scale(out or source.with_suffix(".png"), scale)
    options = PlotOptions(title=title, x=x, y=tuple(y or ()), kind=kind.value,
                          width=width, height=height, scale=scale)
    typer.echo(write_plot(source, out or source.with_suffix(".png"), options))


def register(app: typer.Typer) -> None:
    from cml_cli.app import REPORTING_PANEL

    app.command("plot", rich_help_panel=REPORTING_PANEL)(plot)
