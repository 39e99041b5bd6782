"""The constitution's overhead on a representative assistant workload, measured with pytest-benchmark.

The workload: `DocsQA` over this repository's docs and the offline LM, answering the first
`QUESTIONS` dev questions. It runs plain (no callbacks), with a no-op DSPy callback (what
DSPy's callback dispatch costs by itself) and with the constitution (the `OutputMonitor`
judging every output, inside a strict operation `Guard` with the audit hook), in eight
interleaved blocks of a few rounds, so that a change of machine load biases no variant.
Task 2.1's handler runs this file with `--benchmark-enable --benchmark-json` and compares
the fastest rounds; with benchmarks disabled (the default) each variant runs once and the
tests check what the constitution judged, never a time.
"""
from __future__ import annotations

import dspy
import pytest
from dspy.utils.callback import BaseCallback

from assistant.devset import load_devset
from assistant.offline_lm import ExtractiveLM
from assistant.qa import DocsQA
from assistant.retrieval import DocRetriever
from migration.constitution.model import World
from migration.constitution.monitor import OutputMonitor, Tally
from migration.constitution.operations import Guard, guarded
from tests.conftest import ROOT

QUESTIONS = 8
ROUNDS = 10
GROUP = "constitution-overhead"
VARIANTS = ("plain", "dspy-callback", "constitution")
BLOCKS = [(variant, block) for block in range(1, 9) for variant in VARIANTS]


@pytest.fixture(scope="module")
def program() -> DocsQA:
    return DocsQA(DocRetriever.from_repo(ROOT))


@pytest.fixture(scope="module")
def questions() -> list[str]:
    return [example.question for example in load_devset().dev[:QUESTIONS]]


class Workload:
    """One round: answer every question with the given callbacks, optionally under a guard."""

    def __init__(self, program: DocsQA, questions: list[str], callbacks: list[BaseCallback], guard: Guard | None):
        self.program, self.questions, self.callbacks, self.guard = program, questions, callbacks, guard
        self.lm = ExtractiveLM()

    def __call__(self) -> None:
        if self.guard is None:
            self._answer()
            return
        with guarded(self.guard):
            self._answer()

    def _answer(self) -> None:
        with dspy.context(lm=self.lm, callbacks=self.callbacks):
            for question in self.questions:
                self.program(question=question)


@pytest.fixture
def tally() -> Tally:
    return Tally()


def workload(variant: str, program: DocsQA, questions: list[str], tally: Tally) -> tuple[Workload, Guard | None]:
    """The workload of one variant, and its guard when it has one."""
    if variant == "plain":
        return Workload(program, questions, [], None), None
    if variant == "dspy-callback":
        return Workload(program, questions, [BaseCallback()], None), None
    world = World.of(ROOT)
    guard = Guard(world)
    return Workload(program, questions, [OutputMonitor(world, tally.add_output)], guard), guard


@pytest.mark.parametrize(("variant", "block"), BLOCKS, ids=[f"{v}-{b}" for v, b in BLOCKS])
def test_overhead(benchmark, variant: str, block: int, program: DocsQA, questions: list[str], tally: Tally) -> None:
    run, guard = workload(variant, program, questions, tally)
    benchmark.group = GROUP
    benchmark.extra_info.update(variant=variant, block=block, questions=len(questions))
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    if variant == "constitution":
        # Every answer of every round (warm-up included) was judged, and none broke an article.
        assert tally.outputs > 0 and tally.outputs % len(questions) == 0
        assert tally.modules.keys() == {"assistant.qa.DocsQA"}
        assert tally.violations == [] and guard is not None and guard.violations == []
        assert tally.applied["O1"] == tally.outputs
