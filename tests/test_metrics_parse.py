"""Pure unit tests: one metrics file to a flat mapping, names to files, number formatting."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from reporting.errors import ReportFileError
from reporting.metrics import MetricRow, format_change, parse_metrics, resolve_sources
from reporting.metrics.sources import dvc_metrics, split_selector
from reporting.numbers import format_number, format_percent


def test_json_nested_keys_and_lists_are_flattened_with_dots():
    text = '{"train": {"loss": 0.1, "f1": [0.9, 0.8]}, "empty": {}, "acc": 1}'
    assert parse_metrics(text, "m.json") == {
        "train.loss": 0.1, "train.f1.0": 0.9, "train.f1.1": 0.8, "acc": 1,
    }


def test_non_numeric_values_are_kept_as_text():
    text = '{"optimizer": "adam", "early_stop": true, "best": null, "lr": "3e-4"}'
    assert parse_metrics(text, "m.json") == {
        "optimizer": "adam", "early_stop": "true", "best": "null", "lr": 3e-4,
    }


def test_json_nan_is_a_number():
    assert math.isnan(parse_metrics('{"loss": NaN}', "m.json")["loss"])


def test_yaml_reads_pyyaml_exponent_strings_as_numbers():
    assert parse_metrics("lr: 1e-3\nsteps: 100\nname: run-1\n", "p.yml") == {
        "lr": 0.001, "steps": 100, "name": "run-1",
    }


def test_csv_takes_the_last_row_and_numbers_from_text():
    text = "epoch,loss,note\n1,0.5,warmup\n2,0.4,\n\n"
    assert parse_metrics(text, "h.csv") == {"epoch": 2, "loss": 0.4, "note": ""}


def test_csv_row_selector_picks_the_last_matching_row_and_drops_its_column():
    text = "split,acc\ntest,0.1\ntrain,0.9\ntest,0.8\n"
    assert parse_metrics(text, "r.csv", ("split", "test")) == {"acc": 0.8}


@pytest.mark.parametrize(("number", "acc"), [("1", 0.1), ("2", 0.9), ("-1", 0.8), ("-3", 0.1)])
def test_csv_row_by_number_when_no_column_is_called_row(number, acc):
    text = "split,acc\ntest,0.1\ntrain,0.9\ntest,0.8\n"
    assert parse_metrics(text, "r.csv", ("row", number))["acc"] == acc


def test_a_column_called_row_is_matched_by_value():
    assert parse_metrics("row,acc\n1,0.5\n2,0.6\n", "r.csv", ("row", "1")) == {"acc": 0.5}


def test_tsv_uses_tabs():
    assert parse_metrics("step\tloss\n1\t0.3\n", "loss.tsv") == {"step": 1, "loss": 0.3}


@pytest.mark.parametrize(
    ("name", "text", "row", "message"),
    [
        ("m.json", '{"a": 1,}', None,
         "m.json is not valid JSON (Expecting property name enclosed in double quotes at line 1, "
         "column 9); fix the file and try again."),
        ("m.json", "[1, 2]", None,
         "m.json must hold a mapping of metric names to values at the top level, not a list; "
         'write e.g. {"accuracy": 0.9}.'),
        ("m.json", "  \n", None, "m.json is empty; write the metrics into it first."),
        ("m.yaml", "a: [1, 2\n", None, "m.yaml is not valid YAML"),
        ("m.yaml", "0.93\n", None, "at the top level, not the single value '0.93'"),
        ("m.yaml", "~\n", None, "at the top level, not the single value 'null'"),
        ("m.json", '"high"', None, "at the top level, not the single value 'high'"),
        ("m.txt", "a=1", None, "m.txt is not a metrics file this tool reads"),
        ("h.csv", "a,b\n", None, "h.csv has a header but no data rows"),
        ("h.csv", "a,b\n1,2\n3\n", None, "h.csv row 3 has 1 values but the header has 2 columns"),
        ("h.csv", "a,b\n1,2\n", ("split", "test"), "h.csv has no column 'split'"),
        ("h.csv", "split,b\ntrain,2\n", ("split", "test"), "no row whose 'split' is 'test'"),
        ("m.json", '{"a": 1}', ("split", "test"), "m.json is not a CSV file"),
        ("h.csv", "a\n1\n2\n", ("row", "3"), "h.csv has no data row 3; give 1 to 2, or -1"),
        ("h.csv", "a\n1\n", ("row", "0"), "h.csv has no data row 0"),
        ("h.csv", "a\n1\n", ("row", "last"), "h.csv has no data row last"),
    ],
)
def test_malformed_files_name_the_file_and_the_problem(name, text, row, message):
    with pytest.raises(ReportFileError) as info:
        parse_metrics(text, name, row)
    assert message in str(info.value)
    assert name in str(info.value)


def test_selector_syntax():
    assert split_selector("r.csv#split=test") == ("r.csv", ("split", "test"))
    assert split_selector("r.csv") == ("r.csv", None)
    with pytest.raises(ReportFileError, match="COLUMN=VALUE"):
        split_selector("r.csv#test")


def test_dvc_yaml_entries_top_level_and_stage_outputs_with_cache_flag():
    data = {
        "metrics": ["dvclive/metrics.json"],
        "stages": {
            "train": {"cmd": "x", "metrics": [{"a.json": {"cache": False}}, "b.json"]},
            "eval": {"cmd": "y", "wdir": "eval", "metrics": [{"c.yaml": {"cache": True}}]},
        },
    }
    assert dvc_metrics(data, "dvc.yaml") == [
        ("dvclive/metrics.json", False), ("a.json", False), ("b.json", True),
        ("eval/c.yaml", True),
    ]


def test_dvc_yaml_with_a_missing_output_says_to_run_the_pipeline(tmp_path: Path):
    (tmp_path / "dvc.yaml").write_text("metrics:\n  - scores.json\n")
    with pytest.raises(ReportFileError, match=r"scores\.json, which does not exist; run .*repro"):
        resolve_sources(["dvc.yaml"], tmp_path)


def test_missing_and_undiscoverable_files(tmp_path: Path):
    with pytest.raises(ReportFileError, match=r"Metrics file nope\.json does not exist"):
        resolve_sources(["nope.json"], tmp_path)
    with pytest.raises(ReportFileError, match=r"no dvc\.yaml or dvclive/metrics\.json here"):
        resolve_sources([], tmp_path)


def test_sources_are_deduplicated_in_order(tmp_path: Path):
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text("{}")
    labels = [s.label for s in resolve_sources(["b.json", "a.json", "b.json"], tmp_path)]
    assert labels == ["b.json", "a.json"]


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.93124567, "0.93125"), (12.345678, "12.346"), (123456.7, "123457"),
     (99999.95, "100000"), (0.0001234, "0.0001234"), (1.234e-05, "1.234e-05"),
     (0.1 + 0.2, "0.3"), (3, "3"), (0.0, "0"), (float("nan"), "nan"), (None, "—"),
     ("adam", "adam"), (1e20, "1e+20")],
)
def test_number_formatting(value, text):
    assert format_number(value) == text


def test_percent_formatting():
    assert format_percent(14.2857) == "14.3%"
    assert format_percent(0.5494, sign=True) == "+0.55%"
    assert format_percent(-2.2, sign=True) == "-2.2%"


@pytest.mark.parametrize(
    ("old", "new", "change"),
    [(0.91, 0.93, "+0.02 (+2.2%)"), (0.35, 0.3, "-0.05 (-14.3%)"), (0, 5, "+5"),
     (1, 1, "0"), (None, 1, "new"), (1, None, "removed"), ("a", "b", "changed"),
     ("a", "a", "—"), (float("nan"), 1.0, "—")],
)
def test_change_column(old, new, change):
    assert format_change(MetricRow("m.json", "x", old, new)) == change


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("m.json", '{"acc": 0.9, "acc": 0.8}', "m.json has the key 'acc' twice; keep only one"),
        ("m.json", '{"eval": {"acc": 0.9, "loss": 1, "acc": 0.8}}', "has the key 'acc' twice"),
        ("m.json", '{"runs": [{"a": 1, "a": 2}]}', "m.json has the key 'a' twice"),
        ("m.yaml", "acc: 0.9\nloss: 1\nacc: 0.8\n",
         "m.yaml has the key 'acc' twice (again at line 3); keep only one of them."),
        ("m.yml", "eval:\n  acc: 0.9\n  acc: 0.8\n",
         "m.yml has the key 'acc' twice (again at line 3)"),
        ("m.yaml", "{acc: 0.9, acc: 0.8}\n", "m.yaml has the key 'acc' twice (again at line 1)"),
        ("m.yaml", "1: 0.5\n1: 0.6\n", "m.yaml has the key '1' twice"),
        ("m.json", '{"a.b": 1, "a": {"b": 2}}',
         "m.json has two metrics named 'a.b' once nested keys are joined with '.'; rename one"),
        ("m.json", '{"a": {"b": 2}, "a.b": 1}', "m.json has two metrics named 'a.b'"),
        ("m.json", '{"f1": [0.9], "f1.0": 0.8}', "m.json has two metrics named 'f1.0'"),
        ("m.yaml", "1: 0.5\n'1': 0.6\n", "m.yaml has two metrics named '1'"),
        ("h.csv", "acc,loss,acc\n0.9,1,0.8\n", "h.csv has the column 'acc' twice; rename one"),
        ("h.csv", "acc, acc\n0.9,0.8\n", "h.csv has the column 'acc' twice"),
        ("h.tsv", "acc\tacc\n0.9\t0.8\n", "h.tsv has the column 'acc' twice"),
    ],
)
def test_a_repeated_key_is_refused_naming_the_key_and_the_file(name, text, message):
    with pytest.raises(ReportFileError) as info:
        parse_metrics(text, name)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_yaml_merge_keys_may_still_override():
    text = "base: &b {lr: 0.1, wd: 0}\nrun:\n  <<: *b\n  lr: 0.2\n"
    assert parse_metrics(text, "p.yaml") == {"base.lr": 0.1, "base.wd": 0, "run.lr": 0.2,
                                              "run.wd": 0}


def test_dvc_yaml_with_a_repeated_key_is_refused(tmp_path: Path):
    (tmp_path / "m.json").write_text('{"a": 1}')
    (tmp_path / "dvc.yaml").write_text("metrics:\n  - m.json\nmetrics:\n  - other.json\n")
    with pytest.raises(ReportFileError, match=r"dvc\.yaml has the key 'metrics' twice"):
        resolve_sources(["dvc.yaml"], tmp_path)


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (-3.0, "-3"), (12.0, "12"), (100000.0, "100000"), (123456.0, "123456"),
     (10.0**14, "100000000000000")],
)
@pytest.mark.parametrize("precision", [1, 5, 15])
def test_whole_numbers_are_written_whole_at_any_precision(value, text, precision):
    assert format_number(value, precision) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(50.0, "+50%"), (-25.0, "-25%"), (100, "+100%"), (99.96, "+100%"), (1.04, "+1%"),
     (12.5, "+12.5%"), (0.5, "+0.5%")],
)
def test_whole_percentages_are_written_whole(value, text):
    assert format_percent(value, sign=True) == text


@pytest.mark.parametrize(
    ("old", "new", "change"),
    [(3.0, 6.0, "+3 (+100%)"), (4, 2.0, "-2 (-50%)"), (10.0, 10.0, "0"), (0.0, 2.0, "+2")],
)
def test_change_of_whole_numbers_is_whole(old, new, change):
    assert format_change(MetricRow("m.json", "count", old, new)) == change
