# ---- identity: helpers for clouds whose machines delete themselves through an API ----

# Header values that carry a token go through stdin (-H @-) so they never show in `ps`.
curl_with_header() {
  local header=$1
  shift
  printf '%s\n' "$header" | curl -fsS --connect-timeout 5 --max-time 60 -H @- "$@"
}

# The value of a flat string field in a JSON document on stdin (no jq on stock images).
json_field() {
  sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" | head -n 1
}
