"""JSON and YAML documents read strictly: a repeated key is an error, not a silent overwrite.

Both `json.loads` (RFC 8259 section 4 leaves repeated names to the reader) and PyYAML
(https://github.com/yaml/pyyaml/issues/165) keep the last of two equal keys without a word,
so a metrics file can lose a value unseen. Every malformed document becomes one
`ReportFileError` sentence that names the file.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from reporting.errors import ReportFileError


class DuplicateKeyError(ValueError):
    """A mapping names the same key twice; `line` is 1-based when the format knows it."""

    def __init__(self, key: object, line: int | None = None) -> None:
        super().__init__(key)
        self.key, self.line = key, line


class WrittenKey(str):
    """A YAML key that is not a string (`1`, `true`, `1.0`, `null`), kept as written: metric
    names are text, and Python takes 1, 1.0 and True for one dict key where YAML has three.
    Equal only to a key of the same type and value, so `1:` and `true:` are two keys, and
    `1:` next to `'1':` two keys that flatten into one name (refused there)."""

    typed: tuple[type, Any]

    def __new__(cls, text: str, value: Any) -> WrittenKey:
        made = super().__new__(cls, text)
        made.typed = (type(value), value)
        hash(made.typed)  # TypeError for an unhashable value
        return made

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WrittenKey) and self.typed == other.typed

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.typed)


def load_json(text: str, name: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as exc:
        raise ReportFileError(
            f"{name} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "fix the file and try again."
        ) from None
    except DuplicateKeyError as exc:
        raise ReportFileError(duplicate_sentence(name, exc)) from None


def load_yaml(text: str, name: str) -> Any:
    import yaml  # imported here: `cml-infra --help` does not need it

    try:
        return yaml.load(text, Loader=_unique_key_loader())
    except DuplicateKeyError as exc:
        raise ReportFileError(duplicate_sentence(name, exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise ReportFileError(
            f"{name} is not valid YAML ({problem}{where}); fix the file and try again."
        ) from None


def duplicate_sentence(name: str, exc: DuplicateKeyError) -> str:
    where = f" (again at line {exc.line})" if exc.line else ""
    return f"{name} has the key '{exc.key}' twice{where}; keep only one of them."


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if clash := next((key for i, key in enumerate(keys) if key in keys[:i]), None):
        raise DuplicateKeyError(clash)
    return dict(pairs)


@functools.cache
def _unique_key_loader() -> type:
    """PyYAML's SafeLoader, refusing a key repeated in one mapping; a `<<` merge key may
    still override what it merges (https://yaml.org/type/merge.html)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: list[Any] = []
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self._key(key_node)
                if key in seen:
                    raise DuplicateKeyError(key, key_node.start_mark.line + 1)
                seen.append(key)
            if isinstance(node, yaml.MappingNode):
                self.flatten_mapping(node)  # `<<` merges: what follows may override them
            mapping: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._key(key_node)
                try:
                    hash(key)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        "found unhashable key", key_node.start_mark) from None
                mapping[key] = self.construct_object(value_node, deep=deep)
            return mapping

        def _key(self, key_node: Any) -> Any:
            """A scalar key that is not a string, as written (`1`, `true`, `0x10`)."""
            key = self.construct_object(key_node, deep=True)
            if isinstance(key_node, yaml.ScalarNode) and not isinstance(key, str):
                try:
                    return WrittenKey(key_node.value, key)
                except TypeError:  # an unhashable value: refused as PyYAML refuses it
                    return key
            return key

    return UniqueKeyLoader
