"""Finding or installing the pinned, checksum-verified Pulumi CLI, against a release mirror
served over real HTTP on 127.0.0.1 (tests/fakes/http.py) with a tarball built here."""

from __future__ import annotations

import hashlib
import io
import os
import random
import socket
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pulumi._version import version as sdk_version
from semver import VersionInfo

from infra.engine import pulumi_cli
from infra.engine.pulumi_cli import (
    PULUMI_VERSION,
    ensure_pulumi,
    find_pulumi,
    install_pulumi,
    tarball_name,
)
from infra.errors import InfraError, PrerequisiteError
from tests.fakes.http import FakeServer, Fault, Request, Response, Router

SCRIPT = b'#!/bin/sh\nif [ "$1" = version ]; then echo v3.272.0; else exit 2; fi\n'
# Random bytes do not compress: the tarball spans a few download chunks, so progress shows.
FILLER = random.Random(0).randbytes(2_500_000)
NAME = tarball_name(PULUMI_VERSION)
SUMS = f"pulumi-{PULUMI_VERSION}-checksums.txt"


def entry(name: str, data: bytes = b"", mode: int = 0o644, kind: bytes = tarfile.REGTYPE,
          link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.size = kind, mode, link, len(data)
    return info, data


def make_tarball(*extra: tuple[tarfile.TarInfo, bytes]) -> bytes:
    """A release-shaped tarball: `pulumi/` holding the CLI and a plugin, plus `extra`."""
    entries = [entry("pulumi", mode=0o755, kind=tarfile.DIRTYPE),
               entry("pulumi/pulumi", SCRIPT, 0o777),  # group/other-writable: must be fixed
               entry("pulumi/pulumi-resource-filler", FILLER, 0o666), *extra]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def listing(files: dict[str, bytes]) -> bytes:
    """`sha256sum` output, as the release's sign workflow writes it."""
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                   for name, data in files.items()).encode()


@dataclass
class Mirror:
    server: FakeServer
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.server.url}/mirror/v{PULUMI_VERSION}/"

    def publish(self, tarball: bytes, sums: bytes | None = None) -> None:
        others = {"pulumi-v3.272.0-windows-x64.zip": b"zip"}
        self.files.clear()
        self.files.update({NAME: tarball, SUMS: sums or listing({**others, NAME: tarball})})

    def gets(self) -> list[str]:
        return [r.path.rsplit("/", 1)[-1] for r in self.server.requests if r.method == "GET"]


@pytest.fixture(scope="module")
def release() -> bytes:
    return make_tarball()


@pytest.fixture
def mirror(release: bytes) -> Iterator[Mirror]:
    files: dict[str, bytes] = {}

    def serve(request: Request, version: str, name: str) -> Response:
        data = files.get(name)
        return Response(200, data) if data is not None else Response(404, b"not found")

    router = Router()
    router.add("GET", "/mirror/{version}/{name}", serve)
    server = FakeServer(router).start()
    mirror = Mirror(server, files)
    mirror.publish(release)
    yield mirror
    server.stop()
    assert not server.errors


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def env(tmp_path: Path, mirror: Mirror) -> dict[str, str]:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return {"PATH": str(empty), "CML_INFRA_PULUMI_DOWNLOAD_URL": mirror.url}


def refused(env: dict[str, str], home: Path) -> str:
    """Run ensure_pulumi expecting a refusal; check that nothing was left; the sentence."""
    with pytest.raises(PrerequisiteError) as caught:
        ensure_pulumi(env, home, print)
    assert_one_sentence(caught.value)
    assert find_pulumi(env, home) is None
    assert not (home / "pulumi").exists() or not any((home / "pulumi").iterdir())
    return str(caught.value)


def assert_one_sentence(error: InfraError) -> None:
    text = str(error)
    assert text.endswith(".") and "\n" not in text and "Traceback" not in text
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_install_then_find_runs_the_cli(env: dict[str, str], home: Path, mirror: Mirror) -> None:
    lines: list[str] = []
    path = ensure_pulumi(env, home, lines.append)
    assert path == home / "pulumi" / PULUMI_VERSION / "bin" / "pulumi"
    run = subprocess.run([str(path), "version"], capture_output=True, text=True, timeout=30)
    assert (run.returncode, run.stdout) == (0, "v3.272.0\n")
    assert find_pulumi(env, home) == path
    assert mirror.gets() == [SUMS, NAME]  # the listing first: no big download if it lacks us
    assert sorted(os.listdir(home / "pulumi")) == [PULUMI_VERSION]  # no temporary leftovers
    assert sorted(os.listdir(path.parent)) == ["pulumi", "pulumi-resource-filler"]
    for file in path.parent.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) & 0o022 == 0, file  # owner-writable only
    assert (path.parent / "pulumi-resource-filler").read_bytes() == FILLER


def test_progress_lines_are_printed(env: dict[str, str], home: Path, mirror: Mirror,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pulumi_cli, "CHUNK", 1 << 16)  # about 40 chunks, reported coarsely
    lines: list[str] = []
    path = ensure_pulumi(env, home, lines.append)
    assert lines[0] == f"downloading the Pulumi CLI {PULUMI_VERSION} from {mirror.url}{NAME}"
    progress = [line for line in lines if line.startswith("downloaded ")]
    size = len(mirror.files[NAME]) / 1e6
    assert 5 <= len(progress) <= 10, lines  # coarse steps, not one per chunk
    assert progress[-1] == f"downloaded {size:.1f} of {size:.1f} MB (100%)"
    assert lines[-2:] == [f"verified the SHA-256 of {NAME} against {SUMS}",
                          f"installed the Pulumi CLI {PULUMI_VERSION} in {path.parent}"]


def test_second_call_finds_it_without_downloading(env: dict[str, str], home: Path,
                                                  mirror: Mirror) -> None:
    first = ensure_pulumi(env, home, print)
    lines: list[str] = []
    assert ensure_pulumi(env, home, lines.append) == first
    assert len(mirror.gets()) == 2 and lines == []


def test_path_wins_over_our_copy(env: dict[str, str], home: Path, tmp_path: Path,
                                 mirror: Mirror) -> None:
    ours = ensure_pulumi(env, home, print)
    users = tmp_path / "user-bin" / "pulumi"
    users.parent.mkdir()
    users.write_bytes(SCRIPT)
    users.chmod(0o755)
    with_path = {**env, "PATH": f"{env['PATH']}{os.pathsep}{users.parent}"}
    assert find_pulumi(with_path, home) == users
    assert ensure_pulumi(with_path, home, print) == users != ours
    assert len(mirror.gets()) == 2  # only the first install downloaded anything


def test_a_copy_that_is_not_executable_is_not_found(env: dict[str, str], home: Path) -> None:
    path = ensure_pulumi(env, home, print)
    path.chmod(0o644)
    assert find_pulumi(env, home) is None


def test_checksum_mismatch_is_refused(env: dict[str, str], home: Path, mirror: Mirror,
                                     release: bytes) -> None:
    mirror.publish(release, sums=listing({NAME: release + b"tampered"}))
    message = refused(env, home)
    assert message.startswith(f"The download {NAME} does not match its SHA-256 in {SUMS}")
    assert "CML_INFRA_PULUMI_DOWNLOAD_URL" in message


def test_listing_without_our_file_is_refused(env: dict[str, str], home: Path,
                                            mirror: Mirror, release: bytes) -> None:
    mirror.publish(release, sums=listing({"pulumi-v3.272.0-plan9-mips.tar.gz": release}))
    message = refused(env, home)
    assert message == (f"{mirror.url}{SUMS} lists no SHA-256 for {NAME}, so nothing was "
                       "installed; point CML_INFRA_PULUMI_DOWNLOAD_URL at a complete copy of "
                       "the Pulumi release.")
    assert mirror.gets() == [SUMS]  # the tarball was never downloaded


@pytest.mark.parametrize("bad", [
    entry("../evil", b"x"),
    entry("pulumi/../../evil", b"x"),
    entry("/tmp/cml-infra-test-evil", b"x"),
    entry("pulumi/evil", kind=tarfile.SYMTYPE, link="/etc/passwd"),
    entry("pulumi/evil", kind=tarfile.SYMTYPE, link="../../evil"),
    entry("pulumi/evil", kind=tarfile.LNKTYPE, link="../evil"),
    entry("pulumi/evil", kind=tarfile.CHRTYPE),
], ids=["dotdot", "nested-dotdot", "absolute", "symlink-absolute", "symlink-up",
        "hardlink-up", "device"])
def test_unsafe_archive_entries_are_refused(env: dict[str, str], home: Path, tmp_path: Path,
                                            mirror: Mirror,
                                            bad: tuple[tarfile.TarInfo, bytes]) -> None:
    mirror.publish(make_tarball(bad))  # correctly listed: only the content is wrong
    message = refused(env, home)
    assert message == (f"The Pulumi archive {NAME} holds an unsafe entry ({bad[0].name}), so "
                       "nothing was installed; point CML_INFRA_PULUMI_DOWNLOAD_URL at the "
                       "genuine release.")
    assert not [p for p in tmp_path.rglob("*evil*")]
    assert not Path("/tmp/cml-infra-test-evil").exists()


def test_archive_without_the_cli_is_refused(env: dict[str, str], home: Path,
                                            mirror: Mirror) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info, data = entry("pulumi/README", b"no binary here")
        tar.addfile(info, io.BytesIO(data))
    mirror.publish(buffer.getvalue())
    assert "holds no executable pulumi/pulumi" in refused(env, home)


def test_no_install_variable_names_both_ways_out(env: dict[str, str], home: Path,
                                                 mirror: Mirror) -> None:
    message = refused({**env, "CML_INFRA_NO_PULUMI_INSTALL": "1"}, home)
    assert message == ("The pulumi CLI is not on PATH and CML_INFRA_NO_PULUMI_INSTALL=1 forbids "
                       "installing it; install it (https://www.pulumi.com/docs/iac/download-"
                       "install/) or unset CML_INFRA_NO_PULUMI_INSTALL.")
    assert mirror.gets() == []
    installed = ensure_pulumi(env, home, print)  # an existing copy is still used
    assert ensure_pulumi({**env, "CML_INFRA_NO_PULUMI_INSTALL": "1"}, home, print) == installed


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mirror/"


def test_unreachable_mirror_is_one_sentence(env: dict[str, str], home: Path) -> None:
    url = closed_port_url()
    message = refused({**env, "CML_INFRA_PULUMI_DOWNLOAD_URL": url}, home)
    assert message.startswith(f"Could not download {url}{SUMS} (")
    assert message.endswith("); check the network, or set CML_INFRA_PULUMI_DOWNLOAD_URL to a "
                            "mirror holding the Pulumi release files.")


@pytest.mark.parametrize("fault", [Fault(drop=True), Fault(status=503)], ids=["dropped", "503"])
def test_failed_tarball_download_is_one_sentence(env: dict[str, str], home: Path,
                                                 mirror: Mirror, fault: Fault) -> None:
    fault.path_contains = NAME
    mirror.server.faults.add(fault)
    message = refused(env, home)
    assert message.startswith(f"Could not download {mirror.url}{NAME} (")
    assert "(HTTP 503)" in message if fault.status else "HTTP" not in message
    assert "CML_INFRA_PULUMI_DOWNLOAD_URL" in message


def test_missing_release_is_named(env: dict[str, str], home: Path, mirror: Mirror) -> None:
    mirror.files.clear()
    assert f"Could not download {mirror.url}{SUMS} (HTTP 404)" in refused(env, home)


def test_interrupted_install_leaves_nothing(env: dict[str, str], home: Path) -> None:
    def interrupted(url: str, dest: Path, progress: pulumi_cli.Progress) -> None:
        pulumi_cli.download(url, dest, progress)
        if url.endswith(".tar.gz"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ensure_pulumi(env, home, print, fetch=interrupted)
    assert os.listdir(home / "pulumi") == []
    assert find_pulumi(env, home) is None


def test_concurrent_install_keeps_the_first_copy(home: Path, mirror: Mirror) -> None:
    first = install_pulumi(home, version=PULUMI_VERSION, base_url=mirror.url, printer=print,
                           fetch=pulumi_cli.download)
    marker = first.parent / "marker"
    marker.write_text("first")
    again = install_pulumi(home, version=PULUMI_VERSION, base_url=mirror.url.rstrip("/"),
                           printer=print, fetch=pulumi_cli.download)
    assert again == first and marker.read_text() == "first"
    assert os.listdir(home / "pulumi") == [PULUMI_VERSION]


def test_default_source_is_the_github_release(tmp_path: Path, home: Path) -> None:
    asked: list[str] = []

    def offline(url: str, dest: Path, progress: pulumi_cli.Progress) -> None:
        asked.append(url)
        raise PrerequisiteError("offline.")

    with pytest.raises(PrerequisiteError):
        ensure_pulumi({"PATH": str(tmp_path)}, home, print, fetch=offline)
    assert asked == ["https://github.com/pulumi/pulumi/releases/download/v3.272.0/" + SUMS]


@pytest.mark.parametrize(("system", "machine", "name"), [
    ("Linux", "x86_64", "linux-x64"), ("Linux", "aarch64", "linux-arm64"),
    ("Darwin", "arm64", "darwin-arm64"), ("Darwin", "x86_64", "darwin-x64"),
    ("Windows", "AMD64", None), ("Linux", "riscv64", None)])
def test_platforms(monkeypatch: pytest.MonkeyPatch, system: str, machine: str,
                   name: str | None) -> None:
    monkeypatch.setattr(pulumi_cli.platform, "system", lambda: system)
    monkeypatch.setattr(pulumi_cli.platform, "machine", lambda: machine)
    if name:
        assert tarball_name("3.272.0") == f"pulumi-v3.272.0-{name}.tar.gz"
        return
    with pytest.raises(PrerequisiteError) as caught:
        tarball_name("3.272.0")
    assert str(caught.value) == (f"cml-infra cannot install the Pulumi CLI on {system} "
                                 f"{machine}; install it yourself (https://www.pulumi.com/docs/"
                                 "iac/download-install/) and put it on PATH.")


def test_progress_without_a_size_counts_megabytes() -> None:
    lines: list[str] = []
    report = pulumi_cli._reporter(lines.append)
    for done in range(0, 40 << 20, 1 << 20):
        report(done, None)
    assert lines == ["downloaded 16.8 MB", "downloaded 33.6 MB"]


def test_pinned_cli_satisfies_the_automation_api() -> None:
    pinned = VersionInfo.parse(PULUMI_VERSION)
    assert pinned.major == sdk_version.major and pinned.compare(sdk_version) >= 0
