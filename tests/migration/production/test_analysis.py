"""The analysis verdict (Argo's count / failureLimit semantics) and the queries it sends, with a fake Prometheus."""
from __future__ import annotations

from migration.production.analysis import (
    Measurement,
    count_query,
    error_rate_query,
    measure,
    p95_query,
    run_analysis,
)
from migration.production.spec import Analysis, Thresholds

ANALYSIS = Analysis(interval=2.0, count=3, failure_limit=0, window=10.0, min_requests=15,
                    thresholds=Thresholds(0.02, 2.0, 0.9))


class FakePrometheus:
    """Answers each query from a table; records what was asked."""

    def __init__(self, answers: dict[str, float | None]) -> None:
        self.answers, self.asked = answers, []

    def scalar(self, promql: str) -> float | None:
        self.asked.append(promql)
        return self.answers.get(promql)


def row(error: float | None, ratio: float | None = 1.0, agree: float | None = 1.0) -> list[Measurement]:
    return [Measurement("error_rate", error, 0.02, None if error is None else error <= 0.02, "q"),
            Measurement("p95_ratio", ratio, 2.0, None if ratio is None else ratio <= 2.0, "q"),
            Measurement("agreement", agree, 0.9, None if agree is None else agree >= 0.9, "q")]


def test_measure_compares_the_canary_with_stable() -> None:
    fake = FakePrometheus({error_rate_query("canary", "10s"): 0.5, p95_query("canary", "10s"): 0.06,
                           p95_query("stable", "10s"): 0.02, count_query("canary", "10s"): 15.0})
    rows = measure(fake, "canary", "stable", ANALYSIS, lambda: 0.95)
    assert [(m.metric, m.value, m.passed) for m in rows] == [
        ("error_rate", 0.5, False), ("p95_ratio", 0.06 / 0.02, False), ("agreement", 0.95, True)]
    assert fake.asked[0] == ('(sum(rate(assistant_requests_total{release="canary",code=~"5.."}[10s])) or vector(0))'
                             ' / sum(rate(assistant_requests_total{release="canary"}[10s]))')


def test_a_p95_of_too_few_requests_is_not_judged() -> None:
    fake = FakePrometheus({error_rate_query("canary", "10s"): 0.0, p95_query("canary", "10s"): 0.5,
                           p95_query("stable", "10s"): 0.02, count_query("canary", "10s"): 14.0})
    latency = measure(fake, "canary", "stable", ANALYSIS, lambda: 1.0)[1]
    assert (latency.metric, latency.value, latency.passed) == ("p95_ratio", None, None)


def test_no_data_is_inconclusive_not_failed() -> None:
    rows = measure(FakePrometheus({}), "canary", "stable", ANALYSIS, lambda: None)
    assert [m.passed for m in rows] == [None, None, None]


def test_a_healthy_canary_passes_after_count_measurements() -> None:
    rows, slept = iter([row(None), row(0.0), row(0.01)]), []
    run = run_analysis(lambda: next(rows), ANALYSIS, slept.append)
    assert (run.passed, run.failed, len(run.measurements), slept) == (True, 0, 3, [2.0, 2.0, 2.0])
    assert run.reason == "2 of 3 measurements conclusive, 0 failed"


def test_the_first_failure_past_the_limit_stops_the_run() -> None:
    rows = iter([row(0.5), row(0.0), row(0.0)])
    run = run_analysis(lambda: next(rows), ANALYSIS, lambda s: None)
    assert (run.passed, run.failed, len(run.measurements)) == (False, 1, 1)
    assert run.reason == "error_rate=0.5 past 0.02"


def test_failures_within_the_limit_are_tolerated() -> None:
    rows = iter([row(0.5), row(0.0), row(0.0)])
    tolerant = Analysis(2.0, 3, 1, 10.0, 15, ANALYSIS.thresholds)
    assert run_analysis(lambda: next(rows), tolerant, lambda s: None).passed


def test_a_run_without_data_fails() -> None:
    rows = iter([row(None), row(0.0, None), row(0.0, 1.0, None)])
    run = run_analysis(lambda: next(rows), ANALYSIS, lambda s: None)
    assert (run.passed, run.reason) == (False, "no measurement had data for every metric")
