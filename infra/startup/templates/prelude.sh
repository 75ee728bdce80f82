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
