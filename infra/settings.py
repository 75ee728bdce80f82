"""The settings of a stack: each pool setting of `cml-infra:pools` and each project default
(`cml-infra:defaultCloud`, ...) has one type, checked here before `build_spec` sees a value.

A flag has a type because Typer parses it; YAML gives any type to any key, so a value of
another type (`spot: "false"`, `count: 2.7`, `idleTimeout: 300`) is refused with a sentence
that names the pool and the setting, instead of being coerced into something else.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from infra import catalog
from infra.engine.naming import STACK_NAME
from infra.errors import SpecError
from infra.rules import DURATION_PATTERN, check_runner_binary, is_sha256, is_web_url

Check = Callable[[object], bool]


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_int(value: object) -> bool:
    # One type per setting: 2.0 is refused as 2.7 is. (Under `pulumi up`, Pulumi's engine
    # writes a whole YAML float as an integer before the program sees it; the offline plan
    # reads the file itself and refuses it.)
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_string(value: object) -> bool:
    return isinstance(value, str)


def _is_duration(value: object) -> bool:
    return isinstance(value, str) and DURATION_PATTERN.fullmatch(value.strip()) is not None


def _is_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_url(value: object) -> bool:
    return is_web_url(value)


def _is_stack(value: object) -> bool:
    return isinstance(value, str) and STACK_NAME.fullmatch(value) is not None


# type name -> (check, what a value must be, in the sentence).
TYPES: dict[str, tuple[Check, str]] = {
    "bool": (_is_bool, "true or false"),
    "int": (_is_int, "a whole number"),
    "number": (_is_number, "a number such as 0.5"),
    "string": (_is_string, "a string"),
    "duration": (_is_duration, "a duration such as 30s, 5m or 2h"),
    "strings": (_is_strings, "a list of strings"),
    "url": (_is_url, "a web address such as https://gitlab.example.com"),
    "stack": (_is_stack, "a stack name of 1 to 100 letters, digits, '-', '_' and '.'"),
    "sha256": (is_sha256, "a SHA-256 checksum of 64 hexadecimal digits"),
}

# Pool setting (camelCase, as Pulumi config is written) -> (build_spec keyword, type).
CONFIG_KEYS: dict[str, tuple[str, str]] = {
    "name": ("name", "string"), "cloud": ("cloud", "string"), "region": ("region", "string"),
    "zone": ("zone", "string"), "size": ("size", "string"), "type": ("size", "string"),
    "gpu": ("gpu", "bool"), "gpuModel": ("gpu_model", "string"),
    "gpuCount": ("gpu_count", "int"), "spot": ("spot", "bool"),
    "maxPrice": ("max_price", "number"), "diskSize": ("disk_size", "int"),
    "labels": ("labels", "strings"), "forge": ("forge", "string"), "repo": ("repo", "string"),
    "forgeUrl": ("forge_url", "url"), "idleTimeout": ("idle_timeout", "duration"),
    "maxRuntime": ("max_runtime", "duration"), "count": ("count", "int"),
    "extraCommands": ("extra_commands", "strings"), "identity": ("identity", "string"),
    "image": ("image", "string"), "idleMode": ("idle_mode", "bool"),
    "docker": ("docker", "bool"), "subnet": ("subnet", "string"),
}
# Read by infra/__main__.py, not by build_spec: the base stack a pool's runners use.
STACK_KEYS = {"base": "stack"}

# Project defaults (Pulumi.yaml `config:`) -> (build_spec keyword, type). Pulumi hands every
# plain setting to the program as a string, so the format is what can be wrong.
DEFAULT_KEYS: dict[str, tuple[str, str]] = {
    "defaultCloud": ("cloud", "string"), "defaultRegion": ("region", "string"),
    "maxRuntime": ("max_runtime", "duration"), "idleTimeout": ("idle_timeout", "duration"),
    "forgeUrl": ("forge_url", "url"),
}


# Stack settings of the forge registration (infra/__main__.py's forge_settings) -> type.
FORGE_KEYS: dict[str, str] = {"forgeApiUrl": "url", "gitlabRunnerUrl": "url",
                              "gitlabRunnerSha256": "sha256"}
# The GitHub App of the autoscale pools with `credentials: app` (infra/autoscale/program.py);
# the private key is a secret (`pulumi config set --secret`), as cml-infra:forgeToken is.
GITHUB_APP_KEYS: tuple[str, ...] = ("githubAppId", "githubAppInstallationId",
                                    "githubAppPrivateKey")


APP_ID_KEYS = {"githubAppId": "App ID (on the App's settings page)",
               "githubAppInstallationId": "installation ID (the number ending the "
                                          "installation's settings URL)"}


def check_app_ids(values: Mapping[str, object], secret: Iterable[str] = ()) -> None:
    """The GitHub App's two ids, when given, must be numbers (ARC authenticates with them
    only after deploy: a typo would leave the pool without runners and no error at plan
    time). `values`: key -> value (None: not given or not readable); `secret`: keys whose
    value must not be shown."""
    for key, what in APP_ID_KEYS.items():
        value = values.get(key)
        if value is None or str(value).strip().isdigit():
            continue
        shown = "" if key in secret else f", not {str(value)!r}"
        raise SpecError(f"{NAMESPACE}:{key} must be the GitHub App's numeric {what}{shown}; "
                        f"set it with 'pulumi config set {NAMESPACE}:{key} NUMBER'.")


def forge_values(values: Mapping[str, object]) -> dict[str, str | None]:
    """The forge settings given (None: not set), each checked as `up` checks its flags."""
    for key, kind in FORGE_KEYS.items():
        if values.get(key) is not None:
            check_type(f"cml-infra:{key}", kind, values[key])
    given = {key: (str(values[key]).strip() if values.get(key) is not None else None)
             for key in FORGE_KEYS}
    check_runner_binary(given["gitlabRunnerUrl"], given["gitlabRunnerSha256"],
                        "cml-infra:gitlabRunnerUrl", "cml-infra:gitlabRunnerSha256")
    return given


def describe(value: object) -> str:
    """A value as the sentence names it, in YAML's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        wrong = [item for item in value if not isinstance(item, str)]
        return f"a list holding {describe(wrong[0])}" if wrong else "a list"
    return "a mapping"


# What a list looks like in YAML, for the settings that take one.
EXAMPLES = {"labels": "[gpu, l4]", "extraCommands": "['nvidia-smi -L']"}


def check_type(subject: str, kind: str, value: object, key: str = "") -> None:
    check, wanted = TYPES[kind]
    if not check(value):
        example = f" such as {EXAMPLES[key]}" if key in EXAMPLES else ""
        raise SpecError(f"{subject} must be {wanted}{example}, not {describe(value)}.")


def check_keys(where: str, given: Mapping[str, object], known: Mapping[str, object]) -> None:
    """Refuse a key no setting has, naming the closest one."""
    for key in given:
        if key in known:
            continue
        folded = {k.lower(): k for k in known}
        close = difflib.get_close_matches(str(key).lower().replace("_", ""), folded, n=1)
        hint = (f"did you mean {folded[close[0]]!r}?" if close
                else f"the settings are: {', '.join(known)}.")
        raise SpecError(f"{where}: unknown setting {key!r}; {hint}")


def pool_kwargs(entry: Mapping[str, object], where: str) -> dict[str, object]:
    """The build_spec keywords of one pool, each value of its setting's type."""
    check_keys(where, entry, {**CONFIG_KEYS, **STACK_KEYS})
    if "size" in entry and "type" in entry:
        raise SpecError(f"{where}: size and type are the same setting; keep one of them.")
    for key, value in entry.items():
        kind = CONFIG_KEYS[key][1] if key in CONFIG_KEYS else STACK_KEYS[key]
        check_type(f"{where}: {key}", kind, value, key)
    return {CONFIG_KEYS[key][0]: value for key, value in entry.items() if key in CONFIG_KEYS}


def default_kwargs(values: Mapping[str, object]) -> dict[str, object]:
    """The project defaults given (None: not set), as build_spec keywords."""
    kwargs = {}
    for key, (keyword, kind) in DEFAULT_KEYS.items():
        if values.get(key) is not None:
            check_type(f"cml-infra:{key}", kind, values[key])
            kwargs[keyword] = values[key]
    cloud = kwargs.get("cloud", "aws")
    if cloud not in catalog.CLOUDS:
        raise SpecError(f"cml-infra:defaultCloud must be one of {', '.join(catalog.CLOUDS)}, "
                        f"not {describe(cloud)}.")
    return kwargs


# ---- the stack's own settings: `cml-infra:<key>` -----------------------------------------

NAMESPACE = "cml-infra"
KINDS = ("runner", "base")
# Every `cml-infra:` setting the program reads (infra/__main__.py); Pulumi.yaml's `config:`
# declares the project defaults among them (tests/test_infra_review_fixes2.py keeps the two
# in step).
STACK_SETTINGS: tuple[str, ...] = ("pools", "kind", "forgeToken", *DEFAULT_KEYS, *FORGE_KEYS,
                                   *GITHUB_APP_KEYS)
POOLS_SHAPE = ("cml-infra:pools must be a non-empty list of pools in Pulumi.<stack>.yaml; see "
               "examples/Pulumi.dev.yaml.")


def check_setting_keys(keys: Iterable[str], declared: Iterable[str] = ()) -> None:
    """Refuse a `cml-infra:` setting the program never reads (a typo such as
    `cml-infra:maxRunTime` would be ignored otherwise), naming the closest one; `declared`:
    more keys the project's Pulumi.yaml declares. Other namespaces (aws:, gcp:...) are the
    providers' and left alone."""
    known = [*STACK_SETTINGS, *(k for k in declared if k not in STACK_SETTINGS)]
    for key in keys:
        namespace, _, name = str(key).partition(":")
        name = name.removeprefix("config:")
        if namespace != NAMESPACE or name in known:
            continue
        folded = {k.lower(): k for k in known}
        close = difflib.get_close_matches(name.lower(), folded, n=1)
        hint = (f"did you mean '{NAMESPACE}:{folded[close[0]]}'?" if close else
                "the settings are: " + ", ".join(f"{NAMESPACE}:{k}" for k in known) + ".")
        raise SpecError(f"Unknown setting '{NAMESPACE}:{name}' in the stack config; {hint}")


def program_config_keys() -> list[str]:
    """Every setting `pulumi up` gave the program (the language host sets them all, secrets
    included; PULUMI_CONFIG is the process-wide form)."""
    from pulumi.runtime.config import CONFIG, get_config_env

    return sorted({*get_config_env(), *CONFIG.get()})


def read_stack(config: Any, keys: Iterable[str], declared: Iterable[str] = (),
               missing: str | None = None) -> tuple[str, Any]:
    """The stack's kind and its pool entries, from `config` (a `pulumi.Config` of the
    namespace), after every key of `keys` was checked: one reading for `pulumi up`
    (infra/__main__.py) and the offline plan (infra.engine.stack_plan). `missing`: the
    sentence when there are no pools (None: Pulumi's own error)."""
    import pulumi

    check_setting_keys(keys, declared)
    kind = config.get("kind") or "runner"
    if kind not in KINDS:
        raise SpecError(f"cml-infra:kind is {kind!r}; set it to runner or base.")
    try:
        entries = config.require_object("pools")
    except pulumi.ConfigMissingError:
        if missing is None:
            raise
        raise SpecError(missing) from None
    except pulumi.ConfigTypeError:  # a string that is not JSON: never a list of pools
        raise SpecError(POOLS_SHAPE) from None
    return kind, entries
