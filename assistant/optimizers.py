"""The optimizers beside BootstrapFewShot: GEPA (DSPy 3.0 only), SIMBA and MIPROv2.

Each `compile_*` function takes the same arguments, so `optimization.optimize` can choose
one by name. `budget` is the number of metric calls an optimizer may plan for; every one
of them treats it as a target, not a limit (GEPA's `max_metric_calls=20` ended at 22 calls,
FACTS.md), so callers count the calls their metric really gets. GEPA writes new
instructions with a reflection LM, which must be given (its constructor checks); here it
is the switcher's optimization LM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dspy

from assistant.evaluation import Metric
from assistant.model_switcher import ModelSwitcher, TaskType

DEFAULT_BUDGET = 60  # metric calls, when the caller gives none
SIMBA_CANDIDATES = 2
NAMES = {"bootstrap": "BootstrapFewShot", "gepa": "GEPA", "simba": "SIMBA", "miprov2": "MIPROv2"}


class OptimizerUnavailable(RuntimeError):
    """The installed DSPy has no such optimizer."""


def available(optimizer: str) -> bool:
    """Whether the installed DSPy has `optimizer` (GEPA exists from DSPy 3.0 on)."""
    return optimizer in NAMES and hasattr(dspy, NAMES[optimizer])


def feedback_metric(metric: Metric) -> Callable[..., dspy.Prediction]:
    """`metric` as GEPA calls it (gold, pred, trace, pred_name, pred_trace): a score and feedback."""

    def gepa_metric(
        gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None
    ) -> dspy.Prediction:
        score = float(metric(gold, pred))
        return dspy.Prediction(score=score, feedback=f"Scored {score:.2f}. The expected answer: {gold.answer}")

    return gepa_metric


def compile_gepa(
    student: dspy.Module,
    trainset: list[dspy.Example],
    valset: list[dspy.Example],
    *,
    switcher: ModelSwitcher,
    metric: Metric,
    budget: int,
) -> dspy.Module:
    """GEPA: reflective instruction evolution; `budget` is its (soft) `max_metric_calls`."""
    if not available("gepa"):
        raise OptimizerUnavailable(
            f"GEPA needs DSPy >= 3.0; this is DSPy {dspy.__version__}. "
            "Use optimizer='bootstrap', 'simba' or 'miprov2', or the candidate environment."
        )
    optimizer = dspy.GEPA(
        metric=feedback_metric(metric),
        max_metric_calls=budget,
        num_threads=1,
        seed=0,
        reflection_lm=switcher.lm_for(TaskType.OPTIMIZATION),
        reflection_minibatch_size=2,
    )
    with switcher.use(TaskType.QA):
        return optimizer.compile(student, trainset=trainset, valset=valset)


def compile_simba(
    student: dspy.Module,
    trainset: list[dspy.Example],
    valset: list[dspy.Example],
    *,
    switcher: ModelSwitcher,
    metric: Metric,
    budget: int,
) -> dspy.Module:
    """SIMBA: mini-batch ascent adding demos and rules; a step costs about bsize * (candidates + 1) calls."""
    bsize = min(4, len(trainset))
    steps = max(1, budget // (bsize * (SIMBA_CANDIDATES + 1)))
    optimizer = dspy.SIMBA(
        metric=lambda example, prediction: float(metric(example, prediction)),
        bsize=bsize,
        num_candidates=SIMBA_CANDIDATES,
        max_steps=steps,
        max_demos=2,
        num_threads=1,
    )
    with switcher.use(TaskType.QA):  # SIMBA proposes its rules with the current LM
        return optimizer.compile(student, trainset=trainset + valset, seed=0)


def compile_miprov2(
    student: dspy.Module,
    trainset: list[dspy.Example],
    valset: list[dspy.Example],
    *,
    switcher: ModelSwitcher,
    metric: Metric,
    budget: int,
) -> dspy.Module:
    """MIPROv2: proposed instructions and demos searched over; a trial evaluates the whole valset."""
    optimizer = dspy.MIPROv2(
        metric=metric,
        prompt_model=switcher.lm_for(TaskType.OPTIMIZATION),
        task_model=switcher.lm_for(TaskType.QA),
        auto=None,
        num_candidates=2,
        max_bootstrapped_demos=2,
        max_labeled_demos=2,
        num_threads=1,
        verbose=False,
        track_stats=False,
        teacher_settings={"lm": switcher.lm_for(TaskType.OPTIMIZATION)},
    )
    with switcher.use(TaskType.QA):
        return optimizer.compile(
            student,
            trainset=trainset,
            valset=valset,
            num_trials=max(1, budget // len(valset)),
            minibatch=False,
            requires_permission_to_run=False,
        )


COMPILERS: dict[str, Callable[..., dspy.Module]] = {
    "gepa": compile_gepa,
    "simba": compile_simba,
    "miprov2": compile_miprov2,
}
