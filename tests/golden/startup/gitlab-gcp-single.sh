#!/usr/bin/env bash
# cml-infra startup script: forge gitlab, cloud gcp, single-job mode.
# Rendered from infra/startup/templates/, where the comments are.
CML_FORGE=gitlab
CML_CLOUD=gcp
CML_RUNNER_NAME=cml-gpu-1
CML_FORGE_URL=https://gitlab.example.com
CML_PACKAGE_URL=https://example.com/runner/package.tar.gz
CML_PACKAGE_SHA256=abababababababababababababababababababababababababababababababab
CML_LABELS=cml,gpu,t4
CML_GPU_MODEL=t4
CML_GPU_COUNT=1
CML_GPU_WAIT_S=900
CML_IDLE_MODE=0
CML_IDLE_TIMEOUT_S=600
CML_MAX_RUNTIME_S=7200
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
CML_METADATA_HOST=169.254.169.254
CML_JOB_METADATA=0
CML_METADATA_URL=http://metadata.google.internal
CML_CLOUD_API_URL=https://compute.googleapis.com
CML_FORGE_API_URL=https://gitlab.example.com/api/v4
CML_DOCKER_IMAGE=ubuntu:24.04
CML_REGISTRATION=glrt-t1_ExampleRunnerToken
CML_EXTRA_COMMANDS=('pip install dvc')
set -euo pipefail
umask 022
CML_STATE_DIR="$CML_INSTALL_DIR/state"
CML_ACTIVITY_DIR="$CML_INSTALL_DIR/activity"
CML_EXIT=0
DEADMAN_PID=""
WATCHER_PIDS=()
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
job_command_prefix() {
local user=${1:-$CML_JOB_USER} home
home=$(getent passwd "$user" | cut -d : -f 6) || true
JOB_PREFIX=(setsid)
if [[ "$(id -un)" != "$user" ]]; then
JOB_PREFIX+=(runuser -u "$user" --)
fi
JOB_PREFIX+=(env -i "HOME=${home:-/home/$user}" "USER=$user" "PATH=$PATH" LANG=C.UTF-8)
}
start_runner() {
(
trap - INT QUIT
exec "${JOB_PREFIX[@]}" "$@"
) &
RUNNER_PID=$!
printf '%s' "$RUNNER_PID" >"$CML_STATE_DIR/runner.pid"
}
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
stop_requested() { [[ -e "$CML_STATE_DIR/stop-reason" ]]; }
stop_reason() {
if stop_requested; then cat "$CML_STATE_DIR/stop-reason"; else printf '%s' "$1"; fi
}
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
halt_loses_kill_switch() { [[ "$CML_CLOUD" == gcp ]]; }
start_deadman() {
if [[ "$CML_CLOUD" != local ]] && ! halt_loses_kill_switch; then
shutdown -h "+$(((CML_MAX_RUNTIME_S + CML_TEARDOWN_BUDGET_S + 59) / 60 + 1))" >/dev/null 2>&1 ||
log "could not schedule the OS-level shutdown backstop"
fi
(
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
until curl -sS -o /dev/null --connect-timeout 3 --max-time 10 "$CML_FORGE_URL" 2>/dev/null; do
((SECONDS >= deadline)) && return 1
sleep 1
done
log "network up; $CML_FORGE_URL answers"
}
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
block_metadata() {
local host
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
CML_DEADLINE_FILE="$CML_STATE_DIR/deadline"
CML_STARTED_FILE="$CML_STATE_DIR/runner-started"
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
CML_GITLAB_RUNNER="$CML_INSTALL_DIR/bin/gitlab-runner"
CML_GITLAB_DIR="$CML_INSTALL_DIR/gitlab-runner"
CML_GITLAB_WORK="$CML_INSTALL_DIR/gitlab-work"
CML_GITLAB_HOOK="$CML_INSTALL_DIR/hooks/gitlab-one-job.sh"
CML_GITLAB_ACK="$CML_INSTALL_DIR/hooks/no-further-job"
jobs_as_other_user() { [[ "$(id -un)" != "$CML_JOB_USER" ]]; }
forge_install() {
mkdir -p "$CML_INSTALL_DIR/bin" "$CML_INSTALL_DIR/hooks" "$CML_GITLAB_WORK"
rm -rf "$CML_GITLAB_DIR"
rm -f "$CML_GITLAB_ACK"
(umask 077 && mkdir "$CML_GITLAB_DIR") || return 1
download_verified "$CML_PACKAGE_URL" "$CML_PACKAGE_SHA256" "$CML_GITLAB_RUNNER" || return 1
chmod 755 "$CML_GITLAB_RUNNER"
give_to_job_user "$CML_GITLAB_WORK"
}
write_one_job_hook() {
printf '#!/bin/sh\nuntil [ -e "%s" ]; do sleep 1; done\n' "$CML_GITLAB_ACK" >"$CML_GITLAB_HOOK"
chmod 755 "$CML_GITLAB_HOOK"
}
quit_runner() {
kill -QUIT "$RUNNER_PID" 2>/dev/null || true
touch "$CML_GITLAB_ACK"
}
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
job_command_prefix "$(id -un)"
cd "$CML_GITLAB_WORK"
log "registering the GitLab runner $CML_RUNNER_NAME"
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
forge_unregister() {
printf 'token=%s' "$CML_REGISTRATION" |
curl -fsS --connect-timeout 5 --max-time 30 -X DELETE --data @- -o /dev/null \
"$CML_FORGE_API_URL/runners" || return 1
log "deleted the GitLab runner through the API"
}
curl_with_header() {
local header=$1
shift
printf '%s\n' "$header" | curl -fsS --connect-timeout 5 --max-time 60 -H @- "$@"
}
json_field() {
sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" | head -n 1
}
gcp_metadata() {
curl -fsS --connect-timeout 2 --max-time 5 -H 'Metadata-Flavor: Google' \
"$CML_METADATA_URL/computeMetadata/v1/$1"
}
cloud_spot_notice() {
[[ "$(gcp_metadata instance/preempted 2>/dev/null)" == TRUE ]]
}
cloud_end_machine() {
local token project zone name
if ! {
token=$(gcp_metadata instance/service-accounts/default/token | json_field access_token) &&
project=$(gcp_metadata project/project-id) &&
zone=$(gcp_metadata instance/zone) &&
name=$(gcp_metadata instance/name) && [[ -n "$token" ]]
}; then
log "GCP: could not read the identity token or the instance's name from metadata"
return 1
fi
log "GCP: deleting instance $name in ${zone##*/}"
curl_with_header "Authorization: Bearer $token" -X DELETE -o /dev/null \
"$CML_CLOUD_API_URL/compute/v1/projects/$project/zones/${zone##*/}/instances/$name"
}
cloud_stop_billing() { return 1; }
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
abort() {
CML_EXIT=1
log "aborting: $1"
request_stop "$1"
finish "$1"
}
finish() {
local pid
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
run_extra_commands || abort "an extra setup command failed"
check_gpu || abort "the GPU check failed"
forge_install || abort "the runner could not be installed"
stop_requested && finish "$(stop_reason "stopped before registration")"
touch "$CML_STARTED_FILE"
forge_run || CML_EXIT=1
finish "$(stop_reason "the runner finished")"
}
main "$@"
