"""Metrics as OpenMetrics text, for GitLab's metrics report (`artifacts:reports:metrics`).

GitLab reads one `name value` line per metric and shows, in the merge request, how each
changed against the target branch's report
(https://docs.gitlab.com/ci/testing/metrics_reports/). The text follows OpenMetrics
(https://prometheus.io/docs/specs/om/open_metrics_spec/): one sample per metric of the new
revision, without labels, type or timestamp, and `# EOF` as the last line.

- Names: every character outside `[a-zA-Z0-9_:]` becomes `_` (`eval.accuracy` ->
  `eval_accuracy`), and a name that would start with a digit gets a leading `_`.
- Two metrics whose names become the same one (`eval.accuracy` and `eval_accuracy`, or
  `accuracy` in two files) are refused with one sentence: a suffix chosen by order would
  silently rename a metric when a file's keys move, and GitLab would compare the wrong ones.
- Values are written in full (`repr`, which reads back as the same float), never rounded
  to --precision; NaN and infinities as OpenMetrics spells them. Text and booleans are not
  numbers and are left out, as are metrics that only the base revision has.
"""

from __future__ import annotations

import math
import re

from reporting.errors import ReportFileError
from reporting.metrics.compare import MetricRow, MetricsReport
from reporting.metrics.parse import is_number

_INVALID = re.compile(r"[^a-zA-Z0-9_:]")


def metric_name(metric: str) -> str:
    """`metric` as an OpenMetrics metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`."""
    name = _INVALID.sub("_", metric)
    return f"_{name}" if not name or name[0].isdigit() else name


def format_value(value: float) -> str:
    """The exact number: `0.1`, `1e-05`, `12345678901234567890`, `NaN`, `+Inf`."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def render_openmetrics(report: MetricsReport) -> str:
    """One `name value` line per numeric metric of the new revision, then `# EOF`."""
    rows = [row for row in report.rows if is_number(row.new)]
    named: dict[str, MetricRow] = {}
    for row in rows:
        name = metric_name(row.metric)
        if (first := named.get(name)) is not None:
            raise ReportFileError(_collision(name, first, row))
        named[name] = row
    lines = [f"{name} {format_value(row.new)}" for name, row in named.items()]  # type: ignore[arg-type]
    return "\n".join([*lines, "# EOF"]) + "\n"


def _collision(name: str, first: MetricRow, second: MetricRow) -> str:
    both = _both(first, second)
    return (
        f"{both} both become the OpenMetrics name '{name}', which GitLab's metrics report "
        "cannot tell apart; rename one, or write each file's metrics with its own "
        "metrics diff --format openmetrics run."
    )


def _both(first: MetricRow, second: MetricRow) -> str:
    if first.metric == second.metric:
        return f"The metric '{first.metric}' of {first.file} and of {second.file}"
    return (f"The metrics '{first.metric}' ({first.file}) and '{second.metric}' "
            f"({second.file})")
