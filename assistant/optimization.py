"""The optimization loop: BootstrapFewShot on the train split, evaluation before and after."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dspy

from assistant.devset import Split
from assistant.evaluation import EvaluationReport, Metric, evaluate
from assistant.metrics import answer_f1
from assistant.model_switcher import ModelSwitcher, TaskType
from assistant.qa import DocsQA


@dataclass(frozen=True)
class OptimizationResult:
    """The compiled program and its evaluation next to the uncompiled baseline's."""

    program: DocsQA
    baseline: EvaluationReport
    optimized: EvaluationReport
    demos: dict[str, int]  # predictor name -> number of few-shot demos it was given

    @property
    def gain(self) -> float:
        """Change of the main metric in percentage points (positive: the optimizer helped)."""
        key = next(iter(self.baseline.metrics))
        return round(self.optimized.metrics[key] - self.baseline.metrics[key], 2)


def compile_program(
    student: DocsQA,
    trainset: list[dspy.Example],
    *,
    switcher: ModelSwitcher,
    metric: Metric = answer_f1,
    max_bootstrapped_demos: int = 4,
    max_labeled_demos: int = 4,
) -> DocsQA:
    """BootstrapFewShot: the optimization LM teaches, the QA LM is the student's."""
    teacher_lm = switcher.lm_for(TaskType.OPTIMIZATION)
    optimizer = dspy.BootstrapFewShot(
        metric=metric,
        teacher_settings={"lm": teacher_lm},
        max_bootstrapped_demos=max_bootstrapped_demos,
        max_labeled_demos=max_labeled_demos,
        max_rounds=1,
    )
    with switcher.use(TaskType.QA):
        compiled: Any = optimizer.compile(student, trainset=trainset)
    return compiled  # BootstrapFewShot returns a copy of the student's class


def demo_counts(program: dspy.Module) -> dict[str, int]:
    """Few-shot demos per named predictor."""
    return {name: len(predictor.demos) for name, predictor in program.named_predictors()}


def run_optimization(
    student: DocsQA,
    split: Split,
    *,
    switcher: ModelSwitcher,
    metric: Metric = answer_f1,
    num_threads: int = 1,
) -> OptimizationResult:
    """Evaluate `student` on the dev split, compile it on train, evaluate the result."""
    label = switcher.label(TaskType.QA)
    with switcher.use(TaskType.QA):
        baseline = evaluate(
            student, split.dev, program_name="DocsQA (zero-shot)", lm=label,
            metric=metric, num_threads=num_threads,
        )
    compiled = compile_program(student, split.train, switcher=switcher, metric=metric)
    with switcher.use(TaskType.QA):
        optimized = evaluate(
            compiled, split.dev, program_name="DocsQA (BootstrapFewShot)", lm=label,
            metric=metric, num_threads=num_threads,
        )
    return OptimizationResult(compiled, baseline, optimized, demo_counts(compiled))
