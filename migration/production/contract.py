"""The assistant's HTTP contract, checked against production through the proxy.

What every release must keep doing for its clients: answer every devset question with a non-empty
answer and sources, honour roles, refuse bad requests with a 4xx JSON error (never a 5xx), and
answer as the stable release answered before the rollout (the same extractive answers).
"""
from __future__ import annotations

import http.client
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str
    passed: bool
    detail: str


def _post(host: str, port: int, body: bytes, content_type: str = "application/json") -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("POST", "/ask", body, {"Content-Type": content_type})
        response = conn.getresponse()
        raw = response.read()
        try:
            data = json.loads(raw)
        except ValueError:
            data = {}
        return response.status, data if isinstance(data, dict) else {}, response.getheader("X-Release", "")
    finally:
        conn.close()


BAD_REQUESTS: tuple[tuple[str, bytes], ...] = (
    ("no question", b'{"role": "researcher"}'),
    ("empty question", b'{"question": ""}'),
    ("unknown role", b'{"question": "What is B-1006?", "role": "pirate"}'),
    ("not JSON", b"{question"),
    ("unknown field", b'{"question": "q", "colour": "red"}'),
)


def check(url: str, questions: Sequence[str], reference: Mapping[str, str]) -> list[Result]:
    """Every contract clause against `url` (the proxy)."""
    host, _, port_text = url.removeprefix("http://").rstrip("/").partition(":")
    port = int(port_text)
    results: list[Result] = []
    answered, same, releases = 0, 0, set()
    for question in questions:
        status, data, release = _post(host, port, json.dumps({"question": question}).encode())
        releases.add(release)
        if status == 200 and data.get("answer") and data.get("sources"):
            answered += 1
            same += data["answer"] == reference.get(question)
    results.append(Result("every devset question answered with sources", answered == len(questions),
                          f"{answered}/{len(questions)} answered (served by {', '.join(sorted(releases))})"))
    results.append(Result("answers as stable answered before the rollout", same == len(questions),
                          f"{same}/{len(questions)} identical to the stable baseline"))
    status, data, _ = _post(host, port, json.dumps({"question": questions[0], "role": "coder"}).encode())
    results.append(Result("a role is honoured", status == 200 and data.get("role") == "coder",
                          f"HTTP {status}, role {data.get('role')!r}"))
    for name, body in BAD_REQUESTS:
        status, data, _ = _post(host, port, body)
        results.append(Result(f"bad request ({name}) is a 4xx JSON error", 400 <= status < 500 and "error" in data,
                              f"HTTP {status}: {str(data.get('error', ''))[:80]}"))
    return results
