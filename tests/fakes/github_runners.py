"""Self-hosted runner operations of the fake GitHub, for a repository and an organisation.

Shapes and rules follow https://docs.github.com/en/rest/actions/self-hosted-runners:
every operation needs admin access (a classic PAT with `repo` / `admin:org`; the Actions
GITHUB_TOKEN cannot get Administration permission, so it is refused like a read token);
generate-jitconfig answers 201 with `runner` and `encoded_jit_config` and 409 when a runner
of that name exists. Required fields and 1..100 labels are enforced by the OpenAPI check.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any

from tests.fakes.http import Request, Response

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub

NOT_FOUND = Response(404, {"message": "Not Found",
                           "documentation_url": "https://docs.github.com/rest"})
VERSION = "2.321.0"
PLATFORMS = (("osx", "x64"), ("osx", "arm64"), ("linux", "x64"), ("linux", "arm"),
             ("linux", "arm64"), ("win", "x64"), ("win", "arm64"))


def downloads() -> list[dict[str, Any]]:
    """What GitHub lists: one package per platform, each with its SHA-256."""
    items = []
    for os_name, arch in PLATFORMS:
        ext = "zip" if os_name == "win" else "tar.gz"
        filename = f"actions-runner-{os_name}-{arch}-{VERSION}.{ext}"
        items.append({"os": os_name, "architecture": arch, "filename": filename,
                      "download_url": "https://github.com/actions/runner/releases/download/"
                                      f"v{VERSION}/{filename}",
                      "sha256_checksum": hashlib.sha256(filename.encode()).hexdigest()})
    return items


def _runners(fake: FakeGitHub, scope: str) -> dict[int, dict[str, Any]] | None:
    """The runners of `owner/repo` or of an organisation; None when it does not exist."""
    if "/" in scope:
        repo = fake.repos.get(scope)
        return repo.runners if repo else None
    return fake.orgs.get(scope)


def _refused(request: Request, scope: str) -> Response | None:
    kind = request.headers.get("x-fake-token-kind")
    if kind == "pat":
        return None
    if kind == "app":
        return Response(403, {"message": "Resource not accessible by integration"})
    what = "Repository" if "/" in scope else "Organization"
    return Response(403, {"message": f"Must have admin rights to {what}."})


def _guard(fake: FakeGitHub, request: Request, scope: str
           ) -> tuple[dict[int, dict[str, Any]] | None, Response | None]:
    runners = _runners(fake, scope)
    if runners is None:
        return None, NOT_FOUND
    return runners, _refused(request, scope)


def _runner_json(runner: dict[str, Any]) -> dict[str, Any]:
    labels = [{"id": 1, "name": "self-hosted", "type": "read-only"}] + [
        {"id": 100 + i, "name": name, "type": "custom"} for i, name in enumerate(runner["labels"])]
    return {"id": runner["id"], "name": runner["name"], "os": "Linux", "status": runner["status"],
            "busy": runner.get("busy", False), "ephemeral": True,
            "runner_group_id": runner["runner_group_id"],
            "labels": labels}


def list_downloads(fake: FakeGitHub, request: Request, scope: str) -> Response:
    _, refused = _guard(fake, request, scope)
    return refused or Response(200, fake.runner_downloads)


def generate_jitconfig(fake: FakeGitHub, request: Request, scope: str) -> Response:
    runners, refused = _guard(fake, request, scope)
    if refused or runners is None:
        return refused or NOT_FOUND
    data = request.json()
    if any(r["name"] == data["name"] for r in runners.values()):
        return Response(409, {"message": "Already exists - A runner with the name "
                                         f"{data['name']} already exists."})
    runner = {"id": fake.next_id(), "name": data["name"], "labels": data["labels"],
              "runner_group_id": data["runner_group_id"], "status": "offline"}
    runners[runner["id"]] = runner
    config = {".runner": f"fake runner {runner['id']}", ".credentials": "fake"}
    encoded = base64.b64encode(json.dumps(config).encode()).decode()
    return Response(201, {"runner": _runner_json(runner), "encoded_jit_config": encoded})


def list_runners(fake: FakeGitHub, request: Request, scope: str) -> Response:
    runners, refused = _guard(fake, request, scope)
    if refused or runners is None:
        return refused or NOT_FOUND
    name = request.query.get("name")
    items = [_runner_json(r) for r in runners.values() if name in (None, r["name"])]
    # per_page at most 100, pages from 1:
    # https://docs.github.com/en/rest/actions/self-hosted-runners#list-self-hosted-runners-for-a-repository
    size = min(int(request.query.get("per_page", 30)), 100)
    page = max(int(request.query.get("page", 1)), 1)
    shown = items[(page - 1) * size:page * size]
    return Response(200, {"total_count": len(items), "runners": shown})


def get_runner(fake: FakeGitHub, request: Request, scope: str, runner_id: str) -> Response:
    runners, refused = _guard(fake, request, scope)
    if refused or runners is None:
        return refused or NOT_FOUND
    runner = runners.get(int(runner_id))
    return Response(200, _runner_json(runner)) if runner else NOT_FOUND


def delete_runner(fake: FakeGitHub, request: Request, scope: str, runner_id: str) -> Response:
    runners, refused = _guard(fake, request, scope)
    if refused or runners is None:
        return refused or NOT_FOUND
    if runners.pop(int(runner_id), None) is None:
        return NOT_FOUND
    return Response(204)


def _for(handler: Any, repo: bool) -> Any:
    if repo:
        return lambda fake, request, owner, repo, **kw: handler(fake, request, f"{owner}/{repo}",
                                                                **kw)
    return lambda fake, request, org, **kw: handler(fake, request, org, **kw)


_OPERATIONS = (
    ("GET", "/downloads", list_downloads),
    ("POST", "/generate-jitconfig", generate_jitconfig),
    ("GET", "", list_runners),
    ("GET", "/{runner_id}", get_runner),
    ("DELETE", "/{runner_id}", delete_runner),
)
ROUTES = tuple(
    (method, base + "/actions/runners" + tail, _for(handler, base.startswith("/repos")))
    for base in ("/repos/{owner}/{repo}", "/orgs/{org}")
    for method, tail, handler in _OPERATIONS
)
