"""Pure unit tests of gate parsing and evaluation."""

from __future__ import annotations

import pytest

from reporting.errors import GateError
from reporting.gates import Gate, conclusion, evaluate_gates, parse_gate
from reporting.metrics import MetricRow

ROWS = [
    MetricRow("m.json", "accuracy", 0.91, 0.90),
    MetricRow("m.json", "loss", 0.30, 0.42),
    MetricRow("m.json", "optimizer", "adam", "sgd"),
    MetricRow("m.json", "recall", None, 0.6),
    MetricRow("m.json", "dropout", 0.1, None),
    MetricRow("m.json", "nan_metric", 1.0, float("nan")),
    MetricRow("a/eval.json", "f1", 0.8, 0.8),
    MetricRow("b/eval.json", "f1", 0.7, 0.75),
    MetricRow("m.json", "zero", 0, 0.5),
]


@pytest.mark.parametrize(
    ("text", "gate"),
    [
        ("accuracy < 0.9", Gate("accuracy < 0.9", "accuracy", "<", 0.9)),
        ("accuracy>=0.9", Gate("accuracy>=0.9", "accuracy", ">=", 0.9)),
        ("  loss != -1e-3 ", Gate("loss != -1e-3", "loss", "!=", -0.001)),
        ("accuracy drops > 0.005",
         Gate("accuracy drops > 0.005", "accuracy", ">", 0.005, trend="drops")),
        ("loss rises >= 5%", Gate("loss rises >= 5%", "loss", ">=", 5.0, "rises", True)),
        ("f1 changes", Gate("f1 changes", "f1", ">", 0.0, trend="changes")),
        ("'val acc' < .5", Gate("'val acc' < .5", "val acc", "<", 0.5)),
        ("a/eval.json:f1 == 1", Gate("a/eval.json:f1 == 1", "a/eval.json:f1", "==", 1.0)),
    ],
)
def test_accepted_forms(text, gate):
    assert parse_gate(text) == gate


@pytest.mark.parametrize(
    "text", ["accuracy", "accuracy <> 0.9", "accuracy < high", "< 0.9", "accuracy drops < 1",
             "accuracy falls > 1", "", "accuracy < 0.9 and loss > 1"],
)
def test_unparseable_gate_is_one_sentence_with_the_accepted_forms(text):
    with pytest.raises(GateError) as info:
        parse_gate(text)
    message = str(info.value)
    assert message.startswith(f"Cannot read the gate '{text}'; write METRIC OP NUMBER")
    assert "'accuracy drops > 0.005'" in message and message.count(".") >= 1
    assert "\n" not in message


def results(*texts: str):
    return evaluate_gates([parse_gate(t) for t in texts], ROWS)


@pytest.mark.parametrize(
    ("text", "status", "detail"),
    [
        ("accuracy < 0.9", "passed", "accuracy is 0.9"),
        ("accuracy <= 0.9", "failed", "accuracy is 0.9"),
        ("accuracy drops > 0.005", "failed",
         "accuracy dropped by 0.01 (1.1%), from 0.91 to 0.9"),
        ("accuracy drops > 0.02", "passed",
         "accuracy dropped by 0.01 (1.1%), from 0.91 to 0.9"),
        ("accuracy drops > 2%", "passed", "accuracy dropped by 0.01 (1.1%), from 0.91 to 0.9"),
        ("accuracy drops > 1.0%", "failed", "accuracy dropped by 0.01 (1.1%), from 0.91 to 0.9"),
        ("accuracy drops > 0.5%", "failed", "accuracy dropped by 0.01 (1.1%), from 0.91 to 0.9"),
        ("accuracy rises", "passed", "accuracy dropped by 0.01 (1.1%), from 0.91 to 0.9"),
        ("loss rises > 0.1", "failed", "loss rose by 0.12 (40%), from 0.3 to 0.42"),
        ("loss rises > 50%", "passed", "loss rose by 0.12 (40%), from 0.3 to 0.42"),
        ("loss changes > 0.2", "passed", "loss rose by 0.12 (40%), from 0.3 to 0.42"),
        ("a/eval.json:f1 changes", "passed", "f1 is unchanged at 0.8"),
        ("b/eval.json:f1 changes", "failed", "f1 rose by 0.05 (7.1%), from 0.7 to 0.75"),
        ("recall drops > 0", "skipped", "recall has no base value to compare with"),
        ("recall < 0.5", "passed", "recall is 0.6"),
        ("nan_metric > 100", "failed", "nan_metric is NaN"),
        ("zero rises > 10%", "failed", "zero rose by 0.5, from 0 to 0.5"),
    ],
)
def test_evaluation(text, status, detail):
    [result] = results(text)
    assert (result.status, result.detail) == (status, detail)


def test_conclusion_is_failure_when_any_gate_failed():
    assert conclusion(results("accuracy < 0.5", "recall drops")) == "success"
    assert conclusion(results("accuracy < 0.5", "loss rises")) == "failure"
    assert conclusion([]) == "success"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("precision < 0.9",
         "The gate 'precision < 0.9' names the metric 'precision', which no metrics file has; "
         "the metrics are: accuracy, loss, optimizer, recall, nan_metric, f1, zero."),
        ("dropout > 0.2", "which no metrics file has (it exists only at the base revision)"),
        ("f1 < 0.9", "names 'f1', which is in several files (a/eval.json, b/eval.json); "
                     "write it as FILE:METRIC, e.g. 'a/eval.json:f1'."),
        ("optimizer < 1", "needs a number, but optimizer in m.json is 'sgd'"),
    ],
)
def test_gates_that_cannot_be_checked_say_why(text, message):
    with pytest.raises(GateError) as info:
        results(text)
    assert message in str(info.value)


METRIC_FORMS = [("accuracy", "accuracy"), ('"val acc"', "val acc"), ("'val acc'", "val acc"),
                ("eval/m.json:f1", "eval/m.json:f1")]
NUMBER_FORMS = [("0.9", 0.9), (".5", 0.5), ("-1e-3", -0.001), ("+2", 2.0), ("10", 10.0)]


@pytest.mark.parametrize(("written", "metric"), METRIC_FORMS)
@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
@pytest.mark.parametrize(("number", "value"), NUMBER_FORMS)
@pytest.mark.parametrize("space", ["", " ", "  "])
def test_value_gate_grammar(written, metric, op, number, value, space):
    text = f"{written}{space}{op}{space}{number}"
    assert parse_gate(text) == Gate(text, metric, op, value)


@pytest.mark.parametrize(("written", "metric"), METRIC_FORMS)
@pytest.mark.parametrize("trend", ["drops", "rises", "changes"])
@pytest.mark.parametrize("op", [">", ">="])
@pytest.mark.parametrize(("amount", "value", "percent"),
                         [("0.005", 0.005, False), ("5%", 5.0, True), ("+1e-2", 0.01, False),
                          ("0", 0.0, False), ("12.5%", 12.5, True)])
def test_trend_gate_grammar(written, metric, trend, op, amount, value, percent):
    text = f"{written} {trend} {op} {amount}"
    assert parse_gate(text) == Gate(text, metric, op, value, trend, percent)


@pytest.mark.parametrize(("written", "metric"), METRIC_FORMS)
@pytest.mark.parametrize("trend", ["drops", "rises", "changes"])
def test_trend_gate_without_amount_fails_on_any_change(written, metric, trend):
    assert parse_gate(f"{written} {trend}") == Gate(f"{written} {trend}", metric, ">", 0.0, trend)


@pytest.mark.parametrize("trend", ["drops", "rises", "changes"])
@pytest.mark.parametrize("op", [">", ">="])
@pytest.mark.parametrize("amount", ["-5", "-0.005", "-1%", "-0", "-1e-3", "-12.5%"])
def test_negative_amount_is_refused_as_a_magnitude(trend, op, amount):
    text = f"accuracy {trend} {op} {amount}"
    with pytest.raises(GateError) as info:
        parse_gate(f"  {text} ")
    assert str(info.value) == (
        f"The gate '{text}' has a negative amount, but amounts are magnitudes; write "
        f"'accuracy {trend} {op} {amount[1:]}' and let drops or rises say the direction."
    )


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
@pytest.mark.parametrize(("amount", "fraction", "magnitude"),
                         [("90%", "0.9", "90"), ("-1.5%", "-0.015", "1.5"), ("5 %", "0.05", "5")])
def test_percentage_on_a_value_gate_says_what_to_write(op, amount, fraction, magnitude):
    with pytest.raises(GateError) as info:
        parse_gate(f"accuracy {op} {amount}")
    assert str(info.value) == (
        f"The gate 'accuracy {op} {amount}' compares a value with a percentage, which only a "
        f"change can be; write a number ('accuracy {op} {fraction}') or gate the change "
        f"('accuracy drops > {magnitude}%')."
    )


@pytest.mark.parametrize(
    ("old", "new", "gate", "detail"),
    [(3.0, 6.0, "count rises", "count rose by 3 (100%), from 3 to 6"),
     (4, 2.0, "count drops", "count dropped by 2 (50%), from 4 to 2"),
     (10, 10.0, "count changes", "count is unchanged at 10"),
     (3.0, 6, "count > 5", "count is 6"),
     (200.0, 150.0, "count drops > 10%", "count dropped by 50 (25%), from 200 to 150")],
)
def test_whole_numbers_are_written_whole_in_gate_messages(old, new, gate, detail):
    [result] = evaluate_gates([parse_gate(gate)], [MetricRow("m.json", "count", old, new)])
    assert result.detail == detail
