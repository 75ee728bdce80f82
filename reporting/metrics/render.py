"""Metrics as markdown tables (for reports) or JSON (for scripts).

Numbers are written as `reporting.numbers` says; changes carry their sign and, when the
base is not zero, the relative change: `+0.012 (+1.3%)`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from reporting.gates import GateResult
from reporting.metrics.compare import MetricRow, MetricsReport
from reporting.metrics.parse import Value
from reporting.numbers import EMPTY, format_number, format_percent

MARKS = {"passed": "✅ passed", "failed": "❌ failed", "skipped": "➖ skipped"}


def format_change(row: MetricRow, precision: int = 5) -> str:
    """What happened to the metric: `+0.012 (+1.3%)`, `new`, `removed`, `changed` or `0`."""
    if row.old is None:
        return "new" if row.new is not None else EMPTY
    if row.new is None:
        return "removed"
    delta = row.delta
    if delta is None:
        return "changed" if row.old != row.new else EMPTY
    if math.isnan(delta):
        return EMPTY
    if delta == 0:
        return "0"
    sign = "+" if delta > 0 else "-"
    text = f"{sign}{format_number(abs(delta), precision)}"
    if row.old and math.isfinite(delta):
        text += f" ({format_percent(delta / abs(row.old) * 100, sign=True)})"  # type: ignore[arg-type]
    return text


def render_markdown(
    report: MetricsReport, results: Sequence[GateResult] = (), precision: int = 5
) -> str:
    """The metrics table, then notes and gate results; ends with a blank line, so that what
    a script appends next (`plot >> report.md`) starts a new block instead of a table row."""
    failed = {r.gate.metric for r in results if r.status == "failed"}
    if report.base is None:
        lines = _table(["File", "Metric", "Value"], [
            [row.file, row.metric, format_number(row.new, precision)] for row in report.rows
        ])
    else:
        lines = _table(["File", "Metric", f"Old ({report.base})", "New", "Change"], [
            [row.file, _flagged(row, failed), format_number(row.old, precision),
             format_number(row.new, precision), format_change(row, precision)]
            for row in report.rows
        ])
    if report.notes:
        lines += ["", *(f"- {note}" for note in report.notes)]
    if results:
        lines += ["", *_table(["Gate", "Result"], [
            [f"`{r.gate.text}`", f"{MARKS[r.status]}: {r.detail}"] for r in results
        ])]
    return "\n".join(lines) + "\n\n"


def _flagged(row: MetricRow, failed: set[str]) -> str:
    hit = row.metric in failed or f"{row.file}:{row.metric}" in failed
    return f"{row.metric} ❌" if hit and row.new is not None else row.metric


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = [":---" if i < 2 else "---:" for i in range(len(header))]
    if header[0] == "Gate":
        align = [":---", ":---"]
    return [_row(header), _row(align), *(_row(cells) for cells in rows)]


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_json(report: MetricsReport, results: Sequence[GateResult] = ()) -> str:
    """A JSON document with the same content as the markdown, for scripts."""
    from reporting.gates import conclusion

    document = {
        "base": report.base,
        "metrics": [
            {"file": r.file, "metric": r.metric, "old": _json_number(r.old),
             "new": _json_number(r.new), "delta": _json_number(_rounded(r.delta))}
            for r in report.rows
        ],
        "notes": list(report.notes),
        "gates": [{"gate": r.gate.text, "status": r.status, "detail": r.detail} for r in results],
        "conclusion": conclusion(results),
    }
    return json.dumps(document, indent=2) + "\n"


def _rounded(delta: float | None) -> float | None:
    # 0.93 - 0.91 is 0.020000000000000018 in binary floating point; 12 digits say 0.02.
    return float(f"{delta:.12g}") if isinstance(delta, float) else delta


def _json_number(value: Value | None) -> Value | None:
    # JSON has no NaN or infinity; say them as text rather than emit invalid JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
