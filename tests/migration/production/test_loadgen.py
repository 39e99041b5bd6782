"""The load generator: whom it asks (production, a reference in turn), and what it makes of client records."""
from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Iterator

from migration.production.loadgen import LoadGenerator, Record, agreement, devset_questions, quantile, summarize


def rec(question: str, status: int = 200, release: str = "stable", answer: str = "a", latency: float = 0.01) -> Record:
    return Record(0.0, question, status, latency, release, answer)


def test_summary_counts_failures_and_who_served() -> None:
    records = [rec("q1"), rec("q2", 503, "canary", ""), rec("q3", 0, "", ""), rec("q4", latency=0.03)]
    summary = summarize(records)
    assert summary["requests"] == 4 and summary["failed"] == 2 and summary["error_rate"] == 0.5
    assert summary["served_by"] == {"canary": 1, "none": 1, "stable": 2}
    assert (summary["p50_ms"], summary["p99_ms"]) == (10.0, 30.0)


def test_agreement_compares_with_the_reference_answers() -> None:
    reference = {"q1": "a", "q2": "b"}
    records = [rec("q1", release="canary"), rec("q2", release="canary"), rec("q2", 503, "canary"), rec("q3", release="canary")]
    assert agreement(records, reference, "canary") == (0.5, 2)
    assert agreement(records, reference, "nobody") == (None, 0)


def test_quantile_nearest_rank() -> None:
    assert quantile([], 0.5) is None
    assert quantile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0 and quantile(list(map(float, range(1, 101))), 0.95) == 95.0


def test_the_devset_questions_are_replayed() -> None:
    questions = devset_questions()
    assert len(questions) == len(set(questions)) >= 10


class _Release(http.server.BaseHTTPRequestHandler):
    """A release answering /ask with its name (the server's `name`), as the service's X-Release does."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        question = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["question"]
        body = json.dumps({"answer": f"{self.server.name}: {question}"}).encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("X-Release", self.server.name)  # type: ignore[attr-defined]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def release(name: str) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Release)
    server.name = name  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_with_a_reference_each_question_goes_to_production_then_to_the_reference() -> None:
    with release("canary") as production, release("stable") as reference:
        with LoadGenerator(production, ["q1", "q2", "q3"], 40, reference=reference) as load:
            time.sleep(0.6)
            load.reference = None
            switched = load.now()
            time.sleep(0.3)
    records = sorted(load.records, key=lambda r: r.at)
    before = [(r.target, r.release, r.question) for r in records if r.at < switched]
    assert before[:6] == [("production", "canary", "q1"), ("reference", "stable", "q1"),
                          ("production", "canary", "q2"), ("reference", "stable", "q2"),
                          ("production", "canary", "q3"), ("reference", "stable", "q3")]
    assert all(r.status == 200 and r.answer == f"{r.release}: {r.question}" for r in records)
    assert {r.target for r in records if r.at > switched + 0.05} == {"production"}


class _Proxy(_Release):
    """One URL for both paths: answers as the release a request names (X-Gitops-Release), else as itself."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        question = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["question"]
        name = self.headers.get("X-Gitops-Release") or self.server.name  # type: ignore[attr-defined]
        body = json.dumps({"answer": f"{name}: {question}"}).encode()
        self.send_response(200)
        self.send_header("X-Release", name)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_the_reference_headers_go_with_the_reference_requests_only() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    server.name = "canary"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        named = {"X-Gitops-Release": "stable"}
        with LoadGenerator(url, ["q1", "q2"], 40, reference=url, reference_headers=named) as load:
            time.sleep(0.5)
    finally:
        server.shutdown()
        server.server_close()
    assert {(r.target, r.release) for r in load.records} == {("production", "canary"), ("reference", "stable")}
