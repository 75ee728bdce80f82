"""The `cml-infra` command line: parse flags, make one library call, render the result.

This package is the only place that builds real clients (Pulumi workspaces, PyGithub,
python-gitlab); `infra` and `reporting` receive them.
"""

import os as _os

# Help is rendered as plain text: Typer's rich formatter costs ~0.2 s of imports (rich,
# markdown-it) on every `--help`, more than the whole rest of start-up. Commands are still
# grouped into panels by `cml_cli.app.PanelGroup`. Typer reads this once, at import.
_os.environ.setdefault("TYPER_USE_RICH", "0")
