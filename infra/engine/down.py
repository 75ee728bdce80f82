"""`down`: destroy runner stacks (by default this CI run's) and their forge registrations,
then remove them; `down --base` removes a pool's base once no runner stack uses it.

Idempotent: a stack that does not exist, or whose machines already deleted themselves, ends
well. A lock is waited for; it is cleared when its process is dead on this machine, or when
the caller says the locking run is over (`force_unlock`: this CI run's own stack, in the
always-run job that follows the `up` job, or `--force-unlock`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.engine.naming import is_base
from infra.engine.state import clear_lock, count_left, destroy_stack, lock_of
from infra.engine.workspace import Engine, Printer
from infra.errors import StackError

POLL_S = 2.0


@dataclass(frozen=True)
class DownResult:
    stack: str
    existed: bool
    left: int
    """Resources the state still holds afterwards (0: the stack is gone)."""


def down_stacks(engine: Engine, names: list[str], printer: Printer, *, lock_wait_s: float,
                force_unlock: bool, sleep: Callable[[float], None] = time.sleep,
                token: str | None = None) -> list[DownResult]:
    results = []
    for name in names:
        if is_base(name):
            raise StackError(f"{name} is a pool base; remove it with 'cml-infra down --base "
                             f"{name}' once no runner stack uses it.")
        results.append(_down_one(engine, name, printer, lock_wait_s, force_unlock, sleep,
                                 token))
    return results


def down_base(engine: Engine, name: str, printer: Printer, users: list[str], *,
              is_base: bool, lock_wait_s: float, force_unlock: bool) -> DownResult:
    """Destroy a base that no runner stack uses (`users`: the runner stacks that read it)."""
    if not is_base:
        raise StackError(f"{name} is not a pool base; remove runner stacks with "
                         f"'cml-infra down {name}'.")
    if users:
        raise StackError(f"Base {name} is used by {len(users)} runner stack(s) "
                         f"({', '.join(sorted(users)[:5])}); run 'cml-infra down' on them "
                         "first, or let 'cml-infra gc' remove them when they expire.")
    return _down_one(engine, name, printer, lock_wait_s, force_unlock, time.sleep)


def _down_one(engine: Engine, name: str, printer: Printer, lock_wait_s: float,
              force_unlock: bool, sleep: Callable[[float], None],
              token: str | None = None) -> DownResult:
    from pulumi import automation as auto

    if engine.select(name) is None:
        printer(f"stack {name}: not found; nothing to remove")
        return DownResult(name, existed=False, left=0)
    waited = 0.0
    printer(f"stack {name}: refreshing, destroying and removing")
    while True:
        try:
            destroy_stack(engine, name, printer, token=token)
            break
        except auto.ConcurrentUpdateError as exc:
            if not _unlocked(engine, name, exc, printer, force_unlock and waited >= lock_wait_s):
                if waited >= lock_wait_s:
                    raise _locked(name, exc) from None
                if waited == 0:
                    printer(f"stack {name}: locked by {lock_of(exc) or 'another run'}; "
                            f"waiting up to {lock_wait_s:.0f}s for it to end")
                sleep(POLL_S)
                waited += POLL_S
        except auto.CommandError:
            break  # what could not be destroyed is counted and named below
    left = count_left(engine, name)
    printer(f"stack {name}: removed" if not left else
            f"stack {name}: {left} resources could not be destroyed")
    return DownResult(name, existed=True, left=left)


def _unlocked(engine: Engine, name: str, exc: Any, printer: Printer, force: bool) -> bool:
    """Clear a lock whose run is over: dead here, or `force` and not alive here (a process of
    another machine cannot be seen; the caller knows its run has ended)."""
    lock = lock_of(exc)
    if lock is None or lock.alive_here() or not (force or lock.dead_here()):
        return False
    clear_lock(engine, name)
    printer(f"stack {name}: cleared the lock of a run that is over ({lock})")
    return True


def _locked(name: str, exc: Any) -> StackError:
    lock = lock_of(exc)
    holder = f" by {lock}" if lock else ""
    if lock is not None and lock.alive_here():
        return StackError(f"Stack {name} is locked{holder}, a process of this machine that "
                          f"is still running; let it end, then run 'cml-infra down {name}' "
                          "again.")
    return StackError(f"Stack {name} is locked{holder}; wait for that run to end, or if it is "
                      f"dead run 'cml-infra down {name} --force-unlock'.")
