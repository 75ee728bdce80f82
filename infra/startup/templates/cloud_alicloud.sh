# ---- cloud: Alibaba Cloud (ECS metadata) ----
# https://www.alibabacloud.com/help/en/ecs/user-guide/preemptible-instances

# 200 with a timestamp means the instance is about to be reclaimed; 404 means no notice.
cloud_spot_notice() {
  curl -fsS --connect-timeout 2 --max-time 5 -o /dev/null \
    "$CML_METADATA_URL/latest/meta-data/instance/spot/termination-time" 2>/dev/null
}

# DeleteInstance needs a signed API call; the machine powers off instead and the instance's
# AutoReleaseTime, set by the component, releases it (the backstop the issue asks for).
cloud_end_machine() {
  log "Alibaba Cloud: powering off; the auto-release time releases the instance"
  shutdown -h now
}
