"""Stack names and what they say: a pool's base stack, a CI run's runner stack.

Both kinds live in the one Pulumi project `cml-infra`, so a runner stack reads its base with
a plain stack name (the project is the current one, on the DIY backend and Pulumi Cloud alike:
https://www.pulumi.com/docs/iac/concepts/stacks/#stackreferences).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from infra.errors import SpecError
from infra.rules import RunnerSpec

PROJECT = "cml-infra"
BASE_PREFIX = "cml-infra-base-"
# Stack names: letters, digits, `-`, `_` and `.`, at most 100 characters:
# https://www.pulumi.com/docs/iac/concepts/stacks/#create-stack
STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def check_stack_name(name: str) -> str:
    """`name`, or SpecError: an organization prefix (`org/dev`) is refused too, since runner
    names are made from the stack name and the backend's default organization is used."""
    if "/" in name:
        raise SpecError(f"Stack name {name!r} has an organization part; pass the plain name "
                        "after the last '/', since cml-infra keeps its stacks in the backend's "
                        "default organization.")
    if not STACK_NAME.fullmatch(name):
        raise SpecError(f"Stack name {name!r} is not a valid Pulumi stack name; use 1 to 100 "
                        "letters, digits, '-', '_' and '.'.")
    return name


def base_stack_name(spec: RunnerSpec) -> str:
    """`cml-infra-base-<pool>-<cloud>-<region>`: long-lived, never a CI run id in it."""
    return f"{BASE_PREFIX}{spec.name}-{spec.cloud}-{spec.region}"


def is_base(stack: str) -> bool:
    return stack.startswith(BASE_PREFIX)


def run_stacks(pool: str, env: Mapping[str, str], existing: list[str]) -> list[str]:
    """This CI run's runner stacks among `existing`: on GitHub every attempt up to this one
    (a re-run of the clean-up job has a later attempt than the `up` that made the stack; a
    run's attempts never overlap); else the one name `runner_stack_name` gives."""
    mine = runner_stack_name(pool, env)
    run, attempt = env.get("GITHUB_RUN_ID"), env.get("GITHUB_RUN_ATTEMPT")
    if not run or not attempt or not attempt.isdigit():
        return [mine]
    head = f"{pool}-gh-{run}"
    found = [name for name in existing if name == head or (
        name.startswith(f"{head}-") and name[len(head) + 1:].isdigit()
        and int(name[len(head) + 1:]) <= int(attempt))]
    return sorted(found) or [mine]


def runner_stack_name(pool: str, env: Mapping[str, str]) -> str:
    """The pool name, made unique per CI run: two runs sharing a stack would lock each
    other out, and a later run's labels would replace the machine an earlier run uses.
    `up` and `down` of one CI run compute the same name from the same variables."""
    if env.get("GITHUB_RUN_ID"):
        # GitHub run ids are numbers; a re-run keeps the id and bumps the attempt:
        # https://docs.github.com/en/actions/reference/variables-reference
        attempt = env.get("GITHUB_RUN_ATTEMPT")
        return f"{pool}-gh-{env['GITHUB_RUN_ID']}" + (f"-{attempt}" if attempt else "")
    if env.get("CI_PIPELINE_ID"):
        # https://docs.gitlab.com/ci/variables/predefined_variables/
        return f"{pool}-gl-{env['CI_PIPELINE_ID']}"
    return pool
