"""Fake HTTP servers on 127.0.0.1: a forge that serves runner packages and a cloud metadata
service, each recording every request and with faults that tests inject."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Response = tuple[int, bytes]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeServer:
    """Routes `(method, path without query)` to handlers; unknown routes answer 404."""

    routes: dict[tuple[str, str], Callable[[Request], Response]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    """Path -> how many more requests to it answer 503 before the route answers."""

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(self.command, self.path, dict(self.headers),
                              self.rfile.read(length) if length else b"")
                fake.requests.append(req)
                status, body = fake.answer(req)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                if body[:1] in (b"{", b"["):
                    self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = _serve

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, req: Request) -> Response:
        path = urlsplit(req.path).path
        if self.failures.get(path, 0) > 0:
            self.failures[path] -= 1
            return 503, b"try again"
        handler = self.routes.get((req.method, path))
        return handler(req) if handler else (404, b"not found")

    def hits(self, method: str, path_prefix: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def fake_forge(files: dict[str, bytes], gitlab_token: str = "") -> FakeServer:
    """Static files plus GitLab's `DELETE /api/v4/runners` (a runner removing itself)."""
    server = FakeServer()
    server.routes[("GET", "/")] = lambda r: (200, b"fake forge")
    for path, data in files.items():
        server.routes[("GET", path)] = _static(data)

    def delete_runner(req: Request) -> Response:
        ok = req.body.decode() == f"token={gitlab_token}" and gitlab_token
        return (204, b"") if ok else (403, b'{"message":"403 Forbidden"}')

    server.routes[("DELETE", "/api/v4/runners")] = delete_runner
    return server


@dataclass
class CloudState:
    spot: bool = False
    delete_status: int = 200


def fake_cloud(cloud: str, state: CloudState) -> FakeServer:
    """Metadata for `cloud` (spot notice off until `state.spot`), identity and delete APIs."""
    server = FakeServer()
    routes = {"aws": _aws, "gcp": _gcp, "azure": _azure, "alicloud": _alicloud}
    if cloud in routes:
        server.routes.update(routes[cloud](state))
    return server


def _aws(s: CloudState) -> dict[tuple[str, str], Callable[[Request], Response]]:
    def action(req: Request) -> Response:
        if req.headers.get("X-aws-ec2-metadata-token") != "imds-session":
            return 401, b""
        return (200, b'{"action": "terminate"}') if s.spot else (404, b"")

    return {("PUT", "/latest/api/token"): lambda r: (200, b"imds-session"),
            ("GET", "/latest/meta-data/spot/instance-action"): action}


def _gcp(s: CloudState) -> dict[tuple[str, str], Callable[[Request], Response]]:
    base = "/computeMetadata/v1/"
    values = {"instance/service-accounts/default/token":
              json.dumps({"access_token": "ya29.fake", "expires_in": 3599}),
              "project/project-id": "proj", "instance/zone": "projects/1/zones/zone-a",
              "instance/name": "vm-1"}

    def md(value: Callable[[], str]) -> Callable[[Request], Response]:
        return lambda r: ((200, value().encode()) if r.headers.get("Metadata-Flavor") == "Google"
                          else (403, b"missing Metadata-Flavor"))

    routes = {("GET", base + k): md(_constant(v)) for k, v in values.items()}
    routes[("GET", base + "instance/preempted")] = md(lambda: "TRUE" if s.spot else "FALSE")
    routes[("DELETE", "/compute/v1/projects/proj/zones/zone-a/instances/vm-1")] = (
        lambda r: _bearer(r, "ya29.fake", s.delete_status))
    return routes


def _azure(s: CloudState) -> dict[tuple[str, str], Callable[[Request], Response]]:
    events = {"DocumentIncarnation": 1, "Events": [{"EventId": "e1", "EventType": "Preempt"}]}

    def md(value: Callable[[], str]) -> Callable[[Request], Response]:
        return lambda r: ((200, value().encode()) if r.headers.get("Metadata") == "true"
                          else (400, b"missing Metadata header"))

    return {
        ("GET", "/metadata/scheduledevents"): md(
            lambda: json.dumps(events if s.spot else {"DocumentIncarnation": 0, "Events": []})),
        ("GET", "/metadata/identity/oauth2/token"): md(
            lambda: json.dumps({"access_token": "eyJ.fake", "token_type": "Bearer"})),
        ("GET", "/metadata/instance/compute/subscriptionId"): md(lambda: "sub-1"),
        ("GET", "/metadata/instance/compute/resourceGroupName"): md(lambda: "rg-1"),
        ("DELETE", "/subscriptions/sub-1/resourcegroups/rg-1"): (
            lambda r: _bearer(r, "eyJ.fake", 202 if s.delete_status == 200 else s.delete_status)),
    }


def _alicloud(s: CloudState) -> dict[tuple[str, str], Callable[[Request], Response]]:
    return {("GET", "/latest/meta-data/instance/spot/termination-time"):
            lambda r: (200, b"2026-01-01T00:02:00Z") if s.spot else (404, b"")}


def _static(data: bytes) -> Callable[[Request], Response]:
    return lambda r: (200, data)


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


def _bearer(req: Request, token: str, status: int) -> Response:
    if req.headers.get("Authorization") != f"Bearer {token}":
        return 401, b""
    return status, b"{}"
