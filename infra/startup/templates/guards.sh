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
