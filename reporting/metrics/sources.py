"""Which metrics files to read: the paths a user names, expanded through DVC's files.

A name may be a metrics file, a CSV file with a row selector (`results.csv#split=test`,
`history.csv#row=-2`), a `dvc.yaml` (its top-level `metrics:` and every stage's `metrics:`
outputs, see https://dvc.org/doc/user-guide/project-structure/dvcyaml-files), or a DVCLive
directory (its `metrics.json`, see https://dvc.org/doc/dvclive/how-it-works). With no names, the
`dvc.yaml` of the working directory is used, else `dvclive/metrics.json`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from reporting.errors import ReportFileError
from reporting.metrics.files import file_problem, is_dir, read_text
from reporting.metrics.load import load_yaml
from reporting.metrics.parse import RowSelector

DVCLIVE_METRICS = Path("dvclive") / "metrics.json"


@dataclass(frozen=True)
class MetricSource:
    """One metrics file to read, as the table names it."""

    path: Path  # relative to the working directory, or absolute
    label: str  # the path as the user wrote it, with its selector
    row: RowSelector | None = None
    dvc_cached: bool = False  # a dvc.yaml output kept in DVC's cache, so not in git
    declared_in: Path | None = None  # the dvc.yaml that lists it
    only_at_base: bool = False  # listed by the base revision's dvc.yaml, no longer by ours


def resolve_sources(names: Sequence[str], cwd: Path,
                    command: str = "diff") -> list[MetricSource]:
    """The metrics files named by `names` (or found in `cwd`), without duplicates."""
    sources: list[MetricSource] = []
    for name in names or [_default_name(cwd, command)]:
        for source in _expand(name, cwd):
            if source not in sources:
                sources.append(source)
    return sources


def _default_name(cwd: Path, command: str = "diff") -> str:
    """`command` ("show" or "diff") is the one the suggestion names."""
    for candidate in (Path("dvc.yaml"), DVCLIVE_METRICS):
        if (cwd / candidate).is_file():
            return candidate.as_posix()
    raise ReportFileError(
        "No metrics files were given and there is no dvc.yaml or dvclive/metrics.json here; "
        f"name the files, e.g. 'cml-infra metrics {command} metrics.json'."
    )


def _expand(name: str, cwd: Path) -> Iterable[MetricSource]:
    # A real file whose name holds '#' wins over the selector syntax.
    path_text, row = (name, None) if _exists(cwd / name) else split_selector(name)
    path = Path(path_text)
    full = cwd / path
    if is_dir(full):
        if (full / "metrics.json").is_file():
            return [MetricSource(path / "metrics.json", (path / "metrics.json").as_posix())]
        if (full / "dvc.yaml").is_file():
            return _from_dvc_yaml(path / "dvc.yaml", cwd)
        raise ReportFileError(f"{name} is a directory with no metrics.json or dvc.yaml in it.")
    missing = f"Metrics file {path_text} does not exist; check the path."
    if problem := file_problem(full, path_text, missing):
        raise ReportFileError(problem)
    if path.name == "dvc.yaml":
        return _from_dvc_yaml(path, cwd)
    return [MetricSource(path, name, row)]


def _exists(path: Path) -> bool:
    """Whether `path` names anything, a broken or looping symlink included."""
    try:
        path.lstat()
    except OSError:
        return False
    return True


def split_selector(name: str) -> tuple[str, RowSelector | None]:
    """`results.csv#split=test` -> (`results.csv`, (`split`, `test`))."""
    path, hash_mark, selector = name.rpartition("#")
    if not hash_mark:
        return name, None
    column, equals, value = selector.partition("=")
    if not equals or not column.strip():
        raise ReportFileError(
            f"{name} has a row selector that is not COLUMN=VALUE; write e.g. "
            "'results.csv#split=test'."
        )
    return path, (column.strip(), value.strip())


def _from_dvc_yaml(dvc_yaml: Path, cwd: Path) -> list[MetricSource]:
    label = dvc_yaml.as_posix()
    text = read_text(cwd / dvc_yaml, label, f"{label} does not exist; check the path.")
    sources = dvc_yaml_sources(text, dvc_yaml)
    for source in sources:
        missing = (f"{label} lists the metrics file {source.label}, which does not exist; run "
                   "the pipeline (dvc repro) first.")
        if problem := file_problem(cwd / source.path, source.label, missing):
            raise ReportFileError(problem)
    if not sources:
        raise ReportFileError(f"{label} declares no metrics; add a 'metrics:' entry to it.")
    return sources


def dvc_yaml_sources(text: str, dvc_yaml: Path) -> list[MetricSource]:
    """The metrics files a dvc.yaml with content `text` declares."""
    label = dvc_yaml.as_posix()
    data = load_yaml(text, label) or {}
    if not isinstance(data, Mapping):
        raise ReportFileError(f"{label} must hold a mapping at the top level.")
    paths = [(dvc_yaml.parent / relative, cached) for relative, cached in dvc_metrics(data, label)]
    return [MetricSource(path, path.as_posix(), dvc_cached=cached, declared_in=dvc_yaml)
            for path, cached in paths]


def dvc_metrics(data: Mapping[str, Any], label: str) -> list[tuple[str, bool]]:
    """(path relative to dvc.yaml, kept in DVC's cache) for every metrics entry."""
    found = [(str(entry), False) for entry in _as_list(data.get("metrics"), label)]
    stages = data.get("stages") or {}
    if not isinstance(stages, Mapping):
        raise ReportFileError(f"{label} has 'stages' that is not a mapping of stage names.")
    for stage in stages.values():
        if not isinstance(stage, Mapping):
            continue
        wdir = PurePosixPath(str(stage.get("wdir", ".")))
        for entry in _as_list(stage.get("metrics"), label):
            path, options = _stage_output(entry, label)
            # Stage outputs default to `cache: true`: DVC keeps them out of git.
            found.append(((wdir / path).as_posix(), bool(options.get("cache", True))))
    return found


def _as_list(value: Any, label: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ReportFileError(f"{label} has a 'metrics' entry that is not a list of paths; "
                              "write it as a list (metrics: [metrics.json]).")
    return value


def _stage_output(entry: Any, label: str) -> tuple[str, Mapping[str, Any]]:
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping) and len(entry) == 1:
        path, options = next(iter(entry.items()))
        return str(path), options if isinstance(options, Mapping) else {}
    raise ReportFileError(f"{label} has a stage metrics entry that is not a path: {entry!r}.")
