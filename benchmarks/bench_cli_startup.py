"""Cold start of `cml-infra --help` against `python -c "import typer"`, measured in one run.

Usage: python benchmarks/bench_cli_startup.py [--runs N]
Target (issue 2): median under 0.25 s and within 2.5x of the typer baseline.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    cli = shutil.which("cml-infra", path=str(Path(sys.executable).parent)) or "cml-infra"
    baseline = median_seconds([sys.executable, "-c", "import typer"], runs)
    help_time = median_seconds([cli, "--help"], runs)
    ratio = help_time / baseline
    ok = help_time < 0.25 and ratio <= 2.5
    print("| measurement | median (s) | runs |")
    print("| --- | --- | --- |")
    print(f'| `python -c "import typer"` (baseline) | {baseline:.3f} | {runs} |')
    print(f"| `cml-infra --help` | {help_time:.3f} | {runs} |")
    print(f"\nratio {ratio:.2f}x; target < 0.25 s and <= 2.5x: {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
