"""What every runner pool is, wherever it runs: the frozen `RunnerSpec` and the rules that
cloud pools (`infra.spec`) and this machine (`infra.local.spec`) share, with their messages.

Both spec modules import this one and never each other's internals.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from infra.catalog import Machine
from infra.errors import SpecError

# The strictest of the clouds' VM naming rules (GCP, RFC 1035, 63 characters) minus room for
# the "-<index>-vm" suffixes: https://cloud.google.com/compute/docs/naming-resources
NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,38}[a-z0-9]")
DURATION_PATTERN = re.compile(r"(\d+)([smh])")
LABEL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# One path segment of a repository: GitHub owners and names, GitLab groups and projects
# (https://docs.gitlab.com/user/reserved_names/); "." and ".." are refused separately, and so
# is GitLab's "-", which starts the part of an address after the project (`/-/tree/main`).
REPO_SEGMENT = re.compile(r"[\w.-]+")
FORGES = ("github", "gitlab")
FORGE_URLS = {"github": "https://github.com", "gitlab": "https://gitlab.com"}
FORGE_NAMES = {"github": "GitHub", "gitlab": "GitLab"}
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
LOCAL = "local"  # this machine: no catalog, no region; see infra/local/run.py


@dataclass(frozen=True)
class RunnerSpec:
    """A runner pool: `count` identical machines on one cloud, all validated."""

    name: str
    cloud: str
    region: str
    zone: str | None
    size: str | None
    machine: Machine
    spot: bool
    max_price: float | None
    disk_size_gb: int
    labels: tuple[str, ...]
    forge: str
    repo: str
    forge_url: str
    idle_timeout_s: int
    max_runtime_s: int
    count: int
    extra_commands: tuple[str, ...] = ()
    identity: str | None = None
    """AWS instance profile, GCP service account e-mail, Azure identity id, Alibaba RAM role."""
    image: str | None = None
    """A native image overriding the catalog's GPU-ready image."""
    idle_mode: bool = False
    """Keep taking jobs until the idle timeout instead of one job (see the README's trade-off)."""
    docker: bool = False
    """GitLab: run jobs with the docker executor and all GPUs instead of the shell executor."""
    subnet: str | None = None
    """AWS: an existing subnet for the pool's machines instead of a network of its own."""
    zones: tuple[str, ...] = ()
    """Candidate zones, preferred first: the user's zone alone, else the catalog's zones of the
    region that sell the machine (`catalog.zones_for`); empty when only a deploy-time look-up
    can tell. `zone` is the first of them."""


def parse_duration(value: str | int, what: str) -> int:
    """Seconds in `30s`, `5m` or `2h` (an int is already seconds)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    match = DURATION_PATTERN.fullmatch(text)
    if not match and text.isdigit():  # CML's --idle-timeout took bare seconds
        why = "CML took seconds; cml-infra needs a unit" if what == "idle timeout" else \
            "a duration needs a unit"
        raise SpecError(f"The {what} {value!r} has no unit; write {text}s ({why}), or use m "
                        "or h.")
    if not match:
        raise SpecError(f"The {what} {value!r} is not a duration; write a number followed by "
                        "s, m or h, such as 30s, 5m or 2h.")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise SpecError(f"Pool name {name!r} is not valid; use 2 to 40 lowercase letters, "
                        "digits and hyphens, starting with a letter and not ending with a hyphen.")
    return name


DEFAULT_LABELS = ("cml-infra",)


def clean_labels(labels: str | Iterable[str] | None) -> tuple[str, ...]:
    """The runner labels, each checked; None (not given) is the default label. An empty label
    (`--labels ""`, `labels: []`, `labels: [""]`) is refused rather than read as the default."""
    if labels is None:
        return DEFAULT_LABELS
    items = labels.split(",") if isinstance(labels, str) else list(labels)
    stripped = [str(item).strip() for item in items]
    if not stripped or not all(stripped):
        raise SpecError("A runner label is empty; give at least one label such as gpu "
                        "(--labels gpu,l4; labels: [gpu, l4] in stack config), or drop the "
                        "setting for the default label cml-infra.")
    cleaned = tuple(dict.fromkeys(stripped))
    for label in cleaned:
        if not LABEL_PATTERN.fullmatch(label):
            raise SpecError(f"Runner label {label!r} is not valid; use letters, digits, dots, "
                            "hyphens and underscores, at most 64 characters.")
    return cleaned


def format_number(value: float) -> str:
    """A number as a user writes it: 2 (not 2.0), 0.5, -1."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


# AWS, Azure (and GCP) bill in US dollars; an Alibaba Cloud account bills in its own currency
# (US dollars on the international site, yuan on the China site), and so is its SpotPriceLimit.
def price_text(cloud: str, price: float) -> str:
    """A spot price cap per hour, with its unit: `$2/hour`, or the cloud's currency."""
    if cloud == "alicloud":
        return f"{format_number(price)} per hour (the account's currency)"
    return f"${format_number(price)}/hour"


def format_duration(seconds: int) -> str:
    for unit in ("h", "m"):
        if seconds and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


# A runner is a CI job's machine, not a server: a week bounds a forgotten one's bill and stays
# far inside every cloud's own limit (GCP maxRunDuration 120 days:
# https://cloud.google.com/compute/docs/instances/limit-vm-runtime ; Alibaba auto-release
# 3 years: https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-runinstances).
MAX_RUNTIME_S = 7 * 24 * 3600


def bounded_duration(value: str, flag: str, what: str, maximum_s: int = MAX_RUNTIME_S,
                     bound: str = "") -> int:
    """A duration flag's seconds, at most `maximum_s` (by default 7 days, as --max-runtime);
    `bound` names the limit in the sentence when it is not the 7 days."""
    seconds = parse_duration(value, what)
    if seconds > maximum_s:
        limit = bound or f"{format_duration(maximum_s)} (7 days)"
        raise SpecError(f"{flag} may be at most {limit}, not {format_duration(seconds)}; "
                        "lower it.")
    return seconds


def check_times(idle_s: int, runtime_s: int) -> None:
    if idle_s < 1:
        raise SpecError("--idle-timeout (idleTimeout) must be at least 1s; give a duration "
                        "such as 5m.")
    if runtime_s > MAX_RUNTIME_S:
        raise SpecError(f"--max-runtime (maxRuntime) may be at most {MAX_RUNTIME_S // 3600}h "
                        f"(7 days), not {format_duration(runtime_s)}; lower it.")
    if runtime_s <= idle_s:
        raise SpecError(f"The maximum runtime ({format_duration(runtime_s)}) must be longer than "
                        f"the idle timeout ({format_duration(idle_s)}); raise the maximum runtime "
                        "or lower the idle timeout.")


def check_forge(forge: str) -> str:
    if forge not in FORGES:
        raise SpecError(f"Unknown forge {forge!r}; choose one of: {', '.join(FORGES)}.")
    return forge


def parse_repo(forge: str, value: str) -> tuple[str | None, str]:
    """`--repo` or a pool's `repo` as (forge web address or None, repository path).

    OWNER/NAME (GitLab: GROUP/SUBGROUP/PROJECT), its https:// address or an SSH remote
    (`ssh_as_web`); http:// only for a self-hosted instance, since github.com and gitlab.com
    answer plain HTTP with a redirect.
    The one parser of `up` (dry run and real) and of stack config."""
    check_forge(forge)
    text = value.strip()
    server = None
    if names_server(text):
        server, text = _split_url(forge, ssh_as_web(text))
    path = text.strip("/").removesuffix(".git")
    segments = path.split("/")
    if (len(segments) < 2 or (forge == "github" and len(segments) != 2)
            or any(s in (".", "..", "-") or not REPO_SEGMENT.fullmatch(s) for s in segments)):
        shape = "OWNER/NAME" if forge == "github" else "GROUP/PROJECT or GROUP/SUBGROUP/PROJECT"
        raise SpecError(f"Repository {value!r} is not a {FORGE_NAMES[forge]} repository; write "
                        f"it as {shape} or as its https:// address.")
    return server, path


# An SSH remote as git writes it: `git@github.com:acme/models.git` (scp-like, no scheme).
SCP_LIKE = re.compile(r"[\w.-]+@([\w.-]+):(?!/)(.+)")


def names_server(value: str) -> bool:
    """Whether a repository value names its server: a URL, or an scp-like SSH remote."""
    text = value.strip()
    return "://" in text or SCP_LIKE.fullmatch(text) is not None


def ssh_as_web(value: str) -> str:
    """An SSH remote (`git@host:owner/name.git`, `ssh://git@host:2222/owner/name`) as the
    https:// address of the web server on the same host, as CML and `comment --repo` read it
    (the SSH user, such as git, is no secret; the SSH port says nothing about the web
    server's). A password in an ssh:// URL is kept, so that it is refused as credentials.
    Anything else is returned as it is."""
    text = value.strip()
    if scp := SCP_LIKE.fullmatch(text):
        text = f"ssh://{scp[1]}/{scp[2]}"
    if not text.lower().startswith("ssh://"):
        return value
    url = urlsplit(text)
    if url.password:
        return "https://" + text[len("ssh://"):]
    return f"https://{(url.hostname or '').lower()}{url.path}"


def _split_url(forge: str, value: str) -> tuple[str, str]:
    url = urlsplit(value.strip())
    if url.username or url.password:  # never echo it: it may hold a token
        raise SpecError("The repository address holds credentials; drop them from the URL and "
                        "give the token through REPO_TOKEN or --token-file.")
    try:
        host = (url.hostname or "").lower() + (f":{url.port}" if url.port else "")
    except ValueError:  # a port that is not a number
        host = ""
    public = {urlsplit(u).hostname: name for name, u in FORGE_URLS.items()}
    if url.scheme not in ("https", "http") or not host or url.query or url.fragment:
        raise SpecError(f"Repository address {value!r} is not a repository URL; write it as "
                        "https://HOST/OWNER/NAME.")
    if public.get(host, forge) != forge:
        raise SpecError(f"Repository {value!r} is on {FORGE_NAMES[public[host]]}; add --forge "
                        f"{public[host]} (forge: {public[host]} in stack config).")
    if url.scheme == "http" and host in public:
        raise SpecError(f"Repository address {value!r} uses http://; {host} is served over "
                        f"https://, so write https://{host}{url.path}.")
    return f"{url.scheme}://{host}", url.path


def is_web_url(value: object) -> bool:
    """An http(s) address with a host (and a port, if any, that is a number)."""
    if not isinstance(value, str):
        return False
    try:
        url = urlsplit(value.strip())
        url.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:  # such as an unclosed [ of an IPv6 address
        return False
    return url.scheme in ("https", "http") and bool(url.hostname)


SHA256_PATTERN = re.compile(r"[0-9a-fA-F]{64}")


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and SHA256_PATTERN.fullmatch(value.strip()) is not None


def check_web_url(value: str | None, source: str, example: str) -> str | None:
    """`value` (from `source`: a flag, a variable or a setting) when it is an http(s) URL."""
    if value is None:
        return None
    if is_web_url(value) and urlsplit(value.strip()).username is not None:  # never echo it
        raise SpecError(f"{source} holds credentials; drop them from the address and give the "
                        "token through REPO_TOKEN or --token-file.")
    if not is_web_url(value):
        raise SpecError(f"{source} {value!r} is not a web address; set it to an http(s) "
                        f"address such as {example}.")
    return value.strip()


def check_forge_url(forge: str, value: str | None,
                    source: str = "--forge-url (forgeUrl)") -> str | None:
    """A forge's web address: an http(s) address of its host alone (a self-hosted GitLab may
    live under a path); github.com and gitlab.com only as https://github.com and
    https://gitlab.com, as --repo takes them."""
    if value is None:
        return None
    check_web_url(value, source, FORGE_URLS[check_forge(forge)].replace("github.com",
                                                                         "ghe.example.com"))
    url = urlsplit(value.strip())
    host = (url.hostname or "").lower()
    public = {urlsplit(u).hostname: name for name, u in FORGE_URLS.items()}
    path = url.path.rstrip("/")
    if url.query or url.fragment or (path and (forge == "github" or host in public)):
        raise SpecError(f"{source} {value!r} is not a forge's web address; give the address "
                        f"of the server alone, such as https://{url.netloc or host}.")
    if host in public and (url.scheme != "https" or url.port):
        raise SpecError(f"{source} {value!r} is not {FORGE_NAMES[public[host]]}'s address; "
                        f"{host} is served over https://, so write https://{host}.")
    if public.get(host, forge) != forge:
        raise SpecError(f"{source} {value!r} is {FORGE_NAMES[public[host]]}; add --forge "
                        f"{public[host]} (forge: {public[host]} in stack config).")
    return value.strip()


def check_runner_binary(url: str | None, sha256: str | None,
                        url_source: str = "--gitlab-runner-url",
                        sha_source: str = "--gitlab-runner-sha256") -> None:
    """The gitlab-runner binary's address and checksum, as `up` (every cloud, the dry run, this
    machine) and stack config (gitlabRunnerUrl, gitlabRunnerSha256) take them."""
    check_web_url(url, url_source, "https://gitlab-runner-downloads.s3.amazonaws.com/latest/"
                  "binaries/gitlab-runner-linux-amd64")
    if sha256 is not None and not is_sha256(sha256):
        raise SpecError(f"{sha_source} {sha256!r} is not a SHA-256 checksum; give its 64 "
                        "hexadecimal digits, as sha256sum prints them.")


def repo_and_forge_url(forge: str, repo: str, forge_url: str | None) -> tuple[str, str]:
    """The repository path (empty when none is given yet) and the forge's web address:
    --forge-url, else the repository URL's, else the public forge's."""
    server, path = parse_repo(forge, repo) if repo else (None, check_forge(forge) and "")
    check_forge_url(forge, forge_url or None)
    given = (forge_url or "").rstrip("/")
    if given and server and given.lower() != server:
        raise SpecError(f"The repository is on {server} but the forge URL is {given}; drop "
                        "--forge-url (forgeUrl) or make the two agree.")
    return path, given or server or FORGE_URLS[forge]


def default_api_url(forge: str, forge_url: str) -> str:
    """The REST API root of a forge's web address (GitHub.com, GHES, GitLab)."""
    base = forge_url.rstrip("/")
    if forge == "gitlab":
        return f"{base}/api/v4"
    return "https://api.github.com" if base == "https://github.com" else f"{base}/api/v3"
