"""Parse one metrics file (JSON, YAML, CSV or TSV) into a flat mapping of name to value.

Nested keys are joined with `SEPARATOR` ("."), as `dvc metrics show` does, and list items
by their index: `{"train": {"loss": 0.1}, "f1": [0.9, 0.8]}` gives `train.loss`, `f1.0`
and `f1.1`. Numbers stay numbers; text that reads as a number becomes one (CSV cells are
text, and PyYAML reads `1e-3` as a string, see https://github.com/yaml/pyyaml/issues/173);
anything else (text, booleans, null) is kept as text, shown but never subtracted. A name
given twice (a repeated key or column, or `a.b` next to `a: {b: ...}`) is refused.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from reporting.errors import ReportFileError
from reporting.metrics.load import DuplicateKeyError, load_json, load_yaml

Value = int | float | str
SEPARATOR = "."
FORMATS = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".csv": "csv", ".tsv": "tsv"}
# (column, value): the last CSV row whose column holds value; ("row", "N"): the Nth data row
RowSelector = tuple[str, str]


def format_of(name: str) -> str:
    """The format a metrics file is read as, from its extension."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in FORMATS:
        raise ReportFileError(
            f"{name} is not a metrics file this tool reads; use a .json, .yaml, .yml, .csv "
            "or .tsv file."
        )
    return FORMATS[suffix]


def parse_metrics(
    text: str, name: str, row: RowSelector | None = None, fmt: str | None = None
) -> dict[str, Value]:
    """Flat metrics of the file `name` whose content is `text`, read as `fmt` (a FORMATS value;
    by default, from the extension of `name`)."""
    fmt = fmt or format_of(name)
    if not text.strip():
        raise ReportFileError(f"{name} is empty; write the metrics into it first.")
    if fmt in ("csv", "tsv"):
        return _parse_table(text, name, "\t" if fmt == "tsv" else ",", row)
    if row is not None:
        raise ReportFileError(f"{name} is not a CSV file, so it has no rows to pick with '#'.")
    data = load_json(text, name) if fmt == "json" else load_yaml(text, name)
    if not isinstance(data, Mapping):
        raise ReportFileError(
            f"{name} must hold a mapping of metric names to values at the top level, "
            f"not {_kind(data)}; write e.g. {{\"accuracy\": 0.9}}."
        )
    try:
        return flatten(data)
    except DuplicateKeyError as exc:
        raise ReportFileError(
            f"{name} has two metrics named '{exc.key}' once nested keys are joined with "
            f"'{SEPARATOR}'; rename one of them."
        ) from None


def _kind(data: object) -> str:
    if isinstance(data, list):
        return "a list"
    shown = "null" if data is None else str(data)
    return f"the single value '{shown[:40]}'"


def flatten(data: Mapping[Any, Any] | list[Any], prefix: str = "") -> dict[str, Value]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}`; empty mappings and lists contribute nothing.

    Raises DuplicateKeyError when two paths give one name (`{"a.b": 1, "a": {"b": 2}}`)."""
    out: dict[str, Value] = {}
    items = data.items() if isinstance(data, Mapping) else enumerate(data)
    for key, value in items:
        name = f"{prefix}{SEPARATOR}{key}" if prefix else str(key)
        if isinstance(value, (Mapping, list)):
            found = flatten(value, name)
        else:
            found = {name: to_value(value)}
        if clash := next((n for n in found if n in out), None):
            raise DuplicateKeyError(clash)
        out.update(found)
    return out


def to_value(raw: Any) -> Value:
    """A number when `raw` is or reads as one, else its text (`true`, `null`, `adam`)."""
    if isinstance(raw, bool) or raw is None:
        return json.dumps(raw)
    if isinstance(raw, (int, float)):
        return raw
    text = str(raw).strip()
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            continue
    return text


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite_number(value: object) -> bool:
    return is_number(value) and math.isfinite(value)  # type: ignore[arg-type]


def _parse_table(
    text: str, name: str, delimiter: str, row: RowSelector | None
) -> dict[str, Value]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = [cells for cells in reader if any(cell.strip() for cell in cells)]
    except csv.Error as exc:
        raise ReportFileError(
            f"{name} is not valid CSV ({exc} at line {reader.line_num}); fix the file."
        ) from None
    header = [cell.strip() for cell in rows[0]]
    if len(rows) < 2:
        raise ReportFileError(f"{name} has a header but no data rows; write at least one row.")
    if clash := next((col for i, col in enumerate(header) if col in header[:i]), None):
        raise ReportFileError(f"{name} has the column '{clash}' twice; rename one of them.")
    for number, cells in enumerate(rows[1:], start=2):
        if len(cells) != len(header):
            raise ReportFileError(
                f"{name} row {number} has {len(cells)} values but the header has "
                f"{len(header)} columns; make every row as long as the header."
            )
    chosen = rows[-1] if row is None else _select_row(rows, header, name, row)
    skip = row[0] if row and row[0] in header else None
    return {col: to_value(cell) for col, cell in zip(header, chosen, strict=True) if col != skip}


def _select_row(rows: list[list[str]], header: list[str], name: str, row: RowSelector) -> list[str]:
    column, wanted = row
    if column == "row" and column not in header:
        return _row_by_number(rows, name, wanted)
    if column not in header:
        raise ReportFileError(
            f"{name} has no column '{column}' to pick a row by; its columns are "
            f"{', '.join(header)}."
        )
    index = header.index(column)
    matches = [cells for cells in rows[1:] if cells[index].strip() == wanted]
    if not matches:
        raise ReportFileError(f"{name} has no row whose '{column}' is '{wanted}'; check the value.")
    return matches[-1]


def _row_by_number(rows: list[list[str]], name: str, wanted: str) -> list[str]:
    """`#row=1` is the first data row, `#row=-1` the last, as in Python."""
    data = rows[1:]
    try:
        number = int(wanted)
        if number == 0:
            raise IndexError(number)
        return data[number - 1 if number > 0 else number]
    except (ValueError, IndexError):
        raise ReportFileError(
            f"{name} has no data row {wanted}; give 1 to {len(data)}, or -1 for the last."
        ) from None
