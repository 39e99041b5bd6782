"""Canary analysis as PromQL against Prometheus' HTTP API, modelled on Argo Rollouts' AnalysisTemplate.

Each measurement runs every metric's query (GET /api/v1/query, https://prometheus.io/docs/prometheus/latest/querying/api/)
and compares the result with its threshold, like an AnalysisTemplate metric with a Prometheus provider
and a successCondition (https://argo-rollouts.readthedocs.io/en/stable/analysis/prometheus/). `count`
measurements are taken `interval` apart; more than `failure_limit` failed measurements fail the run
at once (Argo's failureLimit). A query with no data yet (the canary not scraped twice) is
inconclusive, not a failure; a run that never gets data fails, since silence is not health.
Answer agreement with stable is measured by the clients (like Argo's Job or Web provider).
"""
from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from migration.production.spec import Analysis


class PrometheusError(RuntimeError):
    """Prometheus did not answer a query; the message names the query."""


class Prometheus:
    """A narrow client of Prometheus' HTTP API: instant queries and alerts."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _get(self, path: str, params: dict[str, str] | None = None) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=5) as response:  # noqa: S310 (loopback)
                body = json.loads(response.read())
        except (OSError, ValueError, urllib.error.URLError) as error:
            raise PrometheusError(f"{self.url}{path} {params or ''}: {error}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"{self.url}{path} {params or ''}: {body.get('error', body)}")
        return body["data"]

    def query(self, promql: str, at: float | None = None) -> list[tuple[dict[str, str], float]]:
        """An instant vector: (labels, value) per series; NaN values are dropped. `at`: the evaluation
        time (Unix seconds; the API's `time` parameter), else Prometheus' now."""
        data = self._get("/api/v1/query", {"query": promql} | ({"time": f"{at:.3f}"} if at is not None else {}))
        out = [(item["metric"], float(item["value"][1])) for item in data.get("result", [])]
        return [(labels, value) for labels, value in out if not math.isnan(value)]

    def scalar(self, promql: str, at: float | None = None) -> float | None:
        result = self.query(promql, at)
        return result[0][1] if result else None

    def alerts(self) -> list[dict]:
        return self._get("/api/v1/alerts").get("alerts", [])

    def alert_rules(self) -> list[str]:
        """The names of the alerting rules Prometheus has loaded."""
        groups = self._get("/api/v1/rules", {"type": "alert"}).get("groups", [])
        return [rule["name"] for group in groups for rule in group.get("rules", [])]

    def targets(self) -> list[dict]:
        return self._get("/api/v1/targets").get("activeTargets", [])


def _selector(release: str, instance: str | None) -> str:
    # The instance pins the query to the process now serving: a replaced one (the faulty canary of a
    # rehearsal) keeps its series in the window for a while and must not be judged again.
    return f'release="{release}"' + (f',instance="{instance}"' if instance else "")


def error_rate_query(release: str, window: str, instance: str | None = None) -> str:
    match = _selector(release, instance)
    return (f'(sum(rate(assistant_requests_total{{{match},code=~"5.."}}[{window}])) or vector(0))'
            f' / sum(rate(assistant_requests_total{{{match}}}[{window}]))')


def p95_query(release: str, window: str, instance: str | None = None) -> str:
    return (f'histogram_quantile(0.95, sum by (le) '
            f'(rate(assistant_request_seconds_bucket{{{_selector(release, instance)}}}[{window}])))')


def count_query(release: str, window: str, instance: str | None = None) -> str:
    return f"sum(increase(assistant_requests_total{{{_selector(release, instance)}}}[{window}]))"


def window_text(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


@dataclass(frozen=True)
class Measurement:
    metric: str
    value: float | None  # None: no data yet
    limit: float
    passed: bool | None  # None: inconclusive
    query: str


@dataclass
class AnalysisRun:
    """The measurements of one analysis, and its verdict."""

    measurements: list[list[Measurement]] = field(default_factory=list)
    failed: int = 0
    passed: bool = False
    reason: str = ""

    def as_dict(self) -> dict:
        return {"passed": self.passed, "failed": self.failed, "reason": self.reason,
                "measurements": [[asdict(m) for m in row] for row in self.measurements]}


def measure(prometheus: Prometheus, canary: str, stable: str, analysis: Analysis,
            agreement: Callable[[], float | None], instances: dict[str, str] | None = None) -> list[Measurement]:
    """One measurement of every metric: the canary's error rate, its p95 against stable's, agreement."""
    window, limits, at = window_text(analysis.window), analysis.thresholds, instances or {}
    rows: list[Measurement] = []
    query = error_rate_query(canary, window, at.get(canary))
    value = prometheus.scalar(query)
    rows.append(Measurement("error_rate", value, limits.max_error_rate,
                            None if value is None else value <= limits.max_error_rate, query))
    canary_q, stable_q = p95_query(canary, window, at.get(canary)), p95_query(stable, window, at.get(stable))
    canary_p95, stable_p95 = prometheus.scalar(canary_q), prometheus.scalar(stable_q)
    # A p95 of a handful of requests is their slowest one: on a busy machine one scheduling hiccup
    # would fail the canary. Below `min_requests` in the window the comparison is inconclusive.
    samples = prometheus.scalar(count_query(canary, window, at.get(canary))) or 0.0
    enough = samples >= analysis.min_requests
    ratio = None if canary_p95 is None or not stable_p95 or not enough else canary_p95 / stable_p95
    rows.append(Measurement("p95_ratio", ratio, limits.max_p95_ratio,
                            None if ratio is None else ratio <= limits.max_p95_ratio,
                            f"{canary_q} / {stable_q}"))
    share = agreement()
    rows.append(Measurement("agreement", share, limits.min_agreement,
                            None if share is None else share >= limits.min_agreement, "client-side: loadgen answers"))
    return rows


def run_analysis(measure_once: Callable[[], list[Measurement]], analysis: Analysis,
                 sleep: Callable[[float], None] = time.sleep) -> AnalysisRun:
    """`count` measurements `interval` apart; stops at the first failure past `failure_limit`."""
    run = AnalysisRun()
    for _ in range(analysis.count):
        sleep(analysis.interval)
        row = measure_once()
        run.measurements.append(row)
        failing = [m for m in row if m.passed is False]
        if failing:
            run.failed += 1
            if run.failed > analysis.failure_limit:
                run.reason = "; ".join(f"{m.metric}={m.value:.4g} past {m.limit:g}" for m in failing)
                return run
    conclusive = [row for row in run.measurements if all(m.passed is not None for m in row)]
    if not conclusive:
        run.reason = "no measurement had data for every metric"
        return run
    run.passed = True
    run.reason = f"{len(conclusive)} of {analysis.count} measurements conclusive, {run.failed} failed"
    return run
