"""Hard budgets on real optimizers, run *inside* an environment: `python budget_probe.py ROOT N OPTIMIZER...`.

For each optimizer: one run with only its own (soft) budget of N metric calls, then one
guarded run per budget dimension (`assistant.budget.BudgetGuard`): metric calls N, LM calls,
tokens and wall time set below what the unguarded run used, so each one stops it. On every
stop the guard's `on_violation` hook judges the kept program with the constitution: its
outputs on a few dev examples go through `monitor.OutputMonitor` (articles O1-O6) and the
usage of each dimension is judged as a `consume` operation (article P5). Prints one JSON
object on stdout; imports only the standard library at module level.
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

DEV_EXAMPLES = 3  # dev examples the kept program answers for the compliance check


def consume_violations(usage: dict[str, float], limits: dict[str, float], root: Path) -> list[dict[str, str]]:
    """Article P5 on each dimension with a limit: `consume(resource, used, budget)`."""
    from migration.constitution import Operation, World, default

    world, constitution = World.of(root), default()
    found = []
    for resource, budget in limits.items():
        op = Operation("consume", {"resource": resource, "used": usage[resource], "budget": budget})
        found += [v.as_dict() for v in constitution.operation_violations(op, world)]
    return found


def compliance(program: Any, examples: list[Any], switcher: Any, root: Path) -> dict[str, Any]:
    """The kept program's outputs on `examples`, judged by the constitution's output articles."""
    import dspy

    from assistant.model_switcher import TaskType
    from migration.constitution import World, default
    from migration.constitution.monitor import OutputMonitor, Tally

    tally = Tally()
    monitor = OutputMonitor(World.of(root), tally.add_output)
    with switcher.use(TaskType.QA), dspy.context(callbacks=[*dspy.settings.get("callbacks", []), monitor]):
        for example in examples:
            program(**example.inputs())
    found = tally.as_dict(default())
    return {"outputs_checked": found["outputs_checked"], "violations": found["violations"]}


def run_one(name: str, n: int, dimension: str | None, limits: dict[str, float], root: Path) -> dict[str, Any]:
    """One optimizer run, guarded on `dimension` (None: unguarded); usage, stop and compliance."""
    import dspy  # noqa: F401 - imported before timing

    from assistant.budget import Budget, BudgetGuard, Stop
    from assistant.devset import load_devset
    from assistant.metrics import answer_f1
    from assistant.model_switcher import ModelSwitcher
    from assistant.offline_lm import ExtractiveLM
    from assistant.optimization import optimize
    from assistant.qa import DocsQA
    from assistant.retrieval import DocRetriever

    split, switcher = load_devset(), ModelSwitcher(ExtractiveLM())
    student = DocsQA(DocRetriever.from_repo(root))
    budget = Budget(**{dimension: limits[dimension]}) if dimension else Budget()
    checked: dict[str, Any] = {}

    def on_violation(stop: Stop) -> None:
        checked.update(compliance(stop.program, split.dev[:DEV_EXAMPLES], switcher, root))

    guard = BudgetGuard(budget, on_violation=on_violation)
    began = time.perf_counter()
    program = optimize(student, split.train, switcher=switcher, optimizer=name, metric=answer_f1, budget=n, guard=guard)
    usage = guard.usage().__dict__
    stop = guard.stop
    return {
        "usage": usage,
        "seconds": round(time.perf_counter() - began, 3),
        "program": type(program).__name__,
        "stopped": None if stop is None else {
            "dimension": stop.violation.dimension, "limit": stop.violation.limit, "kept": stop.kept,
            "score": stop.score, "scored": stop.scored, "candidates": stop.candidates},
        "compliance": checked or None,
        "consume_violations": consume_violations(usage, budget.limits() if dimension else {"metric_calls": n}, root),
    }


def main(root: Path, n: int, names: list[str]) -> dict[str, Any]:
    """For each optimizer: the unguarded run and one guarded run per dimension."""
    import dspy

    results: dict[str, Any] = {"dspy_version": dspy.__version__, "n": n, "optimizers": {}}
    for name in names:
        try:
            free = run_one(name, n, None, {}, root)
            used = free["usage"]
            limits = {"metric_calls": n, "lm_calls": max(1, used["lm_calls"] // 2),
                      "tokens": 1_000_000, "seconds": max(0.01, free["seconds"] / 3)}
            tokens = run_one(name, n, "tokens", {"tokens": 10**12}, root)  # measures tokens: a limit never reached
            limits["tokens"] = max(1, tokens["usage"]["tokens"] // 2)
            runs = {dim: run_one(name, n, dim, limits, root) for dim in limits}
            results["optimizers"][name] = {"ok": True, "unguarded": free, "limits": limits, "guarded": runs}
        except Exception as exc:  # noqa: BLE001 - a failure is a finding
            results["optimizers"][name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                                           "traceback": traceback.format_exc()[-2000:]}
    return results


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit("usage: budget_probe.py ROOT N OPTIMIZER...")
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # progress bars go to stderr; stdout carries only the JSON
    report = main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
    real_stdout.write(json.dumps(report, default=str) + "\n")
