"""A stateful fake GitHub (REST under /api/v3, like Enterprise Server) over real HTTP.

Every API request is checked against GitHub's OpenAPI description first; rejected
requests are answered 422 and recorded in `rejections`, which tests assert is empty.
Routes live in tables (`github_routes.ROUTES`, the runner ones in `github_runners.ROUTES`).
The web side serves `/{owner}/{repo}/raw/{branch}/{path}` so image links can be fetched.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http import FakeServer, Request, Response, Router
from tests.fakes.openapi import OpenAPIValidator

API = "/api/v3"
_validator: OpenAPIValidator | None = None


@dataclass
class Repo:
    owner: str
    name: str
    private: bool = True
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> {head, state}
    issues: set[int] = field(default_factory=set)
    commits: set[str] = field(default_factory=set)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # thread -> list
    refs: dict[str, str] = field(default_factory=dict)  # "heads/x" -> commit sha
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (branch, path)
    check_runs: list[dict[str, Any]] = field(default_factory=list)
    runners: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> runner

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"


class FakeGitHub:
    """State plus a route table; `tokens` maps a token to "app", "pat" or "read"."""

    def __init__(self) -> None:
        global _validator
        _validator = _validator or OpenAPIValidator()
        from tests.fakes.github_runners import downloads

        self.repos: dict[str, Repo] = {}
        self.orgs: dict[str, dict[int, dict[str, Any]]] = {}  # organisation -> its runners
        self.runner_downloads = downloads()
        self.tokens: dict[str, str] = {}
        self.rejections: list[str] = []
        self._ids = itertools.count(1001)
        self.server = FakeServer(self.routes(), before=self._before,
                                 fault_filter=lambda r: r.path.startswith(API))

    # -- setup -------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return self.server.url + API

    def add_repo(self, slug: str, **kwargs: Any) -> Repo:
        owner, name = slug.split("/")
        self.repos[slug] = repo = Repo(owner, name, **kwargs)
        return repo

    def add_org(self, name: str) -> dict[int, dict[str, Any]]:
        runners: dict[int, dict[str, Any]] = {}
        self.orgs[name] = runners
        return runners

    def add_pull(self, slug: str, number: int, head: str, state: str = "open") -> None:
        repo = self.repos[slug]
        repo.pulls[number] = {"head": head, "state": state}
        repo.issues.add(number)
        repo.commits.add(head)

    def comments_on(self, slug: str, thread: str) -> list[dict[str, Any]]:
        return self.repos[slug].comments.get(thread, [])

    def api_requests(self) -> list[tuple[str, str, int]]:
        return [entry for entry in self.server.log if entry[1].startswith(API)]

    # -- plumbing ----------------------------------------------------------------------
    def routes(self) -> Router:
        from tests.fakes import github_routes, github_runners

        router = Router()
        for method, template, handler in github_routes.ROUTES + github_runners.ROUTES:
            prefix = "" if template.startswith("/{owner}/{repo}/raw/") else API
            router.add(method, prefix + template, _bind(handler, self))
        return router

    def _before(self, request: Request) -> Response | None:
        if not request.path.startswith(API):
            return None
        problem = _validator.check(request.method, request.path[len(API):], request.query,
                                   request.body) if _validator else None
        if problem:
            self.rejections.append(problem)
            return Response(422, {"message": f"OpenAPI validation failed: {problem}"})
        kind = self.tokens.get(_token(request))
        if kind is None:
            return Response(401, {"message": "Bad credentials",
                                  "documentation_url": "https://docs.github.com/rest"})
        request.headers["x-fake-token-kind"] = kind
        return None

    # -- helpers for routes ------------------------------------------------------------
    def next_id(self) -> int:
        return next(self._ids)

    def link(self, path: str) -> str:
        return self.server.url + path


def _token(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return auth.split(" ", 1)[1] if " " in auth else ""


def _bind(handler: Any, fake: FakeGitHub) -> Any:
    return lambda request, **params: handler(fake, request, **params)


def paginate(fake: FakeGitHub, request: Request, items: list[Any]) -> Response:
    """GitHub pagination: per_page (default 30, max 100), page, and a Link header."""
    per_page = min(int(request.query.get("per_page", 30)), 100)
    page = int(request.query.get("page", 1))
    chunk = items[(page - 1) * per_page: page * per_page]
    headers = {}
    last = max(1, -(-len(items) // per_page))
    if page < last:
        base = fake.link(request.path)
        headers["Link"] = (f'<{base}?per_page={per_page}&page={page + 1}>; rel="next", '
                           f'<{base}?per_page={per_page}&page={last}>; rel="last"')
    return Response(200, chunk, headers)


def git_sha(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def b64decode(text: str) -> bytes:
    return base64.b64decode(text)
