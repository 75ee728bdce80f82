# ---- forge: GitLab CI, a runner created for this machine and registered with its token ----
# https://docs.gitlab.com/ee/api/users.html#create-a-runner-linked-to-a-user
# The runner's glrt- token must stay out of the jobs' reach: the shell executor starts each job
# with gitlab-runner's own environment (os.Environ()) and, as the same user, a job could read
# the runner's files and /proc. So the token is only in config.toml, which gitlab-runner itself
# writes 0600 into a 0700 directory (common/config.go L1680-L1690), and as root:
# - shell executor: `gitlab-runner run --user`, whose shell executor starts every job stage as
#   `su -s /bin/bash USER -c bash` (commands/multi.go L112, L413; executors/shell/shell.go L32-L33;
#   shells/bash.go L497-L505). `run-single` has no --user: each job gets a fresh global config
#   (commands/single.go L103, L159; common/build.go L1698), so its jobs would run as root.
#   `run` has no --max-builds or --wait-timeout either: watch_gitlab_jobs below ends it.
#   Root running `run --user` is also how gitlab-runner's own Linux service runs it
#   (`gitlab-runner install --user`: commands/service_linux.go L10).
# - docker executor: `run-single` as root; jobs run in containers that see neither the file nor
#   the runner's environment.
# - --cloud local as a normal user: `run-single` as that user, whose jobs run as the same user
#   and CAN read config.toml (and the runner's /proc): no isolation from the runner's token.
# Sources: gitlab-runner at d79f3e7b89abceace75e2425bfe92b84ea059933,
# https://gitlab.com/gitlab-org/gitlab-runner/-/blob/d79f3e7b89abceace75e2425bfe92b84ea059933/

CML_GITLAB_RUNNER="$CML_INSTALL_DIR/bin/gitlab-runner"
CML_GITLAB_DIR="$CML_INSTALL_DIR/gitlab-runner"
CML_GITLAB_WORK="$CML_INSTALL_DIR/gitlab-work"
CML_GITLAB_HOOK="$CML_INSTALL_DIR/hooks/gitlab-one-job.sh"
CML_GITLAB_ACK="$CML_INSTALL_DIR/hooks/no-further-job"

# Jobs run as another user than the runner unless --cloud local runs as a normal user.
jobs_as_other_user() { [[ "$(id -un)" != "$CML_JOB_USER" ]]; }

# The configuration directory is new and the runner's user's alone (a reused `local` machine
# may have an older one, once the job user's); builds and caches are the job user's.
forge_install() {
  mkdir -p "$CML_INSTALL_DIR/bin" "$CML_INSTALL_DIR/hooks" "$CML_GITLAB_WORK"
  rm -rf "$CML_GITLAB_DIR"
  rm -f "$CML_GITLAB_ACK"
  (umask 077 && mkdir "$CML_GITLAB_DIR") || return 1
  download_verified "$CML_PACKAGE_URL" "$CML_PACKAGE_SHA256" "$CML_GITLAB_RUNNER" || return 1
  chmod 755 "$CML_GITLAB_RUNNER"
  give_to_job_user "$CML_GITLAB_WORK"
}

# `gitlab-runner run` as root with the shell executor, in single-job mode: a runner-level hook
# that every job runs before any of its own code waits until the runner has been told to take
# no further job. The runner's pre_get_sources_script comes before the job's hooks, and when
# GIT_STRATEGY skips it, pre_build_script comes before before_script (shells/abstract.go
# L518-L531, L611, L1493-L1495).
write_one_job_hook() {
  printf '#!/bin/sh\nuntil [ -e "%s" ]; do sleep 1; done\n' "$CML_GITLAB_ACK" >"$CML_GITLAB_HOOK"
  chmod 755 "$CML_GITLAB_HOOK"
}

# SIGQUIT is gitlab-runner's graceful stop: it requests no further job and exits when the
# running one ends (commands/multi.go L1035, L1094, L1663-L1684).
quit_runner() {
  kill -QUIT "$RUNNER_PID" 2>/dev/null || true
  touch "$CML_GITLAB_ACK"
}

# Kill switch (a) for `gitlab-runner run`: a job is running while the runner has a child (the
# shell executor runs each stage in one). Single-job mode: the first job seen in two looks in a
# row (it waits in the hook until then) makes the runner take no other. Both modes: no job for
# the idle timeout stops it the same way.
watch_gitlab_jobs() {
  local seen=0 last=$SECONDS
  while sleep "$CML_POLL_S"; do
    if pgrep -P "$RUNNER_PID" >/dev/null; then
      last=$SECONDS
      seen=$((seen + 1))
      if ((!CML_IDLE_MODE && seen >= 2)); then
        log "a job is running; the runner takes no other (single-job mode)"
        quit_runner
        return 0
      fi
    else
      seen=0
      if ((SECONDS - last >= CML_IDLE_TIMEOUT_S)); then
        note_stop "idle timeout: no job for ${CML_IDLE_TIMEOUT_S}s"
        quit_runner
        return 0
      fi
    fi
  done
}

# Tags, locking and run-untagged were set when the CLI created the runner; `register` with an
# authentication token rejects them. run-single's wait timeout restarts after every job, so it
# is the idle timeout (commands/single.go L24-L27, L166-L175).
forge_run() {
  local -a register=(--executor shell --builds-dir "$CML_GITLAB_WORK/builds"
    --cache-dir "$CML_GITLAB_WORK/cache") run
  local config="$CML_GITLAB_DIR/config.toml" watcher=""
  if ((CML_DOCKER)); then
    register=(--executor docker --docker-image "$CML_DOCKER_IMAGE" --docker-gpus all)
    run=(run-single --config "$config" --runner "$CML_RUNNER_NAME")
  elif jobs_as_other_user; then
    command -v pgrep >/dev/null || { log "pgrep is missing"; return 1; }
    run=(run --config "$config" --user "$CML_JOB_USER")
    if ((!CML_IDLE_MODE)); then
      write_one_job_hook
      register+=(--pre-get-sources-script "$CML_GITLAB_HOOK" --pre-build-script "$CML_GITLAB_HOOK")
    fi
  else
    run=(run-single --config "$config" --runner "$CML_RUNNER_NAME")
  fi
  if [[ "${run[0]}" == run-single ]]; then
    run+=(--wait-timeout "$CML_IDLE_TIMEOUT_S")
    ((CML_IDLE_MODE)) || run+=(--max-builds 1)
  fi
  # The runner runs as this script's user (root, or --cloud local's own user), never with the
  # token in its environment; `concurrent` is 1 by default (common/config.go L2545-L2551).
  job_command_prefix "$(id -un)"
  cd "$CML_GITLAB_WORK"
  log "registering the GitLab runner $CML_RUNNER_NAME"
  # `register` reads --token from CI_SERVER_TOKEN (common/config.go L1403): not on its argv.
  # https://docs.gitlab.com/runner/register/#register-with-a-runner-authentication-token
  if ! CI_SERVER_TOKEN=$CML_REGISTRATION "$CML_GITLAB_RUNNER" register --non-interactive \
    --config "$config" --url "$CML_FORGE_URL" --name "$CML_RUNNER_NAME" --limit 1 \
    "${register[@]}" || ! chmod 600 "$config"; then
    log "gitlab-runner register failed"
    return 1
  fi
  start_runner "$CML_GITLAB_RUNNER" "${run[@]}"
  if [[ "${run[0]}" == run ]]; then
    watch_gitlab_jobs &
    watcher=$!
  fi
  wait_runner
  [[ -z "$watcher" ]] || kill "$watcher" 2>/dev/null || true
}

# The machine removes its own runner with the runner's token: no API token needed.
# https://docs.gitlab.com/ee/api/runners.html#delete-a-runner-by-authentication-token
forge_unregister() {
  printf 'token=%s' "$CML_REGISTRATION" |
    curl -fsS --connect-timeout 5 --max-time 30 -X DELETE --data @- -o /dev/null \
      "$CML_FORGE_API_URL/runners" || return 1
  log "deleted the GitLab runner through the API"
}
