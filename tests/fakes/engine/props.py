"""Property values as the engine keeps them: JSON values with Pulumi's secret wrapper.

A secret travels as `{SIG: SECRET, "value": v}` on the wire and in memory; on disk its value is
replaced by a `ciphertext` (see secrets.py). Inputs handed to providers are revealed first, as
the real engine does for providers that do not accept secrets.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.protobuf import struct_pb2

SIG = "4dabf18193072939515e22adb298388d"
SECRET = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
MASK = "[secret]"


def from_struct(struct: struct_pb2.Struct | None) -> dict[str, Any]:
    from google.protobuf import json_format
    return {} if struct is None else json_format.MessageToDict(struct)


def to_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    from google.protobuf import struct_pb2
    struct = struct_pb2.Struct()
    struct.update(value or {})
    return struct


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG) == SECRET


def secret(value: Any) -> dict[str, Any]:
    return value if is_secret(value) else {SIG: SECRET, "value": value}


def reveal(value: Any) -> Any:
    """The value with every secret wrapper removed (what a provider sees)."""
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def mask(value: Any) -> Any:
    """The value with every secret shown as "[secret]" (what events and plain output show)."""
    if is_secret(value):
        return MASK
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def mark_outputs(outputs: dict[str, Any], inputs: dict[str, Any],
                 additional: list[str]) -> dict[str, Any]:
    """Outputs whose input was secret, or named in additionalSecretOutputs, become secret."""
    marked = {}
    for key, value in outputs.items():
        if key in additional or is_secret(inputs.get(key)):
            value = secret(reveal(value))
        marked[key] = value
    return marked


def changed_keys(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    keys = set(olds) | set(news)
    return sorted(k for k in keys if _canon(olds.get(k)) != _canon(news.get(k)))


def _canon(value: Any) -> str:
    return json.dumps(reveal(value), sort_keys=True)


def apply_ignore_changes(news: dict[str, Any], olds: dict[str, Any],
                         paths: list[str]) -> dict[str, Any]:
    """For each ignored property path (`a`, `a.b`, `a["b"]`), keep the old input value."""
    result = copy.deepcopy(news)
    for path in paths:
        parts = [p for p in path.replace('["', ".").replace('"]', "").split(".") if p]
        if not parts:
            continue
        old_parent, new_parent = olds, result
        for part in parts[:-1]:
            old_parent = old_parent.get(part) if isinstance(old_parent, dict) else None
            if not isinstance(new_parent.get(part), dict):
                new_parent[part] = {}
            new_parent = new_parent[part]
        last = parts[-1]
        if isinstance(old_parent, dict) and last in old_parent:
            new_parent[last] = copy.deepcopy(old_parent[last])
        else:
            new_parent.pop(last, None)
    return result


def parse_urn(urn: str) -> tuple[str, str, str, str]:
    """(stack, project, qualified type chain, name) of `urn:pulumi:<stack>::<project>::<t>::<n>`."""
    head, project, chain, *rest = urn.split("::")
    return head.split(":", 2)[2], project, chain, "::".join(rest)


def make_urn(stack: str, project: str, type_: str, name: str, parent: str = "") -> str:
    chain = type_
    if parent:
        parent_chain = parse_urn(parent)[2]
        if parent_chain != "pulumi:pulumi:Stack":
            chain = f"{parent_chain}${type_}"
    return f"urn:pulumi:{stack}::{project}::{chain}::{name}"
