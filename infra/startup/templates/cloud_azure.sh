# ---- cloud: Azure (IMDS, Scheduled Events, ARM) ----
# https://learn.microsoft.com/en-us/azure/virtual-machines/linux/scheduled-events

azure_metadata() {
  curl -fsS --connect-timeout 2 --max-time 5 -H 'Metadata: true' "$CML_METADATA_URL/metadata/$1"
}

cloud_spot_notice() {
  azure_metadata 'scheduledevents?api-version=2020-07-01' 2>/dev/null |
    grep -q '"EventType"[[:space:]]*:[[:space:]]*"Preempt"'
}

# A stopped VM is still billed and Azure has no expiry: delete this VM through ARM with a
# managed-identity token from IMDS. Its role is assigned at the VM's own scope, so it can
# delete nothing else; its NIC, public address and OS disk are deleted with it (deleteOption).
# https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token
# https://learn.microsoft.com/en-us/rest/api/compute/virtual-machines/delete
CML_ARM_RESOURCE='https%3A%2F%2Fmanagement.azure.com%2F'

cloud_end_machine() {
  local token subscription group vm query='api-version=2021-02-01&format=text'
  if ! {
    token=$(azure_metadata "identity/oauth2/token?api-version=2018-02-01&resource=$CML_ARM_RESOURCE" |
      json_field access_token) &&
      subscription=$(azure_metadata "instance/compute/subscriptionId?$query") &&
      group=$(azure_metadata "instance/compute/resourceGroupName?$query") &&
      vm=$(azure_metadata "instance/compute/name?$query") && [[ -n "$token" ]]
  }; then
    log "Azure: could not read the managed-identity token or the VM's name"
    return 1
  fi
  log "Azure: deleting VM $vm"
  curl_with_header "Authorization: Bearer $token" -X DELETE -o /dev/null \
    "$CML_CLOUD_API_URL/subscriptions/$subscription/resourceGroups/$group/providers/Microsoft.Compute/virtualMachines/$vm?api-version=2024-07-01"
}
