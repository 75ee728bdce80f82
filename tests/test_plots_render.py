"""Plots: real PNGs from Vega-Lite specs and CSV series through vl-convert, no Node.js."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from reporting.errors import ReportFileError
from reporting.plots import PlotOptions, build_spec, markdown_image, series_spec, write_plot
from tests.conftest import run_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HISTORY = "epoch,loss,val loss,acc.top1,note\n1,0.9,1.0,0.5,a\n2,0.5,0.7,0.7,b\n3,0.3,,0.8,c\n"
SPEC = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "title": "Loss",
    "width": 200, "height": 100,
    "data": {"url": "loss.csv"},
    "mark": "line",
    "encoding": {"x": {"field": "step", "type": "quantitative"},
                 "y": {"field": "loss", "type": "quantitative"}},
}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "history.csv").write_text(HISTORY)
    (tmp_path / "loss.csv").write_text("step,loss\n1,0.9\n2,0.5\n3,0.3\n")
    (tmp_path / "spec.json").write_text(json.dumps(SPEC))
    return tmp_path


def test_vega_lite_spec_with_local_data_renders_a_png(workdir):
    line = write_plot(workdir / "spec.json", workdir / "out" / "loss.png", PlotOptions())
    assert line == f"![Loss]({(workdir / 'out' / 'loss.png').as_posix()})"
    width, height = png_size(workdir / "out" / "loss.png")
    assert 200 < width < 400 and 100 < height < 250  # plot area plus axes and title


def test_scale_multiplies_the_pixels(workdir):
    write_plot(workdir / "spec.json", workdir / "one.png", PlotOptions())
    write_plot(workdir / "spec.json", workdir / "two.png", PlotOptions(scale=2))
    (w1, h1), (w2, h2) = png_size(workdir / "one.png"), png_size(workdir / "two.png")
    assert (w2, h2) == (2 * w1, 2 * h1)


def test_csv_series_renders_every_numeric_column(workdir):
    options = PlotOptions(title="History", width=300, height=150)
    line = write_plot(workdir / "history.csv", workdir / "h.png", options)
    assert line.startswith("![History](")
    width, height = png_size(workdir / "h.png")
    assert width > 300 and height > 150


def test_series_spec_is_long_form_so_dotted_and_spaced_names_are_safe(golden):
    rows = [{"epoch": 1, "loss": 0.9, "acc.top1": 0.5}, {"epoch": 2, "loss": 0.5,
                                                         "acc.top1": None}]
    spec = series_spec(rows, "history.csv", PlotOptions(kind="scatter"))
    golden("metrics/plot_series_spec.json", json.dumps(spec, indent=2) + "\n")


def test_csv_columns_chosen_with_x_and_y(workdir):
    spec = build_spec(workdir / "history.csv", PlotOptions(x="note", y=("loss",)))
    assert spec["encoding"]["x"] == {"field": "x", "type": "ordinal", "title": "note"}
    assert {v["series"] for v in spec["data"]["values"]} == {"loss"}
    assert "color" not in spec["encoding"]


def test_json_records_are_a_series(tmp_path):
    (tmp_path / "r.json").write_text('[{"step": 1, "acc": 0.5}, {"step": 2, "acc": 0.6}]')
    spec = build_spec(tmp_path / "r.json", PlotOptions())
    assert spec["encoding"]["y"]["title"] == "acc"


def test_injected_converter_receives_the_spec(workdir):
    seen = []

    def convert(spec, fmt, scale):
        seen.append((spec["title"], fmt, scale))
        return PNG_SIGNATURE

    write_plot(workdir / "history.csv", workdir / "x.png", PlotOptions(scale=3), convert)
    assert seen == [("history", "png", 3)]


@pytest.mark.parametrize(
    ("name", "content", "options", "message"),
    [
        ("h.csv", HISTORY, PlotOptions(y=("accuracy",)),
         "h.csv has no column 'accuracy'; its columns are epoch, loss, val loss, acc.top1, note."),
        ("t.csv", "name,kind\na,b\n", PlotOptions(), "t.csv has no numeric column to plot"),
        ("e.csv", "a,b\n", PlotOptions(), "has no data rows"),
        ("s.json", "{nope", PlotOptions(), "is not valid JSON"),
        ("s.json", '{"data": {"values": []}}', PlotOptions(), "is not a Vega-Lite spec"),
        ("s.json", "42", PlotOptions(), "must hold a Vega-Lite spec or a list of records"),
        ("s.txt", "x", PlotOptions(), "is not a plot source"),
    ],
)
def test_bad_sources_are_one_sentence(tmp_path, name, content, options, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(ReportFileError) as info:
        write_plot(tmp_path / name, tmp_path / "o.png", options)
    assert message in str(info.value)
    assert not (tmp_path / "o.png").exists()


def test_network_data_is_refused(tmp_path):
    spec = {**SPEC, "data": {"url": "https://example.com/loss.csv"}}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    with pytest.raises(ReportFileError, match="External data url not allowed"):
        write_plot(tmp_path / "s.json", tmp_path / "o.png", PlotOptions())


def test_invalid_spec_is_reported_without_javascript_stack(tmp_path):
    (tmp_path / "s.json").write_text('{"mark": "no-such-mark"}')
    with pytest.raises(ReportFileError) as info:
        write_plot(tmp_path / "s.json", tmp_path / "o.png", PlotOptions())
    assert str(info.value).startswith(f"{tmp_path / 's.json'} could not be rendered (")
    assert str(info.value).endswith("check it against https://vega.github.io/vega-lite/docs/.")
    assert "\n" not in str(info.value) and " at " not in str(info.value)


def test_markdown_image_line():
    assert markdown_image("Loss [val]", Path("plots/my loss.png")) == (
        "![Loss (val)](<plots/my loss.png>)"
    )


def test_cli_prints_the_image_line_next_to_the_source(workdir):
    result = run_cli("plot", "history.csv", "--y", "loss", "--y", "val loss", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "![history](history.png)\n"
    assert png_size(workdir / "history.png")[0] > 600


def test_cli_missing_source_is_one_sentence(tmp_path):
    result = run_cli("plot", "nope.csv", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "Error: Plot source nope.csv does not exist; check the path.\n"


SIGNATURES = {"png": PNG_SIGNATURE, "svg": b"<svg", "jpeg": b"\xff\xd8\xff"}


@pytest.mark.parametrize(("name", "fmt"), [("p.png", "png"), ("p.svg", "svg"), ("p.jpg", "jpeg"),
                                           ("p.jpeg", "jpeg"), ("P.PNG", "png"), ("p.SVG", "svg")])
@pytest.mark.parametrize("source", ["spec.json", "history.csv"])
def test_the_output_extension_picks_the_format(workdir, name, fmt, source):
    line = write_plot(workdir / source, workdir / name, PlotOptions(scale=2))
    assert (workdir / name).read_bytes().startswith(SIGNATURES[fmt])
    assert line.endswith(f"({(workdir / name).as_posix()})")


@pytest.mark.parametrize("name", ["p.pdf", "p.gif", "p.webp", "p.csv", "p.json", "p", "p.png.txt"])
def test_an_extension_plot_cannot_write_is_refused_naming_those_it_can(workdir, name):
    with pytest.raises(ReportFileError) as info:
        write_plot(workdir / "history.csv", workdir / name, PlotOptions())
    assert str(info.value).endswith(
        "which plot cannot write; end its name in .png, .svg, .jpg or .jpeg."
    )
    assert not (workdir / name).exists()


def _same_path(workdir: Path, name: str) -> Path:
    return workdir / name


def _dotted(workdir: Path, name: str) -> Path:
    (workdir / "sub").mkdir(exist_ok=True)
    return workdir / "sub" / ".." / "." / name


def _symlink(workdir: Path, name: str) -> Path:
    (workdir / "link.png").symlink_to(workdir / name)
    return workdir / "link.png"


def _relative_symlink(workdir: Path, name: str) -> Path:
    (workdir / "plots").mkdir()
    (workdir / "plots" / "loss.svg").symlink_to(Path("..") / name)
    return workdir / "plots" / "loss.svg"


def _hard_link(workdir: Path, name: str) -> Path:
    (workdir / "copy.jpg").hardlink_to(workdir / name)
    return workdir / "copy.jpg"


@pytest.mark.parametrize("alias", [_same_path, _dotted, _symlink, _relative_symlink, _hard_link])
@pytest.mark.parametrize(("source", "protected"), [("history.csv", "history.csv"),
                                                   ("spec.json", "spec.json"),
                                                   ("spec.json", "loss.csv")])
def test_plot_never_overwrites_what_it_reads(workdir, alias, source, protected):
    before = (workdir / protected).read_bytes()
    out = alias(workdir, protected)
    with pytest.raises(ReportFileError) as info:
        write_plot(workdir / source, out, PlotOptions())
    assert str(info.value).startswith(f"{out} is the plot's input")
    assert str(info.value).endswith("; write the image to another file with --out.")
    assert (workdir / protected).read_bytes() == before


@pytest.mark.parametrize("out", ["history.csv", "./history.csv", "sub/../history.csv"])
def test_cli_refuses_to_overwrite_its_input(workdir, out):
    (workdir / "sub").mkdir()
    result = run_cli("plot", "history.csv", "--out", out, cwd=workdir)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {Path(out)} is the plot's input")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert (workdir / "history.csv").read_text() == HISTORY


def test_cli_writes_svg_and_refuses_pdf(workdir):
    result = run_cli("plot", "history.csv", "-o", "h.svg", cwd=workdir)
    assert result.stdout == "![history](h.svg)\n"
    assert (workdir / "h.svg").read_text().startswith("<svg")
    result = run_cli("plot", "history.csv", "-o", "h.pdf", cwd=workdir)
    assert (result.returncode, result.stderr) == (1, (
        "Error: h.pdf has the extension '.pdf', which plot cannot write; end its name in "
        ".png, .svg, .jpg or .jpeg.\n"))


@pytest.mark.parametrize("header", ["loss,loss", "loss, loss", "epoch,loss,epoch"])
def test_a_repeated_column_is_refused(tmp_path, header):
    columns = len(header.split(","))
    (tmp_path / "h.csv").write_text(f"{header}\n" + ",".join(["1"] * columns) + "\n")
    with pytest.raises(ReportFileError, match=r"h\.csv has the column '\w+' twice; rename one"):
        write_plot(tmp_path / "h.csv", tmp_path / "o.png", PlotOptions())


def test_a_repeated_key_in_a_spec_is_refused(tmp_path):
    (tmp_path / "s.json").write_text('{"mark": "line", "mark": "bar"}')
    with pytest.raises(ReportFileError, match=r"has the key 'mark' twice; keep only one"):
        write_plot(tmp_path / "s.json", tmp_path / "o.png", PlotOptions())


@pytest.mark.parametrize("out", ["f/o.png", "f/deeper/o.png"])
def test_an_output_path_through_a_file_is_one_sentence(workdir, out):
    (workdir / "f").write_text("")
    with pytest.raises(ReportFileError, match="a file in its path is not a folder"):
        write_plot(workdir / "history.csv", workdir / out, PlotOptions())
