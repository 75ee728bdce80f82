"""Handlers of the fake GitHub, one per operation, and the table that routes to them.

Each handler is `(fake, request, **path_params) -> Response`. Answers carry the fields
PyGithub reads; shapes follow docs.github.com/en/rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.fakes.github import b64decode, git_sha, paginate
from tests.fakes.http import Request, Response

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub, Repo

NOT_FOUND = Response(404, {"message": "Not Found", "documentation_url": "https://docs.github.com"})
READ_ONLY = Response(403, {"message": "Resource not accessible by integration"})


def _repo(fake: FakeGitHub, owner: str, repo: str) -> Repo | None:
    return fake.repos.get(f"{owner}/{repo}")


def _writer(request: Request) -> bool:
    return request.headers.get("x-fake-token-kind") in ("app", "pat")


def _user() -> dict[str, Any]:
    return {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}


def get_repo(fake: FakeGitHub, request: Request, owner: str, repo: str) -> Response:
    found = _repo(fake, owner, repo)
    if found is None:
        return NOT_FOUND
    return Response(200, {"id": 1, "name": repo, "full_name": found.slug, "private": found.private,
                          "owner": {"login": owner}, "default_branch": "main",
                          "url": fake.link(f"/api/v3/repos/{found.slug}"),
                          "html_url": fake.link(f"/{found.slug}")})


def _thread(found: Repo, kind: str, ref: str) -> str | None:
    if kind == "issue":
        return f"issue/{ref}" if ref.isdigit() and int(ref) in found.issues else None
    return f"commit/{ref}" if ref in found.commits else None


def _comment_json(fake: FakeGitHub, found: Repo, comment: dict[str, Any]) -> dict[str, Any]:
    kind = "issues/comments" if comment["thread"].startswith("issue/") else "comments"
    return {"id": comment["id"], "body": comment["body"], "user": _user(),
            "url": fake.link(f"/api/v3/repos/{found.slug}/{kind}/{comment['id']}"),
            "html_url": fake.link(f"/{found.slug}#comment-{comment['id']}"),
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}


def _list_comments(fake: FakeGitHub, request: Request, owner: str, repo: str, kind: str,
                   ref: str) -> Response:
    found = _repo(fake, owner, repo)
    thread = found and _thread(found, kind, ref)
    if not found or not thread:
        return NOT_FOUND
    items = [_comment_json(fake, found, c) for c in found.comments.get(thread, [])]
    return paginate(fake, request, items)


def _create_comment(fake: FakeGitHub, request: Request, owner: str, repo: str, kind: str,
                    ref: str) -> Response:
    found = _repo(fake, owner, repo)
    thread = found and _thread(found, kind, ref)
    if not found or not thread:
        return NOT_FOUND
    if not _writer(request):
        return READ_ONLY
    body = request.json()["body"]
    if len(body) > 65536:
        return Response(422, {"message": "Validation Failed: body is too long (maximum is "
                                         "65536 characters)"})
    comment = {"id": fake.next_id(), "thread": thread, "body": body}
    found.comments.setdefault(thread, []).append(comment)
    return Response(201, _comment_json(fake, found, comment))


def _update_comment(fake: FakeGitHub, request: Request, owner: str, repo: str,
                    comment_id: str) -> Response:
    found = _repo(fake, owner, repo)
    if not found:
        return NOT_FOUND
    if not _writer(request):
        return READ_ONLY
    for comments in found.comments.values():
        for comment in comments:
            if str(comment["id"]) == comment_id:
                comment["body"] = request.json()["body"]
                return Response(200, _comment_json(fake, found, comment))
    return NOT_FOUND


def list_issue_comments(fake, request, owner, repo, issue_number):  # type: ignore[no-untyped-def]
    return _list_comments(fake, request, owner, repo, "issue", issue_number)


def create_issue_comment(fake, request, owner, repo, issue_number):  # type: ignore[no-untyped-def]
    return _create_comment(fake, request, owner, repo, "issue", issue_number)


def list_commit_comments(fake, request, owner, repo, commit_sha):  # type: ignore[no-untyped-def]
    return _list_comments(fake, request, owner, repo, "commit", commit_sha)


def create_commit_comment(fake, request, owner, repo, commit_sha):  # type: ignore[no-untyped-def]
    return _create_comment(fake, request, owner, repo, "commit", commit_sha)


def pulls_for_commit(fake: FakeGitHub, request: Request, owner: str, repo: str,
                     commit_sha: str) -> Response:
    found = _repo(fake, owner, repo)
    if not found:
        return NOT_FOUND
    pulls = [{"number": n, "state": p["state"], "head": {"sha": p["head"], "ref": f"pr-{n}"},
              "url": fake.link(f"/api/v3/repos/{found.slug}/pulls/{n}"),
              "html_url": fake.link(f"/{found.slug}/pull/{n}")}
             for n, p in sorted(found.pulls.items()) if p["head"] == commit_sha]
    return paginate(fake, request, pulls)


def _ref_json(fake: FakeGitHub, found: Repo, ref: str) -> dict[str, Any]:
    return {"ref": f"refs/{ref}", "url": fake.link(f"/api/v3/repos/{found.slug}/git/refs/{ref}"),
            "object": {"sha": found.refs[ref], "type": "commit", "url": ""}}


def get_ref(fake: FakeGitHub, request: Request, owner: str, repo: str, ref: str) -> Response:
    found = _repo(fake, owner, repo)
    if not found or ref not in found.refs:
        return NOT_FOUND
    return Response(200, _ref_json(fake, found, ref))


def create_ref(fake: FakeGitHub, request: Request, owner: str, repo: str) -> Response:
    found = _repo(fake, owner, repo)
    if not found:
        return NOT_FOUND
    if not _writer(request):
        return READ_ONLY
    data = request.json()
    ref = data["ref"].removeprefix("refs/")
    if ref in found.refs:
        return Response(422, {"message": "Reference already exists"})
    found.refs[ref] = data["sha"]
    return Response(201, _ref_json(fake, found, ref))


def create_tree(fake: FakeGitHub, request: Request, owner: str, repo: str) -> Response:
    found = _repo(fake, owner, repo)
    if not found:
        return NOT_FOUND
    if not _writer(request):
        return READ_ONLY
    sha = git_sha(request.body)
    return Response(201, {"sha": sha, "url": "", "tree": [], "truncated": False})


def create_git_commit(fake: FakeGitHub, request: Request, owner: str, repo: str) -> Response:
    found = _repo(fake, owner, repo)
    if not found:
        return NOT_FOUND
    if not _writer(request):
        return READ_ONLY
    sha = git_sha(request.body + str(fake.next_id()).encode())
    found.commits.add(sha)
    return Response(201, {"sha": sha, "url": "", "html_url": "", "message": "",
                          "tree": {"sha": request.json()["tree"], "url": ""}, "parents": []})


def put_contents(fake: FakeGitHub, request: Request, owner: str, repo: str,
                 path: str) -> Response:
    found = _repo(fake, owner, repo)
    if not found:
        return NOT_FOUND
    if not _writer(request):
        return READ_ONLY
    data = request.json()
    branch = data.get("branch", "main")
    if f"heads/{branch}" not in found.refs:
        return Response(404, {"message": f"Branch {branch} not found"})
    if (branch, path) in found.files and "sha" not in data:
        return Response(422, {"message": 'Invalid request.\n\n"sha" wasn\'t supplied.'})
    content = b64decode(data["content"])
    found.files[(branch, path)] = content
    sha = git_sha(content)
    return Response(201, {"content": _content_json(path, content),
                          "commit": {"sha": git_sha(sha.encode()), "message": data["message"]}})


def get_contents(fake: FakeGitHub, request: Request, owner: str, repo: str,
                 path: str) -> Response:
    """Files only, and directory listings (what the contents API returns for a folder)."""
    found = _repo(fake, owner, repo)
    branch = request.query.get("ref", "main")
    if not found or f"heads/{branch}" not in found.refs:
        return NOT_FOUND
    if (branch, path) in found.files:
        return Response(200, _content_json(path, found.files[(branch, path)]))
    inside = [(p, data) for (b, p), data in sorted(found.files.items())
              if b == branch and p.rsplit("/", 1)[0] == path]
    return Response(200, [_content_json(p, d) for p, d in inside]) if inside else NOT_FOUND


def _content_json(path: str, data: bytes) -> dict[str, Any]:
    return {"type": "file", "name": path.rsplit("/", 1)[-1], "path": path, "sha": git_sha(data),
            "size": len(data), "url": "", "html_url": "", "git_url": "", "download_url": ""}


def _check_json(fake: FakeGitHub, found: Repo, run: dict[str, Any]) -> dict[str, Any]:
    return {**run, "url": fake.link(f"/api/v3/repos/{found.slug}/check-runs/{run['id']}"),
            "html_url": fake.link(f"/{found.slug}/runs/{run['id']}")}


def create_check_run(fake: FakeGitHub, request: Request, owner: str, repo: str) -> Response:
    found = _repo(fake, owner, repo)
    if not found:
        return NOT_FOUND
    kind = request.headers.get("x-fake-token-kind")
    if kind == "pat":
        return Response(403, {"message": "Resource not accessible by personal access token"})
    if kind != "app":
        return READ_ONLY
    data = request.json()
    if not str(data.get("name") or "").strip():  # "name": required, and a run needs one
        return Response(422, {"message": "Invalid request.\n\nname can't be blank."})
    # "conclusion: Required if you provide completed_at or a status of completed ...
    # Providing conclusion will automatically set the status parameter to completed."
    # (https://docs.github.com/rest/checks/runs#create-a-check-run)
    if (data.get("status") == "completed" or "completed_at" in data) and \
            "conclusion" not in data:
        return Response(422, {"message": "Invalid request.\n\nconclusion is required when "
                                         "status is completed."})
    run = {"id": fake.next_id(), **data, "status": "completed" if "conclusion" in data
           else data.get("status", "queued")}
    found.check_runs.append(run)
    return Response(201, _check_json(fake, found, run))


def list_check_runs(fake: FakeGitHub, request: Request, owner: str, repo: str,
                    ref: str) -> Response:
    found = _repo(fake, owner, repo)
    if not found:
        return NOT_FOUND
    name = request.query.get("check_name")
    runs = [_check_json(fake, found, r) for r in found.check_runs
            if r["head_sha"] == ref and name in (None, r["name"])]
    return Response(200, {"total_count": len(runs), "check_runs": runs})


def raw_file(fake: FakeGitHub, request: Request, owner: str, repo: str, rest: str) -> Response:
    """The web's /raw/ URL: readers of a private repository must be signed in."""
    found = _repo(fake, owner, repo)
    branch, _, path = rest.partition("/")
    token_ok = fake.tokens.get(request.headers.get("authorization", " ").split(" ")[-1])
    if not found or (found.private and not token_ok) or (branch, path) not in found.files:
        return Response(404, b"Not Found", {"Content-Type": "text/plain"})
    return Response(200, found.files[(branch, path)], {"Content-Type": "image/png"})


R = "/repos/{owner}/{repo}"
ROUTES = (
    ("GET", R, get_repo),
    ("GET", R + "/issues/{issue_number}/comments", list_issue_comments),
    ("POST", R + "/issues/{issue_number}/comments", create_issue_comment),
    ("PATCH", R + "/issues/comments/{comment_id}", _update_comment),
    ("GET", R + "/commits/{commit_sha}/comments", list_commit_comments),
    ("POST", R + "/commits/{commit_sha}/comments", create_commit_comment),
    ("PATCH", R + "/comments/{comment_id}", _update_comment),
    ("GET", R + "/commits/{commit_sha}/pulls", pulls_for_commit),
    ("GET", R + "/commits/{ref}/check-runs", list_check_runs),
    ("POST", R + "/check-runs", create_check_run),
    ("GET", R + "/git/ref/{ref+}", get_ref),
    ("POST", R + "/git/refs", create_ref),
    ("POST", R + "/git/trees", create_tree),
    ("POST", R + "/git/commits", create_git_commit),
    ("PUT", R + "/contents/{path+}", put_contents),
    ("GET", R + "/contents/{path+}", get_contents),
    ("GET", "/{owner}/{repo}/raw/{rest+}", raw_file),
)
