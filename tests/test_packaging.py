"""Packaging: the sdist and the wheel built from it (as `python -m build` and the release
workflow do) hold every package and the data files the code reads at run time; the wheel's
metadata has the install extras; the release workflow checks the tag against the version
and publishes with least privilege."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from tests.conftest import ROOT

PACKAGES = ("infra", "cml_cli", "reporting")
CLOUD_EXTRAS = ("aws", "gcp", "azure", "alicloud")
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
TAG_STEP = "The tag names the version in pyproject.toml"
BUILD = """\
import os, sys
from hatchling.build import build_sdist, build_wheel
os.chdir(sys.argv[1])
print(os.path.join(sys.argv[2], {hook}(sys.argv[2])))
"""


def _build(hook: str, source: Path, out: Path) -> Path:
    """Run one of hatchling's PEP 517 hooks in `source`, as a build frontend does."""
    result = subprocess.run([sys.executable, "-c", BUILD.format(hook=hook), str(source), str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist of the checkout, and the wheel built from the unpacked sdist."""
    out = tmp_path_factory.mktemp("dist")
    sdist = _build("build_sdist", ROOT, out)
    unpacked = tmp_path_factory.mktemp("sdist")
    with tarfile.open(sdist) as tar:
        tar.extractall(unpacked, filter="data")
    (source,) = unpacked.iterdir()
    return sdist, _build("build_wheel", source, out)


@pytest.fixture(scope="module")
def wheel_names(dists: tuple[Path, Path]) -> set[str]:
    with zipfile.ZipFile(dists[1]) as whl:
        return set(whl.namelist())


@pytest.fixture(scope="module")
def metadata(dists: tuple[Path, Path]):  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(dists[1]) as whl:
        name = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(whl.read(name).decode())


def source_files() -> list[str]:
    """Every file of the three packages in the checkout, as a wheel names it."""
    return sorted(path.relative_to(ROOT).as_posix()
                  for package in PACKAGES for path in (ROOT / package).rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts
                  and path.suffix != ".pyc")


def runtime_data_files() -> list[str]:
    """The files the code opens at run time: every non-Python file in the packages (today the
    startup templates, read through importlib.resources)."""
    return [name for name in source_files() if not name.endswith(".py")]


def test_the_startup_templates_are_among_the_data_files():
    data = runtime_data_files()
    templates = sorted(p.relative_to(ROOT).as_posix()
                       for p in (ROOT / "infra" / "startup" / "templates").glob("*.sh"))
    assert "infra/startup/templates/main.sh" in templates
    assert set(templates) <= set(data)


def test_the_sdist_holds_the_project_and_no_local_state(dists):
    sdist, _ = dists
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", "PKG-INFO"} <= names
    missing = [name for name in source_files() if name not in names]
    assert missing == []
    local = [name for name in names
             if {".venv", "node_modules", "__pycache__", ".git"} & set(name.split("/"))]
    assert local == []


def test_the_wheel_holds_every_module_and_data_file(wheel_names):
    missing = [name for name in source_files() if name not in wheel_names]
    assert missing == []
    assert set(runtime_data_files()) <= wheel_names


def test_the_wheel_holds_only_the_packages(wheel_names, metadata):
    tops = {name.split("/")[0] for name in wheel_names}
    assert tops == {*PACKAGES, f"cml_infra-{metadata['Version']}.dist-info"}


def test_the_wheel_renders_every_startup_script_and_has_the_cli(dists, tmp_path):
    """Imported from the unpacked wheel, not the checkout: every template it reads is there."""
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(dists[1]) as whl:
        whl.extractall(unpacked)
        entry_points = next(whl.read(n).decode() for n in whl.namelist()
                            if n.endswith(".dist-info/entry_points.txt"))
    assert re.search(r"^cml-infra = cml_cli\.app:main$", entry_points, re.MULTILINE)
    probe = """\
import itertools, json, sys
import cml_cli.app, infra
from infra.local.run import readable_script
from infra.startup import StartupConfig, render_startup_script
rendered = []
for forge, cloud in itertools.product(("github", "gitlab"), ("aws", "gcp", "azure", "alicloud",
                                                             "local")):
    config = StartupConfig(
        forge=forge, cloud=cloud, runner_name="cml-gpu-1",
        forge_url="https://github.com" if forge == "github" else "https://gitlab.example.com",
        registration="eyJkIjoiZXhhbXBsZS1qaXQtY29uZmlnIn0=" if forge == "github"
        else "glrt-t1_ExampleRunnerToken",
        runner_package_url="https://example.com/runner.tar.gz", runner_package_sha256="ab" * 32)
    script = render_startup_script(config)
    assert script.startswith("#!/usr/bin/env bash"), script[:40]
    if cloud == "local":
        assert len(readable_script(config)) > len(script)
    rendered.append(f"{forge}/{cloud}")
print(json.dumps({"infra": infra.__file__, "main": callable(cml_cli.app.main),
                  "rendered": rendered}))
"""
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(out["infra"]).is_relative_to(unpacked)  # not the checkout's copy
    assert out["main"] is True
    assert len(out["rendered"]) == 10


def _requires(metadata) -> list[Requirement]:  # type: ignore[no-untyped-def]
    return [Requirement(line) for line in metadata.get_all("Requires-Dist") or ()]


def _extras_of(requirement: Requirement) -> set[str]:
    """The extras whose marker selects `requirement`; empty for a core dependency."""
    if requirement.marker is None:
        return set()
    return {extra for extra in ("aws", "gcp", "azure", "alicloud", "plots", "all", "dev")
            if requirement.marker.evaluate({"extra": extra})}


def test_the_wheel_has_every_install_extra(metadata):
    extras = set(metadata.get_all("Provides-Extra") or ())
    assert {*CLOUD_EXTRAS, "plots", "all"} <= extras


def test_vl_convert_is_only_in_the_plots_extra(metadata):
    """Never a core dependency: runner jobs (`up`, `down`, `status`, `gc`) do not install it.
    `all` holds every cloud and plots (hatchling writes its self-reference out in full)."""
    by_name: dict[str, list[set[str]]] = {}
    for requirement in _requires(metadata):
        by_name.setdefault(requirement.name.lower(), []).append(_extras_of(requirement))
    vl_convert = by_name["vl-convert-python"]
    assert set() not in vl_convert
    assert set().union(*vl_convert) == {"plots", "all"}
    core = {name for name, sets in by_name.items() if set() in sets}
    assert "vl-convert-python" not in core and "pulumi" in core
    for package in ("pulumi-aws", "pulumi-gcp", "pulumi-azure-native", "pulumi-alicloud"):
        assert "all" in set().union(*by_name[package]), package
        assert set() not in by_name[package], package


# ---- the release workflow ----

@pytest.fixture(scope="module")
def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def test_release_runs_on_version_tags_only(workflow):
    """v1.2.3 and v1.2.3rc1, not the moving major tag v1 (GitHub's filter syntax: `+` is one or
    more of what precedes it, `*` anything)."""
    assert workflow["on"] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+*"]}}


def test_release_has_least_privilege(workflow):
    jobs = workflow["jobs"]
    assert workflow["permissions"] == {}
    assert jobs["build"]["permissions"] == {"contents": "read"}
    assert jobs["publish"]["permissions"] == {"id-token": "write"}
    assert jobs["publish"]["needs"] == "build"
    assert jobs["publish"]["environment"]["name"] == "pypi"
    assert jobs["major-tag"]["permissions"] == {"contents": "write"}
    assert jobs["major-tag"]["needs"] == "publish"


@pytest.mark.parametrize(("tag", "major"), [("v1.2.3", "v1"), ("v10.0.1", "v10")])
def test_the_major_tag_moves_to_a_published_release(workflow, tmp_path, tag, major):
    """The step that moves `v1` runs as written, in a repository with a remote."""
    import subprocess

    [step] = [s for s in _steps(workflow, "major-tag") if "run" in s]
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=CI"]
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    for n in (1, 2):
        subprocess.run([*git, "-C", str(work), "commit", "-q", "--allow-empty", "-m", str(n)],
                       check=True)
        if n == 1:
            subprocess.run(["git", "-C", str(work), "tag", major], check=True)
    subprocess.run(["git", "-C", str(work), "remote", "add", "origin", str(remote)], check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "HEAD:main", major],
                   check=True)
    head = subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], cwd=work, check=True,
                   env={"PATH": "/usr/bin:/bin", "TAG": tag, "GITHUB_SHA": head,
                        "HOME": str(tmp_path)})
    moved = subprocess.run(["git", "--git-dir", str(remote), "rev-parse", f"{major}^{{}}"],
                           check=True, capture_output=True, text=True).stdout.strip()
    assert moved == head


def test_prereleases_do_not_move_the_major_tag(workflow):
    condition = workflow["jobs"]["major-tag"]["if"]
    assert all(f"contains(github.ref_name, '{marker}')" in condition for marker in ("rc", "a", "b"))


def _steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def test_release_publishes_with_trusted_publishing_and_no_token(workflow):
    text = WORKFLOW.read_text()
    assert "secrets." not in text and "password" not in text
    publish = [s for s in _steps(workflow, "publish")
               if s.get("uses", "").startswith("pypa/gh-action-pypi-publish@")]
    assert [s["uses"] for s in publish] == ["pypa/gh-action-pypi-publish@release/v1"]
    assert "with" not in publish[0]
    uploaded = next(s for s in _steps(workflow, "build")
                    if s.get("uses", "").startswith("actions/upload-artifact@"))
    downloaded = next(s for s in _steps(workflow, "publish")
                      if s.get("uses", "").startswith("actions/download-artifact@"))
    assert uploaded["with"]["name"] == downloaded["with"]["name"]
    assert downloaded["with"]["path"].rstrip("/") == "dist"


def test_release_pins_every_action_by_major_version(workflow):
    uses = [s["uses"] for job in workflow["jobs"] for s in _steps(workflow, job) if "uses" in s]
    assert uses
    assert [u for u in uses if not re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+|release/v\d+)", u)] == []


def test_release_builds_and_checks_the_distributions(workflow):
    runs = "\n".join(s.get("run", "") for s in _steps(workflow, "build"))
    assert "python -m build" in runs
    assert "twine check --strict dist/*" in runs


# The step runs on the workflow's Python 3.12; it reads pyproject.toml with tomllib (3.11+).
needs_tomllib = pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")


def _tag_check(workflow: dict, tag: str, version: str,
               tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the workflow's own tag step, with `python` this interpreter, in a folder whose
    pyproject.toml has `version` (or is `version`, a whole pyproject.toml)."""
    step = next(s for s in _steps(workflow, "build") if s.get("name") == TAG_STEP)
    assert step["env"] == {"TAG": "${{ github.ref_name }}"}
    text = version if "\n" in version else f'[project]\nname = "x"\nversion = "{version}"\n'
    (tmp_path / "pyproject.toml").write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "python").exists():
        (bin_dir / "python").symlink_to(sys.executable)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "TAG": tag}
    return subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=60)


@needs_tomllib
def test_the_tag_check_accepts_the_version_of_pyproject(workflow, tmp_path):
    result = _tag_check(workflow, "v1.2.3", "1.2.3", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "The tag v1.2.3 names version 1.2.3."


@needs_tomllib
@pytest.mark.parametrize("tag", ["v1.2.4", "1.2.3", "v1.2.3rc1", "v1.2", "release-1.2.3"])
def test_the_tag_check_refuses_another_version(workflow, tmp_path, tag):
    result = _tag_check(workflow, tag, "1.2.3", tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"The tag {tag} does not name the version in pyproject.toml (1.2.3); "
        "tag the release v1.2.3, or set that version and tag again.")


@needs_tomllib
def test_the_tag_check_passes_for_the_version_the_wheel_is_built_with(workflow, metadata,
                                                                      tmp_path):
    version = metadata["Version"]
    (tmp_path / "project").mkdir()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert _tag_check(workflow, f"v{version}", pyproject, tmp_path / "project").returncode == 0
    assert _tag_check(workflow, f"v{version}.1", pyproject, tmp_path / "project").returncode == 1
