#!/usr/bin/env bash
# Minimal placeholder rendering; the startup-script work replaces this template.
set -euo pipefail
shutdown -h "+$$(( ${MAX_RUNTIME_S} / 60 ))" || true
mkdir -p "${INSTALL_DIR}"
echo "runner ${RUNNER_NAME} for ${FORGE_URL} labels ${LABELS} package ${PACKAGE_URL} ${PACKAGE_SHA256}"
REGISTRATION='${REGISTRATION}'
