"""The service's contract with a fake assistant: answers, 4xx JSON for bad requests, metrics by release."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from migration.production.faults import Fault
from migration.production.service import Release, Reply, create_app

ROLES = ("researcher", "coder")


def fake_ask(question: str, role: str) -> Reply:
    # "fail" in the question makes an answer that failed validation, to see the counter move.
    return Reply(f"echo: {question}", ("README.md",), role, "fake LM", "fail" not in question)


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(fake_ask, Release("canary", "3.0.1"), ROLES), raise_server_exceptions=False)


def sample(client: TestClient, name: str, **labels: str) -> float:
    value = client.app.state.metrics.registry.get_sample_value(name, {"release": "canary", "dspy": "3.0.1", **labels})
    return value or 0.0


def test_ask_answers_and_names_the_release(client: TestClient) -> None:
    response = client.post("/ask", json={"question": "What is B-1006?", "role": "coder"})
    assert response.status_code == 200
    assert response.json() == {"answer": "echo: What is B-1006?", "sources": ["README.md"], "role": "coder",
                               "lm": "fake LM", "passed_validation": True, "release": "canary", "dspy": "3.0.1"}
    assert response.headers["X-Release"] == "canary"


@pytest.mark.parametrize(("kwargs", "status", "fragment"), [
    ({"json": {"role": "coder"}}, 422, "body.question: Field required"),
    ({"json": {"question": ""}}, 422, "body.question: String should have at least 1 character"),
    ({"json": {"question": "q", "rol": "coder"}}, 422, "body.rol: Extra inputs are not permitted"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, "JSON decode error"),
    ({"json": {"question": "q", "role": "pirate"}}, 422, "unknown role 'pirate'"),
    ({"json": {"question": "x" * 2001}}, 422, "at most 2000 characters"),
])
def test_bad_requests_get_a_4xx_json_error(client: TestClient, kwargs: dict, status: int, fragment: str) -> None:
    response = client.post("/ask", **kwargs)
    assert response.status_code == status
    assert fragment in response.json()["error"]
    assert sample(client, "assistant_requests_total", code=str(status)) == 1


def test_wrong_method_and_path_are_4xx_json(client: TestClient) -> None:
    assert client.get("/ask").status_code == 405
    assert client.get("/ask").json() == {"error": "Method Not Allowed"}
    assert client.get("/nowhere").json() == {"error": "Not Found"}


def test_metrics_count_requests_latency_and_validation_failures(client: TestClient) -> None:
    for question in ("one", "two", "please fail"):
        client.post("/ask", json={"question": question})
    text = client.get("/metrics").text
    assert 'assistant_requests_total{code="200",dspy="3.0.1",release="canary"} 3.0' in text
    assert sample(client, "assistant_request_seconds_count") == 3
    assert sample(client, "assistant_validation_failures_total") == 1


def test_an_injected_fault_fails_its_share_with_a_503() -> None:
    client = TestClient(create_app(fake_ask, Release("canary", "3.0.1"), ROLES, Fault(error=0.5)))
    codes = [client.post("/ask", json={"question": f"q{i}"}).status_code for i in range(6)]
    assert codes == [200, 503, 200, 503, 200, 503]
    assert client.post("/ask", json={"question": "q7"}).status_code == 200
    assert client.post("/ask", json={"question": "q8"}).json() == {"error": "injected fault (error=0.5,latency=0)"}


def test_healthz_names_release_version_and_fault(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "release": "canary", "dspy": "3.0.1", "fault": "none"}


def test_an_assistant_failure_is_a_500_json_error() -> None:
    def broken(question: str, role: str) -> Reply:
        raise RuntimeError("index missing")

    client = TestClient(create_app(broken, Release("stable", "2.6.27"), ROLES), raise_server_exceptions=False)
    response = client.post("/ask", json={"question": "q"})
    assert (response.status_code, response.json()) == (500, {"error": "the assistant failed: RuntimeError: index missing"})
