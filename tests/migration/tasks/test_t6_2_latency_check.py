"""Task 6.2's latency check: production against the reference measured beside it in the same window.

The incident it answers: p95 187 ms in the window against Task 6.1's 26 ms baseline, measured
minutes earlier on a machine that had become busier (30 s later: 36 ms). Evidence files as
the action writes them; deploy/production.yaml of the checkout gives the limit (2).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gitops.handlers import TaskContext
from gitops.model import CheckStatus
from gitops.tasklist import parser
from migration.tasks.t6_2_post_deployment_validation import check_performance
from tests.conftest import ROOT

BASELINE = {"p50_ms": 19.0, "p95_ms": 26.0, "p99_ms": 37.0, "error_rate": 0.0, "load_average": 4.0}


def figures(p50: float, p95: float, p99: float, requests: int = 600) -> dict[str, Any]:
    return {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "error_rate": 0.0, "requests": requests, "failed": 0}


def context(tmp_path: Path, window: dict[str, Any], reference: dict[str, Any] | None) -> TaskContext:
    (tmp_path / "6.1").mkdir()
    (tmp_path / "6.1" / "evidence.json").write_text(json.dumps({"baseline": BASELINE}))
    evidence: dict[str, Any] = {"window_seconds": 60, "window_clients": window, "load_average": 3.9,
                                "window_server": figures(50.0, 180.0, 240.0), "reference": {"release": "stable"}}
    if reference is not None:
        evidence |= {"window_reference": reference, "reference_server": figures(48.0, 170.0, 230.0)}
    (tmp_path / "6.2").mkdir()
    (tmp_path / "6.2" / "evidence.json").write_text(json.dumps(evidence))
    tasklist, _ = parser.load(ROOT / "migration" / "B-1006.md")
    return TaskContext(tasklist.tasks["6.2"], ROOT, tmp_path / "6.2", 1, {}, {}, lambda m: None)


def test_a_busy_window_passes_when_the_reference_beside_it_was_as_slow(tmp_path: Path) -> None:
    check = check_performance(context(tmp_path, figures(60.0, 187.0, 240.0), figures(55.0, 170.0, 230.0)))
    assert check.status is CheckStatus.PASSED, check.evidence
    assert ("600 requests through the proxy and 600 to stable beside it, alternating: p50/p95/p99 60.0/187.0/240.0 "
            "ms in production against 55.0/170.0/230.0 ms for the reference beside it (ratios {'p50_ms': 1.091, "
            "'p95_ms': 1.1, 'p99_ms': 1.043}, limit 2)") in check.evidence
    assert "Task 6.1's stable baseline before the rollout 19.0/26.0/37.0 ms" in check.evidence
    assert check.metrics["p95_ratio"] == 1.1


def test_production_past_the_limit_against_the_reference_fails(tmp_path: Path) -> None:
    check = check_performance(context(tmp_path, figures(25.0, 60.0, 70.0), figures(20.0, 26.0, 37.0)))
    assert check.status is CheckStatus.FAILED and check.metrics["p95_ratio"] == 2.308


def test_evidence_without_a_reference_fails_and_says_what_to_do(tmp_path: Path) -> None:
    check = check_performance(context(tmp_path, figures(20.0, 26.0, 37.0), None))
    assert check.status is CheckStatus.FAILED
    assert check.evidence == (f"{tmp_path / '6.2' / 'evidence.json'} has no reference measured beside the window: "
                              "run Task 6.2 again (gitops retry 6.2)")


def test_prometheus_over_the_watched_span_past_the_limit_fails_even_when_the_clients_window_passed(
        tmp_path: Path) -> None:
    ctx = context(tmp_path, figures(60.0, 187.0, 240.0), figures(55.0, 170.0, 230.0))
    path = tmp_path / "6.2" / "evidence.json"
    evidence = json.loads(path.read_text())
    evidence |= {"window_server": figures(40.0, 400.0, 900.0), "where": "to production at https://a.example.org",
                 "span": {"from": "2026-12-04T10:00:00+00:00", "to": "2026-12-05T10:01:30+00:00", "seconds": 86490.0,
                          "scheduled": True}}
    path.write_text(json.dumps(evidence))
    check = check_performance(ctx)
    assert check.status is CheckStatus.FAILED
    assert check.evidence.startswith("to production at https://a.example.org: validation window of 60 s")
    assert ("Prometheus' histogram over the scheduled window from its opening: 2026-12-04T10:00:00+00:00 to "
            "2026-12-05T10:01:30+00:00 (86490 s): production 40.0/400.0/900.0 ms, against stable in the window "
            "beside it 48.0/170.0/230.0 ms (ratios "
            "{'p50_ms': 0.833, 'p95_ms': 2.353, 'p99_ms': 3.913})") in check.evidence
