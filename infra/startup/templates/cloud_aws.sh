# ---- cloud: AWS (IMDSv2) ----
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html

aws_imds_token() {
  curl -fsS --connect-timeout 2 --max-time 5 -X PUT \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$CML_METADATA_URL/latest/api/token"
}

# 200 on spot/instance-action means a stop or terminate is two minutes away; 404 means none.
cloud_spot_notice() {
  local token
  token=$(aws_imds_token 2>/dev/null) || return 1
  curl -fsS --connect-timeout 2 --max-time 5 -H "X-aws-ec2-metadata-token: $token" -o /dev/null \
    "$CML_METADATA_URL/latest/meta-data/spot/instance-action" 2>/dev/null
}

# The component sets instanceInitiatedShutdownBehavior=terminate: shutting down ends billing.
cloud_end_machine() {
  log "AWS: shutting down; the instance terminates on shutdown"
  shutdown -h now
}

# Shutting down is already the end; there is nothing cheaper to fall back to.
cloud_stop_billing() { return 1; }
