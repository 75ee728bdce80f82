"""Autoscaled GPU runner pools on Kubernetes (`kind: autoscale` in cml-infra:pools)."""
