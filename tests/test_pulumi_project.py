"""Pulumi.yaml is a project file the real pulumi CLI accepts, and the program reads it."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT

# Pulumi's own project schema (pulumi repository, sdk/go/common/workspace/project.json),
# copied into tests/schemas (see its README for source and licence).
SCHEMA = ROOT / "tests" / "schemas" / "pulumi-project.json"
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def test_pulumi_yaml_validates_against_pulumis_project_schema():
    assert SCHEMA.exists(), f"{SCHEMA} is missing"
    jsonschema.validate(PROJECT, json.loads(SCHEMA.read_text()))


def test_schema_check_can_fail():
    broken = {**PROJECT, "config": {"cml-infra:pools": {"type": "object"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(SCHEMA.read_text()))


def test_project_points_at_the_program_and_declares_typed_settings():
    assert PROJECT["name"] == "cml-infra"
    assert PROJECT["runtime"]["name"] == "python"
    assert (ROOT / PROJECT["main"] / "__main__.py").exists()
    for key, setting in PROJECT["config"].items():
        assert key.startswith("cml-infra:")
        assert setting["type"] in ("string", "integer", "boolean", "array")
        assert setting["description"] and "default" in setting
