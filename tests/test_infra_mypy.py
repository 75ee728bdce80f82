"""The components type-check against the SDKs' typed argument dictionaries (slow first run)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_components_type_check():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--follow-imports=silent",
         "infra/clouds", "infra/catalog", "infra/spec.py", "infra/program.py", "infra/plan.py",
         "infra/stack.py", "cml_cli/commands/up.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
