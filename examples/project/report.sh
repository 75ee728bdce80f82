#!/usr/bin/env bash
# Compose this project's pull-request report and post it: the metrics against the base
# branch with their gates, the training curve, the confusion matrix. Each block is its own
# paragraph, so every one renders (an image line right after a table would become a row).
# Run from the project's folder after `python train.py`, in a CI job whose checkout has the
# base branch (actions/checkout with fetch-depth: 0; GIT_DEPTH: 0 on GitLab).
#
# A failed gate does not stop the script (--exit-zero): the report is posted either way and
# the check (GitHub) or commit status (GitLab) carries the verdict. On GitHub the report also
# goes to the job summary; on GitLab the metrics and the gates are also written as the
# merge request's metrics report (metrics.txt) and test report (gates.xml).
set -euo pipefail

gates=(--fail-if 'accuracy drops > 0.02' --fail-if 'loss rises > 10%')
github=false gitlab=false
[ "${GITHUB_ACTIONS:-}" = true ] && github=true
[ "${GITLAB_CI:-}" = true ] && gitlab=true

junit=()
if $gitlab; then junit=(--junit gates.xml); fi
{
  echo "## Metrics"
  echo
  cml-infra metrics diff metrics.json "${gates[@]}" "${junit[@]}" \
    --conclusion-file conclusion.txt --exit-zero
  echo
  echo "## Training curve"
  echo
  cml-infra plot history.csv --x epoch --y train_loss --y test_loss \
    --title "Loss per epoch" --out plots/loss.png
  echo
  echo "## Confusion matrix"
  echo
  cml-infra plot plots/confusion.json --out plots/confusion.png
} > report.md

if $gitlab; then
  cml-infra metrics diff metrics.json --format openmetrics > metrics.txt
fi

# GitHub: a sticky comment (also written to the job summary) and a check run. GitLab: the
# commit status, whose report goes to the merge request as its sticky note.
if $github; then
  cml-infra comment update report.md --watermark-title training --summary
fi
cml-infra check create report.md --title "Training report" --conclusion "$(cat conclusion.txt)"
