"""examples/metrics/report.sh runs for real in a git repository with DVCLive output.

`metrics` and `plot` are the real CLI; `comment` and `check` (which need a forge) are
recorded by a stand-in so the test can see what the script would post.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.test_metrics_git import make_repo

SCRIPT = ROOT / "examples" / "metrics" / "report.sh"
LOSS = "step\tloss\n0\t0.9\n1\t0.6\n2\t0.45\n"


def stand_in(bin_dir: Path, log: Path) -> None:
    bin_dir.mkdir()
    tool = bin_dir / "cml-infra"
    tool.write_text(
        "#!/usr/bin/env bash\n"
        'case "$1" in\n'
        f'  comment|check) echo "$*" >> {log} ;;\n'
        f'  *) exec {sys.executable} -m cml_cli "$@" ;;\n'
        "esac\n"
    )
    tool.chmod(0o755)


def test_shellcheck_passes():
    shellcheck = Path(sys.executable).parent / "shellcheck"
    subprocess.run([str(shellcheck), str(SCRIPT)], check=True)


def test_report_script_posts_the_table_the_plot_and_the_gate_verdict(tmp_path):
    repo = make_repo(
        tmp_path / "repo",
        {"dvclive/metrics.json": '{"step": 9, "eval": {"accuracy": 0.9, "loss": 0.3}}\n'},
        {"dvclive/metrics.json": '{"step": 19, "eval": {"accuracy": 0.89, "loss": 0.31}}\n',
         "dvclive/plots/metrics/train/loss.tsv": LOSS},
    )
    log = tmp_path / "posted.log"
    stand_in(tmp_path / "bin", log)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT), "GITHUB_BASE_REF": "main"}
    subprocess.run(["bash", str(SCRIPT)], cwd=repo, env=env, check=True, capture_output=True)

    report = (repo / "report.md").read_text()
    assert "| dvclive/metrics.json | eval.accuracy ❌ | 0.9 | 0.89 | -0.01 (-1.1%) |" in report
    assert "| `eval.loss rises > 10%` | ✅ passed" in report
    assert report.endswith("## Training\n\n![Training loss](plots/loss.png)\n")
    assert (repo / "plots" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert log.read_text().splitlines() == [
        "comment update report.md --watermark-title metrics",
        "check create report.md --title Metrics --conclusion failure",
    ]
