"""Stub commands for the sandbox: host commands that would change this machine, and the
runner programs (`run.sh`, `config.sh`, `gitlab-runner`) that simulate jobs.

Every stub appends one tab-separated line (its name, then its arguments) to `calls.log`;
the runner stubs also record `job-start` / `job-done` and what the job could see. Behaviour
comes from files in the sandbox so one stub set serves every scenario: `rc/<name>` (exit
status), `gpu` (the `nvidia-smi -L` output; absent means no driver), `runner.env` (WAITS,
JOB_S, IGNORE_TERM), `as-user` (pretend to be that normal user: `id -un` prints it).

`ubuntu-drivers` and `apt-get` model the driver install on Alibaba (a package database in
`dpkg`, one package a line): `ubuntu-drivers install --gpgpu` installs the headless server
driver of the flavour in `driver-flavour` (or `nvidia:FLAVOUR`) and its kernel modules, no
nvidia-smi, writes `--package-list`, and exits 0 whatever happened, as install_gpgpu's
status is dropped (canonical/ubuntu-drivers-common, ubuntu-drivers `install`). `apt-get
install` without -y aborts as it does without a terminal; `nvidia-utils-FLAVOUR` puts
nvidia-smi on PATH (the sandbox keeps it in `nvidia-smi.pkg` until then), which fails with
NVML's version mismatch unless the headless driver of the same flavour is installed.

The runner stubs behave like the real programs where the startup script relies on them:
- `run.sh` takes the just-in-time configuration from `--jitconfig` or, like actions/runner's
  Listener, from `ACTIONS_RUNNER_INPUT_JITCONFIG` (name case-insensitive), which it then
  removes from its environment; it records where the configuration came from and a digest,
  never the configuration itself (`jitconfig-from env|argv|none DIGEST`).
- `gitlab-runner register` writes config.toml as gitlab-runner does (a missing directory
  0700, a new file 0600) with the token from CI_SERVER_TOKEN; `run` and `run-single` refuse
  a configuration they cannot read or that has no token. `run --user U` starts each job with
  `su -s /bin/bash U -c bash`; `run-single` never switches user; the docker executor's jobs
  see only job variables. A shell-executor job inherits the runner's environment plus job
  variables, as executors/shell does, and runs the runner-level pre_get_sources_script and
  pre_build_script first. SIGQUIT: take no further job, finish the running one, exit;
  SIGTERM: abort. While waiting for a job the stub has no child process (a job is one).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path

RECORD = (
    """record() {{ {{ printf '%s' "$1"; shift; printf '\\t%s' "$@"; printf '\\n'; }} """
    """>>'{calls}'; }}\n"""
)
# su as gitlab-runner's shell executor calls it (`su -s SHELL USER -c CMD`): not a login
# shell, so the environment stays but HOME, SHELL, USER and LOGNAME; su waits for the shell.
SU = """shell=/bin/sh
if [ "$1" = -s ]; then shell=$2; shift 2; fi
user=$1
[ "$2" = -c ] || exit 1
export HOME="/home/$user" USER="$user" LOGNAME="$user" SHELL="$shell"
"$shell" -c "$3"
exit $?
"""
UBUNTU_DRIVERS = """[ "$1" = install ] || exit 0
shift
gpgpu=0 list='' flavour=$(cat '{root}/driver-flavour' 2>/dev/null)
while [ "$#" -gt 0 ]; do
  case "$1" in
    --gpgpu) gpgpu=1 ;;
    --package-list) list=$2; shift ;;
    nvidia:*) flavour=${{1#nvidia:}} ;;
  esac
  shift
done
[ "$gpgpu" = 1 ] || {{ echo 'the sandbox models --gpgpu only'; exit 0; }}
[ -n "$flavour" ] || {{ echo 'No drivers found for installation.'; exit 0; }}
set -- "nvidia-headless-no-dkms-$flavour" "linux-modules-nvidia-$flavour-generic"
printf '%s\\n' "$@" >>'{root}/dpkg'
[ -z "$list" ] || printf '%s\\n' "$@" >>"$list"
exit 0
"""
APT_GET = """[ "$1" = install ] || exit 0
shift
yes=0 packages=''
while [ "$#" -gt 0 ]; do
  case "$1" in
    -y|--yes|--assume-yes|-qq) yes=1 ;;
    -o|-t|-c) shift ;;
    -*) ;;
    *) packages="$packages $1" ;;
  esac
  shift
done
[ "$yes" = 1 ] || {{ echo 'Do you want to continue? [Y/n] Abort.'; exit 1; }}
for package in $packages; do
  printf '%s\\n' "$package" >>'{root}/dpkg'
  case "$package" in
    nvidia-utils-*) echo "${{package#nvidia-utils-}}" >'{root}/utils-flavour'
      cp '{root}/nvidia-smi.pkg' '{bin}/nvidia-smi' ;;
  esac
done
"""
NVIDIA_SMI = """if [ -f '{root}/utils-flavour' ] &&
    ! grep -qx "nvidia-headless-no-dkms-$(cat '{root}/utils-flavour')" '{root}/dpkg'; then
  echo 'Failed to initialize NVML: Driver/library version mismatch'; exit 18
fi
[ -f '{root}/gpu' ] || {{ echo 'NVIDIA-SMI has failed: no driver'; exit 9; }}
cat '{root}/gpu'
"""
HOST_STUBS = {
    # name: body after `record`; $0's basename is the command name
    "shutdown": "", "poweroff": "", "systemctl": "", "iptables": "", "useradd": "",
    "usermod": "", "chown": "",
    "logger": "",
    "systemd-cat": "cat >/dev/null\n",
    "nvidia-smi": NVIDIA_SMI, "ubuntu-drivers": UBUNTU_DRIVERS, "apt-get": APT_GET,
    "runuser": 'while [ "$#" -gt 0 ] && [ "$1" != -- ]; do shift; done\nshift\nexec "$@"\n',
    "sudo": 'while [ "$#" -gt 0 ] && [ "$1" != -- ]; do shift; done\nshift\nexec "$@"\n',
    "su": SU,
    # recorded, then the real one: the argv of every process up to the runner, and of every
    # request the script makes, is in calls.log
    "setsid": 'exec {real} "$@"\n', "curl": 'exec {real} "$@"\n',
}

# Simulates a GitHub runner: waits for a job (WAITS: seconds per invocation, "never" = no
# job comes), runs it for JOB_S seconds with the job hooks GitHub's runner would call, exits.
RUNNER_SIM = """
. '{root}/runner.env'
n=0
[ -f '{root}/invocations' ] && read -r n <'{root}/invocations'
n=$((n + 1))
echo "$n" >'{root}/invocations'
if [ "${{IGNORE_TERM:-0}}" = 1 ]; then trap '' TERM; fi
set -- $WAITS
shift $(((n - 1) < $# ? n - 1 : $#)) 2>/dev/null || true
wait_s=${{1:-never}}
take_job() {{
  record job-start
  [ -n "${{ACTIONS_RUNNER_HOOK_JOB_STARTED:-}}" ] && "$ACTIONS_RUNNER_HOOK_JOB_STARTED"
  sleep "$JOB_S"
  [ -n "${{ACTIONS_RUNNER_HOOK_JOB_COMPLETED:-}}" ] && "$ACTIONS_RUNNER_HOOK_JOB_COMPLETED"
  record job-done
}}
"""

RUN_SH = """#!/usr/bin/env bash
{record}args=() config='' from=none
while [ "$#" -gt 0 ]; do
  if [ "$1" = --jitconfig ]; then
    config=$2 from=argv
    args+=(--jitconfig '<secret>')
    shift 2
  else
    args+=("$1")
    shift
  fi
done
record run.sh "${{args[@]}}"
for name in $(compgen -e); do
  upper=${{name^^}}
  case "$upper" in ACTIONS_RUNNER_INPUT_*) ;; *) continue ;; esac
  value=${{!name}}
  value=${{value#"${{value%%[![:space:]]*}}"}}
  value=${{value%"${{value##*[![:space:]]}}"}}
  if [ "$upper" = ACTIONS_RUNNER_INPUT_JITCONFIG ] && [ "$from" = none ] && [ -n "$value" ]; then
    config=$value from=env
  fi
  unset "$name"
done
if [ "$from" = none ]; then
  record jitconfig-from none
  echo 'The runner is not configured: no --jitconfig' >&2
  exit 1
fi
record jitconfig-from "$from" "$(printf '%s' "$config" | sha256sum | cut -c 1-16)"
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

# What a GitLab job runs after the runner-level hooks: the executor's job variables, then
# the job's own code, which reports who it ran as and whether its environment holds a
# runner token.
GITLAB_JOB = """. '{root}/runner.env'
export CI_JOB_TOKEN=sandbox-job-token CI_SERVER_URL=https://gitlab.invalid CI_JOB_ID=1
{record}record job-start
record job-as "${{USER:-unknown}}"
record job-env-token "$(env | grep -c 'glrt-')"
sleep "$JOB_S"
record job-done
"""

GITLAB_RUNNER = """#!/usr/bin/env bash
{record}record gitlab-runner "$@"
command=$1
shift
declare -A opt=() conf=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --non-interactive) shift ;;
    --*) opt[${{1#--}}]=$2; shift 2 ;;
    *) shift ;;
  esac
done
config=${{opt[config]:-}}
fatal() {{ echo "FATAL: $*" >&2; record gitlab-runner-fatal "$*"; exit 1; }}
case "$command" in
  register)
    record register-env "${{CI_SERVER_TOKEN:-}}"
    [ -n "${{CI_SERVER_TOKEN:-}}" ] || fatal "Missing Token"
    [ -d "${{config%/*}}" ] || mkdir -p -m 700 "${{config%/*}}"
    (
      umask 077
      {{
        printf 'concurrent = 1\\n\\n[[runners]]\\n'
        for key in name url executor builds-dir cache-dir limit pre-get-sources-script \\
            pre-build-script docker-image docker-gpus; do
          [ -z "${{opt[$key]:-}}" ] || printf '  %s = "%s"\\n' "${{key//-/_}}" "${{opt[$key]}}"
        done
        printf '  token = "%s"\\n' "$CI_SERVER_TOKEN"
      }} >"$config"
    )
    exit 0 ;;
  run|run-single) ;;
  *) exit 0 ;;
esac
[ -r "$config" ] || fatal "Error loading config: cannot read $config"
while IFS= read -r line; do
  case "$line" in
    '  '*' = '*) key=${{line%% = *}}; value=${{line#* = }}; value=${{value#\\"}}
      conf[${{key#  }}]=${{value%\\"}} ;;
  esac
done <"$config"
[ -n "${{conf[token]:-}}" ] || fatal "Missing Token"
if [ "$command" = run-single ] && [ "${{conf[name]:-}}" != "${{opt[runner]:-}}" ]; then
  fatal "Error loading runner by name"
fi
record gitlab-runner-as "${{USER:-unknown}}"
{sim}
jobfile='{root}/gitlab-job-'$$.sh
{{
  [ -z "${{conf[pre_get_sources_script]:-}}" ] || printf '%s\\n' "${{conf[pre_get_sources_script]}}"
  [ -z "${{conf[pre_build_script]:-}}" ] || printf '%s\\n' "${{conf[pre_build_script]}}"
  cat <<'JOB'
{job}JOB
}} >"$jobfile"
fifo='{root}/nap-'$$
mkfifo "$fifo"
exec 9<>"$fifo"
rm -f "$fifo"
quit=0 job='' builds=0
trap 'quit=1; record gitlab-runner-signal QUIT' QUIT
if [ "${{IGNORE_TERM:-0}}" != 1 ]; then
  trap 'record gitlab-runner-signal TERM; [ -z "$job" ] || kill -TERM "$job"; exit 1' TERM
fi
# Sleep without a child process: the startup script counts the runner's children as jobs.
nap() {{
  local end=$((SECONDS + $1))
  while [ "$quit" = 0 ] && [ "$SECONDS" -lt "$end" ]; do read -rt 1 -u 9 || true; done
}}
run_job() {{
  if [ "${{conf[executor]:-}}" = docker ]; then
    env -i PATH="$PATH" HOME=/root USER=container bash <"$jobfile" &
  elif [ -n "${{opt[user]:-}}" ]; then
    su -s /bin/bash "${{opt[user]}}" -c bash <"$jobfile" &
  else
    bash <"$jobfile" &
  fi
  job=$!
  until wait "$job"; do kill -0 "$job" 2>/dev/null || break; done
  job=''
  builds=$((builds + 1))
}}
finish() {{ record gitlab-runner-exit "$builds"; exit 0; }}
if [ "$command" = run ]; then
  for wait_s in $WAITS never; do
    [ "$quit" = 1 ] && break
    if [ "$wait_s" = never ]; then
      while [ "$quit" = 0 ]; do read -rt 1 -u 9 || true; done
      break
    fi
    nap "$wait_s"
    [ "$quit" = 1 ] && break
    run_job
  done
  finish
fi
max=${{opt[max-builds]:-0}} wait_timeout=${{opt[wait-timeout]:-0}}
for wait_s in $WAITS never; do
  if [ "$wait_s" = never ] || [ "$wait_s" -gt "$wait_timeout" ]; then
    nap "$wait_timeout"
    echo "no job in $wait_timeout seconds, so now exiting"
    finish
  fi
  nap "$wait_s"
  [ "$quit" = 1 ] && finish
  run_job
  if [ "$max" -gt 0 ] && [ "$builds" -ge "$max" ]; then finish; fi
  [ "$quit" = 1 ] && finish
done
"""


def _real(name: str, bin_dir: Path) -> str:
    """The command the stub `name` stands in front of (PATH without the stub directory)."""
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and Path(p) != bin_dir)
    found = shutil.which(name, path=path)
    if not found:
        raise RuntimeError(f"the sandbox needs {name} on PATH")
    return found


def write_host_stubs(bin_dir: Path, root: Path, calls: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    record = RECORD.format(calls=calls)
    for name, body in HOST_STUBS.items():
        real = _real(name, bin_dir) if "{real}" in body else ""
        rc = f"exit $(cat '{root}/rc/{name}' 2>/dev/null || echo 0)\n"
        text = (f"#!/usr/bin/env bash\n{record}record {name} \"$@\"\n"
                f"{body.format(root=root, real=real, bin=bin_dir)}{rc}")
        _write(bin_dir / name, text)
    # `id -un` pretends to be a normal user when the scenario asks for it; not recorded.
    _write(bin_dir / "id", f"""#!/usr/bin/env bash
if [ -f '{root}/as-user' ] && [ "$*" = -un ]; then cat '{root}/as-user'; exit 0; fi
exec {_real("id", bin_dir)} "$@"
""")


def _write(path: Path, text: str) -> None:
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
    sim = f". '{root}/runner.env'\n"
    job = GITLAB_JOB.format(root=root, record=record)
    return GITLAB_RUNNER.format(record=record, sim=sim, root=root, job=job).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
