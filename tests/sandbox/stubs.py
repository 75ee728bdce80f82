"""Stub commands for the sandbox: host commands that would change this machine, and the
runner programs (`run.sh`, `config.sh`, `gitlab-runner`) that simulate jobs.

Every stub appends one tab-separated line (its name, then its arguments) to `calls.log`;
the runner stubs also record `job-start` / `job-done`. Behaviour comes from files in the
sandbox so one stub set serves every scenario: `rc/<name>` (exit status), `gpu` (the
`nvidia-smi -L` output; absent means no driver), `runner.env` (WAITS, JOB_S, IGNORE_TERM).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

RECORD = (
    """record() {{ {{ printf '%s' "$1"; shift; printf '\\t%s' "$@"; printf '\\n'; }} """
    """>>'{calls}'; }}\n"""
)
HOST_STUBS = {
    # name: body after `record`; $0's basename is the command name
    "shutdown": "", "poweroff": "", "systemctl": "", "iptables": "", "useradd": "",
    "usermod": "", "chown": "",
    "logger": "",
    "systemd-cat": "cat >/dev/null\n",
    "nvidia-smi": "[ -f '{root}/gpu' ] || {{ echo 'NVIDIA-SMI has failed: no driver'; exit 9; }}\n"
                  "cat '{root}/gpu'\n",
    "runuser": 'while [ "$#" -gt 0 ] && [ "$1" != -- ]; do shift; done\nshift\nexec "$@"\n',
    "sudo": 'while [ "$#" -gt 0 ] && [ "$1" != -- ]; do shift; done\nshift\nexec "$@"\n',
}

# Simulates a runner: waits for a job (WAITS: seconds per invocation, "never" = no job comes),
# runs it for JOB_S seconds with the job hooks GitHub's runner would call, then exits.
RUNNER_SIM = """
. '{root}/runner.env'
n=$(($(cat '{root}/invocations' 2>/dev/null || echo 0) + 1))
echo "$n" >'{root}/invocations'
if [ "${{IGNORE_TERM:-0}}" = 1 ]; then trap '' TERM; fi
set -- $WAITS
shift $(((n - 1) < $# ? n - 1 : $#)) 2>/dev/null || true
wait_s=${{1:-never}}
date +%s.%N >'{root}/runner-started'
take_job() {{
  record job-start
  [ -n "${{ACTIONS_RUNNER_HOOK_JOB_STARTED:-}}" ] && "$ACTIONS_RUNNER_HOOK_JOB_STARTED"
  sleep "$JOB_S"
  [ -n "${{ACTIONS_RUNNER_HOOK_JOB_COMPLETED:-}}" ] && "$ACTIONS_RUNNER_HOOK_JOB_COMPLETED"
  record job-done
}}
"""

RUN_SH = """#!/usr/bin/env bash
{record}record run.sh "$@"
cd "$(dirname "$0")"
set -a; [ -f .env ] && . ./.env; set +a
{sim}
if [ "$wait_s" = never ]; then sleep 3600; exit 0; fi
sleep "$wait_s"
take_job
"""

CONFIG_SH = """#!/usr/bin/env bash
{record}record config.sh "$@"
"""

GITLAB_RUNNER = """#!/usr/bin/env bash
{record}record gitlab-runner "$@"
case "$1" in
  register) record register-env "${{CI_SERVER_TOKEN:-}}"; exit 0 ;;
  run-single) ;;
  *) exit 0 ;;
esac
max=0; wait_timeout=0
while [ "$#" -gt 0 ]; do
  case "$1" in --max-builds) max=$2 ;; --wait-timeout) wait_timeout=$2 ;; esac
  shift
done
{sim}
builds=0
for wait_s in $WAITS never; do
  if [ "$wait_s" = never ] || [ "$wait_s" -gt "$wait_timeout" ]; then
    sleep "$wait_timeout"; echo "no job in $wait_timeout seconds, so now exiting"; exit 0
  fi
  sleep "$wait_s"
  take_job
  builds=$((builds + 1))
  if [ "$max" -gt 0 ] && [ "$builds" -ge "$max" ]; then exit 0; fi
done
"""


def write_host_stubs(bin_dir: Path, root: Path, calls: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    record = RECORD.format(calls=calls)
    for name, body in HOST_STUBS.items():
        rc = f"exit $(cat '{root}/rc/{name}' 2>/dev/null || echo 0)\n"
        text = f"#!/usr/bin/env bash\n{record}record {name} \"$@\"\n{body.format(root=root)}{rc}"
        path = bin_dir / name
        path.write_text(text)
        path.chmod(0o755)


def github_package(root: Path, calls: Path) -> bytes:
    """A runner tarball whose run.sh and config.sh are stubs (what the forge serves)."""
    record = RECORD.format(calls=calls)
    sim = RUNNER_SIM.format(root=root)
    members = {"run.sh": RUN_SH.format(record=record, sim=sim),
               "config.sh": CONFIG_SH.format(record=record)}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"./{name}")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gitlab_binary(root: Path, calls: Path) -> bytes:
    record = RECORD.format(calls=calls)
    return GITLAB_RUNNER.format(record=record, sim=RUNNER_SIM.format(root=root)).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
