"""The optimization loop: an optimizer on the train split, evaluation on dev before and after.

`optimize` is the one entry point to every optimizer: "bootstrap" (BootstrapFewShot, the
default and the loop's original optimizer), "gepa" (DSPy 3.0 only), "simba", "miprov2"
(see `assistant.optimizers`). The dev split is never shown to an optimizer: those that
want a validation set get the last third of the train split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dspy

from assistant.budget import BudgetGuard
from assistant.devset import Split
from assistant.evaluation import EvaluationReport, Metric, evaluate
from assistant.metrics import answer_f1
from assistant.model_switcher import ModelSwitcher, TaskType
from assistant.optimizers import COMPILERS, DEFAULT_BUDGET, NAMES
from assistant.qa import DocsQA


@dataclass(frozen=True)
class OptimizationResult:
    """The compiled program and its evaluation next to the uncompiled baseline's."""

    program: DocsQA
    baseline: EvaluationReport
    optimized: EvaluationReport
    demos: dict[str, int]  # predictor name -> number of few-shot demos it was given
    optimizer: str = "bootstrap"

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


def validation_split(trainset: Sequence[dspy.Example]) -> tuple[list[dspy.Example], list[dspy.Example]]:
    """The train split cut in two: examples to learn from, and the last third to validate on."""
    cut = len(trainset) - max(1, len(trainset) // 3)
    return list(trainset[:cut]), list(trainset[cut:])


def optimize(
    student: DocsQA,
    trainset: list[dspy.Example],
    *,
    switcher: ModelSwitcher,
    optimizer: str = "bootstrap",
    metric: Metric = answer_f1,
    budget: int | None = None,
    guard: BudgetGuard | None = None,
) -> DocsQA:
    """Compile `student` with the named optimizer; `budget`: metric calls to plan for (soft; not bootstrap).

    With a `guard` its limits are hard: on a violation the optimizer is stopped and the guard's
    kept program (the best candidate scored so far, else `student`) is returned; see `guard.stop`.
    """
    if guard is not None:
        planned = budget if budget is not None else guard.budget.metric_calls
        return guard.run(student, metric, lambda guarded: optimize(
            student, trainset, switcher=switcher, optimizer=optimizer, metric=guarded, budget=planned))
    if optimizer == "bootstrap":
        return compile_program(student, trainset, switcher=switcher, metric=metric)
    if optimizer not in COMPILERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; known: {', '.join(NAMES)}")
    train, validation = validation_split(trainset)
    compiled: Any = COMPILERS[optimizer](
        student, train, validation, switcher=switcher, metric=metric, budget=budget or DEFAULT_BUDGET
    )
    return compiled


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
    optimizer: str = "bootstrap",
    budget: int | None = None,
) -> OptimizationResult:
    """Evaluate `student` on the dev split, optimize it on train (BootstrapFewShot by default), evaluate the result."""
    label = switcher.label(TaskType.QA)
    with switcher.use(TaskType.QA):
        baseline = evaluate(
            student, split.dev, program_name="DocsQA (zero-shot)", lm=label, metric=metric, num_threads=num_threads
        )
    compiled = optimize(student, split.train, switcher=switcher, optimizer=optimizer, metric=metric, budget=budget)
    with switcher.use(TaskType.QA):
        optimized = evaluate(
            compiled,
            split.dev,
            program_name=f"DocsQA ({NAMES[optimizer]})",
            lm=label,
            metric=metric,
            num_threads=num_threads,
        )
    return OptimizationResult(compiled, baseline, optimized, demo_counts(compiled), optimizer)
