"""Dynamic providers for the stand-in's own tests (importable by reference from the plugin
process, as the product's providers are): they leave marker files where they are told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, ResourceProvider


class MarkerProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        if props.get("fail"):
            raise RuntimeError(f"marker provider refused: {props['fail']}")
        path = Path(props["folder"]) / f"{props['label']}.created"
        path.write_text(props.get("token") or "")
        return CreateResult(id_=props["label"], outs={**props, "path": str(path)})

    def delete(self, id: str, props: dict[str, Any]) -> None:
        (Path(props["folder"]) / f"{id}.deleted").write_text("gone")

    def read(self, id: str, props: dict[str, Any]) -> ReadResult:
        exists = (Path(props["folder"]) / f"{id}.created").exists()
        return ReadResult(id if exists else "", props)


class Marker(Resource):
    path: pulumi.Output[str]

    def __init__(self, name: str, folder: str, label: str, token: Any = None,
                 fail: str = "", opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(MarkerProvider(), name,
                         {"folder": folder, "label": label, "token": token, "fail": fail,
                          "path": None}, opts)
