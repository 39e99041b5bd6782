"""Production's latency against a reference of the same window: ratios per quantile, the declared limit."""
from __future__ import annotations

from migration.production.latency import Comparison


def figures(p50: float | None, p95: float | None, p99: float | None) -> dict[str, float | None]:
    return {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99}


def test_a_busy_machine_slows_both_sides_and_the_ratio_stays_fair() -> None:
    # The incident: p95 187 ms in the window; the reference beside it was as slow.
    comparison = Comparison(figures(60.0, 187.0, 240.0), figures(55.0, 170.0, 230.0), 2.0)
    assert comparison.ratios == {"p50_ms": 1.091, "p95_ms": 1.1, "p99_ms": 1.043}
    assert comparison.ok


def test_production_slower_than_the_limit_against_its_reference_fails_on_any_quantile() -> None:
    assert not Comparison(figures(20.0, 26.0, 80.0), figures(20.0, 26.0, 37.0), 2.0).ok  # p99 2.16x
    assert Comparison(figures(20.0, 52.0, 74.0), figures(20.0, 26.0, 37.0), 2.0).ok  # exactly 2x passes


def test_nothing_measured_on_either_side_is_no_pass() -> None:
    comparison = Comparison(figures(20.0, None, 30.0), figures(20.0, 26.0, 37.0), 2.0)
    assert comparison.ratios["p95_ms"] is None and not comparison.ok
    assert not Comparison(figures(20.0, 26.0, 30.0), figures(None, None, None), 2.0).ok
    assert comparison.text() == ("p50/p95/p99 20.0/None/30.0 ms in production against 20.0/26.0/37.0 ms for the "
                                 "reference beside it (ratios {'p50_ms': 1.0, 'p95_ms': None, 'p99_ms': 0.811}, "
                                 "limit 2)")
