"""The guard's overhead: BootstrapFewShot on the devset with and without a BudgetGuard, in one run.

Run with `--benchmark-enable`; the Task 3.3 handler reads each block's rounds from
`--benchmark-json`. The two variants run in interleaved blocks of a few rounds (plain first
in odd blocks, guarded first in even ones): on a shared machine the speed of one process
drifts by several percent within a minute, more than the overhead, so only rounds that ran
seconds apart are compared. Nothing here asserts a time.
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
BLOCKS, ROUNDS = 10, 4
CASES = [(block, variant) for block in range(1, BLOCKS + 1)
         for variant in (("plain", "guarded") if block % 2 else ("guarded", "plain"))]


def workload(student: DocsQA, split: Split, guarded: bool) -> Any:
    """One optimizer run on the train split, with every budget dimension checked when `guarded`."""
    guard = BudgetGuard(UNREACHED) if guarded else None
    return optimize(student.deepcopy(), split.train, switcher=ModelSwitcher(ExtractiveLM()), guard=guard)


@pytest.mark.parametrize(("block", "variant"), CASES, ids=[f"{variant}-{block}" for block, variant in CASES])
def test_optimizer_overhead(benchmark: Any, student: DocsQA, devset: Split, block: int, variant: str) -> None:
    benchmark.group = "budget-guard"
    benchmark.extra_info.update(block=block, variant=variant)
    program = benchmark.pedantic(workload, args=(student, devset, variant == "guarded"), rounds=ROUNDS,
                                 warmup_rounds=1)
    assert program.answer.demos
