# ---- cloud: Alibaba Cloud (ECS metadata) ----
# https://www.alibabacloud.com/help/en/ecs/user-guide/preemptible-instances

# The instance has httpTokens=required (security hardening mode): every read needs a token.
# https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-modifyinstancemetadataoptions
alicloud_metadata_token() {
  curl -fsS --connect-timeout 2 --max-time 5 -X PUT \
    -H 'X-aliyun-ecs-metadata-token-ttl-seconds: 300' "$CML_METADATA_URL/latest/api/token"
}

# 200 with a timestamp means the instance is about to be reclaimed; 404 means no notice.
cloud_spot_notice() {
  local token
  token=$(alicloud_metadata_token 2>/dev/null) || return 1
  curl -fsS --connect-timeout 2 --max-time 5 -H "X-aliyun-ecs-metadata-token: $token" \
    -o /dev/null "$CML_METADATA_URL/latest/meta-data/instance/spot/termination-time" 2>/dev/null
}

# DeleteInstance needs a signed API call; the machine powers off instead and the instance's
# AutoReleaseTime, set by the component, releases it (the backstop the issue asks for).
cloud_end_machine() {
  log "Alibaba Cloud: powering off; the auto-release time releases the instance"
  shutdown -h now
}
