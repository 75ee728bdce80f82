"""Metric gates: `--fail-if` conditions that decide a run's conclusion and exit code.

Two forms, each failing the run when its condition holds:

- `METRIC OP NUMBER` on the new value, OP one of `< <= > >= == !=`: `accuracy < 0.9`;
- `METRIC drops|rises|changes [> or >= AMOUNT]` on the change against the base, AMOUNT a
  magnitude (never negative: the word says the direction), as a number or a percentage of
  the base value: `accuracy drops > 0.005`, `loss rises > 5%`; without an amount, any drop
  (rise, change) fails.

METRIC is a metric name as the table shows it, optionally prefixed by its file
(`eval/metrics.json:accuracy`), and quoted when it holds spaces. A value that is NaN fails
every gate on it. A trend gate on a metric that has no base value is skipped.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from reporting.errors import GateError
from reporting.numbers import format_number, format_percent

Status = Literal["passed", "failed", "skipped"]
TRENDS = {"drops": "dropped", "rises": "rose", "changes": "changed"}
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, ">": operator.gt,
}
_METRIC = r"""(?P<metric>"[^"]+"|'[^']+'|[^\s<>=!"']+)"""
_NUMBER = r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_VALUE_GATE = re.compile(rf"^\s*{_METRIC}\s*(?P<op><=|>=|==|!=|<|>)\s*{_NUMBER}\s*$")
_TREND_GATE = re.compile(
    rf"^\s*{_METRIC}\s+(?P<trend>drops|rises|changes)"
    rf"(?:\s*(?P<op>>=|>)\s*{_NUMBER}(?P<percent>%)?)?\s*$"
)
FORMS = (
    "write METRIC OP NUMBER with OP one of < <= > >= == != (e.g. 'accuracy < 0.9') or "
    "METRIC drops|rises|changes > AMOUNT (e.g. 'accuracy drops > 0.005', 'loss rises > 5%')"
)


@dataclass(frozen=True)
class Gate:
    text: str
    metric: str
    op: str
    threshold: float
    trend: str | None = None  # drops, rises, changes; None compares the new value
    percent: bool = False


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    status: Status
    detail: str  # "accuracy is 0.93", "loss rose by 0.2 (+40%)"


class MetricLike(Protocol):
    """What gates read of a row (`reporting.metrics.MetricRow`); None where a side lacks it."""

    @property
    def file(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def old(self) -> object: ...
    @property
    def new(self) -> object: ...


def parse_gate(text: str) -> Gate:
    """The gate written as `text`; a GateError showing the accepted forms if it does not parse."""
    if match := _VALUE_GATE.match(text):
        return Gate(text.strip(), _unquote(match["metric"]), match["op"], float(match["value"]))
    if match := _TREND_GATE.match(text):
        if (match["value"] or "").startswith("-"):
            raise GateError(_negative_amount(text, match))
        return Gate(
            text.strip(), _unquote(match["metric"]), match["op"] or ">",
            float(match["value"] or 0), trend=match["trend"], percent=bool(match["percent"]),
        )
    if match := _VALUE_GATE.match(text.rstrip().removesuffix("%")):
        raise GateError(_percent_value(text.strip(), match))
    raise GateError(f"Cannot read the gate '{text}'; {FORMS}.")


def _negative_amount(text: str, match: re.Match[str]) -> str:
    fixed = match.string[:match.start("value")] + match.string[match.start("value") + 1:]
    return (
        f"The gate '{text.strip()}' has a negative amount, but amounts are magnitudes; write "
        f"'{fixed.strip()}' and let drops or rises say the direction."
    )


def _percent_value(text: str, match: re.Match[str]) -> str:
    metric, op, value = match["metric"], match["op"], float(match["value"])
    return (
        f"The gate '{text}' compares a value with a percentage, which only a change can be; "
        f"write a number ('{metric} {op} {format_number(value / 100)}') or gate the change "
        f"('{metric} drops > {format_number(abs(value))}%')."
    )


def _unquote(metric: str) -> str:
    return metric[1:-1] if metric[:1] in "\"'" and metric[-1:] == metric[:1] else metric


def evaluate_gates(gates: Sequence[Gate], rows: Sequence[MetricLike]) -> list[GateResult]:
    return [evaluate_gate(gate, find_row(gate, rows)) for gate in gates]


def conclusion(results: Sequence[GateResult]) -> Literal["success", "failure"]:
    """The check conclusion: failure when any gate failed."""
    return "failure" if any(r.status == "failed" for r in results) else "success"


def find_row(gate: Gate, rows: Sequence[MetricLike]) -> MetricLike:
    """The one row the gate names, by `METRIC` or `FILE:METRIC`."""
    matches = [r for r in rows if gate.metric in (r.metric, f"{r.file}:{r.metric}")]
    present = [r for r in matches if r.new is not None]
    if len(present) == 1:
        return present[0]
    if len(present) > 1:
        files = ", ".join(r.file for r in present)
        raise GateError(
            f"The gate '{gate.text}' names '{gate.metric}', which is in several files ({files}); "
            f"write it as FILE:METRIC, e.g. '{present[0].file}:{gate.metric}'."
        )
    files = list(dict.fromkeys(r.file for r in rows))
    prefix, colon, _ = gate.metric.partition(":")
    if colon and not matches and prefix not in files:
        raise GateError(
            f"The gate '{gate.text}' names the file {prefix}, which is not one of the files "
            f"compared ({', '.join(files) or 'none'}); add it to the files or drop the prefix.")
    where = " (it exists only at the base revision)" if matches else ""
    known = ", ".join(dict.fromkeys(r.metric for r in rows if r.new is not None)) or "none"
    raise GateError(
        f"The gate '{gate.text}' names the metric '{gate.metric}', which no metrics file "
        f"has{where}; the metrics are: {known}."
    )


def evaluate_gate(gate: Gate, row: MetricLike) -> GateResult:
    new = _number(gate, row, row.new)
    if math.isnan(new):
        return GateResult(gate, "failed", f"{row.metric} is NaN")
    if gate.trend is None:
        failed = OPERATORS[gate.op](new, gate.threshold)
        detail = f"{row.metric} is {format_number(new)}"
        return GateResult(gate, "failed" if failed else "passed", detail)
    if row.old is None:
        return GateResult(gate, "skipped", f"{row.metric} has no base value to compare with")
    return _evaluate_trend(gate, row.metric, _number(gate, row, row.old), new)


def _evaluate_trend(gate: Gate, metric: str, old: float, new: float) -> GateResult:
    delta = new - old
    amount = {"drops": -delta, "rises": delta, "changes": abs(delta)}[gate.trend or "changes"]
    measured = _percent_of(amount, old) if gate.percent else amount
    failed = OPERATORS[gate.op](measured, gate.threshold)
    detail = f"{metric} is unchanged at {format_number(new)}"
    if delta:
        verb = "rose" if delta > 0 else "dropped"
        percent = f" ({format_percent(abs(_percent_of(delta, old)))})" if old else ""
        detail = (f"{metric} {verb} by {format_number(abs(delta))}{percent}, "
                  f"from {format_number(old)} to {format_number(new)}")
    return GateResult(gate, "failed" if failed else "passed", detail)


def _percent_of(amount: float, base: float) -> float:
    """`amount` as a percentage of `base`; any change from 0 is infinitely large."""
    if base == 0:
        return math.copysign(math.inf, amount) if amount else 0.0
    return amount / abs(base) * 100


def _number(gate: Gate, row: MetricLike, value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise GateError(
        f"The gate '{gate.text}' needs a number, but {row.metric} in {row.file} is "
        f"'{value}'; gate a numeric metric instead."
    )
