"""A small threaded HTTP server on 127.0.0.1 with a route table and fault injection.

A fake forge is a `Router` (method + path template -> handler) plus state. Handlers take
a `Request` and the path parameters and return a `Response`. Templates use `{name}` for
one path segment and `{name+}` for the rest of the path (a git ref, a file path).

Faults are injected before a request is handled (the request never happened) or after
(the server did the work, then the answer was lost): 5xx, 429, 403 with `Retry-After`,
a dropped connection, or a delay.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str  # raw (still percent-encoded), without the query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[..., Response]


class Router:
    """Method + path template -> handler; the first match wins."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        pattern = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", template)
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        for route_method, pattern, handler in self._routes:
            found = pattern.match(path)
            if found and route_method == method:
                return handler, {k: unquote(v) for k, v in found.groupdict().items()}
        return None


@dataclass
class Fault:
    status: int | None = None  # None with drop=False and delay only: just slow
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    drop: bool = False  # close the connection without an answer
    delay: float = 0.0
    after: bool = False  # True: the request is handled first, then the answer is lost
    method: str | None = None  # only requests with this method ...
    path_contains: str | None = None  # ... and this in their path
    times: int = 1

    def applies(self, request: Request) -> bool:
        return (self.method in (None, request.method)
                and (self.path_contains is None or self.path_contains in request.path))


def secondary_rate_limit(retry_after: int = 0, **kwargs: Any) -> Fault:
    """GitHub's secondary rate limit: 403 with Retry-After.

    https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
    """
    return Fault(status=403, headers={"Retry-After": str(retry_after)}, body={
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                   "before you try again.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits"}, **kwargs)


class FaultPlan:
    """Targeted faults (used up in order) and an optional random failure rate."""

    def __init__(self) -> None:
        self._queue: list[Fault] = []
        self._rate = 0.0
        self._random_fault = Fault(status=502)
        self._rng = random.Random(0)
        self._lock = threading.Lock()
        self.injected: list[tuple[str, str, Fault]] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._queue.append(fault)

    def fail_randomly(self, rate: float, fault: Fault | None = None, seed: int = 0) -> None:
        with self._lock:
            self._rate, self._rng = rate, random.Random(seed)
            self._random_fault = fault or Fault(status=502)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rate = 0.0

    def pick(self, request: Request) -> Fault | None:
        with self._lock:
            chosen = next((f for f in self._queue if f.applies(request)), None)
            if chosen is not None:
                chosen.times -= 1
                if chosen.times <= 0:
                    self._queue.remove(chosen)
            elif self._rate and self._rng.random() < self._rate:
                chosen = self._random_fault
            if chosen is not None:
                self.injected.append((request.method, request.path, chosen))
            return chosen


class FakeServer:
    """Serve a router on 127.0.0.1 in a thread; `stop()` shuts it down."""

    def __init__(self, router: Router, *, before: Callable[[Request], Response | None]
                 | None = None, fault_filter: Callable[[Request], bool] | None = None) -> None:
        self.router = router
        self.faults = FaultPlan()
        self.log: list[tuple[str, str, int]] = []  # (method, path, status) of every request
        self.requests: list[Request] = []  # every request as it arrived, body included
        self.errors: list[str] = []  # exceptions raised by handlers (tests assert none)
        self.lock = threading.RLock()  # handlers mutate state under this lock
        self._before = before
        self._fault_filter = fault_filter or (lambda request: True)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def hits(self, method: str, path_prefix: str) -> list[Request]:
        """The requests with `method` whose path starts with `path_prefix`."""
        return [r for r in self.requests if r.method == method
                and r.path.startswith(path_prefix)]

    def handle(self, request: Request) -> Response | None:
        """The answer to `request`, or None to drop the connection."""
        fault = self.faults.pick(request) if self._fault_filter(request) else None
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and not fault.after and (fault.drop or fault.status):
            return None if fault.drop else Response(fault.status or 500, fault.body,
                                                    dict(fault.headers))
        with self.lock:
            response = self._dispatch(request)
        if fault and fault.after and (fault.drop or fault.status):
            return None if fault.drop else Response(fault.status or 500, fault.body,
                                                    dict(fault.headers))
        return response

    def _dispatch(self, request: Request) -> Response:
        early = self._before(request) if self._before else None
        if early is not None:
            return early
        found = self.router.match(request.method, request.path)
        if found is None:
            return Response(404, {"message": "Not Found"})
        handler, params = found
        try:
            return handler(request, **params)
        except Exception as exc:  # a bug in the fake or a malformed request: say so
            self.errors.append(f"{request.method} {request.path}: {exc!r}")
            return Response(500, {"message": f"fake server error: {exc!r}"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command, split.path,
                    {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"")
                server.requests.append(request)
                response = server.handle(request)
                server.log.append((request.method, request.path,
                                   response.status if response else 0))
                if response is None:
                    self.close_connection = True
                    return
                self._write(response)

            def _write(self, response: Response) -> None:
                raw = response.body
                if not isinstance(raw, bytes):
                    raw = b"" if raw is None else json.dumps(raw).encode()
                    response.headers.setdefault("Content-Type", "application/json")
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return _Handler
