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
