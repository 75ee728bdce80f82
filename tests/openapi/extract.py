"""Extract the GitHub REST operations cml-infra uses from GitHub's official OpenAPI description.

The description ships in the npm package @octokit/openapi (file
`generated/api.github.com.json`, https://github.com/octokit/openapi). It is 13 MB, so only
the operations listed below are kept, with every `$ref` inlined and OpenAPI 3.0's
`nullable` turned into JSON Schema, in `tests/openapi/github-subset.json`, which the fake
GitHub validates every request against. Regenerate after changing OPERATIONS:

    cd /tmp && npm pack @octokit/openapi && tar xzf octokit-openapi-*.tgz
    python tests/openapi/extract.py /tmp/package/generated/api.github.com.json

Response schemas are left out: they are large and the fake writes its own responses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("github-subset.json")

OPERATIONS = (
    # reporting: repositories, pull requests, issues, comments
    "repos/get",
    "repos/get-commit",
    "pulls/get",
    "issues/get",
    "repos/list-pull-requests-associated-with-commit",
    "issues/list-comments",
    "issues/create-comment",
    "issues/update-comment",
    "repos/list-comments-for-commit",
    "repos/create-commit-comment",
    "repos/update-commit-comment",
    # reporting: images on an assets branch
    "git/get-ref",
    "git/create-ref",
    "git/create-tree",
    "git/create-commit",
    "repos/get-content",
    "repos/create-or-update-file-contents",
    # reporting: checks
    "checks/create",
    "checks/list-for-ref",
    # runners of a repository
    "actions/generate-runner-jitconfig-for-repo",
    "actions/list-runner-applications-for-repo",
    "actions/list-self-hosted-runners-for-repo",
    "actions/get-self-hosted-runner-for-repo",
    "actions/delete-self-hosted-runner-from-repo",
    "actions/create-registration-token-for-repo",
    "actions/create-remove-token-for-repo",
    # runners of an organisation (infra.forges.runners.GitHubScope without a repository)
    "actions/generate-runner-jitconfig-for-org",
    "actions/list-runner-applications-for-org",
    "actions/list-self-hosted-runners-for-org",
    "actions/get-self-hosted-runner-for-org",
    "actions/delete-self-hosted-runner-from-org",
)


_NOISE = ("description", "example", "examples", "x-github")


def _resolve(node: Any, spec: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline `$ref`s and map `nullable: true` to a JSON Schema type union."""
    if isinstance(node, list):
        return [_resolve(item, spec, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:  # recursive schema: stop, accept anything below this point
            return {}
        target: Any = spec
        for part in ref.lstrip("#/").split("/"):
            target = target[part]
        return _resolve(target, spec, (*seen, ref))
    out = {key: _resolve(value, spec, seen) for key, value in node.items() if key not in _NOISE}
    if isinstance(node.get("properties"), dict):  # property names are data, not annotations
        out["properties"] = {name: _resolve(value, spec, seen)
                             for name, value in node["properties"].items()}
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif "type" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def extract(spec: dict[str, Any], operation_ids: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or op.get("operationId") not in operation_ids:
                continue
            params = _resolve(item.get("parameters", []) + op.get("parameters", []), spec)
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            found[op["operationId"]] = {
                "method": method.upper(),
                "path": path,
                "parameters": [
                    {k: p[k] for k in ("name", "in", "required", "schema", "x-multi-segment")
                     if k in p}
                    for p in params
                ],
                "requestBody": _resolve(body.get("schema"), spec) if body else None,
                "bodyRequired": bool(op.get("requestBody", {}).get("required")),
            }
    missing = sorted(set(operation_ids) - set(found))
    if missing:
        raise SystemExit(f"operations not in the description: {', '.join(missing)}")
    return {"source": "@octokit/openapi generated/api.github.com.json",
            "openapi": spec.get("openapi"), "version": spec.get("info", {}).get("version"),
            "operations": dict(sorted(found.items()))}


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    spec = json.loads(Path(argv[1]).read_text())
    OUTPUT.write_text(json.dumps(extract(spec, OPERATIONS), indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(OPERATIONS)} operations to {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv)
