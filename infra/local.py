"""`--cloud local`: run the startup script on this machine, in the foreground.

The same script as on a cloud machine, rendered for `cloud="local"`: it registers this
machine as a runner, runs jobs as the unprivileged job user, and at the end stops and
unregisters the runner. It never powers the host off and has no metadata service to block.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from infra.errors import SpecError
from infra.startup import StartupConfig, render_startup_script


def run_local(config: StartupConfig, env: Mapping[str, str] | None = None) -> int:
    """Run the script for `config` until the runner is done; return the script's exit status.

    Ctrl-C reaches the script too (same process group): it stops the runner and unregisters
    it, and we wait for that instead of killing it halfway.
    """
    check_local(config, os.geteuid(), getpass.getuser())
    with tempfile.TemporaryDirectory(prefix="cml-infra-") as folder:
        script = Path(folder) / "startup.sh"
        # The script holds the single-use registration: readable by this user only.
        script.touch(mode=0o600)
        script.write_text(render_startup_script(config))
        proc = subprocess.Popen(["bash", str(script)], env=dict(env) if env else None)
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                continue


def check_local(config: StartupConfig, euid: int, user: str) -> None:
    """Refuse what cannot work here, before anything registers."""
    if config.cloud != "local":
        raise SpecError(f"Render the script for cloud local to run it here, not {config.cloud}.")
    if euid != 0 and config.job_user != user:
        raise SpecError(f"Run as root to create the job user {config.job_user}, or set the job "
                        f"user to {user} to run jobs as yourself.")
