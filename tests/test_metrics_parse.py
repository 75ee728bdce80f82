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
         "m.json must hold a mapping of metric names to values at the top level, not a list."),
        ("m.json", "  \n", None, "m.json is empty; write the metrics into it first."),
        ("m.yaml", "a: [1, 2\n", None, "m.yaml is not valid YAML"),
        ("m.yaml", "0.93\n", None, "not a float"),
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
