"""Check a request against GitHub's OpenAPI description (the subset in tests/openapi/).

Path, method, path and query parameters, and the JSON body are checked; a request that
matches no operation of the subset is rejected too, so using a new endpoint means adding
its operation id to tests/openapi/extract.py first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft7Validator

SUBSET = Path(__file__).resolve().parent.parent / "openapi" / "github-subset.json"


@dataclass(frozen=True)
class _Operation:
    op_id: str
    method: str
    pattern: re.Pattern[str]
    params: dict[tuple[str, str], dict[str, Any]]  # (in, name) -> parameter
    body: dict[str, Any] | None
    body_required: bool


def _compile(op_id: str, spec: dict[str, Any]) -> _Operation:
    params = {(p["in"], p["name"]): p for p in spec["parameters"]}
    pattern = spec["path"]
    for (where, name), param in params.items():
        if where == "path":
            group = ".+" if param.get("x-multi-segment") else "[^/]+"
            pattern = pattern.replace("{" + name + "}", f"(?P<{name.replace('-', '_')}>{group})")
    return _Operation(op_id, spec["method"], re.compile(f"^{pattern}$"), params,
                      spec["requestBody"], spec["bodyRequired"])


class OpenAPIValidator:
    def __init__(self, subset: Path = SUBSET) -> None:
        data = json.loads(subset.read_text())
        self.operations = [_compile(k, v) for k, v in data["operations"].items()]

    def check(self, method: str, path: str, query: dict[str, str], body: bytes) -> str | None:
        """None when the request is valid, else why it is not."""
        candidates = [op for op in self.operations if op.pattern.match(path)]
        if not candidates:
            return f"{method} {path}: no operation of the OpenAPI subset has this path"
        # A literal segment beats a template one: /git/ref/{ref} vs /commits/{ref}.
        matching = [op for op in candidates if op.method == method]
        if not matching:
            return f"{method} {path}: method not allowed (spec has {candidates[0].method})"
        problems = [self._problems(op, path, query, body) for op in matching]
        best = min(problems, key=len)
        return "; ".join(f"{method} {path}: {p}" for p in best) or None

    def _problems(self, op: _Operation, path: str, query: dict[str, str],
                  body: bytes) -> list[str]:
        found = op.pattern.match(path)
        assert found is not None
        problems = []
        for name, raw in found.groupdict().items():
            param = op.params.get(("path", name)) or op.params.get(("path", name.replace("_", "-")))
            problems += _value_problems(param, unquote(raw), f"path parameter {name}")
        for name, raw in query.items():
            param = op.params.get(("query", name))
            if param is None:
                problems.append(f"unknown query parameter {name!r} for {op.op_id}")
            else:
                problems += _value_problems(param, raw, f"query parameter {name}")
        return problems + _body_problems(op, body)


def _value_problems(param: dict[str, Any] | None, raw: str, label: str) -> list[str]:
    schema = (param or {}).get("schema", {})
    value: Any = raw
    if schema.get("type") == "integer":
        if not re.fullmatch(r"-?\d+", raw):
            return [f"{label} {raw!r} is not an integer"]
        value = int(raw)
    elif schema.get("type") == "boolean":
        value = raw == "true"
    return [f"{label}: {e.message}" for e in Draft7Validator(schema).iter_errors(value)]


def _body_problems(op: _Operation, body: bytes) -> list[str]:
    if op.body is None:
        return [] if not body.strip() or body.strip() == b"{}" else [
            f"{op.op_id} takes no request body"]
    if not body:
        return [f"{op.op_id} needs a JSON body"] if op.body_required else []
    try:
        data = json.loads(body)
    except ValueError:
        return ["request body is not JSON"]
    return [f"body{''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message}"
            for e in Draft7Validator(op.body).iter_errors(data)]
