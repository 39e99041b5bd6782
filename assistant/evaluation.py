"""Evaluate a program on labelled examples with `dspy.Evaluate`, keeping per-example scores."""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dspy

from assistant.metrics import answer_exact, answer_f1, answer_in_context, retrieval_hit

Metric = Callable[..., Any]
# Metrics reported beside the main one; they only read the prediction, never call the LM.
EXTRA_METRICS: Mapping[str, Metric] = {
    "exact_match": answer_exact,
    "answer_in_context": answer_in_context,
    "source_retrieved": retrieval_hit,
}


@dataclass(frozen=True)
class ExampleResult:
    """One example's answer and its score under every metric (0.0 to 1.0)."""

    question: str
    gold: str
    answer: str
    scores: Mapping[str, float]


@dataclass(frozen=True)
class EvaluationReport:
    """Aggregate scores (percent) of one program on one example set, and which LM made them."""

    program: str
    lm: str
    metrics: Mapping[str, float]  # metric name -> mean score in percent
    examples: tuple[ExampleResult, ...]

    @property
    def n(self) -> int:
        """How many examples were scored."""
        return len(self.examples)


def evaluation_score(result: Any) -> float:
    """The percent score of a `dspy.Evaluate` call.

    DSPy 2.6 returns a float, DSPy 3.0 an `EvaluationResult` with `.score`.
    """
    return float(getattr(result, "score", result))


def evaluate(
    program: dspy.Module,
    examples: Sequence[dspy.Example],
    *,
    program_name: str,
    lm: str,
    metric: Metric = answer_f1,
    extra_metrics: Mapping[str, Metric] = EXTRA_METRICS,
    num_threads: int = 1,
) -> EvaluationReport:
    """Score `program` on `examples` with the LM current in this thread (see ModelSwitcher.use)."""
    if not examples:
        raise ValueError(f"no examples to evaluate {program_name} on")
    recorded: dict[str, ExampleResult] = {}
    lock = threading.Lock()
    name = getattr(metric, "__name__", "score")

    def recording_metric(example: dspy.Example, prediction: Any, trace: Any = None) -> float:
        # Wraps the metric to keep each prediction: DSPy 2.6 only returns them with
        # return_outputs=True, an argument DSPy 3.0 rejects.
        score = float(metric(example, prediction, trace))
        scores = {name: score}
        scores.update({k: float(m(example, prediction)) for k, m in extra_metrics.items()})
        answer = str(getattr(prediction, "answer", "") or "")
        with lock:
            recorded[example.question] = ExampleResult(example.question, example.answer, answer, scores)
        return score

    evaluator = dspy.Evaluate(
        devset=list(examples), metric=recording_metric, num_threads=num_threads, display_progress=False
    )
    main = evaluation_score(evaluator(program))
    # An example whose program call raised never reached the metric: it scores 0 everywhere.
    failed = dict.fromkeys([name, *extra_metrics], 0.0)
    results = tuple(
        recorded.get(e.question) or ExampleResult(e.question, e.answer, "", failed) for e in examples
    )
    metrics = {name: main}
    for key in extra_metrics:
        metrics[key] = round(100 * sum(r.scores[key] for r in results) / len(results), 2)
    return EvaluationReport(program_name, lm, metrics, results)
