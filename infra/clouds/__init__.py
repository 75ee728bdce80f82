"""One module per cloud, each exporting the same two components with the same constructors:
`<Cloud>Base` (what a pool's machines share, in the long-lived base stack) and `<Cloud>Runner`
(one machine, in a CI run's runner stack), plus `BASE_OUTPUTS`, the names the base exports.

`cloud_module(cloud)` imports the module of that cloud only, so its SDK is loaded on that
cloud's code path alone; a missing SDK becomes one sentence naming the pip command.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from infra.errors import MissingExtraError, SpecError

# cloud -> (module, class name prefix)
MODULES = {
    "aws": ("infra.clouds.aws", "Aws"),
    "gcp": ("infra.clouds.gcp", "Gcp"),
    "azure": ("infra.clouds.azure", "Azure"),
    "alicloud": ("infra.clouds.alicloud", "Alicloud"),
}
# cloud -> the top-level package of its Pulumi SDK
SDK_PACKAGES = {
    "aws": "pulumi_aws",
    "gcp": "pulumi_gcp",
    "azure": "pulumi_azure_native",
    "alicloud": "pulumi_alicloud",
}


def cloud_module(cloud: str) -> ModuleType:
    """The module of `cloud`, importing its SDK now."""
    if cloud not in MODULES:
        raise SpecError(f"Unknown cloud {cloud!r}; choose one of: {', '.join(MODULES)}.")
    try:
        return importlib.import_module(MODULES[cloud][0])
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == SDK_PACKAGES[cloud]:
            raise MissingExtraError(
                f"The {cloud} SDK is not installed; run: pip install 'cml-infra[{cloud}]' (or "
                f"add {cloud} to the extras you install)."
            ) from None
        raise


def component_for(cloud: str) -> type:
    """The runner component class of `cloud`."""
    return getattr(cloud_module(cloud), f"{MODULES[cloud][1]}Runner")


def base_for(cloud: str) -> type:
    """The base component class of `cloud`."""
    return getattr(cloud_module(cloud), f"{MODULES[cloud][1]}Base")
