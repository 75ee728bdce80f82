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
