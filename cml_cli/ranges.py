"""Numbers within a range, whose help states the range once, in words.

Click's `IntRange` / `FloatRange` (typer's `min=`/`max=`) append their range to the help
("[default: 600; 50<=x<=4000]"), where `x` reads like the `--x` option and the help already
says "50 to 4000"; `between` checks the same bounds as a typer `parser`, shown only once.
"""

from __future__ import annotations

from collections.abc import Callable

import typer


def between(low: float, high: float, *, integer: bool = True) -> Callable[[str], float]:
    """A typer `parser` for an int (or a float) from `low` to `high`, both included."""

    def parse(value: str | float) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number: float = value
        else:
            try:
                number = int(value) if integer else float(value)
            except ValueError:
                kind = "a whole number" if integer else "a number"
                raise typer.BadParameter(f"{value!r} is not {kind}.") from None
        if not low <= number <= high:
            raise typer.BadParameter(f"{number:g} is not from {low:g} to {high:g}.")
        return number

    parse.__name__ = "INTEGER" if integer else "FLOAT"
    return parse
