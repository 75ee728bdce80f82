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
