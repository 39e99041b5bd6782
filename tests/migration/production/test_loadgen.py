"""What the load generator makes of client records: summaries, agreement, quantiles."""
from __future__ import annotations

from migration.production.loadgen import Record, agreement, devset_questions, quantile, summarize


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
