"""How numbers are written in reports: metrics, changes and percentages.

`precision` significant digits (5, as `dvc metrics diff` rounds), with no exponent
between 1e-4 and 1e15; percentages to one decimal, or two significant digits below 1%.
A whole number is written whole, whatever its type: a count read as 3.0 shows as `3`,
a change of 50.0% as `50%`.
"""

from __future__ import annotations

import math

EMPTY = "—"


def format_number(value: object, precision: int = 5) -> str:
    """`0.93125`, `12.346`, `123457`, `1.234e-05`; text and None as they are / `—`."""
    if value is None:
        return EMPTY
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or not math.isfinite(value):
        return str(value)  # integers whole; nan, inf, -inf by name
    if value == 0:
        return "0"
    if 10**precision <= abs(value) < 1e15:
        return f"{value:.0f}"  # a large number reads better whole than as 1.2346e+05
    text = f"{value:.{precision}g}"  # no exponent between 1e-4 and 10**precision ...
    if "e" in text and 1 <= abs(value) < 1e15:
        return f"{value:.0f}"  # ... unless rounding carries: 99999.95 -> 1e+05
    return text


def format_percent(value: float, sign: bool = False) -> str:
    """`14.3%`, `0.55%`, `50%`, `+2.5%` with `sign`."""
    plus = "+" if sign else ""
    if not math.isfinite(value):
        return f"{value:{plus}}%"
    text = f"{value:{plus}.1f}" if abs(value) >= 1 else f"{value:{plus}.2g}"
    return f"{text.removesuffix('.0')}%"
