"""Answer metrics."""

from __future__ import annotations

import dspy
import pytest

from assistant.metrics import (
    answer_exact,
    answer_f1,
    answer_in_context,
    exact_match,
    normalize_answer,
    retrieval_hit,
    token_f1,
)

GOLD = dspy.Example(question="q", answer="DSPy 3.0.1", source="migration/B-1006.md").with_inputs(
    "question"
)


def test_normalize_drops_case_punctuation_and_articles() -> None:
    assert normalize_answer("The DSPy 3.0.1, an update!") == ["dspy", "3", "0", "1", "update"]


@pytest.mark.parametrize(
    ("prediction", "gold", "f1"),
    [
        ("DSPy 3.0.1", "dspy 3.0.1", 1.0),
        ("Pin DSPy 3.0.1", "DSPy 3.0.1", 2 * 1.0 * 0.8 / 1.8 * 1.0),
        ("nothing shared", "DSPy", 0.0),
        ("", "", 1.0),
        ("", "x", 0.0),
    ],
)
def test_token_f1(prediction: str, gold: str, f1: float) -> None:
    assert token_f1(prediction, gold) == pytest.approx(f1)


def test_exact_match_ignores_formatting() -> None:
    assert exact_match("the DSPy 3.0.1.", "DSPy 3.0.1") == 1.0
    assert exact_match("DSPy 3.0", "DSPy 3.0.1") == 0.0


def test_answer_f1_is_a_score_in_evaluation_and_a_verdict_in_bootstrapping() -> None:
    partial = dspy.Prediction(answer="Pin DSPy 3.0.1 in constraints.txt")
    assert answer_f1(GOLD, partial) == pytest.approx(token_f1(partial.answer, "DSPy 3.0.1"))
    assert answer_f1(GOLD, partial, trace=[]) is True
    assert answer_f1(GOLD, dspy.Prediction(answer="no"), trace=[]) is False


def test_answer_exact_and_missing_answer() -> None:
    assert answer_exact(GOLD, dspy.Prediction(answer="DSPy 3.0.1")) == 1.0
    assert answer_f1(GOLD, dspy.Prediction()) == 0.0


def test_retrieval_metrics() -> None:
    prediction = dspy.Prediction(
        answer="",
        sources=["README.md", "migration/B-1006.md"],
        context=["Task 1.1\nPin DSPy 3.0.1 in constraints.txt"],
    )
    assert retrieval_hit(GOLD, prediction) == 1.0
    assert retrieval_hit(GOLD, dspy.Prediction(sources=["README.md"])) == 0.0
    assert answer_in_context(GOLD, prediction) == 1.0
    assert answer_in_context(GOLD, dspy.Prediction(context=["DSPy 2.6.27"])) == 0.0
