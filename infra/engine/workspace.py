"""How cml-infra reaches the Pulumi engine: the backend, the workspace, and the `pulumi` child.

State lives in a local file backend (`~/.cml-infra/state`, nothing to sign up for) unless
`PULUMI_BACKEND_URL` names another (s3://, gs://, azblob://, Pulumi Cloud). Secrets use the
passphrase provider, so the registrations in the state are encrypted with
`PULUMI_CONFIG_PASSPHRASE`. Base and runner stacks live in the one project `cml-infra`.

`EngineCommand` runs the `pulumi` CLI for the Automation API, with three differences from
the SDK's own `PulumiCommand` (pulumi/automation/_cmd.py), each for the lifecycle:
- the child's environment holds no forge token (REPO_TOKEN, GITHUB_TOKEN ...): the engine and
  its plugins never need one, the registrations get theirs as a secret input;
- the child runs in a session of its own, so a signal sent to our process group (GitLab's
  SIGTERM to the job's group, Ctrl-C in a terminal) does not reach it a second time: the
  Pulumi CLI treats a second signal as "terminate now" and may orphan resources
  (pkg/backend/cancellation_scope.go in pulumi/pulumi); we forward exactly one SIGINT;
- it keeps the running children, so a cancellation can signal them, and the last stderr, so
  a failure before the first engine event can be shown.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# gRPC's core logs connection shutdowns at INFO on stderr; the language server the Automation
# API runs here shuts down after every operation. Read by gRPC when it loads, so set first.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from pulumi.automation import PulumiCommand

from infra.engine.naming import PROJECT
from infra.errors import PrerequisiteError

DEFAULT_HOME = Path("~/.cml-infra")
Printer = Callable[[str], None]
# Variables that hold forge credentials in CI and for cml-infra; no `pulumi` child gets them.
FORGE_TOKEN_VARIABLES = ("REPO_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN", "GH_TOKEN",
                         "CI_JOB_TOKEN", "CML_INFRA_TOKEN")
# The oldest CLI whose event stream the SDK reads over gRPC (pulumi/automation/_stack.py).
OLDEST_CLI = (3, 206, 0)


def backend_url(env: Mapping[str, str], home: Path) -> str:
    """PULUMI_BACKEND_URL when set, else an absolute file:// URL under `home`."""
    if env.get("PULUMI_BACKEND_URL"):
        return env["PULUMI_BACKEND_URL"]
    state = (home / "state").expanduser().resolve()
    private_dir(state)
    return f"file://{state}"


def private_dir(path: Path) -> None:
    """Create `path` (and its parent, our home) readable by the owner only: the state holds
    the forge token, encrypted with the passphrase, and the passphrase is all that guards it."""
    for folder in (path.parent, path):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if key not in FORGE_TOKEN_VARIABLES}


class EngineCommand(PulumiCommand):
    """The `pulumi` CLI at `path`, run as the module docstring describes."""

    def __init__(self, path: Path | str, env: Mapping[str, str]) -> None:
        from semver import VersionInfo

        self.command = str(path)
        self.env = child_env(env)
        self.running: set[subprocess.Popen[str]] = set()
        self.lock = threading.Lock()
        self.last_stderr = ""
        self.cancelled = False
        shown = subprocess.run([self.command, "version"], capture_output=True, text=True,
                               env={**self.env, "PULUMI_SKIP_UPDATE_CHECK": "true"},
                               check=False).stdout.strip().removeprefix("v")
        try:
            self.version = VersionInfo.parse(shown)
        except ValueError:
            self.version = None
        if self.version is None or self.version.major != 3 or \
                self.version.to_tuple()[:3] < OLDEST_CLI:
            raise PrerequisiteError(
                f"The pulumi CLI at {path} is version {shown or 'unknown'}; cml-infra needs "
                "3.206 or newer (and not 4): upgrade it, or take it off PATH so that cml-infra "
                "installs the version it pins.")

    def run(self, args: list[str], cwd: str, additional_env: Mapping[str, str],
            on_output: Callable[[str], Any] | None = None,
            on_error: Callable[[str], Any] | None = None) -> Any:
        from pulumi.automation import CommandResult
        from pulumi.automation.errors import create_command_error

        if self.cancelled and args[:1] == ["up"]:  # a signal came between two operations
            raise create_command_error(CommandResult("", "error: update canceled", 255))
        if "--non-interactive" not in args:
            args.insert(0, "--non-interactive")
        env = {**self.env, **additional_env, "PULUMI_AUTOMATION_API": "true"}
        process = subprocess.Popen([self.command, *args], cwd=cwd, env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
        with self.lock:
            self.running.add(process)
        try:
            out, err = _collect(process, on_output, on_error)
        finally:
            with self.lock:
                self.running.discard(process)
        result = CommandResult(stdout=out, stderr=err, code=process.returncode)
        if process.returncode != 0:
            self.last_stderr = err
            raise create_command_error(result)
        return result

    def interrupt(self) -> int:
        """Send one SIGINT to each running child (the CLI's graceful cancel), and start no
        update after this; the count of children signalled."""
        self.cancelled = True
        with self.lock:
            children = list(self.running)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGINT)
        return len(children)


def _collect(process: subprocess.Popen[str], on_output: Callable[[str], Any] | None,
             on_error: Callable[[str], Any] | None) -> tuple[str, str]:
    chunks: dict[str, list[str]] = {"out": [], "err": []}

    def pump(stream: Any, callback: Callable[[str], Any] | None, key: str) -> None:
        for line in iter(stream.readline, ""):
            if callback:
                callback(line.rstrip())
            chunks[key].append(line.rstrip())
        stream.close()

    pumps = [threading.Thread(target=pump, args=(process.stdout, on_output, "out")),
             threading.Thread(target=pump, args=(process.stderr, on_error, "err"))]
    for thread in pumps:
        thread.start()
    for thread in pumps:
        thread.join()
    process.wait()
    return "\n".join(chunks["out"]), "\n".join(chunks["err"])


@dataclass
class Engine:
    """What every stack operation needs: the environment, our home, and the `pulumi` child.

    Each process works in workspace folders of its own (removed when it exits): the Automation
    API writes Pulumi.yaml and Pulumi.<stack>.yaml there, and two CI jobs on one machine
    must not write each other's. Nothing in them is needed later: the state, its secrets
    salt included, is in the backend, which is how a `down` on another machine reads it."""

    env: Mapping[str, str] = field(repr=False)
    home: Path
    command: Any
    """An EngineCommand (tests may pass another PulumiCommand)."""
    work_root: Path | None = field(default=None, repr=False)

    def options(self, stack_name: str) -> Any:
        from pulumi import automation as auto

        work_dir = self._work_root() / stack_name
        work_dir.mkdir(exist_ok=True)
        settings = auto.ProjectSettings(name=PROJECT, runtime="python", backend=auto.ProjectBackend(
            url=backend_url(self.env, self.home)))
        passthrough = {k: v for k, v in self.env.items() if k.startswith("PULUMI_CONFIG_PASS")}
        # The registrations' dynamic provider runs in a Python the engine starts; make it this
        # one, where `infra` is importable (the shim honours PULUMI_PYTHON_CMD):
        # https://github.com/pulumi/pulumi/blob/master/sdk/python/dist/pulumi-resource-pulumi-python
        passthrough["PULUMI_PYTHON_CMD"] = sys.executable
        return auto.LocalWorkspaceOptions(work_dir=str(work_dir), project_settings=settings,
                                          env_vars=passthrough, secrets_provider="passphrase",
                                          pulumi_command=self.command)

    def _work_root(self) -> Path:
        if self.work_root is None:
            parent = (self.home / "workspaces").expanduser().resolve()
            private_dir(parent)
            self.work_root = Path(tempfile.mkdtemp(prefix="run-", dir=parent))
            atexit.register(shutil.rmtree, self.work_root, True)
        return self.work_root

    def select(self, name: str, program: Callable[[], None] | None = None) -> Any | None:
        """The stack, or None when the backend has no stack of that name."""
        from pulumi import automation as auto

        try:
            return auto.select_stack(name, project_name=PROJECT, program=program or _nothing,
                                     opts=self.options(name))
        except auto.StackNotFoundError:
            return None

    def create_or_select(self, name: str, program: Callable[[], None]) -> Any:
        """Select the stack or create it; two runs creating it at once both end up with it."""
        from pulumi import automation as auto

        if (stack := self.select(name, program)) is not None:
            return stack
        try:
            return auto.create_stack(name, project_name=PROJECT, program=program,
                                     opts=self.options(name))
        except auto.StackAlreadyExistsError:
            return auto.select_stack(name, project_name=PROJECT, program=program,
                                     opts=self.options(name))

    def workspace(self) -> Any:
        """A workspace of the project, for listing and removing stacks."""
        from pulumi import automation as auto

        opts = self.options("_workspace")
        return auto.LocalWorkspace(work_dir=opts.work_dir, env_vars=opts.env_vars,
                                   project_settings=opts.project_settings,
                                   secrets_provider=opts.secrets_provider,
                                   pulumi_command=opts.pulumi_command)


def _nothing() -> None:
    """The program of an operation that never runs one (refresh, destroy, outputs)."""
