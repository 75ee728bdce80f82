"""The fake cloud: live objects of one backend in `<backend dir>/.fake-cloud/objects.json`.

Several engines (and the test) may touch it at once, so every read-modify-write holds an
exclusive flock on `.fake-cloud/lock`. Behaviour is injected through `.fake-cloud/control.json`:

    {"delays":   {"create": {"<type glob>": seconds}, "delete": {"<type glob>": seconds}},
     "failures": [{"op": "create", "type": "<type glob>", "name": "<name glob>",
                   "message": "InsufficientInstanceCapacity: no capacity", "times": 1}],
     "replace_on": {"<type>": ["<input key>", ...]}}

`times` counts down on each failure it causes (null: fail forever). Secret inputs are stored
as "[secret]": nothing under the backend folder may hold a plaintext secret.
"""

from __future__ import annotations

import fcntl
import fnmatch
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tests.fakes.engine import cloud_outputs
from tests.fakes.engine.props import mask, parse_urn, reveal


class CloudError(Exception):
    """A failure the fake cloud was told to inject."""


class FakeCloud:
    def __init__(self, backend_dir: Path | str) -> None:
        self.dir = Path(backend_dir) / ".fake-cloud"

    # --- what tests use --------------------------------------------------------------
    def objects(self, type: str | None = None, stack: str | None = None) -> list[dict[str, Any]]:
        with self._locked():
            objs = list(self._load("objects.json", {}).values())
        return [o for o in objs if (type is None or fnmatch.fnmatchcase(o["type"], type))
                and (stack is None or o["stack"] == stack)]

    def get(self, id: str) -> dict[str, Any] | None:
        with self._locked():
            return self._load("objects.json", {}).get(id)

    def delete(self, id: str) -> bool:
        """Remove an object behind the engine's back (a machine that deleted itself)."""
        with self._locked():
            objs = self._load("objects.json", {})
            found = objs.pop(id, None) is not None
            self._store("objects.json", objs)
        return found

    def set_delay(self, type: str, *, create: float | None = None,
                  delete: float | None = None) -> None:
        with self._edit_control() as control:
            for op, secs in (("create", create), ("delete", delete)):
                if secs is not None:
                    control.setdefault("delays", {}).setdefault(op, {})[type] = secs

    def fail(self, message: str, *, op: str = "create", type: str = "*", name: str = "*",
             times: int | None = 1) -> None:
        with self._edit_control() as control:
            control.setdefault("failures", []).append(
                {"op": op, "type": type, "name": name, "message": message, "times": times})

    def replace_on(self, type: str, *keys: str) -> None:
        with self._edit_control() as control:
            control.setdefault("replace_on", {})[type] = list(keys)

    def control(self) -> dict[str, Any]:
        with self._locked():
            return self._load("control.json", {})

    # --- what the engine uses --------------------------------------------------------
    def create(self, type: str, urn: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        stack, _, _, name = parse_urn(urn)
        fault = self._fault("create", type, name)
        time.sleep(self._delay("create", type))
        if fault:
            raise CloudError(fault)
        id = cloud_outputs.new_id(type, name, reveal(inputs))
        outputs = cloud_outputs.computed(type, name, id, reveal(inputs))
        self._put({"id": id, "type": type, "urn": urn, "stack": stack, "name": name,
                   "inputs": mask(inputs), "created": _now()})
        return id, outputs

    def update(self, id: str, type: str, urn: str, inputs: dict[str, Any]) -> dict[str, Any]:
        name = parse_urn(urn)[3]
        fault = self._fault("update", type, name)
        if fault:
            raise CloudError(fault)
        with self._locked():
            objs = self._load("objects.json", {})
            if id not in objs:
                raise CloudError(f"{type} {id} does not exist (NotFound)")
            objs[id]["inputs"] = mask(inputs)
            self._store("objects.json", objs)
        return cloud_outputs.computed(type, name, id, reveal(inputs))

    def destroy(self, id: str, type: str, urn: str) -> None:
        fault = self._fault("delete", type, parse_urn(urn)[3])
        time.sleep(self._delay("delete", type))
        if fault:
            raise CloudError(fault)
        self.delete(id)  # already gone counts as deleted, as with most providers

    def replace_keys(self, type: str) -> list[str]:
        return self.control().get("replace_on", {}).get(type, [])

    # --- internals ---------------------------------------------------------------------
    def _put(self, obj: dict[str, Any]) -> None:
        with self._locked():
            objs = self._load("objects.json", {})
            objs[obj["id"]] = obj
            self._store("objects.json", objs)

    def _delay(self, op: str, type: str) -> float:
        delays = self.control().get("delays", {}).get(op, {})
        return max([float(s) for pat, s in delays.items() if fnmatch.fnmatchcase(type, pat)],
                   default=0.0)

    def _fault(self, op: str, type: str, name: str) -> str | None:
        with self._locked():
            control = self._load("control.json", {})
            for rule in control.get("failures", []):
                if (rule.get("op", "create") == op and rule.get("times") != 0
                        and fnmatch.fnmatchcase(type, rule.get("type", "*"))
                        and fnmatch.fnmatchcase(name, rule.get("name", "*"))):
                    if rule.get("times") is not None:
                        rule["times"] -= 1
                    self._store("control.json", control)
                    return rule["message"]
        return None

    @contextmanager
    def _edit_control(self) -> Iterator[dict[str, Any]]:
        with self._locked():
            control = self._load("control.json", {})
            yield control
            self._store("control.json", control)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _load(self, name: str, default: Any) -> Any:
        path = self.dir / name
        return json.loads(path.read_text()) if path.exists() else default

    def _store(self, name: str, data: Any) -> None:
        tmp = self.dir / f".{name}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.dir / name)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
