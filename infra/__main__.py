"""Entry point of `pulumi up` (Pulumi.yaml's `main: infra/`): pools from stack config.

Reads `cml-infra:pools` with `require_object` and validates each pool exactly as the CLI
validates its flags. The registrar is the seam where the real forge registration (GitHub
just-in-time config, GitLab runner creation) is injected: `REGISTRAR` below.
"""

from __future__ import annotations

import pulumi

from infra.program import Registrar, placeholder_registrar, program
from infra.spec import pools_from_config

# Seam: replace with the real registrar once it exists (see infra/program.py, Registrar).
REGISTRAR: Registrar = placeholder_registrar


def defaults(config: pulumi.Config) -> dict[str, object]:
    """Project-wide defaults declared in Pulumi.yaml, applied to pools that omit them."""
    values = {"cloud": config.get("defaultCloud"), "region": config.get("defaultRegion"),
              "max_runtime": config.get("maxRuntime"), "idle_timeout": config.get("idleTimeout"),
              "forge_url": config.get("forgeUrl")}
    return {key: value for key, value in values.items() if value is not None}


def main() -> None:
    config = pulumi.Config("cml-infra")
    program(pools_from_config(config.require_object("pools"), defaults(config)), REGISTRAR)


main()
