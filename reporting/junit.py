"""Metric gates as a JUnit XML report, for GitLab's test report (`artifacts:reports:junit`).

GitLab shows the test cases of the report in the merge request and the pipeline's Tests
tab (https://docs.gitlab.com/ci/testing/unit_test_reports/). One test suite,
`cml-infra metrics gates`, holds one test case per `--fail-if` gate, named by the gate as
written, in the order given:

- passed: an empty test case;
- failed: a `<failure>` whose message is the gate's result and the metric's old, new and
  change values;
- skipped (a trend gate on a metric the base revision does not have, see
  `reporting.gates`): a `<skipped>` with the reason.

A gate that cannot be evaluated at all (its metric is in no file, or is not a number) is an
error of the command, which stops before any report is written, as without --junit.
Without gates the suite is empty (`tests="0"`), so that the report file always exists.
The XML is built with `xml.etree.ElementTree`, which escapes every text and attribute.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import cast

from reporting.gates import GateResult, find_row
from reporting.metrics.compare import MetricRow, MetricsReport
from reporting.metrics.render import format_change
from reporting.numbers import format_number

SUITE = "cml-infra metrics gates"
CLASSNAME = "metrics"
# Characters XML 1.0 cannot hold at all, even escaped (https://www.w3.org/TR/xml/#charsets).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def render_junit(report: MetricsReport, results: Sequence[GateResult], precision: int = 5) -> bytes:
    """The JUnit XML document (UTF-8, with its declaration) of the gates `results`."""
    counts = {
        "tests": str(len(results)),
        "failures": str(sum(r.status == "failed" for r in results)),
        "errors": "0",
        "skipped": str(sum(r.status == "skipped" for r in results)),
    }
    root = ET.Element("testsuites", {"name": SUITE, **counts})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE, **counts})
    for result in results:
        row = cast(MetricRow, find_row(result.gate, report.rows))  # found when evaluated
        case = ET.SubElement(suite, "testcase", {
            "name": _xml_text(result.gate.text), "classname": CLASSNAME,
            "file": _xml_text(row.file),
        })
        if result.status == "failed":
            failure = ET.SubElement(case, "failure", {
                "message": _xml_text(_failure_message(result, row, report.base, precision)),
                "type": "gate",
            })
            failure.text = _xml_text(_values(row, report.base, precision))
        elif result.status == "skipped":
            ET.SubElement(case, "skipped", {"message": _xml_text(result.detail)})
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _failure_message(result: GateResult, row: MetricRow, base: str | None,
                     precision: int) -> str:
    old = format_number(row.old, precision)
    new = format_number(row.new, precision)
    return (f"{result.detail} (old at {base or 'the base'}: {old}, new: {new}, "
            f"change: {format_change(row, precision)})")


def _values(row: MetricRow, base: str | None, precision: int) -> str:
    return "\n".join([
        f"file: {row.file}",
        f"metric: {row.metric}",
        f"old ({base or 'base'}): {format_number(row.old, precision)}",
        f"new: {format_number(row.new, precision)}",
        f"change: {format_change(row, precision)}",
    ])


def _xml_text(text: str) -> str:
    """`text` without the control characters XML cannot hold, each shown as U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)
