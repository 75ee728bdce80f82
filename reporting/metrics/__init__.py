"""Metrics from JSON, YAML, CSV, DVC and DVCLive files, compared with the base revision.

    sources = resolve_sources(["metrics.json", "results.csv#split=test"], cwd)
    base = resolve_base(base_name(None, os.environ), cwd)
    report = diff_metrics(sources, base, cwd)
    print(render_markdown(report, evaluate_gates(gates, report.rows)))

Modules: `load` (JSON and YAML, refusing repeated keys), `parse` (one file to a flat
mapping), `sources` (names and dvc.yaml to files), `git` (files at the base revision),
`compare` (rows), `render` (markdown and JSON).
"""

from reporting.metrics.compare import (
    MetricRow,
    MetricsReport,
    diff_metrics,
    diff_with_base,
    show_metrics,
)
from reporting.metrics.git import GitBase, base_name, resolve_base
from reporting.metrics.parse import SEPARATOR, Value, flatten, parse_metrics
from reporting.metrics.render import format_change, render_json, render_markdown
from reporting.metrics.sources import MetricSource, resolve_sources

__all__ = [
    "SEPARATOR",
    "GitBase",
    "MetricRow",
    "MetricSource",
    "MetricsReport",
    "Value",
    "base_name",
    "diff_metrics",
    "diff_with_base",
    "flatten",
    "format_change",
    "parse_metrics",
    "render_json",
    "render_markdown",
    "resolve_base",
    "resolve_sources",
    "show_metrics",
]
