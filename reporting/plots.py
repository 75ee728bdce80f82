"""Plots as image files without Node.js: Vega-Lite specs and CSV series, through vl-convert.

vl-convert-python embeds the Vega and Vega-Lite JavaScript and a renderer
(https://github.com/vega/vl-convert), so nothing is downloaded at render time. Network
data is refused (`allowed_base_urls=[]`): a report must not depend on, or leak to, an
outside server. A spec's local data file (`"data": {"url": "loss.csv"}`) is inlined, read
relative to the spec; vl-convert would otherwise resolve it against vega-datasets online.

The output's extension picks the format, among those vl-convert writes that a forge comment
can show (`reporting.report` publishes .png, .jpg, .jpeg, .gif, .svg and .webp): no PDF.

vl-convert-python comes with the `plots` install extra (`pip install 'cml-infra[plots]'`):
runner jobs (`up`, `down`, `status`, `gc`) and the other reporting commands never import it,
so they do not install it either. Without it `plot` stops with one sentence naming the extra.
"""

from __future__ import annotations

import csv
import importlib
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from reporting.errors import OptionError, ReportFileError, ReportingError
from reporting.metrics.files import read_text, refuse_overwrite, write_output
from reporting.metrics.load import load_json
from reporting.metrics.parse import Value, is_number, to_value

Converter = Callable[[dict[str, Any], str, float], bytes]  # (spec, format, scale) -> file
# Output extension -> vl-convert's format name (https://github.com/vega/vl-convert).
IMAGE_FORMATS = {".png": "png", ".svg": "svg", ".jpg": "jpeg", ".jpeg": "jpeg"}
RASTER_FORMATS = ("png", "jpeg")  # the formats --scale applies to
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".tif", ".tiff")
VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
MARKS: dict[str, dict[str, Any]] = {
    "line": {"type": "line"},
    "scatter": {"type": "point", "filled": True},
    "bar": {"type": "bar"},
}
_TOP_LEVEL_VIEWS = ("mark", "layer", "concat", "hconcat", "vconcat", "facet", "repeat", "marks")
RENDERER_MODULE = "vl_convert"  # the module of the `plots` extra's vl-convert-python
MISSING_EXTRA = ("Plotting needs the plots extra: pip install 'cml-infra[plots]' "
                 "(or add plots to the extras you install).")


class MissingExtraError(ReportingError):
    """vl-convert-python, of the `plots` extra, is not installed."""


class RenderError(ValueError):
    """The renderer refused the spec; `str()` is its first line of explanation."""


@dataclass(frozen=True)
class PlotOptions:
    title: str | None = None
    x: str | None = None  # CSV: the x column; the first column when None
    y: tuple[str, ...] = ()  # CSV: y columns; every other numeric column when empty
    kind: str = "line"  # a key of MARKS
    width: int = 600
    height: int = 300
    scale: float = 1.0


def write_plot(source: Path, out: Path, options: PlotOptions,
               convert: Converter | None = None) -> str:
    """Render `source` to `out`, in the format its extension names; return the markdown
    line that shows it. Without `convert`, vl-convert renders; a missing `plots` extra is
    named before any file is read."""
    if convert is None:
        renderer()
    spec, inputs = _load(source, options)
    refuse_overwrite(out, inputs, "the plot's input", "write the image to another file with --out")
    fmt = image_format(out)
    try:
        image = (convert or vl_convert_image)(spec, fmt, options.scale)
    except RenderError as exc:
        raise ReportFileError(
            f"{source} could not be rendered ({exc}); check it against "
            "https://vega.github.io/vega-lite/docs/."
        ) from None
    write_output(out, image, str(out))
    return markdown_image(options.title or _spec_title(spec) or source.stem, out)


def image_format(out: Path) -> str:
    """vl-convert's name for the format `out` asks for; one sentence if it cannot be written."""
    if fmt := IMAGE_FORMATS.get(out.suffix.lower()):
        return fmt
    *first, last = IMAGE_FORMATS
    has = f"the extension '{out.suffix}'" if out.suffix else "no extension"
    raise ReportFileError(
        f"{out} has {has}, which plot cannot write; end its name in {', '.join(first)} or {last}."
    )


def refuse_scale(out: Path, scale: float) -> None:
    """`--scale` with a vector output, which it cannot change: one sentence, not silence."""
    if scale == 1.0:
        return
    fmt = image_format(out)
    if fmt not in RASTER_FORMATS:
        raise OptionError(f"--scale sets the pixels of PNG and JPEG images, and {out} is "
                          f"{fmt.upper()}; drop --scale (use --width and --height instead).")


def build_spec(source: Path, options: PlotOptions) -> dict[str, Any]:
    """A Vega or Vega-Lite spec from a spec file, or a line chart from a table of values."""
    return _load(source, options)[0]


def _load(source: Path, options: PlotOptions) -> tuple[dict[str, Any], list[Path]]:
    """The spec, and every file read to build it."""
    text = _read(source)
    if source.suffix.lower() == ".json":
        data = load_json(text, str(source))
        if isinstance(data, Mapping):
            return _inline_local_data(dict(data), source)
        if isinstance(data, list) and all(isinstance(item, Mapping) for item in data) and data:
            return series_spec([dict(item) for item in data], source.name, options), [source]
        raise ReportFileError(f"{source} must hold a Vega-Lite spec or a list of records.")
    if source.suffix.lower() in (".csv", ".tsv"):
        return series_spec(read_table(text, source), source.name, options), [source]
    raise ReportFileError(f"{source} is not a plot source; use a .json spec or a .csv/.tsv file.")


def read_table(text: str, source: Path) -> list[dict[str, Value | None]]:
    delimiter = "\t" if source.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ReportFileError(f"{source} is not valid CSV ({exc}); fix the file.") from None
    if not rows:
        raise ReportFileError(f"{source} has no data rows; write a header and at least one row.")
    header = [name.strip() for name in reader.fieldnames or ()]
    if clash := next((name for i, name in enumerate(header) if name in header[:i]), None):
        raise ReportFileError(f"{source} has the column '{clash}' twice; rename one of them.")
    return [{k.strip(): to_value(v) if v and v.strip() else None
             for k, v in row.items() if k is not None} for row in rows]


def series_spec(rows: Sequence[Mapping[str, Any]], name: str,
                options: PlotOptions) -> dict[str, Any]:
    """A chart of y columns against x, drawn in long form so any column name is safe
    (Vega-Lite reads dots and brackets in field names as nested access)."""
    x, ys = _columns(rows, name, options)
    values = [{"x": row.get(x), "series": y, "value": row.get(y)} for row in rows for y in ys]
    encoding: dict[str, Any] = {
        "x": {"field": "x", "type": "quantitative" if _numeric(rows, x) else "ordinal",
              "title": x},
        "y": {"field": "value", "type": "quantitative", "title": ", ".join(ys)},
    }
    if len(ys) > 1:
        encoding["color"] = {"field": "series", "type": "nominal", "title": None, "sort": ys}
    return {
        "$schema": VEGA_LITE_SCHEMA, "title": options.title or Path(name).stem,
        "width": options.width, "height": options.height, "data": {"values": values},
        "mark": MARKS[options.kind], "encoding": encoding,
    }


def _columns(rows: Sequence[Mapping[str, Any]], name: str,
             options: PlotOptions) -> tuple[str, list[str]]:
    columns = list(rows[0])
    x = options.x or columns[0]
    ys = list(options.y) or [c for c in columns if c != x and _numeric(rows, c)]
    for column in (x, *ys):
        if column not in columns:
            raise ReportFileError(
                f"{name} has no column '{column}'; its columns are {', '.join(columns)}."
            )
    if not ys:
        raise ReportFileError(
            f"{name} has no numeric column to plot against '{x}'; name one with --y."
        )
    return x, ys


def vl_convert_image(spec: dict[str, Any], fmt: str, scale: float) -> bytes:
    """`spec` as a `fmt` file (a value of IMAGE_FORMATS); `scale` multiplies raster pixels."""
    vl_convert = renderer()
    is_vega = "/schema/vega/" in str(spec.get("$schema", ""))
    render = getattr(vl_convert, f"{'vega' if is_vega else 'vegalite'}_to_{fmt}")
    sizing = {"scale": scale} if fmt in RASTER_FORMATS else {}
    try:
        image = render(spec, allowed_base_urls=[], **sizing)
    except ValueError as exc:
        raise RenderError(_first_reason(exc)) from None
    return image.encode("utf-8") if isinstance(image, str) else image  # SVG comes as text


def renderer() -> ModuleType:
    """The vl_convert module, imported now (heavy: an embedded JavaScript runtime, so only to
    render); `MissingExtraError` when the `plots` extra is not installed."""
    try:
        return importlib.import_module(RENDERER_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == RENDERER_MODULE:
            raise MissingExtraError(MISSING_EXTRA) from None
        raise


def markdown_image(title: str, path: Path) -> str:
    """`![title](path)`; a path with spaces is wrapped in <...> as CommonMark allows."""
    target = path.as_posix()
    target = f"<{target}>" if " " in target else target
    alt = title.replace("[", "(").replace("]", ")")
    return f"![{alt}]({target})"


def _first_reason(exc: ValueError) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[1] if len(lines) > 1 else (lines[0] if lines else "no reason given")
    return reason.rstrip(".")[:300]


def _numeric(rows: Sequence[Mapping[str, Any]], column: str) -> bool:
    cells = [row.get(column) for row in rows if row.get(column) is not None]
    return bool(cells) and all(is_number(cell) for cell in cells)


def _spec_title(spec: Mapping[str, Any]) -> str | None:
    title = spec.get("title")
    return title.get("text") if isinstance(title, Mapping) else title


def _read(source: Path) -> str:
    if source.suffix.lower() in IMAGE_SUFFIXES or _image_bytes(source):
        raise ReportFileError(f"plot takes a Vega-Lite spec (.json) or a CSV/TSV series, not "
                              f"an image like {source}; to show an image, link it in the "
                              f"report (![...]({source.name})).")
    return read_text(source, str(source),
                     f"Plot source {source} does not exist; check the path.")


def _image_bytes(source: Path) -> bool:
    """Whether a regular file starts as a PNG, JPEG, GIF or WebP image does."""
    try:
        if not source.is_file():  # never open a FIFO or a device
            return False
        with source.open("rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    return head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")) or (
        head.startswith(b"RIFF") and head[8:12] == b"WEBP")


def _inline_local_data(spec: dict[str, Any], source: Path) -> tuple[dict[str, Any], list[Path]]:
    if not any(key in spec for key in _TOP_LEVEL_VIEWS):
        raise ReportFileError(f"{source} is not a Vega-Lite spec: it has no 'mark' or 'layer'; "
                              "give a spec with one (https://vega.github.io/vega-lite/docs/) "
                              "or a list of records.")
    data = spec.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("url"), str) and "://" not in data["url"]:
        local = source.parent / data["url"]
        fmt = {"type": local.suffix.lstrip(".").lower() or "json", **data.get("format", {})}
        spec["data"] = {"values": _read(local), "format": fmt}
        return spec, [source, local]
    return spec, [source]
