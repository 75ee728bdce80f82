"""A stateful fake GitLab (REST v4 under /api/v4) over real HTTP, with a route table.

Shapes follow https://docs.gitlab.com/api/notes/, /api/discussions/, /api/commits/ and
/api/project_markdown_uploads/. Tokens map to "api" (can write), "read", or "job" (a
CI_JOB_TOKEN: may read, may not write notes or statuses), or "create_runner" (a token with
only that scope). The runner endpoints are in `gitlab_runners.ROUTES`.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import quote

from tests.fakes import gitlab_runners
from tests.fakes.http import FakeServer, Request, Response, Router

API = "/api/v4"
NOT_FOUND = Response(404, {"message": "404 Not found"})
FORBIDDEN = Response(403, {"message": "403 Forbidden"})
# https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit (`skipped` since
# https://gitlab.com/gitlab-org/gitlab/-/merge_requests/168350)
STATUS_STATES = ("pending", "running", "success", "failed", "canceled", "skipped")


@dataclass
class Project:
    id: int
    path: str
    mrs: dict[int, dict[str, Any]] = field(default_factory=dict)  # iid -> {sha, state}
    issues: set[int] = field(default_factory=set)
    commits: set[str] = field(default_factory=set)
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "mr/1" -> notes
    uploads: dict[str, bytes] = field(default_factory=dict)  # "secret/name" -> bytes
    statuses: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Group:
    id: int
    path: str
    owner: bool
    """Whether the tokens' user has the Owner role (which group runners need)."""


class FakeGitLab:
    def __init__(self) -> None:
        self.projects: dict[str, Project] = {}
        self.groups: dict[str, Group] = {}
        self.tokens: dict[str, str] = {}
        self.runners: dict[int, dict[str, Any]] = {}  # id -> runner, with its glrt- token
        self._ids = itertools.count(501)
        router = Router()
        for method, template, handler in ROUTES + gitlab_runners.ROUTES:
            prefix = "" if template.startswith("/-/") else API
            router.add(method, prefix + template,
                       lambda request, _h=handler, **params: _h(self, request, **params))
        self.server = FakeServer(router, before=self._before,
                                 fault_filter=lambda r: r.path.startswith(API))

    @property
    def api_url(self) -> str:
        return self.server.url + API

    def add_project(self, path: str) -> Project:
        project = Project(next(self._ids), path)
        self.projects[path] = project
        return project

    def add_group(self, path: str, owner: bool = True) -> Group:
        group = Group(next(self._ids), path, owner)
        self.groups[path] = group
        return group

    def group(self, ident: str) -> Group | None:
        return next((g for g in self.groups.values() if ident in (str(g.id), g.path)), None)

    def add_mr(self, path: str, iid: int, sha: str) -> None:
        self.projects[path].mrs[iid] = {"sha": sha, "state": "opened"}
        self.projects[path].commits.add(sha)

    def notes_on(self, path: str, thread: str) -> list[dict[str, Any]]:
        return self.projects[path].notes.get(thread, [])

    def next_id(self) -> int:
        return next(self._ids)

    def project(self, ident: str) -> Project | None:
        return next((p for p in self.projects.values() if ident in (str(p.id), p.path)), None)

    def _before(self, request: Request) -> Response | None:
        token = request.headers.get("private-token") or request.headers.get("job-token")
        kind = self.tokens.get(token or "")
        user_api = request.path.startswith(API) and not gitlab_runners.runner_token_request(request)
        if kind is None and user_api:
            return Response(401, {"message": "401 Unauthorized"})
        request.headers["x-fake-token-kind"] = kind or ""
        return None


def _page(request: Request, items: list[Any], fake: FakeGitLab) -> Response:
    per_page = min(int(request.query.get("per_page", 20)), 100)
    page = int(request.query.get("page", 1))
    pages = max(1, -(-len(items) // per_page))
    headers = {"X-Page": str(page), "X-Total": str(len(items)), "X-Total-Pages": str(pages),
               "X-Per-Page": str(per_page), "X-Next-Page": str(page + 1) if page < pages else ""}
    if page < pages:
        headers["Link"] = (f'<{fake.server.url}{request.path}?per_page={per_page}'
                           f'&page={page + 1}>; rel="next"')
    return Response(200, items[(page - 1) * per_page: page * per_page], headers)


def _thread(project: Project, kind: str, ref: str) -> str | None:
    if kind == "merge_requests":
        return f"mr/{ref}" if ref.isdigit() and int(ref) in project.mrs else None
    if kind == "issues":
        return f"issue/{ref}" if ref.isdigit() and int(ref) in project.issues else None
    if kind == "commit":
        return f"commit/{ref}" if ref in project.commits else None
    return None


def _note(note: dict[str, Any]) -> dict[str, Any]:
    return {"id": note["id"], "body": note["body"], "system": False, "type": None,
            "author": {"id": 1, "username": "project_bot"}, "created_at": "2026-01-01T00:00:00Z"}


def _writable(request: Request) -> bool:
    return request.headers.get("x-fake-token-kind") == "api"


def list_notes(fake: FakeGitLab, request: Request, id: str, kind: str, ref: str) -> Response:
    project = fake.project(id)
    thread = project and _thread(project, kind, ref)
    if not project or not thread:
        return NOT_FOUND
    return _page(request, [_note(n) for n in project.notes.get(thread, [])], fake)


def create_note(fake: FakeGitLab, request: Request, id: str, kind: str, ref: str) -> Response:
    project = fake.project(id)
    thread = project and _thread(project, kind, ref)
    if not project or not thread:
        return NOT_FOUND
    if not _writable(request):
        return FORBIDDEN
    body = (request.json() or {}).get("body")
    if not body:
        return Response(400, {"message": "400 Bad request - body is missing"})
    note = {"id": fake.next_id(), "body": body, "discussion": hashlib.sha1(
        str(fake.next_id()).encode()).hexdigest()}
    project.notes.setdefault(thread, []).append(note)
    return Response(201, _note(note))


def update_note(fake: FakeGitLab, request: Request, id: str, kind: str, ref: str,
                note_id: str, discussion_id: str = "") -> Response:
    project = fake.project(id)
    thread = project and _thread(project, kind, ref)
    if not project or not thread:
        return NOT_FOUND
    if not _writable(request):
        return FORBIDDEN
    for note in project.notes.get(thread, []):
        if str(note["id"]) == note_id and discussion_id in ("", note["discussion"]):
            note["body"] = request.json()["body"]
            return Response(200, _note(note))
    return NOT_FOUND


def list_discussions(fake: FakeGitLab, request: Request, id: str, sha: str) -> Response:
    project = fake.project(id)
    if not project or sha not in project.commits:
        return NOT_FOUND
    items = [{"id": n["discussion"], "individual_note": False, "notes": [_note(n)]}
             for n in project.notes.get(f"commit/{sha}", [])]
    return _page(request, items, fake)


def create_discussion(fake: FakeGitLab, request: Request, id: str, sha: str) -> Response:
    answer = create_note(fake, request, id, "commit", sha)
    if answer.status != 201:
        return answer
    note = fake.project(id).notes[f"commit/{sha}"][-1]  # type: ignore[union-attr]
    return Response(201, {"id": note["discussion"], "individual_note": False,
                          "notes": [_note(note)]})


def mrs_for_commit(fake: FakeGitLab, request: Request, id: str, sha: str) -> Response:
    project = fake.project(id)
    if not project or sha not in project.commits:
        return NOT_FOUND
    return _page(request, [{"iid": iid, "state": mr["state"], "sha": mr["sha"]}
                           for iid, mr in sorted(project.mrs.items()) if mr["sha"] == sha], fake)


def upload(fake: FakeGitLab, request: Request, id: str) -> Response:
    project = fake.project(id)
    if not project:
        return NOT_FOUND
    if not _writable(request):
        return FORBIDDEN
    form = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode() + request.body)
    part = next((p for p in form.iter_parts() if p.get_filename()), None)
    if part is None:
        return Response(400, {"message": "400 Bad request - file is missing"})
    name, data = part.get_filename(), part.get_payload(decode=True)
    secret = hashlib.md5(data + str(fake.next_id()).encode()).hexdigest()
    project.uploads[f"{secret}/{name}"] = data
    url = f"/uploads/{secret}/{quote(name)}"
    return Response(201, {"id": fake.next_id(), "alt": name, "url": url,
                          "full_path": f"/-/project/{project.id}{url}",
                          "markdown": f"![{name}]({url})"})


def serve_upload(fake: FakeGitLab, request: Request, id: str, secret: str,
                 name: str) -> Response:
    project = fake.project(id)
    if not project or not fake.tokens.get(request.headers.get("private-token", "")):
        return Response(404, b"Not Found")
    data = project.uploads.get(f"{secret}/{name}")
    return Response(200, data, {"Content-Type": "image/png"}) if data else Response(404, b"")


def create_status(fake: FakeGitLab, request: Request, id: str, sha: str) -> Response:
    project = fake.project(id)
    if not project or sha not in project.commits:
        return NOT_FOUND
    if not _writable(request):
        return FORBIDDEN
    data = request.json() or {}
    if data.get("state") not in STATUS_STATES:
        return Response(400, {"error": "state does not have a valid value"})
    if "name" in data and not str(data["name"]).strip():  # CommitStatus validates presence
        return Response(400, {"message": {"name": ["can't be blank"]}})
    status = {"id": fake.next_id(), "sha": sha, **data}
    project.statuses.append(status)
    return Response(201, {**status, "target_url": None})


def get_project(fake: FakeGitLab, request: Request, id: str) -> Response:
    # Reading a project needs read_api (or api); a token with only the create_runner scope is
    # refused, as GitLab refuses it: https://docs.gitlab.com/user/profile/personal_access_tokens/#personal-access-token-scopes
    if request.headers.get("x-fake-token-kind") == "create_runner":
        return Response(403, {"error": "insufficient_scope",
                              "error_description": "The request requires higher privileges "
                              "than provided by the access token.", "scope": "read_api api"})
    project = fake.project(id)
    return Response(200, {"id": project.id, "path_with_namespace": project.path}) \
        if project else NOT_FOUND


P = "/projects/{id}"
ROUTES = (
    ("GET", P, get_project),
    ("GET", P + "/{kind}/{ref}/notes", list_notes),
    ("POST", P + "/{kind}/{ref}/notes", create_note),
    ("PUT", P + "/{kind}/{ref}/notes/{note_id}", update_note),
    ("GET", P + "/repository/commits/{sha}/merge_requests", mrs_for_commit),
    ("GET", P + "/repository/commits/{sha}/discussions", list_discussions),
    ("POST", P + "/repository/commits/{sha}/discussions", create_discussion),
    ("PUT", P + "/repository/commits/{ref}/discussions/{discussion_id}/notes/{note_id}",
     lambda fake, request, **kw: update_note(fake, request, kind="commit", **kw)),
    ("POST", P + "/uploads", upload),
    ("POST", P + "/statuses/{sha}", create_status),
    ("GET", "/-/project/{id}/uploads/{secret}/{name}", serve_upload),
)
