"""Figures over a span: one instant query per figure, evaluated at the span's end over a range as long as the span."""
from __future__ import annotations

from migration.production.span import figures, per_release, quantile_query, unix

OPENED, END = unix("2026-12-04T10:00:00+00:00"), unix("2026-12-05T10:01:30+00:00")


class FakePrometheus:
    """Answers each query by a substring of it, and records (query, time) as the API would receive them."""

    def __init__(self, answers: dict[str, float | None]) -> None:
        self.answers, self.asked = answers, []

    def scalar(self, promql: str, at: float | None = None) -> float | None:
        self.asked.append((promql, at))
        return next((v for k, v in self.answers.items() if k in promql), None)


def test_each_figure_covers_the_whole_span_and_is_evaluated_at_its_end() -> None:
    prometheus = FakePrometheus({"histogram_quantile(0.5,": 0.0184, "histogram_quantile(0.95,": 0.0351,
                                 "histogram_quantile(0.99,": 0.0612, 'code=~"5.."': 0.00123, "increase(": 864012.4})
    got = figures(prometheus, "canary", OPENED, END)
    assert got == {"p50_ms": 18.4, "p95_ms": 35.1, "p99_ms": 61.2, "error_rate": 0.0012, "requests": 864012}
    assert {at for _, at in prometheus.asked} == {END}
    assert all("[86490s]" in q for q, _ in prometheus.asked)  # 24 h and the 90 s evaluated after them
    assert prometheus.asked[1][0] == quantile_query(0.95, "canary", "86490s") == (
        'histogram_quantile(0.95, sum by (le) (rate(assistant_request_seconds_bucket{release="canary"}[86490s])))')


def test_a_release_without_data_in_the_span_has_none() -> None:
    assert figures(FakePrometheus({}), "stable", OPENED, END) == {
        "p50_ms": None, "p95_ms": None, "p99_ms": None, "error_rate": None, "requests": None}


def test_per_release_names_the_span() -> None:
    span = per_release(FakePrometheus({}), ["canary", "stable"], OPENED, END)
    assert (span["from"], span["to"], span["seconds"]) == ("2026-12-04T10:00:00+00:00", "2026-12-05T10:01:30+00:00",
                                                           86490.0)
    assert sorted(span["releases"]) == ["canary", "stable"]
    assert unix("2026-12-04T10:00:00") == OPENED  # a naive time is UTC, as the engine's records
