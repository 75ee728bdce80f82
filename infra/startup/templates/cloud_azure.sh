# ---- cloud: Azure (IMDS, Scheduled Events, ARM) ----
# https://learn.microsoft.com/en-us/azure/virtual-machines/linux/scheduled-events

azure_metadata() {
  curl -fsS --connect-timeout 2 --max-time 5 -H 'Metadata: true' "$CML_METADATA_URL/metadata/$1"
}

cloud_spot_notice() {
  azure_metadata 'scheduledevents?api-version=2020-07-01' 2>/dev/null |
    grep -q '"EventType"[[:space:]]*:[[:space:]]*"Preempt"'
}

# A stopped VM is still billed and Azure has no expiry: this VM acts on itself through ARM
# with a managed-identity token from IMDS. Its role is assigned at the VM's own scope, so it
# can touch nothing else. Sets AZURE_TOKEN and AZURE_VM (the VM's ARM address).
# https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token
CML_ARM_RESOURCE='https%3A%2F%2Fmanagement.azure.com%2F'

azure_identity() {
  local subscription group vm query='api-version=2021-02-01&format=text'
  if ! {
    AZURE_TOKEN=$(azure_metadata "identity/oauth2/token?api-version=2018-02-01&resource=$CML_ARM_RESOURCE" |
      json_field access_token) &&
      subscription=$(azure_metadata "instance/compute/subscriptionId?$query") &&
      group=$(azure_metadata "instance/compute/resourceGroupName?$query") &&
      vm=$(azure_metadata "instance/compute/name?$query") && [[ -n "$AZURE_TOKEN" ]]
  }; then
    log "Azure: could not read the managed-identity token or the VM's name"
    return 1
  fi
  AZURE_VM="$CML_CLOUD_API_URL/subscriptions/$subscription/resourceGroups/$group/providers/Microsoft.Compute/virtualMachines/$vm"
}

# The NIC, public address and OS disk are deleted with the VM (deleteOption).
# https://learn.microsoft.com/en-us/rest/api/compute/virtual-machines/delete
cloud_end_machine() {
  azure_identity || return 1
  log "Azure: deleting VM ${AZURE_VM##*/}"
  curl_with_header "Authorization: Bearer $AZURE_TOKEN" -X DELETE -o /dev/null \
    "$AZURE_VM?api-version=2024-07-01"
}

# When the VM cannot be deleted, deallocating it ends its compute billing (a guest shutdown
# leaves it "Stopped (allocated)", still billed); the empty body sends Content-Length: 0.
# https://learn.microsoft.com/rest/api/compute/virtual-machines/deallocate
cloud_stop_billing() {
  azure_identity || return 1
  log "Azure: deleting failed; deallocating VM ${AZURE_VM##*/}"
  curl_with_header "Authorization: Bearer $AZURE_TOKEN" -X POST --data '' -o /dev/null \
    "$AZURE_VM/deallocate?api-version=2024-07-01"
}
