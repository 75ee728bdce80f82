"""GitLab pools can ask for the docker executor with all GPUs, from a flag or stack config;
GitHub pools are told where containers are chosen there."""

from __future__ import annotations

import pytest

from infra.engine.program import placeholder_registrar, startup_config
from infra.errors import SpecError
from infra.spec import build_spec, pools_from_config
from infra.startup import render_startup_script
from tests.conftest import run_cli


@pytest.mark.parametrize("cloud", ["aws", "gcp", "local"])
def test_docker_reaches_the_startup_script_of_a_gitlab_pool(cloud: str):
    spec = build_spec(name="train", cloud=cloud, gpu=True, forge="gitlab", repo="ml/eval",
                      docker=True)
    config = startup_config(spec, placeholder_registrar(spec, 0), "glrt-PLACEHOLDER")
    assert config.docker is True
    assert "CML_DOCKER=1" in render_startup_script(config)


def test_stack_config_key_docker_is_read_like_the_flag():
    [spec] = pools_from_config([{"name": "train", "forge": "gitlab", "repo": "ml/eval",
                                 "gpu": True, "docker": True}], {})
    assert spec.docker is True


def test_github_pools_refuse_docker_with_a_sentence():
    with pytest.raises(SpecError, match="`container:` in the workflow"):
        build_spec(name="train", forge="github", docker=True)


def test_cli_flag_and_refusal():
    plan = run_cli("up", "--cloud", "aws", "--gpu", "--forge", "gitlab", "--repo", "ml/eval",
                   "--docker", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    refused = run_cli("up", "--cloud", "aws", "--docker", "--dry-run")
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: --docker chooses the GitLab runner's executor")
    assert "Traceback" not in refused.stderr
