"""A GitHub REST API stand-in on 127.0.0.1: a threaded HTTP server over a FakeGitHub, with
fault injection (5xx, rate limits with Retry-After and X-RateLimit headers, 422, slow answers).

    with StandIn() as api:          # port 0: the OS picks a free port
        api.github.issues           # the in-memory state, inspectable and arrangeable
        api.fail(502, times=2)      # the next two requests answer 502
        api.requests                # every request seen: (method, path, query, body, login)
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.gitops.github.fake_github import DOCS, FakeGitHub, HTTPFail

PRIMARY_LIMIT = "API rate limit exceeded for installation ID 1."
SECONDARY_LIMIT = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                   "If you reach out to GitHub Support for help, please include the request ID.")


@dataclass
class Fault:
    """Answer the next `times` matching requests with this status (after `delay` seconds)."""

    status: int | None  # None: answer normally, only late
    times: int = 1
    method: str | None = None
    path: str = ""  # substring of the path; "" matches every request
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay: float = 0.0
    applied: bool = False  # carry the request out, then answer with the fault (a write that landed)
    served: threading.Event = field(default_factory=threading.Event)  # set once a matching request was answered

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and (self.method in (None, method)) and self.path in path


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    login: str | None


class StandIn:
    """The server; use as a context manager or call start()/stop()."""

    def __init__(self, github: FakeGitHub | None = None):
        self.github = github or FakeGitHub()
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.early: list[str] = []  # requests that came before a Retry-After had passed
        self._not_before = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.github.base = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), name="github-standin",
                                        daemon=True)

    def __enter__(self) -> StandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # wakes slow answers so shutdown never waits for them
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------ fault injection
    def fail(self, status: int, times: int = 1, method: str | None = None, path: str = "",
             message: str = "Server Error", errors: list[dict[str, Any]] | None = None, applied: bool = False) -> Fault:
        """The next matching requests answer `status` with GitHub's error body (after doing it, if `applied`)."""
        body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
        if errors is not None:
            body["errors"] = errors
        return self._add(Fault(status, times, method, path, body=body, applied=applied))

    def rate_limit(self, status: int = 429, retry_after: int = 1, times: int = 1, path: str = "",
                   primary: bool = False) -> Fault:
        """Rate-limited answers with X-RateLimit headers: secondary (Retry-After) or primary (reset time only)."""
        reset = str(int(time.time()) + retry_after)
        headers = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Used": "5000",
                   "X-RateLimit-Reset": reset, "X-RateLimit-Resource": "core"}
        if not primary:
            headers["Retry-After"] = str(retry_after)
        body = {"message": PRIMARY_LIMIT if primary else SECONDARY_LIMIT, "documentation_url": DOCS,
                "status": str(status)}
        return self._add(Fault(status, times, None, path, headers=headers, body=body))

    def slow(self, seconds: float, times: int = 1, method: str | None = None, path: str = "") -> Fault:
        """The next matching requests are answered (normally) only after `seconds`."""
        return self._add(Fault(None, times, method, path, delay=seconds))

    def _add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def writes(self) -> list[Request]:
        """The requests that change something (POST, PATCH, PUT, DELETE)."""
        return [r for r in self.requests if r.method != "GET"]

    # ------------------------------------------------------------ answering
    def answer(self, method: str, raw_path: str, headers: Any, raw_body: bytes) -> tuple[int, dict[str, str], Any]:
        parsed = urllib.parse.urlsplit(raw_path)
        path = urllib.parse.unquote(parsed.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        body = json.loads(raw_body) if raw_body else {}
        login = self._login(headers.get("Authorization", ""))
        with self._lock:
            self.requests.append(Request(method, path, query, body, login))
            if time.monotonic() < self._not_before:
                self.early.append(f"{method} {path}")
            fault = next((f for f in self.faults if f.matches(method, path)), None)
            if fault:
                fault.times -= 1
        if fault and fault.delay:
            self._stopping.wait(fault.delay)
        if fault and fault.applied and login is not None:
            with self._lock, contextlib.suppress(HTTPFail):
                self._route(method, path, query, body, login)
        try:
            return self._answer(fault, method, path, query, body, login)
        finally:
            if fault:
                fault.served.set()

    def _answer(self, fault: Fault | None, method: str, path: str, query: dict[str, str], body: Any,
                login: str | None) -> tuple[int, dict[str, str], Any]:
        if fault and fault.status is not None:
            wait = None
            if "Retry-After" in fault.headers:
                wait = float(fault.headers["Retry-After"])
            elif fault.headers.get("X-RateLimit-Remaining") == "0":
                wait = int(fault.headers["X-RateLimit-Reset"]) - time.time()
            if wait is not None:
                with self._lock:
                    self._not_before = time.monotonic() + wait
            return fault.status, fault.headers, fault.body
        if login is None:
            return 401, {}, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
        with self._lock:
            try:
                status, payload = self._route(method, path, query, body, login)
            except HTTPFail as exc:
                return exc.status, {}, exc.payload
        return status, {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999"}, payload

    def _route(self, method: str, path: str, query: dict[str, str], body: Any, login: str) -> tuple[int, Any]:
        gh = self.github
        known_path = False
        for verb, pattern, handler in gh.routes():
            match = pattern.match(path)
            if not match:
                continue
            known_path = True
            if verb != method:
                continue
            groups = match.groupdict()
            if "owner" in groups and (groups["owner"], groups["repo"]) != (gh.owner, gh.name):
                raise HTTPFail(404, "Not Found")
            return handler(gh, match, query, body, login)
        raise HTTPFail(405 if known_path else 404, "Method Not Allowed" if known_path else "Not Found")

    def _login(self, authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        return self.github.tokens.get(token) if scheme.lower() in ("token", "bearer") else None


def _handler_for(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, headers, payload = standin.answer(self.command, self.path, self.headers, raw)
            data = json.dumps(payload).encode() if payload is not None else b""
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to tell it

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler
