"""The fake GitHub's OpenAPI check: it accepts what GitHub accepts and rejects the rest."""

from __future__ import annotations

import json

import pytest
import requests

from tests.fakes.fixtures import GITHUB_APP_TOKEN
from tests.fakes.openapi import SUBSET, OpenAPIValidator
from tests.openapi.extract import OPERATIONS

V = OpenAPIValidator()
R = "/repos/acme/models"


def test_subset_holds_exactly_the_listed_operations_including_runner_ones():
    operations = json.loads(SUBSET.read_text())["operations"]
    assert sorted(operations) == sorted(OPERATIONS)
    assert "actions/generate-runner-jitconfig-for-repo" in operations


@pytest.mark.parametrize(("method", "path", "query", "body"), [
    ("GET", R + "/issues/3/comments", {"per_page": "100", "page": "2"}, b""),
    ("POST", R + "/issues/3/comments", {}, b'{"body": "hi"}'),
    ("PATCH", R + "/issues/comments/77", {}, b'{"body": "hi"}'),
    ("GET", R + "/git/ref/heads/cml-infra-assets", {}, b""),
    ("PUT", R + "/contents/images/a%20b.png", {}, b'{"message": "m", "content": "eA==", '
                                                    b'"branch": "x"}'),
    ("POST", R + "/check-runs", {}, b'{"name": "n", "head_sha": "abc", "conclusion": "success",'
                                     b' "status": "completed", "output": {"title": "t", '
                                     b'"summary": "s"}}'),
    ("POST", R + "/actions/runners/generate-jitconfig", {},
     b'{"name": "r", "runner_group_id": 1, "labels": ["gpu"]}'),
])
def test_valid_requests_pass(method, path, query, body):
    assert V.check(method, path, query, body) is None


@pytest.mark.parametrize(("method", "path", "query", "body", "why"), [
    ("GET", R + "/issues/3/commentz", {}, b"", "no operation"),
    ("DELETE", R + "/issues/3/comments", {}, b"", "method not allowed"),
    ("GET", R + "/issues/three/comments", {}, b"", "not an integer"),
    ("GET", R + "/issues/3/comments", {"perpage": "100"}, b"", "unknown query parameter"),
    ("POST", R + "/issues/3/comments", {}, b"", "needs a JSON body"),
    ("POST", R + "/issues/3/comments", {}, b'{"text": "hi"}', "'body' is a required property"),
    ("POST", R + "/issues/3/comments", {}, b'{"body": 5}', "is not of type 'string'"),
    ("POST", R + "/check-runs", {}, b'{"name": "n", "head_sha": "a", "conclusion": "great"}',
     "is not one of"),
    ("POST", R + "/check-runs", {}, b'{"name": "n", "head_sha": "a", "output": {"title": "t",'
     b' "summary": "' + b"x" * 65536 + b'"}}', "is too long"),
])
def test_invalid_requests_are_rejected_with_the_reason(method, path, query, body, why):
    problem = V.check(method, path, query, body)
    assert problem is not None and why in problem


def test_the_fake_answers_422_and_logs_the_rejection(fake_github):
    fake_github.add_repo("acme/models")
    answer = requests.post(f"{fake_github.api_url}{R}/issues/1/comments", json={"bdy": "x"},
                           headers={"Authorization": f"token {GITHUB_APP_TOKEN}"}, timeout=5)
    assert answer.status_code == 422
    assert fake_github.rejections == [
        f"POST {R}/issues/1/comments: body: 'body' is a required property"]


@pytest.mark.parametrize(("body", "status", "stored"), [
    ({"status": "completed"}, 422, None),  # "conclusion: Required if ... a status of completed"
    ({"completed_at": "2026-01-01T00:00:00Z"}, 422, None),
    ({"status": "queued"}, 201, "queued"),
    ({"status": "in_progress"}, 201, "in_progress"),
    ({}, 201, "queued"),  # the documented default
    ({"status": "queued", "conclusion": "skipped"}, 201, "completed"),  # a conclusion completes
])
def test_the_fake_models_githubs_rule_between_status_and_conclusion(fake_github, body, status,
                                                                   stored):
    # https://docs.github.com/rest/checks/runs#create-a-check-run
    fake_github.add_repo("acme/models")
    answer = requests.post(f"{fake_github.api_url}{R}/check-runs",
                           json={"name": "n", "head_sha": "a" * 40, **body},
                           headers={"Authorization": f"token {GITHUB_APP_TOKEN}"}, timeout=5)
    assert answer.status_code == status
    runs = fake_github.repos["acme/models"].check_runs
    assert [r["status"] for r in runs] == ([stored] if stored else [])


@pytest.mark.parametrize(("state", "status"), [
    ("pending", 201), ("running", 201), ("success", 201), ("failed", 201), ("canceled", 201),
    ("skipped", 201), ("cancelled", 400), ("failure", 400), ("completed", 400), (None, 400)])
def test_the_fake_gitlab_takes_only_the_documented_commit_status_states(fake_gitlab, state,
                                                                       status):
    from tests.fakes.fixtures import GITLAB_TOKEN

    project = fake_gitlab.add_project("acme/models")
    project.commits.add("a" * 40)
    answer = requests.post(f"{fake_gitlab.api_url}/projects/{project.id}/statuses/{'a' * 40}",
                           json={"state": state, "name": "n"},
                           headers={"PRIVATE-TOKEN": GITLAB_TOKEN}, timeout=5)
    assert answer.status_code == status
