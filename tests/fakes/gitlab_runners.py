"""Runner operations of the fake GitLab: create a runner for one project, delete it.

- `POST /user/runners` (https://docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user):
  a token with the `create_runner` scope (or `api`), `runner_type` and, for
  `project_type`, `project_id`; answers 201 `{id, token: "glrt-...", token_expires_at}`.
  A project the user cannot manage is refused 403 (the scope resolves to nothing).
- `DELETE /runners/:id` (https://docs.gitlab.com/api/runners/#delete-a-runner-by-id): 204.
- `GET /projects/:id/runners?type=project_type` (https://docs.gitlab.com/api/runners/#list-projects-runners):
  the project's runners with `description` and `status` (online, offline, stale,
  never_contacted; tests set `runner["status"]`), paginated by `page` and `per_page`.
- Groups (`fake.add_group(path, owner=...)`): `GET /groups/:id`
  (https://docs.gitlab.com/api/groups/#get-a-single-group), a `group_type` runner with
  `group_id` (only a group Owner may create one: 403 otherwise, as for a project the user
  cannot manage), `GET /groups/:id/runners?type=group_type`
  (https://docs.gitlab.com/api/runners/#list-groups-runners).
- `DELETE /runners` with the runner's own `token` as a form field, no user token
  (https://docs.gitlab.com/api/runners/#delete-a-runner-by-authentication-token): 204, or
  403 for a token of no runner. The startup script's teardown uses this one.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from tests.fakes.http import Request, Response

if TYPE_CHECKING:
    from tests.fakes.gitlab import FakeGitLab

FORBIDDEN = Response(403, {"message": "403 Forbidden"})
RUNNER_NOT_FOUND = Response(404, {"message": "404 Runner Not Found"})
INSUFFICIENT_SCOPE = Response(403, {
    "error": "insufficient_scope",
    "error_description": "The request requires higher privileges than provided by the "
                         "access token.", "scope": "create_runner"})
RUNNER_TYPES = ("instance_type", "group_type", "project_type")


def _params(request: Request) -> dict[str, Any]:
    """python-gitlab sends JSON; curl sends a form; either may use the query string."""
    if request.headers.get("content-type", "").startswith("application/json"):
        return {**request.query, **(request.json() or {})}
    form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
    return {**request.query, **form}


def create_runner(fake: FakeGitLab, request: Request) -> Response:
    if request.headers.get("x-fake-token-kind") not in ("api", "create_runner"):
        return INSUFFICIENT_SCOPE
    data = _params(request)
    if data.get("runner_type") not in RUNNER_TYPES:
        return Response(400, {"error": "runner_type is missing, runner_type does not have a "
                                       "valid value"})
    owner: dict[str, Any]
    if data["runner_type"] == "group_type":
        if "group_id" not in data:
            return Response(400, {"message": "400 Bad request - group_id is missing"})
        group = fake.group(str(data["group_id"]))
        if group is None or not group.owner:
            return FORBIDDEN
        owner = {"group_id": group.id, "project_id": None}
    elif data["runner_type"] != "project_type":
        return FORBIDDEN  # the fake has no administrators
    else:
        if "project_id" not in data:
            return Response(400, {"message": "400 Bad request - project_id is missing"})
        if fake.project(str(data["project_id"])) is None:
            return FORBIDDEN
        owner = {"project_id": int(data["project_id"])}
    optional = ("description", "tag_list", "run_untagged", "locked", "maximum_timeout", "paused")
    runner: dict[str, Any] = {"id": fake.next_id(), **owner,
                              "token": "glrt-t1_" + secrets.token_urlsafe(15),
                              **{k: data[k] for k in optional if k in data}}
    fake.runners[runner["id"]] = runner
    return Response(201, {"id": runner["id"], "token": runner["token"],
                          "token_expires_at": None})


def _runner_json(runner: dict[str, Any]) -> dict[str, Any]:
    return {"id": runner["id"], "description": runner.get("description", ""),
            "runner_type": "group_type" if runner.get("group_id") else "project_type",
            "paused": runner.get("paused", False),
            "is_shared": False, "online": runner.get("status") == "online",
            "status": runner.get("status", "never_contacted"),
            "tag_list": runner.get("tag_list", []), "locked": runner.get("locked", False),
            "maximum_timeout": runner.get("maximum_timeout")}


def list_project_runners(fake: FakeGitLab, request: Request, id: str) -> Response:
    project = fake.project(id)
    if project is None or request.headers.get("x-fake-token-kind") not in ("api", "read"):
        return Response(404, {"message": "404 Project Not Found"})
    kind = request.query.get("type")
    if kind not in (None, "project_type"):
        return Response(200, [])  # the fake has no group or instance runners
    mine = [_runner_json(r) for r in fake.runners.values() if r["project_id"] == project.id]
    size = min(int(request.query.get("per_page", 20)), 100)
    page = max(int(request.query.get("page", 1)), 1)
    return Response(200, mine[(page - 1) * size:page * size])


def get_group(fake: FakeGitLab, request: Request, id: str) -> Response:
    group = fake.group(id)
    if group is None or request.headers.get("x-fake-token-kind") not in ("api", "read"):
        return Response(404, {"message": "404 Group Not Found"})
    return Response(200, {"id": group.id, "full_path": group.path, "path": group.path
                          .rsplit("/", 1)[-1], "name": group.path.rsplit("/", 1)[-1]})


def list_group_runners(fake: FakeGitLab, request: Request, id: str) -> Response:
    group = fake.group(id)
    if group is None or request.headers.get("x-fake-token-kind") not in ("api", "read"):
        return Response(404, {"message": "404 Group Not Found"})
    if not group.owner:
        return FORBIDDEN  # listing a group's runners takes the Owner role too
    if request.query.get("type") not in (None, "group_type"):
        return Response(200, [])
    mine = [_runner_json(r) for r in fake.runners.values() if r.get("group_id") == group.id]
    size = min(int(request.query.get("per_page", 20)), 100)
    page = max(int(request.query.get("page", 1)), 1)
    return Response(200, mine[(page - 1) * size:page * size])


def get_runner(fake: FakeGitLab, request: Request, runner_id: str) -> Response:
    runner = fake.runners.get(int(runner_id)) if runner_id.isdigit() else None
    return Response(200, _runner_json(runner)) if runner else RUNNER_NOT_FOUND


def delete_runner(fake: FakeGitLab, request: Request, runner_id: str) -> Response:
    if not runner_id.isdigit() or int(runner_id) not in fake.runners:
        return RUNNER_NOT_FOUND
    if request.headers.get("x-fake-token-kind") != "api":
        return FORBIDDEN
    del fake.runners[int(runner_id)]
    return Response(204)


def delete_runner_by_token(fake: FakeGitLab, request: Request) -> Response:
    token = _params(request).get("token")
    found = next((r for r in fake.runners.values() if token and r["token"] == token), None)
    if found is None:
        return FORBIDDEN
    del fake.runners[found["id"]]
    return Response(204)


def runner_token_request(request: Request) -> bool:
    """Requests authenticated by a runner token, not a user token."""
    return request.method == "DELETE" and request.path.endswith("/api/v4/runners")


ROUTES = (
    ("POST", "/user/runners", create_runner),
    ("GET", "/runners/{runner_id}", get_runner),
    ("GET", "/projects/{id}/runners", list_project_runners),
    ("GET", "/groups/{id}", get_group),
    ("GET", "/groups/{id}/runners", list_group_runners),
    ("DELETE", "/runners/{runner_id}", delete_runner),
    ("DELETE", "/runners", delete_runner_by_token),
)
