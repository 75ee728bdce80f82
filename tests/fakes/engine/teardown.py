"""Deleting many resources (destroy, and what an update no longer declares): dependents
first, independent deletes side by side up to --parallel; and refreshing them."""

from __future__ import annotations

from concurrent import futures

from tests.fakes.engine.errors import CliError
from tests.fakes.engine.snapshot import State, references
from tests.fakes.engine.steps import Halted, StepFailed, Steps


def delete_all(states: list[State], steps: Steps, parallel: int,
               continue_on_error: bool) -> bool:
    """Delete `states` (topologically ordered); False if any delete failed or was stopped."""
    deps = {i: {j for j, other in enumerate(states) if j != i and other["urn"] in
                references(s) and not other.get("delete")} for i, s in enumerate(states)}
    doomed_urns = {s["urn"] for s in states}
    remaining = set(range(len(states)))
    ok = True
    with futures.ThreadPoolExecutor(max_workers=max(1, min(parallel, 16))) as pool:
        while remaining and not steps.gate.closed:
            ready = [i for i in sorted(remaining)
                     if not any(i in deps[j] for j in remaining if j != i)]
            if not ready:
                break
            jobs = {i: pool.submit(_delete_one, steps, states[i], doomed_urns) for i in ready}
            futures.wait(jobs.values())
            for i, job in jobs.items():
                remaining.discard(i)
                if not job.result():
                    ok = False
                    remaining -= _closure(i, deps)  # what it needs stays
            if not ok and not continue_on_error:
                break
    return ok and not remaining


def _delete_one(steps: Steps, state: State, doomed: set[str]) -> bool:
    try:
        with steps.gate.step():
            steps.delete(state, op="delete-replaced" if state.get("delete") else "delete",
                         skip_provider=state.get("deletedWith") in doomed)
        return True
    except (StepFailed, Halted):
        return False


def _closure(start: int, deps: dict[int, set[int]]) -> set[int]:
    seen, todo = set(), [start]
    while todo:
        for j in deps[todo.pop()]:
            if j not in seen:
                seen.add(j)
                todo.append(j)
    return seen


def destroy_plan(states: list[State], targets: list[str], target_dependents: bool,
                 exclude_protected: bool) -> list[State]:
    """What a destroy deletes; errors as the CLI's for protected or untargeted dependents."""
    chosen = list(states)
    if targets:
        wanted = set(targets)
        missing = wanted - {s["urn"] for s in states}
        if missing:
            raise CliError(f"no resource named '{sorted(missing)[0]}' found")
        changed = True
        while changed:
            changed = False
            for s in states:
                if s["urn"] not in wanted and references(s) & wanted:
                    if not target_dependents:
                        raise CliError(f"{s['urn']} is a dependent of a targeted resource; "
                                       "use --target-dependents to destroy it too")
                    wanted.add(s["urn"])
                    changed = True
        chosen = [s for s in states if s["urn"] in wanted]
    protected = [s for s in chosen if s.get("protect")]
    if protected and not exclude_protected:
        raise CliError(f"resource {protected[0]['urn']!r} cannot be deleted because it is "
                       "protected. To unprotect the resource, either remove the `protect` flag "
                       "from the resource in your Pulumi program and run `pulumi up`, or use "
                       "the command: `pulumi state unprotect`")
    return [s for s in chosen if not s.get("protect")]


def refresh_all(states: list[State], steps: Steps) -> bool:
    ok = True
    for state in states:
        if (not state.get("custom") or state.get("external")
                or state["type"].startswith("pulumi:providers:")):
            continue
        try:
            with steps.gate.step():
                steps.refresh(state)
        except StepFailed:
            ok = False
        except Halted:
            return False
    return ok
