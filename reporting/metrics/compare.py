"""Metrics of the working tree, alone (`show`) or next to the base revision's (`diff`).

Rows keep a stable order: files in the order given, each file's metrics in the order the
file lists them, then those that only the base revision still has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from reporting.errors import ReportFileError
from reporting.gates import GateResult, evaluate_gates, parse_gate
from reporting.metrics.files import read_text, refuse_overwrite
from reporting.metrics.git import BaseTextError, GitBase, base_name, resolve_base
from reporting.metrics.parse import Value, format_of, is_number, parse_metrics
from reporting.metrics.sources import MetricSource, dvc_yaml_sources, resolve_sources


@dataclass(frozen=True)
class MetricRow:
    """One metric of one file; `None` where that side does not have it."""

    file: str
    metric: str
    old: Value | None = None
    new: Value | None = None

    @property
    def delta(self) -> float | None:
        """new - old when both are numbers, else None."""
        if is_number(self.old) and is_number(self.new):
            return self.new - self.old  # type: ignore[operator]
        return None


@dataclass(frozen=True)
class MetricsReport:
    """What `show` or `diff` found; `base` is None for `show`."""

    rows: tuple[MetricRow, ...]
    base: str | None = None
    notes: tuple[str, ...] = ()


def read_current(source: MetricSource, cwd: Path) -> dict[str, Value]:
    """The metrics of `source` as it is in the working tree."""
    text = read_text(cwd / source.path, source.label,
                     f"Metrics file {source.label} does not exist; check the path.")
    return parse_metrics(text, source.label, source.row, format_of(source.path.name))


def show_metrics(sources: Sequence[MetricSource], cwd: Path) -> MetricsReport:
    rows = [
        MetricRow(source.label, name, new=value)
        for source in sources
        for name, value in read_current(source, cwd).items()
    ]
    return MetricsReport(rows=_some(rows, sources))


def diff_metrics(sources: Sequence[MetricSource], base: GitBase, cwd: Path) -> MetricsReport:
    """Every metric of `sources` now and at `base`."""
    rows: list[MetricRow] = []
    notes: list[str] = []
    for source in [*sources, *dropped_dvc_outputs(sources, base, cwd)]:
        new = {} if source.only_at_base else read_current(source, cwd)
        old, note = _read_base(source, base, cwd)
        if note:
            notes.append(note)
        label = source.label
        rows.extend(MetricRow(label, name, old.get(name), value) for name, value in new.items())
        gone = [(name, value) for name, value in old.items() if name not in new]
        rows.extend(MetricRow(label, name, old=value) for name, value in gone)
    return MetricsReport(rows=_some(rows, sources), base=base.name, notes=tuple(notes))


def _some(rows: Sequence[MetricRow], sources: Sequence[MetricSource]) -> tuple[MetricRow, ...]:
    """`rows`, unless there are none: an empty table is a wrong file, not a report."""
    if not rows:
        names = ", ".join(source.label for source in sources)
        raise ReportFileError(
            f"{names} {'holds' if len(sources) == 1 else 'hold'} no metrics, only empty "
            "mappings or lists; name the file your training writes its metrics to."
        )
    return tuple(rows)


def diff_with_base(
    names: Sequence[str], base: str | None, env: Mapping[str, str], cwd: Path,
    gates: Sequence[str] = (), outputs: Sequence[tuple[str, Path]] = (),
) -> tuple[MetricsReport, list[GateResult]]:
    """`metrics diff` as one call: the files `names`, the base, and the gates evaluated.
    `outputs` (flag, path) are files the command will write: none may be one it reads."""
    parsed = [parse_gate(text) for text in gates]  # a typo fails before any git work
    sources = resolve_sources(names, cwd)
    inputs = [cwd / s.path for s in sources] + [cwd / s.declared_in for s in sources
                                                if s.declared_in]
    for flag, path in outputs:
        refuse_overwrite(path, inputs, "a metrics file that metrics diff reads",
                         f"give {flag} another path")
    report = diff_metrics(sources, resolve_base(base_name(base, env), cwd), cwd)
    return report, evaluate_gates(parsed, report.rows)


def dropped_dvc_outputs(
    sources: Sequence[MetricSource], base: GitBase, cwd: Path
) -> list[MetricSource]:
    """Metrics files that a dvc.yaml of `sources` listed at the base but lists no longer."""
    current = {source.path for source in sources}
    dropped: list[MetricSource] = []
    for dvc_yaml in dict.fromkeys(s.declared_in for s in sources if s.declared_in):
        try:
            text = base.read(dvc_yaml, cwd)
            listed = dvc_yaml_sources(text, dvc_yaml) if text else []
        except ReportFileError:
            continue  # a broken dvc.yaml at the base hides nothing of ours
        dropped += [replace(s, only_at_base=True) for s in listed if s.path not in current]
    return dropped


def _read_base(source: MetricSource, base: GitBase, cwd: Path) -> tuple[dict[str, Value], str]:
    try:
        text = base.read(source.path, cwd)
    except BaseTextError as exc:
        return {}, f"{source.label} could not be read at {base.name}: {exc}"
    if source.only_at_base:
        if text is None:
            return {}, ""
        where = source.declared_in.as_posix() if source.declared_in else "dvc.yaml"
        note = f"{source.label} is no longer listed in {where}; its metrics are removed."
        return _parse_base(source, base, text)[0], note
    if text is None and source.dvc_cached:
        return {}, (
            f"{source.label} is kept in DVC's cache, not in git, so it cannot be compared with "
            f"{base.name}; mark it `cache: false` in dvc.yaml to compare it."
        )
    if text is None:
        return {}, f"{source.label} does not exist at {base.name}; its metrics are new."
    return _parse_base(source, base, text)


def _parse_base(source: MetricSource, base: GitBase, text: str) -> tuple[dict[str, Value], str]:
    try:
        return parse_metrics(text, source.label, source.row, format_of(source.path.name)), ""
    except ReportFileError as exc:
        # The base cannot be fixed from this branch: show what we can and say why.
        return {}, f"{source.label} could not be read at {base.name}: {exc}"
