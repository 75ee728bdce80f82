"""What `cml-infra up` decides before calling the library: the stack name and warnings.

Kept apart from the command module so that it stays a thin parse-call-render function.
"""

from __future__ import annotations

from collections.abc import Mapping

STACK_HELP = ("Pulumi stack (default: the pool name, plus the CI run when one is set: "
              "<name>-gh-<GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT> or <name>-gl-<CI_PIPELINE_ID>, "
              "so that concurrent CI runs on a shared backend never share a stack).")


def default_stack(pool: str, env: Mapping[str, str]) -> str:
    """The pool name, made unique per CI run: two runs sharing a stack would lock each
    other out, and a later run's labels would replace the machine an earlier run uses."""
    if env.get("GITHUB_RUN_ID"):
        # GitHub run ids are numbers; a re-run keeps the id and bumps the attempt:
        # https://docs.github.com/en/actions/reference/variables-reference
        attempt = env.get("GITHUB_RUN_ATTEMPT")
        return f"{pool}-gh-{env['GITHUB_RUN_ID']}" + (f"-{attempt}" if attempt else "")
    if env.get("CI_PIPELINE_ID"):
        return f"{pool}-gl-{env['CI_PIPELINE_ID']}"
    return pool


def state_warning(env: Mapping[str, str]) -> str | None:
    """A warning when the stack state would live in a CI job's throw-away home directory."""
    if env.get("CI", "").lower() != "true" or env.get("PULUMI_BACKEND_URL"):
        return None
    return ("Warning: PULUMI_BACKEND_URL is unset, so the stack state stays in this CI job "
            "and is lost with it (the machines still end themselves at --max-runtime); set "
            "PULUMI_BACKEND_URL to an s3://, gs:// or azblob:// bucket to keep it.")
