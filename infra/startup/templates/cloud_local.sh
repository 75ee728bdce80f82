# ---- cloud: local (this machine): stop and unregister only, never power off the host ----

cloud_spot_notice() { return 1; }

cloud_end_machine() {
  log "local: the runner is stopped and unregistered; this machine stays up"
}

cloud_stop_billing() { return 1; }
