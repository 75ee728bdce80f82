"""A pool with a machine identity lets its jobs reach the metadata service; others do not."""

from __future__ import annotations

import pytest

from infra.engine.program import placeholder_registrar, startup_config
from infra.spec import build_spec


@pytest.mark.parametrize(("identity", "expected"), [(None, False), ("data-reader", True)])
def test_job_metadata_access_follows_the_identity(identity: str | None, expected: bool):
    spec = build_spec(name="train", cloud="aws", gpu=True, repo="acme/models",
                      identity=identity)
    registration = placeholder_registrar(spec, 0)
    config = startup_config(spec, registration, "c2VjcmV0LWppdA==")
    assert config.job_metadata_access is expected
