"""`pulumi up`, `refresh` and `destroy`: secrets first (before any event), then the lock, the
events, the steps, the checkpoint, history; the summary and cancelEvent always come last."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.engine import locks, monitor, program, teardown
from tests.fakes.engine.backend import now_iso
from tests.fakes.engine.cloud import FakeCloud
from tests.fakes.engine.context import Context
from tests.fakes.engine.deployment import Deployment
from tests.fakes.engine.errors import CliError, not_implemented
from tests.fakes.engine.props import MASK
from tests.fakes.engine.providers import Providers
from tests.fakes.engine.report import Reporter
from tests.fakes.engine.signals import CancelScope
from tests.fakes.engine.snapshot import Snapshot, topo_sort
from tests.fakes.engine.steps import Gate, Steps

SECRETS_PREFIX = "getting stack configuration: get stack secrets manager: "
DEFAULT_PARALLEL = 64


def run(kind: str, ctx: Context) -> int:
    flags = ctx.flags
    project, stack = ctx.require_stack()
    crypter = ctx.crypter(project, stack, SECRETS_PREFIX)
    config, secret_keys = ctx.config(project, stack, SECRETS_PREFIX)
    if kind == "update" and not flags.get("client"):
        raise not_implemented("pulumi up without --client (only inline programs are run)")
    if flags.get("target") and kind != "destroy":
        raise not_implemented(f"pulumi {'up' if kind == 'update' else kind} --target")
    lock = locks.acquire(ctx.backend, project, stack)
    try:
        op = Operation(kind, ctx, project, stack, crypter, config, secret_keys)
        return op.execute()
    finally:
        locks.release(lock)


class Operation:
    def __init__(self, kind: str, ctx: Context, project: str, stack: str, crypter: object,
                 config: dict[str, str], secret_keys: list[str]) -> None:
        self.kind, self.ctx, self.project, self.stack = kind, ctx, project, stack
        self.config, self.secret_keys = config, secret_keys
        self.flag = lambda name: (ctx.flags.get(name) or [None])[-1]
        self.parallel = int(self.flag("parallel") or DEFAULT_PARALLEL)
        self.report = Reporter(kind, stack, self.flag("event-log"))
        self.gate = Gate(self.parallel)
        self.scope = CancelScope().install()
        self.scope.callbacks.append(lambda: self.gate.close("the operation was canceled"))
        self.cloud = FakeCloud(ctx.backend.root)
        main = Path(ctx.project.main) if ctx.project.main else ctx.cwd
        python = ctx.env.get("PULUMI_PYTHON_CMD") or "python3"
        self.providers = Providers(self.cloud, python, main if main.is_dir() else ctx.cwd,
                                   ctx.env, config)
        salt = ctx.stack_settings(stack).get("encryptionsalt")
        ctx.backend.backup(project, stack)
        self.snap = Snapshot(ctx.backend, project, stack, crypter, salt)  # type: ignore[arg-type]
        self.steps = Steps(self.snap, self.report, self.providers, self.gate)
        self.crypter = crypter

    def execute(self) -> int:
        started, outcome = now_iso(), "failed"
        try:
            self.report.prelude({k: MASK if k in self.secret_keys else v
                                 for k, v in self.config.items()})
            self._pending()
            ok = self._run()
            if self.scope.canceled.is_set():
                outcome = "canceled"
            elif ok:
                outcome = "succeeded"
        except CliError as exc:
            self.report.diag(exc.message)
        finally:
            self.gate.close("the operation ended")
            self.gate.wait_idle()
            self.providers.close()
            self.snap.save()
            self._history(started, outcome)
            self.report.finish(outcome)
        return 0 if outcome == "succeeded" else 255

    def _pending(self) -> None:
        clear = self.kind == "refresh" and bool(self.ctx.flags.get("clear-pending-creates"))
        dropped = self.snap.carry_pending(keep_creates=not clear)
        for op in dropped:
            self.report.diag(f"removed pending create of {op['resource']['urn']} from the "
                             "state; the cloud object, if any, is not deleted", severity="info")
        if self.snap.carried:
            verb = "refresh" if self.kind == "refresh" else "deploy or update resources"
            self.report.diag(f"Attempting to {verb} with {len(self.snap.carried)} pending "
                             "operations from previous deployment.", severity="warning")

    def _run(self) -> bool:
        if self.kind == "refresh":
            return teardown.refresh_all(self.snap.current(), self.steps)
        if self.ctx.flags.get("refresh") and not teardown.refresh_all(self.snap.current(),
                                                                         self.steps):
            return False
        if self.kind == "destroy":
            plan = teardown.destroy_plan(self.snap.current(), self.ctx.flags.get("target", []),
                                         bool(self.ctx.flags.get("target-dependents")),
                                         bool(self.ctx.flags.get("exclude-protected")))
            return teardown.delete_all(plan, self.steps, self.parallel,
                                       bool(self.ctx.flags.get("continue-on-error")))
        return self._update()

    def _update(self) -> bool:
        deployment = Deployment(self.project, self.stack, self.steps, self.ctx.backend,
                                self.cloud, self.ctx.env,
                                set(self.ctx.flags.get("replace", [])))
        server, monitor_address, engine_address = monitor.serve(deployment, self.parallel)
        self.providers.engine_address = engine_address
        try:
            outcome = program.start(self.flag("client") or "", monitor_address, engine_address,
                                    self.project, self.stack, self.config, self.secret_keys,
                                    self.parallel, self.ctx.cwd)
            program.wait(outcome, self.gate)
        finally:
            server.stop(0)
        if outcome.host_gone:
            self.report.diag(f"the language host exited unexpectedly ({outcome.host_gone})")
            return False
        if outcome.error:
            known = {m for _, _, m in self.report.diagnostics}
            if outcome.error not in known:
                self.report.diag(outcome.error)
            return False
        if self.gate.closed or deployment.failed or not outcome.finished:
            return False
        declared = set(self.snap.news)
        leftovers = [s for s in self.snap.current() if s["urn"] not in declared]
        ok = teardown.delete_all(topo_sort(leftovers) + list(self.snap.doomed), self.steps,
                                 self.parallel, bool(self.ctx.flags.get("continue-on-error")))
        changed = set(self.report.changes) - {"same", "read"}
        if ok and self.ctx.flags.get("expect-no-changes") and changed:
            self.report.diag("no changes were expected but changes occurred")
            return False
        return ok

    def _history(self, started: str, outcome: str) -> None:
        backend = self.ctx.backend
        config = {}
        for key, value in self.config.items():
            secret = key in self.secret_keys
            config[key] = {"value": self.crypter.encrypt(value) if secret else value,  # type: ignore[attr-defined]
                           "secret": secret}
        version = len(backend.history(self.project, self.stack)) + 1
        backend.add_history(self.project, self.stack, {
            "kind": self.kind, "startTime": started, "endTime": now_iso(),
            "message": self.flag("message") or "",
            "environment": {"exec.kind": self.flag("exec-kind") or "cli"},
            "config": config, "result": "succeeded" if outcome == "succeeded" else "failed",
            "version": version, "resourceChanges": dict(self.report.changes)})
