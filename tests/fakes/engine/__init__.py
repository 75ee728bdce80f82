"""A stand-in `pulumi` CLI that the real Automation API drives as a subprocess; see
tests/fakes/README.md ("Fake Pulumi engine") for what it models and what it does not."""

from __future__ import annotations

from typing import Any

__all__ = ["FakeCloud", "install_fake_pulumi"]


def __getattr__(name: str) -> Any:  # lazy, so the CLI's own start stays cheap
    if name == "FakeCloud":
        from tests.fakes.engine.cloud import FakeCloud
        return FakeCloud
    if name == "install_fake_pulumi":
        from tests.fakes.engine.install import install_fake_pulumi
        return install_fake_pulumi
    raise AttributeError(name)
