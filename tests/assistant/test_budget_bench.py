"""The guard's overhead: BootstrapFewShot on the devset with and without a BudgetGuard, in one run.

Run with `--benchmark-enable`; the Task 3.3 handler reads the ratio of the two medians from
`--benchmark-json`. Nothing here asserts a time.
"""
from __future__ import annotations

from typing import Any

import pytest

from assistant.budget import Budget, BudgetGuard
from assistant.devset import Split
from assistant.model_switcher import ModelSwitcher
from assistant.offline_lm import ExtractiveLM
from assistant.optimization import optimize
from assistant.qa import DocsQA

# Every dimension set and never reached, so each check runs on every call.
UNREACHED = Budget(metric_calls=10**6, lm_calls=10**6, tokens=10**12, seconds=10**6)


def workload(student: DocsQA, split: Split, guarded: bool) -> Any:
    """One optimizer run on the train split, with every budget dimension checked when `guarded`."""
    guard = BudgetGuard(UNREACHED) if guarded else None
    return optimize(student.deepcopy(), split.train, switcher=ModelSwitcher(ExtractiveLM()), guard=guard)


@pytest.mark.parametrize("guarded", [False, True], ids=["plain", "guarded"])
def test_optimizer_overhead(benchmark: Any, student: DocsQA, devset: Split, guarded: bool) -> None:
    benchmark.group = "budget-guard"
    program = benchmark.pedantic(workload, args=(student, devset, guarded), rounds=15, warmup_rounds=2)
    assert program.answer.demos
