"""Write the stand-in as an executable named `pulumi`."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """#!{python}
# The stand-in pulumi CLI of cml-infra's tests (tests/fakes/engine); not the real one.
import sys
sys.path.insert(0, {root!r})
from tests.fakes.engine.cli import main
sys.exit(main())
"""


def install_fake_pulumi(bin_dir: Path) -> Path:
    """Create `<bin_dir>/pulumi` running the stand-in with this interpreter; returns its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "pulumi"
    path.write_text(SCRIPT.format(python=sys.executable, root=str(ROOT)))
    path.chmod(0o755)
    return path
