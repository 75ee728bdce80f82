"""The `cml-infra` command line: parse flags, make one library call, render the result.

This package is the only place that builds real clients (Pulumi workspaces, PyGithub,
python-gitlab); `infra` and `reporting` receive them.
"""
