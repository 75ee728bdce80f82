# ---- cloud: Alibaba Cloud (ECS metadata, ECS API) ----
# https://www.alibabacloud.com/help/en/ecs/user-guide/preemptible-instances

# The instance has httpTokens=required (security hardening mode): every read needs a token.
# https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-modifyinstancemetadataoptions
alicloud_metadata_token() {
  curl -fsS --connect-timeout 2 --max-time 5 -X PUT \
    -H 'X-aliyun-ecs-metadata-token-ttl-seconds: 300' "$CML_METADATA_URL/latest/api/token"
}

# A metadata read; the session token goes in a header through stdin, never on argv.
alicloud_metadata() {
  local token
  token=$(alicloud_metadata_token) || return 1
  curl_with_header "X-aliyun-ecs-metadata-token: $token" --max-time 5 "$@"
}

# 200 with a timestamp means the instance is about to be reclaimed; 404 means no notice.
cloud_spot_notice() {
  alicloud_metadata -o /dev/null "$CML_METADATA_URL/latest/meta-data/instance/spot/termination-time" \
    2>/dev/null
}

# Percent-encoding of the signature method: RFC 3986 unreserved characters stay, every other
# byte becomes %XY (so a space is %20, never +).
alicloud_encode() {
  local LC_ALL=C text=$1 out='' char i
  for ((i = 0; i < ${#text}; i++)); do
    char=${text:i:1}
    case "$char" in
      [A-Za-z0-9._~-]) out+=$char ;;
      *) printf -v char '%%%02X' "'$char" && out+=$char ;;
    esac
  done
  printf '%s' "$out"
}

# Base64 HMAC-SHA1 (RFC 2104) of $2 under the key $1, built from two SHA-1 digests:
# `openssl dgst -hmac KEY` would put the key on argv, readable by every local user.
hmac_sha1_base64() {
  local key inner='' outer='' byte i
  key=$(printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n')
  if ((${#key} > 128)); then
    key=$(printf '%s' "$1" | openssl dgst -sha1 -binary | od -An -v -tx1 | tr -d ' \n')
  fi
  for ((i = 0; i < 128; i += 2)); do
    byte=${key:i:2}
    byte=$((16#${byte:-0}))
    printf -v inner '%s\\x%02x' "$inner" $((byte ^ 0x36))
    printf -v outer '%s\\x%02x' "$outer" $((byte ^ 0x5c))
  done
  { printf '%b' "$outer"; { printf '%b' "$inner"; printf '%s' "$2"; } | openssl dgst -sha1 -binary; } |
    openssl dgst -sha1 -binary | openssl base64 -A
}

# One ECS API call ($1 the action, then Name=value parameters) in the RPC style, signed with
# signature version 1.0 by the instance RAM role's STS credentials from metadata:
# https://www.alibabacloud.com/help/en/sdk/product-overview/rpc-mechanism
# https://www.alibabacloud.com/help/en/ecs/user-guide/attach-an-instance-ram-role-to-an-ecs-instance
# The URL holds the security token: curl reads it from its config on stdin. Only the error
# code is logged: a SignatureDoesNotMatch message quotes the string to sign, token included.
alicloud_ecs() {
  local action=$1 role creds region secret query pair signature answer status
  shift
  if ! { role=$(alicloud_metadata "$CML_METADATA_URL/latest/meta-data/ram/security-credentials/") &&
    role=${role%%$'\n'*} && [[ -n "$role" ]] &&
    creds=$(alicloud_metadata "$CML_METADATA_URL/latest/meta-data/ram/security-credentials/$role") &&
    region=$(alicloud_metadata "$CML_METADATA_URL/latest/meta-data/region-id") &&
    [[ "$region" =~ ^[a-z0-9-]+$ ]]; }; then
    log "Alibaba Cloud: could not read the instance RAM role's credentials or the region"
    return 1
  fi
  secret=$(printf '%s' "$creds" | json_field AccessKeySecret)
  query=$(for pair in "Action=$action" "$@" Format=JSON Version=2014-05-26 \
    "AccessKeyId=$(printf '%s' "$creds" | json_field AccessKeyId)" \
    "SecurityToken=$(printf '%s' "$creds" | json_field SecurityToken)" \
    SignatureMethod=HMAC-SHA1 SignatureVersion=1.0 \
    "SignatureNonce=$(cat /proc/sys/kernel/random/uuid)" \
    "Timestamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
    printf '%s=%s\n' "$(alicloud_encode "${pair%%=*}")" "$(alicloud_encode "${pair#*=}")"
  done | LC_ALL=C sort -t = -k 1,1 | paste -s -d '&')
  signature=$(hmac_sha1_base64 "$secret&" "GET&%2F&$(alicloud_encode "$query")") || return 1
  answer=$(printf 'url = "%s/?%s&Signature=%s"\n' "${CML_CLOUD_API_URL//'{region}'/$region}" \
    "$query" "$(alicloud_encode "$signature")" |
    curl -sS --connect-timeout 5 --max-time 60 -K - -w '\n%{http_code}') || return 1
  status=${answer##*$'\n'}
  if [[ "$status" != 2?? ]]; then
    log "Alibaba Cloud: $action failed: HTTP $status $(printf '%s' "$answer" | json_field Code)"
    return 1
  fi
}

# Powering off would keep a pay-as-you-go instance billed (stopped mode KeepCharging) until
# its AutoReleaseTime: the instance releases itself. The RAM role's policy allows
# ecs:DeleteInstance and ecs:StopInstance on this instance only.
# https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-deleteinstance
cloud_end_machine() {
  local id
  id=$(alicloud_metadata "$CML_METADATA_URL/latest/meta-data/instance-id") || return 1
  log "Alibaba Cloud: releasing instance $id"
  alicloud_ecs DeleteInstance "InstanceId=$id" Force=true
}

# Stopped in economical mode (StopCharging), the instance is no longer billed for compute; the
# AutoReleaseTime still releases it.
# https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-stopinstance
cloud_stop_billing() {
  local id
  id=$(alicloud_metadata "$CML_METADATA_URL/latest/meta-data/instance-id") || return 1
  log "Alibaba Cloud: releasing failed; stopping instance $id without charges"
  alicloud_ecs StopInstance "InstanceId=$id" StoppedMode=StopCharging
}
