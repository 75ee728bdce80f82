"""Keep secrets out of everything the CLI prints.

Library errors are written not to contain tokens; this is the second line of defence,
applied to every message the CLI prints for an error.
"""

from __future__ import annotations

import os
import re

# Variables that hold credentials in GitHub Actions, GitLab CI and for cml-infra itself.
SECRET_ENV_VARS = (
    "GITHUB_TOKEN",
    "REPO_TOKEN",
    "GITLAB_TOKEN",
    "CI_JOB_TOKEN",
    "CML_INFRA_TOKEN",
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE",
)

# Token formats documented by the forges:
# https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/
# https://docs.gitlab.com/security/tokens/#token-prefixes
_TOKEN_PATTERN = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}"
    r"|gl(?:pat|rt|cbt|dt|ptt|ft|imt|agent|oas|soat)-[A-Za-z0-9_\-.]{8,})"
)
MASK = "***"
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret given on the command line so that no message can show it."""
    if value and len(value) >= 4:
        _registered.add(value)


def redact(text: str) -> str:
    """Return `text` with every known secret and token-shaped string masked."""
    secrets = set(_registered)
    secrets.update(v for name in SECRET_ENV_VARS if len(v := os.environ.get(name, "")) >= 4)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _TOKEN_PATTERN.sub(MASK, text)
