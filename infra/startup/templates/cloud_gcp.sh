# ---- cloud: Google Cloud (metadata server, Compute Engine API) ----
# https://cloud.google.com/compute/docs/instances/create-use-preemptible#detecting_if_an_instance_was_preempted

gcp_metadata() {
  curl -fsS --connect-timeout 2 --max-time 5 -H 'Metadata-Flavor: Google' \
    "$CML_METADATA_URL/computeMetadata/v1/$1"
}

cloud_spot_notice() {
  [[ "$(gcp_metadata instance/preempted 2>/dev/null)" == TRUE ]]
}

# An OS shutdown only stops the VM (its disk stays billed): delete it through the Compute API
# with the VM's own service-account token from the metadata server.
# https://cloud.google.com/compute/docs/reference/rest/v1/instances/delete
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

# Stopping would keep the disk billed and clear maxRunDuration, which deletes a running VM at
# its deadline: https://cloud.google.com/compute/docs/instances/limit-vm-runtime
cloud_stop_billing() { return 1; }
