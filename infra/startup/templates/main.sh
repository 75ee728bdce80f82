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
