"""Validation of every value that goes into a startup script, with one-sentence errors.

Quoting already makes each value inert for bash; these checks keep out values that would
make a broken or unsafe machine (a personal access token where a single-use registration
belongs, a relative install path, a label the forge would reject).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from infra.errors import SpecError

if TYPE_CHECKING:
    from infra.startup import StartupConfig

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+-]{0,99}")
USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
PATH = re.compile(r"/[A-Za-z0-9._/-]*[A-Za-z0-9._-]")
SHA256 = re.compile(r"[0-9a-fA-F]{64}")
JIT_CONFIG = re.compile(r"[A-Za-z0-9+/=._-]{8,}")  # base64; long-lived prefixes refused apart
GITLAB_RUNNER_TOKEN = re.compile(r"glrt-[A-Za-z0-9_.-]{8,}")
# Prefixes of long-lived tokens that must never reach a machine.
# https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/
# https://docs.gitlab.com/ee/security/tokens/#token-prefixes
LONG_LIVED_PREFIXES = ("ghp_", "github_pat_", "gho_", "ghu_", "ghs_", "ghr_", "glpat-", "gldt-",
                       "glptt-", "glrtr-", "AKIA", "ASIA")
IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}")


def validate_config(c: StartupConfig) -> None:
    """Raise SpecError with one sentence for the first value that cannot go into the script."""
    _check(c.forge in ("github", "gitlab"), f"Choose forge github or gitlab, not {c.forge!r}.")
    _check(c.cloud in ("aws", "gcp", "azure", "alicloud", "local"),
           f"Choose cloud aws, gcp, azure, alicloud or local, not {c.cloud!r}.")
    _check(_full(NAME, c.runner_name), "Use a runner name of letters, digits, '.', '_' or '-' "
           "(at most 64 characters).")
    for what, url in (("forge URL", c.forge_url), ("runner package URL", c.runner_package_url)):
        _check(_is_url(url), f"Give the {what} as an http(s) address, not {url!r}.")
    for what, url in (("metadata URL", c.metadata_url), ("forge API URL", c.forge_api_url),
                      ("cloud API URL", c.cloud_api_url)):
        _check(not url or _is_url(url), f"Give the {what} as an http(s) address, not {url!r}.")
    _check(_full(SHA256, c.runner_package_sha256),
           "Give the runner package checksum as 64 hexadecimal digits (SHA-256).")
    _validate_registration(c)
    bad = [label for label in (*c.labels, c.gpu_model or "x") if not _full(LABEL, label)]
    _check(not bad, f"Use labels of letters, digits and '._:/+-' only, not {bad[:1]}.")
    _validate_numbers(c)
    _check(_full(PATH, c.install_dir) and ".." not in c.install_dir,
           "Give the install directory as an absolute path of plain characters, not '/'.")
    _check(_full(PATH, c.systemd_dir) and ".." not in c.systemd_dir,
           "Give the systemd unit directory as an absolute path of plain characters.")
    _check(_full(USER, c.job_user) and c.job_user != "root",
           "Give the job user as a lowercase Unix user name other than root.")
    _check(not c.docker or c.forge == "gitlab", "The docker executor is a GitLab option; "
           "on GitHub use a container job in the workflow instead.")
    _check(_full(IMAGE, c.docker_image), "Give the docker image as a plain image reference.")
    _check(all(cmd.strip() and "\0" not in cmd for cmd in c.extra_commands),
           "Remove empty extra commands or ones containing NUL characters.")


def _validate_registration(c: StartupConfig) -> None:
    reg = c.registration.strip()
    _check(not reg.startswith(LONG_LIVED_PREFIXES) and not any(
        f" {p}" in reg for p in LONG_LIVED_PREFIXES),
        "Never pass a personal access token or cloud key to a runner machine; pass the "
        "single-use registration the CLI minted.")
    if c.forge == "github":
        configs = reg.split()
        _check(bool(configs) and all(_full(JIT_CONFIG, x) for x in configs),
               "Pass the encoded just-in-time runner configuration from generate-jitconfig.")
        _check(c.idle_mode or len(configs) == 1,
               "Single-job mode takes exactly one just-in-time runner configuration.")
    else:
        _check(_full(GITLAB_RUNNER_TOKEN, reg),
               "Pass the glrt- runner authentication token of a runner created for this machine.")


def _validate_numbers(c: StartupConfig) -> None:
    _check(0 <= c.gpu_count <= 16, "Ask for between 0 and 16 GPUs.")
    _check(c.gpu_count == 0 or bool(c.gpu_model), "Name the GPU model when asking for GPUs.")
    for name in ("idle_timeout_s", "max_runtime_s", "network_timeout_s", "download_attempts",
                 "poll_interval_s", "stop_grace_s", "gpu_wait_s", "end_machine_retry_s"):
        value = getattr(c, name)
        _check(isinstance(value, int) and value >= 1, f"Set {name} to a whole number of 1 or more.")
    _check(isinstance(c.retry_backoff_s, int) and c.retry_backoff_s >= 0,
           "Set retry_backoff_s to a whole number of 0 or more.")


def _full(pattern: re.Pattern[str], value: str) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _is_url(url: str) -> bool:
    parts = urlsplit(url) if isinstance(url, str) else None
    return bool(parts and parts.scheme in ("http", "https") and parts.hostname
                and not any(ch.isspace() or ch in "'\"`\\" for ch in url))


def _check(ok: bool, sentence: str) -> None:
    if not ok:
        raise SpecError(sentence)
