"""One module per cloud, each exporting a runner component with the same constructor.

`component_for(cloud)` imports the module of that cloud only, so its SDK is loaded on that
cloud's code path alone; a missing SDK becomes one sentence naming the pip command.
"""

from __future__ import annotations

import importlib

from infra.errors import MissingExtraError, SpecError

# cloud -> "module:Class"
COMPONENTS = {
    "aws": "infra.clouds.aws:AwsRunner",
    "gcp": "infra.clouds.gcp:GcpRunner",
    "azure": "infra.clouds.azure:AzureRunner",
    "alicloud": "infra.clouds.alicloud:AlicloudRunner",
}
# cloud -> the top-level package of its Pulumi SDK
SDK_PACKAGES = {
    "aws": "pulumi_aws",
    "gcp": "pulumi_gcp",
    "azure": "pulumi_azure_native",
    "alicloud": "pulumi_alicloud",
}


def component_for(cloud: str) -> type:
    """The component class of `cloud`, importing its SDK now."""
    if cloud not in COMPONENTS:
        raise SpecError(f"Unknown cloud {cloud!r}; choose one of: {', '.join(COMPONENTS)}.")
    module_name, class_name = COMPONENTS[cloud].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == SDK_PACKAGES[cloud]:
            raise MissingExtraError(
                f"The {cloud} SDK is not installed; run: pip install 'cml-infra[{cloud}]'."
            ) from None
        raise
    return getattr(module, class_name)
