"""Fake HTTP servers on 127.0.0.1 for the sandbox: a forge that serves runner packages and a
cloud metadata service with the cloud's own API (tests/sandbox/ecs.py for Alibaba's). Both
are `tests.fakes.http.FakeServer`s (one way to write a fake): every request is in
`server.requests` (`server.hits(method, prefix)`), and tests inject faults with
`server.faults.add(Fault(...))`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fakes.gitlab import FakeGitLab
from tests.fakes.http import FakeServer, Request, Response, Router
from tests.sandbox import ecs

Routes = dict[tuple[str, str], Callable[[Request], Response]]


def fake_forge(files: dict[str, bytes], gitlab_token: str = "") -> FakeServer:
    """Static files; with `gitlab_token`, the fake GitLab holding one runner with that token,
    so the script's teardown (`DELETE /api/v4/runners` with the runner's own token) meets
    the same rules as in tests/fakes/gitlab_runners.py. The server is started."""
    if gitlab_token:
        gitlab = FakeGitLab()
        gitlab.runners[1] = {"id": 1, "token": gitlab_token}
        server = gitlab.server
    else:
        server = FakeServer(Router())
    server.router.add("GET", "/", lambda request: Response(200, b"fake forge"))
    for path, data in files.items():
        server.router.add("GET", path, _static(data))
    return server.start()


@dataclass
class CloudState:
    spot: bool = False
    delete_status: int = 200
    deallocate_status: int = 202
    ecs: ecs.EcsState = field(default_factory=ecs.EcsState)


def fake_cloud(cloud: str, state: CloudState) -> FakeServer:
    """Metadata for `cloud` (spot notice off until `state.spot`), identity and delete APIs."""
    router = Router()
    routes = {"aws": _aws, "gcp": _gcp, "azure": _azure, "alicloud": _alicloud}
    for (method, path), handler in (routes[cloud](state) if cloud in routes else {}).items():
        router.add(method, path, handler)
    return FakeServer(router).start()


def _aws(s: CloudState) -> Routes:
    def action(req: Request) -> Response:
        if req.headers.get("x-aws-ec2-metadata-token") != "imds-session":
            return Response(401, b"")
        return Response(200, b'{"action": "terminate"}') if s.spot else Response(404, b"")

    return {("PUT", "/latest/api/token"): lambda r: Response(200, b"imds-session"),
            ("GET", "/latest/meta-data/spot/instance-action"): action}


def _gcp(s: CloudState) -> Routes:
    base = "/computeMetadata/v1/"
    values = {"instance/service-accounts/default/token":
              json.dumps({"access_token": "ya29.fake", "expires_in": 3599}),
              "project/project-id": "proj", "instance/zone": "projects/1/zones/zone-a",
              "instance/name": "vm-1"}

    def md(value: Callable[[], str]) -> Callable[[Request], Response]:
        return lambda r: (Response(200, value().encode())
                          if r.headers.get("metadata-flavor") == "Google"
                          else Response(403, b"missing Metadata-Flavor"))

    routes = {("GET", base + k): md(_constant(v)) for k, v in values.items()}
    routes[("GET", base + "instance/preempted")] = md(lambda: "TRUE" if s.spot else "FALSE")
    routes[("DELETE", "/compute/v1/projects/proj/zones/zone-a/instances/vm-1")] = (
        lambda r: _bearer(r, "ya29.fake", s.delete_status))
    return routes


AZURE_VM = ("/subscriptions/sub-1/resourceGroups/rg-1"
            "/providers/Microsoft.Compute/virtualMachines/vm-1")


def _azure(s: CloudState) -> Routes:
    events = {"DocumentIncarnation": 1, "Events": [{"EventId": "e1", "EventType": "Preempt"}]}

    def md(value: Callable[[], str]) -> Callable[[Request], Response]:
        return lambda r: (Response(200, value().encode()) if r.headers.get("metadata") == "true"
                          else Response(400, b"missing Metadata header"))

    return {
        ("GET", "/metadata/scheduledevents"): md(
            lambda: json.dumps(events if s.spot else {"DocumentIncarnation": 0, "Events": []})),
        ("GET", "/metadata/identity/oauth2/token"): md(
            lambda: json.dumps({"access_token": "eyJ.fake", "token_type": "Bearer"})),
        ("GET", "/metadata/instance/compute/subscriptionId"): md(lambda: "sub-1"),
        ("GET", "/metadata/instance/compute/resourceGroupName"): md(lambda: "rg-1"),
        ("GET", "/metadata/instance/compute/name"): md(lambda: "vm-1"),
        ("DELETE", AZURE_VM): (
            lambda r: _bearer(r, "eyJ.fake", 202 if s.delete_status == 200 else s.delete_status)),
        ("POST", AZURE_VM + "/deallocate"): lambda r: _deallocate(r, s),
    }


def _deallocate(req: Request, s: CloudState) -> Response:
    """ARM, like IIS, answers a POST without Content-Length with 411 Length Required."""
    if "content-length" not in req.headers:
        return Response(411, b"Length Required")
    return _bearer(req, "eyJ.fake", s.deallocate_status)


def _alicloud(s: CloudState) -> Routes:
    """Security hardening mode (httpTokens=required): a read without a token gets 403."""
    def token(req: Request) -> Response:
        ttl = req.headers.get("x-aliyun-ecs-metadata-token-ttl-seconds", "")
        return Response(200, b"ecs-session") if ttl.isdigit() else Response(400, b"")

    def notice(req: Request) -> Response:
        if req.headers.get("x-aliyun-ecs-metadata-token") != "ecs-session":
            return Response(403, b"")
        return Response(200, b"2026-01-01T00:02:00Z") if s.spot else Response(404, b"")

    def md(value: Callable[[], str]) -> Callable[[Request], Response]:
        return lambda r: (Response(200, value().encode())
                          if r.headers.get("x-aliyun-ecs-metadata-token") == "ecs-session"
                          else Response(403, b""))

    base, role = "/latest/meta-data/", "ram/security-credentials/"
    return {("PUT", "/latest/api/token"): token,
            ("GET", base + "instance/spot/termination-time"): notice,
            ("GET", base + role): md(_constant(ecs.ROLE)),
            ("GET", base + role + ecs.ROLE): md(s.ecs.credentials),
            ("GET", base + "region-id"): md(_constant(ecs.REGION)),
            ("GET", base + "instance-id"): md(_constant(ecs.INSTANCE)),
            ("GET", "/"): lambda r: ecs.handle(s.ecs, r),
            ("POST", "/"): lambda r: ecs.handle(s.ecs, r)}


def _static(data: bytes) -> Callable[[Request], Response]:
    return lambda r: Response(200, data)


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


def _bearer(req: Request, token: str, status: int) -> Response:
    if req.headers.get("authorization") != f"Bearer {token}":
        return Response(401, b"")
    return Response(status, b"{}")
