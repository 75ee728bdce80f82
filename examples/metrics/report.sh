#!/usr/bin/env bash
# Build a pull-request report from DVCLive output: a metrics table against the base branch
# with gates, a training-curve plot, then one sticky comment and a check whose conclusion
# the gates decide. Run from the repository root after training, in a CI job whose checkout
# has the base branch (actions/checkout with fetch-depth: 0, or GIT_DEPTH: 0 on GitLab).
set -euo pipefail

{
  echo "## Metrics"
  echo
  # Exit code 3 means a gate failed; --exit-zero keeps going so the report is still posted,
  # and the conclusion file carries the verdict to the check instead.
  cml-infra metrics diff dvclive/metrics.json \
    --fail-if 'eval.accuracy drops > 0.005' \
    --fail-if 'eval.loss rises > 10%' \
    --conclusion-file conclusion.txt --exit-zero
  echo
  echo "## Training"
  echo
  cml-infra plot dvclive/plots/metrics/train/loss.tsv --title "Training loss" --out plots/loss.png
} > report.md

cml-infra comment update report.md --watermark-title metrics
cml-infra check create report.md --title Metrics --conclusion "$(cat conclusion.txt)"
