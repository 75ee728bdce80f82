"""Find the Pulumi CLI that `up`, `down`, `status` and `gc` drive, or install a pinned copy.

A `pulumi` on PATH wins (whoever installed it chose it); else our copy in
`<home>/pulumi/<PULUMI_VERSION>/bin/pulumi` (home is `~/.cml-infra`), installed on first use.
`PulumiCommand.install` runs a script that checks nothing, so we download the release tarball
ourselves, check its SHA-256 against the release's checksum file before unpacking anything, and
unpack it into a temporary directory renamed into place: an interrupted or concurrent install
never leaves half a CLI behind. Environment:

- `CML_INFRA_PULUMI_DOWNLOAD_URL`: the base URL (http(s):// or file://) of a directory holding
  `pulumi-v<V>-<os>-<arch>.tar.gz` and `pulumi-<V>-checksums.txt`, used instead of Pulumi's
  GitHub release: a mirror for air-gapped networks.
- `CML_INFRA_NO_PULUMI_INSTALL=1`: never download; fail with what to do when no CLI is found.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import platform
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from infra.errors import PrerequisiteError

# The Automation API needs a CLI at least as new as the SDK, with the same major version
# (pulumi/automation/_cmd.py, _minimum_version.py), and Pulumi releases SDK and CLI together:
# pin the CLI to the SDK we install (pulumi._version), and bump both together.
PULUMI_VERSION = "3.272.0"
# Release assets, e.g. .../v3.272.0/pulumi-v3.272.0-linux-x64.tar.gz, as install.sh fetches them
# (https://github.com/pulumi/get.pulumi.com/blob/master/dist/install.sh). The checksum file,
# `sha256sum` output for every tarball, is made and uploaded by the release's sign workflow,
# step "Checksums with SHA256": https://github.com/pulumi/pulumi/blob/master/.github/workflows/sign.yml
RELEASE_URL = "https://github.com/pulumi/pulumi/releases/download/v{version}/"
INSTALL_URL = "https://www.pulumi.com/docs/iac/download-install/"
MIRROR_VAR = "CML_INFRA_PULUMI_DOWNLOAD_URL"
NO_INSTALL_VAR = "CML_INFRA_NO_PULUMI_INSTALL"
TIMEOUT_S = 60.0  # per blocking network operation, not for the whole download
CHUNK = 1 << 20
QUIET_S = 20.0  # longest silence while downloading: a CI log must show life
OS_NAMES = {"Linux": "linux", "Darwin": "darwin"}
ARCH_NAMES = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}

Printer = Callable[[str], None]
Progress = Callable[[int, int | None], None]  # (bytes so far, total size or None)
Fetch = Callable[[str, Path, Progress], None]  # (url, file to write, progress)


def download(url: str, dest: Path, progress: Progress) -> None:
    """Stream `url` into `dest`, reporting progress after every chunk."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as answer, dest.open("wb") as out:
            length = answer.headers.get("Content-Length")
            done, total = 0, int(length) if length and length.isdigit() else None
            while chunk := answer.read(CHUNK):
                done += out.write(chunk)
                progress(done, total)
        return
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code}"
        exc.close()
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, cut connections
        reason = str(getattr(exc, "reason", None) or exc or type(exc).__name__)
    raise PrerequisiteError(f"Could not download {url} ({reason}); check the network, or set "
                            f"{MIRROR_VAR} to a mirror holding the Pulumi release files.")


def pinned_path(home: Path, version: str = PULUMI_VERSION) -> Path:
    """Where our copy of the CLI lives: `<home>/pulumi/<version>/bin/pulumi`."""
    return home.expanduser() / "pulumi" / version / "bin" / "pulumi"


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_pulumi(env: Mapping[str, str], home: Path) -> Path | None:
    """A `pulumi` on env's PATH, else our pinned copy under `home`, else None."""
    on_path = shutil.which("pulumi", path=env.get("PATH", ""))
    if on_path:
        return Path(on_path)
    pinned = pinned_path(home)
    return pinned if _runnable(pinned) else None


def ensure_pulumi(env: Mapping[str, str], home: Path, printer: Printer,
                  fetch: Fetch = download) -> Path:
    """The CLI to use: found, or installed now unless CML_INFRA_NO_PULUMI_INSTALL=1."""
    found = find_pulumi(env, home)
    if found is not None:
        return found
    if env.get(NO_INSTALL_VAR) == "1":
        raise PrerequisiteError(f"The pulumi CLI is not on PATH and {NO_INSTALL_VAR}=1 forbids "
                                f"installing it; install it ({INSTALL_URL}) or unset "
                                f"{NO_INSTALL_VAR}.")
    base_url = env.get(MIRROR_VAR) or RELEASE_URL.format(version=PULUMI_VERSION)
    return install_pulumi(home, version=PULUMI_VERSION, base_url=base_url, printer=printer,
                          fetch=fetch)


def tarball_name(version: str) -> str:
    """This machine's release tarball, e.g. `pulumi-v3.272.0-linux-x64.tar.gz`."""
    system, machine = platform.system(), platform.machine()
    if system not in OS_NAMES or machine.lower() not in ARCH_NAMES:
        raise PrerequisiteError(f"cml-infra cannot install the Pulumi CLI on {system} "
                                f"{machine}; install it yourself ({INSTALL_URL}) and put it "
                                "on PATH.")
    return f"pulumi-v{version}-{OS_NAMES[system]}-{ARCH_NAMES[machine.lower()]}.tar.gz"


def install_pulumi(home: Path, *, version: str, base_url: str, printer: Printer,
                   fetch: Fetch) -> Path:
    """Download, verify and install the CLI `version` under `home`; returns its path."""
    name, sums = tarball_name(version), f"pulumi-{version}-checksums.txt"
    url = base_url.rstrip("/") + "/"
    target = pinned_path(home, version).parent.parent
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
    try:
        fetch(url + sums, staging / sums, lambda done, total: None)
        expected = _listed_sha256((staging / sums).read_text(errors="replace"), name, url + sums)
        printer(f"downloading the Pulumi CLI {version} from {url + name}")
        fetch(url + name, staging / name, _reporter(printer))
        _verify(staging / name, expected, sums)
        printer(f"verified the SHA-256 of {name} against {sums}")
        _unpack(staging / name, staging / "root" / "bin")
        _move_into_place(staging / "root", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    printer(f"installed the Pulumi CLI {version} in {target / 'bin'}")
    return target / "bin" / "pulumi"


def _reporter(printer: Printer) -> Progress:
    """Print a line at each 10% (each 16 MB when the size is unknown), or after QUIET_S."""
    last = {"step": 0.0, "time": time.monotonic()}

    def report(done: int, total: int | None) -> None:
        step = done * 10 // total if total else done // (16 << 20)
        if step > last["step"] or time.monotonic() - last["time"] >= QUIET_S:
            last.update(step=step, time=time.monotonic())
            printer(f"downloaded {done / 1e6:.1f} of {total / 1e6:.1f} MB "
                    f"({done * 100 // total}%)" if total else f"downloaded {done / 1e6:.1f} MB")

    return report


def _listed_sha256(listing: str, name: str, listing_url: str) -> str:
    """The digest `sha256sum` output lists for `name`."""
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].lstrip("*") == name and len(fields[0]) == 64:
            return fields[0].lower()
    raise PrerequisiteError(f"{listing_url} lists no SHA-256 for {name}, so nothing was "
                            f"installed; point {MIRROR_VAR} at a complete copy of the Pulumi "
                            "release.")


def _verify(path: Path, expected: str, sums: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        path.unlink()
        raise PrerequisiteError(f"The download {path.name} does not match its SHA-256 in {sums} "
                                f"and was deleted; try again, and if it fails again make sure "
                                f"{MIRROR_VAR} (or your proxy) serves the genuine release.")


def _unsafe(member: tarfile.TarInfo) -> bool:
    """An absolute path or `..` in a name or link target (links may only point downwards,
    so no chain of them leaves the folder), or a device node."""
    paths = [member.name, member.linkname] if member.issym() or member.islnk() else [member.name]
    return member.isdev() or any(p.startswith("/") or ".." in p.split("/") for p in paths)


def _unpack(archive: Path, bin_dir: Path) -> None:
    """Extract the tarball's `pulumi/` files into `bin_dir`, writable by the owner only."""
    unpacked = archive.parent / "unpacked"
    problem = _extract(archive, unpacked)
    if problem is None and (not _runnable(unpacked / "pulumi" / "pulumi")
                            or (unpacked / "pulumi").is_symlink()):
        problem = "holds no executable pulumi/pulumi"
    if problem is not None:
        raise PrerequisiteError(f"The Pulumi archive {archive.name} {problem}, so nothing was "
                                f"installed; point {MIRROR_VAR} at the genuine release.")
    bin_dir.parent.mkdir(mode=0o755)
    (unpacked / "pulumi").rename(bin_dir)
    bin_dir.chmod(0o755)
    for path in bin_dir.rglob("*"):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o755)


def _extract(archive: Path, dest: Path) -> str | None:
    """Extract `archive` into `dest` unless an entry is unsafe; what is wrong, or None."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            bad = next((m.name for m in tar.getmembers() if _unsafe(m)), None)
            if bad is not None:
                return f"holds an unsafe entry ({bad})"
            if hasattr(tarfile, "data_filter"):  # the standard library's check, on top of ours
                tar.extraction_filter = tarfile.data_filter
            tar.extractall(dest)
    except (tarfile.TarError, OSError, EOFError) as exc:
        return f"cannot be unpacked ({exc})"
    return None


def _move_into_place(staged: Path, target: Path) -> None:
    """Rename atomically; when a concurrent install got there first, keep its copy."""
    try:
        staged.rename(target)
    except OSError:
        if not _runnable(target / "bin" / "pulumi"):
            raise PrerequisiteError(f"Could not install the Pulumi CLI into {target}; remove "
                                    "that directory and run again.") from None
