"""Compare optimizers on the assistant, run *inside* an environment: `python optimizer_probes.py ROOT BUDGET NAME...`.

Evaluates the unoptimized DocsQA of the repository at ROOT on the held-out dev split, then
optimizes a fresh copy on the train split with each named optimizer through
`assistant.optimization.optimize` (budget: metric calls, soft) and evaluates the result on
dev. The name "workflow" runs `run_optimization` with its defaults instead (the loop that
`python -m assistant evaluate` runs). The LM comes from GITOPS_LM (offline ExtractiveLM
when unset). Prints one JSON object on stdout; library chatter goes to stderr. Imports only
the standard library at module level, like `dspy3_probes.py`; an optimizer that raises is
recorded with its error.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def counted(metric: Callable[..., Any]) -> tuple[Callable[..., Any], list[int]]:
    """`metric` and a one-item list holding how many times it was called."""
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return metric(*args, **kwargs)

    return wrapper, calls


def run_one(name: str, student: Any, split: Any, switcher: Any, budget: int) -> dict[str, Any]:
    """Optimize with `name`, evaluate on dev; scores, metric calls, reflection (optimization-LM) calls, seconds."""
    from assistant.evaluation import evaluate
    from assistant.metrics import answer_f1
    from assistant.model_switcher import TaskType
    from assistant.optimization import demo_counts, optimize
    from assistant.optimizers import NAMES

    metric, calls = counted(answer_f1)
    optimizer_lm = switcher.lm_for(TaskType.OPTIMIZATION)
    before = len(optimizer_lm.history)
    program = optimize(student.deepcopy(), split.train, switcher=switcher, optimizer=name, metric=metric, budget=budget)
    with switcher.use(TaskType.QA):
        report = evaluate(program, split.dev, program_name=f"DocsQA ({NAMES[name]})", lm=switcher.label(TaskType.QA))
    return {
        "metrics": dict(report.metrics),
        "metric_calls": calls[0],
        "optimizer_lm_calls": len(optimizer_lm.history) - before,
        "demos": demo_counts(program),
        "instructions_changed": program.answer.signature.instructions != student.answer.signature.instructions,
    }


def run_workflow(student: Any, split: Any, switcher: Any) -> dict[str, Any]:
    """The loop as `python -m assistant evaluate` runs it: `run_optimization` with its defaults."""
    from assistant.optimization import run_optimization

    result = run_optimization(student.deepcopy(), split, switcher=switcher)
    return {
        "optimizer": result.optimizer,
        "program": result.optimized.program,
        "metrics": dict(result.optimized.metrics),
        "baseline_metrics": dict(result.baseline.metrics),
        "demos": result.demos,
    }


def main(root: Path, budget: int, names: list[str]) -> dict[str, Any]:
    """The baseline and every optimizer's outcome, as a JSON-able dict."""
    import dspy

    from assistant.devset import load_devset
    from assistant.evaluation import evaluate
    from assistant.lm import make_lm
    from assistant.model_switcher import ANY_ROLE, ModelSwitcher, TaskType
    from assistant.qa import DocsQA
    from assistant.retrieval import DocRetriever

    # A separate LM object for the optimization route, so its calls (GEPA's reflections,
    # MIPROv2's proposals) can be counted apart from the QA program's.
    switcher = ModelSwitcher(
        make_lm(os.environ),
        {
            (TaskType.OPTIMIZATION, ANY_ROLE): make_lm(
                os.environ,
                variable=("GITOPS_LM_OPTIMIZATION" if os.environ.get("GITOPS_LM_OPTIMIZATION") else "GITOPS_LM"),
            )
        },
    )
    split = load_devset()
    student = DocsQA(DocRetriever.from_repo(root))
    began = time.perf_counter()
    with switcher.use(TaskType.QA):
        baseline = evaluate(student, split.dev, program_name="DocsQA (zero-shot)", lm=switcher.label(TaskType.QA))
    results: dict[str, Any] = {
        "dspy_version": dspy.__version__,
        "lm": switcher.label(TaskType.QA),
        "optimizer_lm": switcher.label(TaskType.OPTIMIZATION),
        "budget": budget,
        "offline": not os.environ.get("GITOPS_LM", "").strip(),
        "train": len(split.train),
        "dev": len(split.dev),
        "baseline": {"metrics": dict(baseline.metrics), "seconds": round(time.perf_counter() - began, 3)},
        "optimizers": {},
    }
    for name in names:
        began = time.perf_counter()
        try:
            found = (
                run_workflow(student, split, switcher)
                if name == "workflow"
                else run_one(name, student, split, switcher, budget)
            )
            outcome = {"ok": True, **found}
        except Exception as exc:  # noqa: BLE001 - an optimizer that fails is a finding
            outcome = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()[-2000:],
            }
        outcome["seconds"] = round(time.perf_counter() - began, 3)
        results["optimizers"][name] = outcome
    return results


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit("usage: optimizer_probes.py ROOT BUDGET OPTIMIZER...")
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # progress bars and logs go to stderr; stdout carries only the JSON
    report = main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
    real_stdout.write(json.dumps(report, default=str) + "\n")
