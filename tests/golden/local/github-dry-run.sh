#!/usr/bin/env bash
# cml-infra startup script: forge github, cloud local, single-job mode.
# Rendered from infra/startup/templates/, where the comments are.
CML_FORGE=github
CML_CLOUD=local
CML_RUNNER_NAME=cml-runner
CML_FORGE_URL=https://github.com
CML_PACKAGE_URL='<from the forge runner downloads API>'
CML_PACKAGE_SHA256='<published checksum>'
CML_LABELS=gpu-box,a100
CML_GPU_MODEL=a100
CML_GPU_COUNT=1
CML_GPU_WAIT_S=30
CML_IDLE_MODE=0
CML_IDLE_TIMEOUT_S=300
CML_MAX_RUNTIME_S=21600
CML_INSTALL_DIR=/opt/cml-infra
CML_SYSTEMD_DIR=/etc/systemd/system
CML_JOB_USER=cml-runner
CML_DOCKER=0
CML_NETWORK_TIMEOUT_S=300
CML_DOWNLOAD_ATTEMPTS=5
CML_RETRY_BACKOFF_S=2
CML_POLL_S=5
CML_STOP_GRACE_S=30
CML_END_RETRY_S=900
CML_TEARDOWN_BUDGET_S=1295
CML_METADATA_HOST=''
CML_JOB_METADATA=0
CML_REGISTRATION='<single-use registration, minted by up>'
CML_EXTRA_COMMANDS=()
# ---- prelude: strict mode, logging and helpers shared by every variant ----
set -euo pipefail
umask 022

CML_STATE_DIR="$CML_INSTALL_DIR/state"
CML_ACTIVITY_DIR="$CML_INSTALL_DIR/activity"
CML_EXIT=0
DEADMAN_PID=""
WATCHER_PIDS=()

# Serial console (stderr, captured by cloud-init and the cloud's console), a file, and the
# journal through logger or systemd-cat when present. Never called with a secret.
log() {
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) cml-infra: $*"
  printf '%s\n' "$line" >&2
  printf '%s\n' "$line" >>"$CML_STATE_DIR/startup.log" 2>/dev/null || true
  if command -v logger >/dev/null 2>&1; then
    logger -t cml-infra -- "$*" 2>/dev/null || true
  elif command -v systemd-cat >/dev/null 2>&1; then
    printf '%s\n' "$*" | systemd-cat -t cml-infra 2>/dev/null || true
  fi
}

# Download $1 to $3 with retries and exponential backoff; keep it only if its SHA-256 is $2.
# Returns 1 when every attempt failed, 2 on a checksum mismatch (the file is deleted).
download_verified() {
  local url=$1 want=$2 dest=$3 attempt=1 delay=$CML_RETRY_BACKOFF_S got
  until curl -fsSL --connect-timeout 10 --max-time 900 -o "$dest.part" "$url"; do
    if ((attempt >= CML_DOWNLOAD_ATTEMPTS)); then
      log "download of $url failed after $attempt attempts"
      return 1
    fi
    log "download attempt $attempt of $url failed; retrying in ${delay}s"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
  done
  got=$(sha256sum "$dest.part" | cut -d ' ' -f 1)
  if [[ "$got" != "$want" ]]; then
    rm -f "$dest.part"
    log "checksum mismatch for $url: expected $want, got $got; not running it"
    return 2
  fi
  mv "$dest.part" "$dest"
  log "downloaded and verified $url"
}


# The command prefix that runs something as user $1 (default: the job user) with a clean
# environment, in its own session (setsid) so that a stop reaches every process of the job.
# Nothing secret ever goes into it: every local user can read a process's argv (`ps`).
job_command_prefix() {
  local user=${1:-$CML_JOB_USER} home
  home=$(getent passwd "$user" | cut -d : -f 6) || true
  JOB_PREFIX=(setsid)
  if [[ "$(id -un)" != "$user" ]]; then
    JOB_PREFIX+=(runuser -u "$user" --)
  fi
  JOB_PREFIX+=(env -i "HOME=${home:-/home/$user}" "USER=$user" "PATH=$PATH" LANG=C.UTF-8)
}

# Start the runner in the background; the stop paths find it through runner.pid. Bash makes
# an asynchronous simple command ignore SIGINT and SIGQUIT; the subshell restores them, since
# SIGQUIT is gitlab-runner's graceful stop (finish the running job, take no other).
start_runner() {
  (
    trap - INT QUIT
    exec "${JOB_PREFIX[@]}" "$@"
  ) &
  RUNNER_PID=$!
  printf '%s' "$RUNNER_PID" >"$CML_STATE_DIR/runner.pid"
}

# Wait until the runner has exited, also when a signal trap interrupted the first wait.
wait_runner() {
  local rc=0
  wait "$RUNNER_PID" || rc=$?
  while kill -0 "$RUNNER_PID" 2>/dev/null; do
    wait "$RUNNER_PID" || rc=$?
  done
  rm -f "$CML_STATE_DIR/runner.pid"
  log "the runner exited with status $rc"
}

give_to_job_user() {
  if [[ "$(id -un)" != "$CML_JOB_USER" ]]; then
    chown -R "$CML_JOB_USER:" "$@"
  fi
}
# ---- guards: stop requests, the dead-man switch, watchers, preparation checks ----

stop_requested() { [[ -e "$CML_STATE_DIR/stop-reason" ]]; }

stop_reason() {
  if stop_requested; then cat "$CML_STATE_DIR/stop-reason"; else printf '%s' "$1"; fi
}

# Stop the runner gracefully (SIGTERM to its session), then SIGKILL after the grace period.
stop_runner() {
  local pid waited=0
  pid=$(cat "$CML_STATE_DIR/runner.pid" 2>/dev/null) || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  log "stopping the runner (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((waited < CML_STOP_GRACE_S)); do
    sleep 1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "the runner ignored SIGTERM for ${CML_STOP_GRACE_S}s; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
}

# The first reason wins; later requests only make sure the runner is stopped.
note_stop() {
  if ! stop_requested; then
    printf '%s' "$1" >"$CML_STATE_DIR/stop-reason"
    log "stop requested: $1"
  fi
}

request_stop() {
  note_stop "$1"
  stop_runner
}

# A guest halt that would lose the cloud's own kill switch: on GCP it stops the VM, whose
# maxRunDuration timer (instanceTerminationAction DELETE) is then cleared, and the stopped
# VM's disk stays billed; left running, the VM is deleted at its deadline.
# https://cloud.google.com/compute/docs/instances/limit-vm-runtime
halt_loses_kill_switch() { [[ "$CML_CLOUD" == gcp ]]; }

# Kill switch (b): scheduled before anything else can fail. The OS-level shutdown is the
# backstop should this script itself die: a minute after the deadline plus the whole
# teardown budget, so it never halts a teardown that is still running.
start_deadman() {
  if [[ "$CML_CLOUD" != local ]] && ! halt_loses_kill_switch; then
    # CML_TEARDOWN_BUDGET_S: the longest teardown after the deadline (infra/startup).
    shutdown -h "+$(((CML_MAX_RUNTIME_S + CML_TEARDOWN_BUDGET_S + 59) / 60 + 1))" >/dev/null 2>&1 ||
      log "could not schedule the OS-level shutdown backstop"
  fi
  (
    # Disarming (on `local` after a clean teardown) must not leave the sleep behind.
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    sleep "$CML_MAX_RUNTIME_S" &
    sleeper=$!
    wait "$sleeper"
    log "dead-man switch: maximum runtime of ${CML_MAX_RUNTIME_S}s reached"
    request_stop "maximum runtime reached"
    wait_for_file "$CML_STATE_DIR/torn-down" "$CML_STOP_GRACE_S" && exit 0
    teardown "maximum runtime reached (dead-man switch)" || power_off_last_resort
  ) &
  DEADMAN_PID=$!
  log "dead-man switch armed for ${CML_MAX_RUNTIME_S}s"
}

wait_for_file() {
  local waited=0
  until [[ -e "$1" ]]; do
    ((waited >= $2)) && return 1
    sleep 1
    waited=$((waited + 1))
  done
}

power_off_last_resort() {
  [[ "$CML_CLOUD" == local ]] && return 1
  if halt_loses_kill_switch; then
    log "teardown failed; not powering off: the VM's maxRunDuration deletes it"
    return 1
  fi
  log "teardown failed; powering off as the last resort"
  shutdown -h now || poweroff -f
}

# Kill switch (d): poll the cloud's interruption notice and stop the runner gracefully.
start_spot_watcher() {
  [[ "$CML_CLOUD" == local ]] && return 0
  (
    while sleep "$CML_POLL_S"; do
      if cloud_spot_notice; then
        log "spot interruption notice from the metadata service"
        request_stop "spot interruption"
        exit 0
      fi
    done
  ) &
  WATCHER_PIDS+=("$!")
}

wait_for_forge() {
  local deadline=$((SECONDS + CML_NETWORK_TIMEOUT_S))
  # Any HTTP answer proves the network and the forge are up.
  until curl -sS -o /dev/null --connect-timeout 3 --max-time 10 "$CML_FORGE_URL" 2>/dev/null; do
    ((SECONDS >= deadline)) && return 1
    sleep 1
  done
  log "network up; $CML_FORGE_URL answers"
}

# The driver may arrive minutes after boot (GCP's install-nvidia-driver metadata, Azure's
# NvidiaGpuDriverLinux extension, Alibaba's install commands): poll up to CML_GPU_WAIT_S.
check_gpu() {
  local deadline=$((SECONDS + CML_GPU_WAIT_S)) reason
  ((CML_GPU_COUNT == 0)) && return 0
  until reason=$(gpu_problem); do
    if ((SECONDS >= deadline)); then
      log "no usable GPU after ${CML_GPU_WAIT_S}s: $reason"
      return 1
    fi
    log "waiting for the GPU driver: $reason"
    sleep "$CML_POLL_S"
  done
  log "GPU check passed: $reason"
}

# Prints what is wrong and fails, or prints the GPUs and succeeds.
gpu_problem() {
  local out found
  if ! out=$(nvidia-smi -L 2>&1); then
    printf 'nvidia-smi failed: %s' "${out//$'\n'/ }"
    return 1
  fi
  found=$(grep -c '^GPU ' <<<"$out" || true)
  if ((found < CML_GPU_COUNT)); then
    printf 'nvidia-smi lists %s of %s %s GPU(s)' "$found" "$CML_GPU_COUNT" "$CML_GPU_MODEL"
    return 1
  fi
  printf '%s' "${out//$'\n'/; }"
}

ensure_job_user() {
  if [[ "$(id -un)" == "$CML_JOB_USER" ]]; then
    return 0
  elif ! id -u "$CML_JOB_USER" >/dev/null 2>&1; then
    useradd --create-home --user-group --shell /bin/bash "$CML_JOB_USER" || return 1
    log "created the unprivileged job user $CML_JOB_USER"
  fi
  give_to_job_user "$CML_ACTIVITY_DIR"
}

# The job must not read user data or role credentials: reject its traffic to the metadata
# service (owner match), and forwarded container traffic too when jobs run in docker.
block_metadata() {
  local host
  # A pool with a machine identity: its jobs fetch that identity's credentials here.
  if ((CML_JOB_METADATA)); then
    log "machine identity: jobs keep the metadata service"
    return 0
  fi
  for host in $CML_METADATA_HOST; do
    iptables -w -I OUTPUT -d "$host" -m owner --uid-owner "$CML_JOB_USER" -j REJECT || return 1
    if ((CML_DOCKER)); then
      iptables -w -I FORWARD -d "$host" -j REJECT || return 1
    fi
    log "blocked $CML_JOB_USER from the metadata service at $host"
  done
}

run_extra_commands() {
  local command
  for command in "${CML_EXTRA_COMMANDS[@]}"; do
    log "running an extra setup command"
    bash -c "$command" || return 1
  done
}
# ---- reboot: the start-up survives a reboot (user data runs on first boot only) ----
# Azure's NVIDIA GPU driver extension may reboot the VM, and custom data runs once:
# https://learn.microsoft.com/azure/virtual-machines/extensions/hpccompute-gpu-linux
# https://learn.microsoft.com/en-us/azure/virtual-machines/custom-data
# The first boot records the absolute deadline and enables a unit that runs this script
# again with `rearm` on every later boot.

CML_DEADLINE_FILE="$CML_STATE_DIR/deadline"
# Written when the runner is about to register: from then on the single-use registration is
# spent, and a later boot must not start the runner again.
CML_STARTED_FILE="$CML_STATE_DIR/runner-started"

# First boot: keep an existing deadline (a rerun must never extend the maximum runtime).
arm_reboot_survival() {
  local unit=cml-infra-rearm.service
  [[ "$CML_CLOUD" == local ]] && return 0
  [[ -s "$CML_DEADLINE_FILE" ]] || (umask 077 &&
    printf '%s' "$(($(date +%s) + CML_MAX_RUNTIME_S))" >"$CML_DEADLINE_FILE") || true
  if [[ -f "$0" ]] && install -m 700 "$0" "$CML_STATE_DIR/startup.sh" &&
    printf '%s\n' '[Service]' "ExecStart=/bin/bash $CML_STATE_DIR/startup.sh rearm" \
      '[Install]' 'WantedBy=multi-user.target' >"$CML_SYSTEMD_DIR/$unit" &&
    systemctl daemon-reload && systemctl enable "$unit"; then
    log "installed $unit to re-arm the dead-man after a reboot"
  else
    log "could not install $unit"
  fi
}

# Later boots, with what is left of the first boot's deadline (none recorded: nothing):
# past it, tear down; with the runner started before the reboot, arm the dead-man for the
# rest and wait; else return 0 and the start-up resumes with the remaining runtime.
rearm() {
  local deadline
  deadline=$(cat "$CML_DEADLINE_FILE" 2>/dev/null) || true
  [[ "$deadline" =~ ^[0-9]+$ ]] || deadline=0
  CML_MAX_RUNTIME_S=$((deadline - $(date +%s)))
  if ((CML_MAX_RUNTIME_S <= 0)); then
    teardown "maximum runtime reached (after a reboot)" || power_off_last_resort
    return 1
  fi
  if [[ ! -e "$CML_STARTED_FILE" ]]; then
    log "after a reboot: no runner started yet; resuming the start-up with ${CML_MAX_RUNTIME_S}s left"
    return 0
  fi
  log "after a reboot: ${CML_MAX_RUNTIME_S}s left"
  start_deadman
  wait "$DEADMAN_PID" || true
  return 1
}
# ---- forge: GitHub Actions, started with a just-in-time configuration (no config.sh) ----
# https://docs.github.com/en/rest/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-for-a-repository

CML_RUNNER_DIR="$CML_INSTALL_DIR/actions-runner"

# As the job user: root's writes into job-owned places could follow a planted symlink.
as_job_user() {
  if [[ "$(id -un)" == "$CML_JOB_USER" ]]; then "$@"; else runuser -u "$CML_JOB_USER" -- "$@"; fi
}

forge_install() {
  local tarball="$CML_INSTALL_DIR/actions-runner.tar.gz"
  download_verified "$CML_PACKAGE_URL" "$CML_PACKAGE_SHA256" "$tarball" || return 1
  # A fresh directory: a previous job (on a reused `local` machine) may have planted links.
  rm -rf "$CML_RUNNER_DIR"
  mkdir -p "$CML_RUNNER_DIR"
  tar -xzf "$tarball" -C "$CML_RUNNER_DIR" || return 1
  rm -f "$tarball"
  give_to_job_user "$CML_RUNNER_DIR"
  # setup-python & co. install into AGENT_TOOLSDIRECTORY: the job user's on a cloud machine.
  # https://github.com/actions/setup-python/blob/main/docs/advanced-usage.md#linux
  [[ -z "${CML_TOOL_CACHE:-}" ]] || mkdir -p "$CML_TOOL_CACHE" || return 1
  [[ -z "${CML_TOOL_CACHE:-}" ]] || give_to_job_user "$CML_TOOL_CACHE"
  write_job_hooks
}

# Job hooks mark when a job runs, so the idle watcher never stops a busy runner.
# https://docs.github.com/en/actions/hosting-your-own-runners/managing-self-hosted-runners/running-scripts-before-or-after-a-job
write_job_hooks() {
  local hooks="$CML_INSTALL_DIR/hooks" activity=$CML_ACTIVITY_DIR
  mkdir -p "$hooks"
  printf '#!/bin/sh\ntouch "%s/job-active"\n' "$activity" >"$hooks/job-started.sh"
  printf '#!/bin/sh\nrm -f "%s/job-active" "%s/last-activity"\ntouch "%s/last-activity"\n' \
    "$activity" "$activity" "$activity" >"$hooks/job-completed.sh"
  chmod 755 "$hooks/job-started.sh" "$hooks/job-completed.sh"
  {
    printf 'ACTIONS_RUNNER_HOOK_JOB_STARTED=%s\nACTIONS_RUNNER_HOOK_JOB_COMPLETED=%s\n' \
      "$hooks/job-started.sh" "$hooks/job-completed.sh"
    [[ -z "${CML_TOOL_CACHE:-}" ]] || echo "AGENT_TOOLSDIRECTORY=$CML_TOOL_CACHE"
  } | as_job_user tee -a "$CML_RUNNER_DIR/.env" >/dev/null
}

# Kill switch (a) for GitHub: no job started within the idle timeout.
watch_idle() {
  local last
  while sleep "$CML_POLL_S"; do
    [[ -e "$CML_ACTIVITY_DIR/job-active" ]] && continue
    last=$(stat -c %Y "$CML_ACTIVITY_DIR/last-activity" 2>/dev/null) || continue
    if (($(date +%s) - last >= CML_IDLE_TIMEOUT_S)); then
      request_stop "idle timeout: no job for ${CML_IDLE_TIMEOUT_S}s"
      return 0
    fi
  done
}

# One just-in-time configuration per job: single-job mode has one, idle mode may have several,
# each taken in turn until the idle timeout passes with no job.
# The configuration never goes on a command line (`ps` shows argv to every local user): the
# Listener reads each argument also from ACTIONS_RUNNER_INPUT_<NAME> (name case-insensitive),
# masks jitconfig as a secret and removes these variables from its environment before it
# starts a job; `run` takes the configuration from GetJitConfig, argv first, then that
# variable. actions/runner at 258d6c857db3519913f7deb6004b60172f8043ae:
# https://github.com/actions/runner/blob/258d6c857db3519913f7deb6004b60172f8043ae/src/Runner.Listener/CommandSettings.cs#L110-L139
# (also #L222-L226, #L365-L374, Runner.Common/Constants.cs#L113-L119, Listener/Runner.cs
# #L234-L235). `env -i` drops exported
# variables, so a bash after env reads the configuration from fd 3, exports it and becomes
# run.sh. The bash processes of run.sh keep it in their environment: readable by the job
# user (who also gets the runner's .credentials) and root, no longer by every local user.
forge_run() {
  local -a configs
  local config n=0 watcher
  local reader='read -r ACTIONS_RUNNER_INPUT_JITCONFIG <&3; export ACTIONS_RUNNER_INPUT_JITCONFIG'
  read -r -a configs <<<"$CML_REGISTRATION"
  job_command_prefix
  cd "$CML_RUNNER_DIR"
  for config in "${configs[@]}"; do
    stop_requested && break
    n=$((n + 1))
    as_job_user rm -f "$CML_ACTIVITY_DIR/job-active"
    as_job_user touch "$CML_ACTIVITY_DIR/last-activity"
    log "starting the GitHub runner (just-in-time configuration $n of ${#configs[@]})"
    start_runner bash -c "$reader; exec ./run.sh 3<&-" 3<<<"$config"
    watch_idle &
    watcher=$!
    wait_runner
    kill "$watcher" 2>/dev/null || true
  done
}

# A just-in-time runner deregisters itself after its job; an unused one can only be removed
# with an API token, which this machine never has: destroying the stack removes it.
forge_unregister() {
  log "GitHub removes the runner after its job; destroying the stack removes an unused one"
}
# ---- cloud: local (this machine): stop and unregister only, never power off the host ----

cloud_spot_notice() { return 1; }

cloud_end_machine() {
  log "local: the runner is stopped and unregistered; this machine stays up"
}

cloud_stop_billing() { return 1; }
# ---- teardown: stop, unregister, end the machine; serialised, retried, never silent ----

# Retry for CML_END_RETRY_S with exponential backoff capped at a minute: a fresh identity's
# role may take minutes to apply (Azure documents up to 10).
end_machine_with_retries() {
  local attempt=1 delay=$CML_RETRY_BACKOFF_S give_up=$((SECONDS + CML_END_RETRY_S))
  ((delay >= 1)) || delay=1
  until cloud_end_machine; do
    if ((SECONDS + delay > give_up)); then
      log "ending the machine failed $attempt times in ${CML_END_RETRY_S}s"
      return 1
    fi
    log "ending the machine failed (attempt $attempt); retrying in ${delay}s"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
}

teardown() {
  local rc=0
  exec 9>>"$CML_STATE_DIR/teardown.lock"
  flock 9
  log "teardown: $1"
  stop_runner
  forge_unregister || log "could not unregister the runner; destroying the stack removes it"
  if end_machine_with_retries; then
    touch "$CML_STATE_DIR/torn-down"
    log "teardown complete"
  elif cloud_stop_billing; then
    touch "$CML_STATE_DIR/torn-down"
    log "teardown complete: the machine is stopped, not deleted; destroying the stack deletes it"
  else
    log "teardown failed: the machine could not end itself"
    rc=1
  fi
  flock -u 9
  return "$rc"
}

# Abort before or during preparation: tear down with the reason and never register.
abort() {
  CML_EXIT=1
  log "aborting: $1"
  request_stop "$1"
  finish "$1"
}

# After teardown: watchers go; the dead-man switch stays armed on a cloud machine (it fires
# if the machine is somehow still alive) and on failure this script waits for it.
finish() {
  local pid
  # A job cut off by the dead-man switch is a failure the caller (`--cloud local`) should see.
  [[ "$1" == "maximum runtime"* ]] && CML_EXIT=1
  for pid in "${WATCHER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  if ! teardown "$1"; then
    CML_EXIT=1
    log "waiting for the dead-man switch to retry at the maximum runtime"
    wait "$DEADMAN_PID" || true
  elif [[ "$CML_CLOUD" == local && -n "$DEADMAN_PID" ]]; then
    kill "$DEADMAN_PID" 2>/dev/null || true
  fi
  log "startup script done (exit $CML_EXIT)"
  exit "$CML_EXIT"
}
# ---- main: prepare, install, register, run, take the machine down ----

main() {
  mkdir -p "$CML_STATE_DIR" "$CML_ACTIVITY_DIR"
  chmod 700 "$CML_STATE_DIR"
  rm -f "$CML_STATE_DIR/stop-reason" "$CML_STATE_DIR/torn-down" "$CML_STATE_DIR/runner.pid"
  if [[ "${1:-}" == rearm ]]; then
    rearm || exit 0
  else
    rm -f "$CML_STARTED_FILE"
  fi
  log "starting runner $CML_RUNNER_NAME ($CML_LABELS): forge $CML_FORGE, cloud $CML_CLOUD," \
    "idle mode $CML_IDLE_MODE"
  start_deadman
  [[ "${1:-}" == rearm ]] || arm_reboot_survival
  trap 'request_stop "terminated by a signal"' TERM INT
  wait_for_forge || abort "the forge at $CML_FORGE_URL is unreachable"
  start_spot_watcher
  ensure_job_user || abort "could not create the job user $CML_JOB_USER"
  block_metadata || abort "could not block the job user from the metadata service"
  # Extra commands are setup (on Alibaba they install the GPU driver): before the GPU check.
  run_extra_commands || abort "an extra setup command failed"
  check_gpu || abort "the GPU check failed"
  forge_install || abort "the runner could not be installed"
  stop_requested && finish "$(stop_reason "stopped before registration")"
  touch "$CML_STARTED_FILE"
  forge_run || CML_EXIT=1
  finish "$(stop_reason "the runner finished")"
}

main "$@"
