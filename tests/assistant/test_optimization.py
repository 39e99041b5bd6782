"""The optimization loop: BootstrapFewShot compiles, evaluation scores before and after."""

from __future__ import annotations

import statistics

from assistant.devset import Split
from assistant.offline_lm import OFFLINE_LABEL
from assistant.optimization import OptimizationResult, demo_counts
from assistant.qa import DocsQA


def test_bootstrap_gives_the_answer_predictor_demos(optimization: OptimizationResult) -> None:
    assert 1 <= optimization.demos["answer"] <= 8  # max_bootstrapped_demos + max_labeled_demos
    assert demo_counts(optimization.program) == optimization.demos


def test_demos_come_from_the_train_split(optimization: OptimizationResult, devset: Split) -> None:
    train = {e.question for e in devset.train}
    assert {d.question for d in optimization.program.answer.demos} <= train


def test_the_student_is_left_uncompiled(optimization: OptimizationResult, student: DocsQA) -> None:
    assert optimization.program is not student
    assert demo_counts(student) == {"answer": 0, "revise": 0}


def test_both_evaluations_cover_the_dev_split_with_scores_in_range(
    optimization: OptimizationResult, devset: Split
) -> None:
    for report in (optimization.baseline, optimization.optimized):
        assert report.n == len(devset.dev)
        assert report.lm == OFFLINE_LABEL
        assert all(0.0 <= value <= 100.0 for value in report.metrics.values())
    assert optimization.baseline.metrics["answer_f1"] > 0  # the offline LM really answers


def test_demos_change_the_answers(optimization: OptimizationResult) -> None:
    # The offline LM trims answers to the demos' length: compiled answers are shorter.
    def mean_words(report: object) -> float:
        return statistics.fmean(len(r.answer.split()) for r in report.examples)  # type: ignore[attr-defined]

    assert mean_words(optimization.optimized) < mean_words(optimization.baseline)
    key = "answer_f1"
    assert optimization.gain == round(
        optimization.optimized.metrics[key] - optimization.baseline.metrics[key], 2
    )
