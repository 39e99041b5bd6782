"""Evaluation through dspy.Evaluate, with per-example scores, in DSPy 2.6 and 3.0."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import dspy
import pytest

from assistant.evaluation import evaluate, evaluation_score

EXAMPLES = [
    dspy.Example(question="q1", answer="red apple", source="a.md").with_inputs("question"),
    dspy.Example(question="q2", answer="green pear", source="b.md").with_inputs("question"),
    dspy.Example(question="q3", answer="blue plum", source="a.md").with_inputs("question"),
]


class Canned(dspy.Module):
    """Answers from a table; raises for questions it does not know."""

    def __init__(self, answers: dict[str, str]) -> None:
        super().__init__()
        self.answers = answers

    def forward(self, question: str) -> dspy.Prediction:
        if question not in self.answers:
            raise KeyError(question)
        return dspy.Prediction(
            answer=self.answers[question], sources=["a.md"], context=[self.answers[question]]
        )


def test_scores_every_example_and_aggregates_in_percent() -> None:
    program = Canned({"q1": "red apple", "q2": "green", "q3": "nothing"})
    report = evaluate(program, EXAMPLES, program_name="canned", lm="test LM")
    assert (report.program, report.lm, report.n) == ("canned", "test LM", 3)
    assert [round(r.scores["answer_f1"], 3) for r in report.examples] == [1.0, 0.667, 0.0]
    assert report.metrics == {
        "answer_f1": pytest.approx(round(100 * (1 + 2 / 3) / 3, 2)),
        "exact_match": pytest.approx(33.33),
        "answer_in_context": pytest.approx(33.33),
        "source_retrieved": pytest.approx(66.67),
    }


def test_threads_give_the_same_report() -> None:
    program = Canned({"q1": "red apple", "q2": "green", "q3": "plum"})
    one = evaluate(program, EXAMPLES, program_name="p", lm="x", num_threads=1)
    three = evaluate(program, EXAMPLES, program_name="p", lm="x", num_threads=3)
    assert one == three


def test_a_failing_example_scores_zero(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)  # dspy logs the KeyError; it is expected here
    report = evaluate(
        Canned({"q1": "red apple", "q2": "green pear"}), EXAMPLES, program_name="p", lm="x"
    )
    assert report.n == 3
    assert report.examples[2].answer == "" and report.examples[2].scores["answer_f1"] == 0.0
    assert report.metrics["answer_f1"] == pytest.approx(66.67)


def test_no_examples_is_an_error() -> None:
    with pytest.raises(ValueError, match="no examples to evaluate p on"):
        evaluate(Canned({}), [], program_name="p", lm="x")


def test_evaluation_score_reads_both_dspy_result_shapes() -> None:
    assert evaluation_score(41.5) == 41.5  # DSPy 2.6: a float
    assert (
        evaluation_score(SimpleNamespace(score=41.5, results=[])) == 41.5
    )  # DSPy 3.0: EvaluationResult
