"""The assistant as an HTTP service: `POST /ask`, `GET /healthz`, `GET /metrics`.

One process per release, started inside that release's environment (`stable`: production,
DSPy 2.6.27; `canary`: candidate, 3.0.1) by `python -m migration.production.service`. Every
response carries `X-Release`, so what a client saw through the proxy names who served it, and
every metric carries the release and its DSPy version, so Prometheus can tell them apart.
Bad requests get a 4xx with a JSON error; only the server's own failures are 5xx.
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from migration.production.faults import Fault, fault_from_environ

MAX_QUESTION = 2000
# Latency buckets around what the offline LM takes (milliseconds) up to an injected delay (seconds):
# histogram_quantile interpolates inside a bucket, so they must be fine where the p95 lies.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0)


class AskRequest(BaseModel):
    """What a client sends: unknown fields are refused, so a typo is a 422 and not a silent default."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION)
    role: str = "researcher"


@dataclass(frozen=True)
class Reply:
    """What the assistant answered (the service's view of `assistant.app.Answer`)."""

    answer: str
    sources: tuple[str, ...]
    role: str
    lm: str
    passed_validation: bool


Ask = Callable[[str, str], Reply]


@dataclass(frozen=True)
class Release:
    """Who this process is: its name in deploy/production.yaml and the DSPy it runs."""

    name: str
    dspy: str


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per app, so tests stay apart)."""

    def __init__(self, release: Release) -> None:
        self.registry = CollectorRegistry()
        labels = ("release", "dspy")
        self.requests = Counter("assistant_requests", "Requests to /ask by HTTP status code",
                                (*labels, "code"), registry=self.registry)
        self.latency = Histogram("assistant_request_seconds", "Time to answer /ask", labels,
                                 buckets=BUCKETS, registry=self.registry)
        self.validation_failures = Counter("assistant_validation_failures", "Answers that failed validation",
                                           labels, registry=self.registry)
        self.labels = {"release": release.name, "dspy": release.dspy}


def create_app(ask: Ask, release: Release, roles: Sequence[str], fault: Fault | None = None) -> FastAPI:
    """The service around `ask(question, role)`; `fault` fails a share of requests or slows them."""
    fault = fault or Fault()
    metrics = Metrics(release)
    app = FastAPI(title="B-1006 assistant", version=release.dspy)
    app.state.metrics = metrics
    headers = {"X-Release": release.name, "X-DSPy-Version": release.dspy}

    def error(status: int, message: str, **detail: Any) -> JSONResponse:
        return JSONResponse({"error": message, **detail}, status_code=status, headers=headers)

    @app.middleware("http")
    async def measure(request: Request, call_next: Any) -> Response:
        # Measured here and not in the endpoint: 422s and 405s never reach the endpoint.
        began = time.perf_counter()
        response = await call_next(request)
        if request.url.path == "/ask":
            metrics.requests.labels(**metrics.labels, code=str(response.status_code)).inc()
            metrics.latency.labels(**metrics.labels).observe(time.perf_counter() - began)
        response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()]
        return error(422, "invalid request: " + "; ".join(problems),
                     fix='send JSON {"question": "...", "role": "researcher"}')

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def failure(_: Request, exc: Exception) -> JSONResponse:
        return error(500, f"the assistant failed: {type(exc).__name__}: {exc}")

    @app.post("/ask")
    def ask_endpoint(body: AskRequest) -> JSONResponse:
        if body.role not in roles:
            return error(422, f"unknown role {body.role!r}", known_roles=list(roles))
        if fault.latency:
            time.sleep(fault.latency)
        if fault.next_fails():
            return error(503, f"injected fault ({fault.describe()})")
        reply = ask(body.question, body.role)
        if not reply.passed_validation:
            metrics.validation_failures.labels(**metrics.labels).inc()
        return JSONResponse({"answer": reply.answer, "sources": list(reply.sources), "role": reply.role,
                             "lm": reply.lm, "passed_validation": reply.passed_validation,
                             "release": release.name, "dspy": release.dspy}, headers=headers)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "release": release.name, "dspy": release.dspy, "fault": fault.describe()}

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def assistant_ask(root: Path) -> tuple[Ask, tuple[str, ...]]:
    """The real assistant over `root`'s documentation, warmed up by one question."""
    from assistant.app import Assistant

    assistant = Assistant.from_repo(root)

    def ask(question: str, role: str) -> Reply:
        answer = assistant.ask(question, role=role)
        return Reply(answer.answer, answer.sources, answer.role, answer.lm, answer.passed_validation)

    ask("What does the assistant do?", "researcher")  # the first call builds the program: not a client's wait
    return ask, tuple(assistant.roles.roles())


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one release on 127.0.0.1:<port> until SIGTERM (uvicorn then drains open requests)."""
    parser = argparse.ArgumentParser(prog="python -m migration.production.service", description=__doc__)
    parser.add_argument("--release", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    import dspy
    import uvicorn

    fault = fault_from_environ(os.environ)
    ask, roles = assistant_ask(args.root.resolve())
    app = create_app(ask, Release(args.release, dspy.__version__), roles, fault)
    # access_log off: the proxy keeps the access log; one line per request here would cost CPU twice.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
