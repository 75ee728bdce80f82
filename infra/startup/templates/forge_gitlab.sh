# ---- forge: GitLab CI, a runner created for this machine and registered with its token ----
# https://docs.gitlab.com/ee/api/users.html#create-a-runner-linked-to-a-user

CML_GITLAB_RUNNER="$CML_INSTALL_DIR/bin/gitlab-runner"
CML_GITLAB_DIR="$CML_INSTALL_DIR/gitlab-runner"

forge_install() {
  mkdir -p "$CML_INSTALL_DIR/bin" "$CML_GITLAB_DIR/work"
  download_verified "$CML_PACKAGE_URL" "$CML_PACKAGE_SHA256" "$CML_GITLAB_RUNNER" || return 1
  chmod 755 "$CML_GITLAB_RUNNER"
  give_to_job_user "$CML_GITLAB_DIR"
  if ((CML_DOCKER)); then
    usermod -aG docker "$CML_JOB_USER" || return 1
  fi
}

# Tags, locking and run-untagged were set when the CLI created the runner; `register` with an
# authentication token rejects them. run-single's wait timeout restarts after every job, so it
# is the idle timeout (https://gitlab.com/gitlab-org/gitlab-runner/-/blob/main/commands/single.go).
forge_run() {
  local -a executor=(--executor shell) limits=(--wait-timeout "$CML_IDLE_TIMEOUT_S")
  if ((CML_DOCKER)); then
    executor=(--executor docker --docker-image "$CML_DOCKER_IMAGE" --docker-gpus all)
  fi
  if ((!CML_IDLE_MODE)); then
    limits+=(--max-builds 1)
  fi
  job_command_prefix
  cd "$CML_GITLAB_DIR/work"
  log "registering the GitLab runner $CML_RUNNER_NAME"
  # `register` reads --token from CI_SERVER_TOKEN: the token stays out of argv (`ps`).
  # https://docs.gitlab.com/runner/register/#register-with-a-runner-authentication-token
  if ! CI_SERVER_TOKEN=$CML_REGISTRATION as_job_user "$CML_GITLAB_RUNNER" register \
    --non-interactive --config "$CML_GITLAB_DIR/config.toml" --url "$CML_FORGE_URL" \
    --name "$CML_RUNNER_NAME" "${executor[@]}"; then
    log "gitlab-runner register failed"
    return 1
  fi
  start_runner "$CML_GITLAB_RUNNER" run-single --config "$CML_GITLAB_DIR/config.toml" \
    --runner "$CML_RUNNER_NAME" "${limits[@]}"
  wait_runner
}

# The machine removes its own runner with the runner's token: no API token needed.
# https://docs.gitlab.com/ee/api/runners.html#delete-a-runner-by-authentication-token
forge_unregister() {
  printf 'token=%s' "$CML_REGISTRATION" |
    curl -fsS --connect-timeout 5 --max-time 30 -X DELETE --data @- -o /dev/null \
      "$CML_FORGE_API_URL/runners" || return 1
  log "deleted the GitLab runner through the API"
}
