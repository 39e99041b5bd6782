"""The assistant's benchmarks, run by Task 2.3 in each environment with pytest-benchmark.

Named `bench_*.py` and kept outside `tests/`, so the main test run never collects it; it
is collected only when named on the command line (see migration/tasks/t2_3_performance_benchmarks.py):

    python -m pytest migration/benchmarks/bench_assistant.py --benchmark-enable --benchmark-json=OUT

Everything runs offline and deterministically: DocsQA over ExtractiveLM, ChatAdapter
format and parse of a fixed signature, the hybrid retriever, a bare `dspy.Module` call
from a shallow and from a deep stack, `import dspy` in fresh
interpreters (min of BENCH_IMPORT_ROUNDS) and the peak memory of a fixed workload.
Nothing here asserts a time; the asserts only check that the measured code did its work.
"""
from __future__ import annotations

import cProfile
import inspect
import json
import os
import pstats
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import dspy
import pytest

from assistant.offline_lm import ExtractiveLM
from assistant.qa import DocsQA
from assistant.retrieval import DocRetriever
from assistant.signatures import AnswerQuestion
from migration.benchmarks import peak_memory

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Which class does Task 4.1 add to memory_rehydrator.py?"
INPUTS = {"context": ["Task 4.1 adds AsyncMemoryRehydrator.", "It uses asyncio.to_thread."], "question": QUESTION}
DEMOS = [dspy.Example(context=["Task 1.1 pins DSPy 3.0.1."], question="What does Task 1.1 pin?", answer="DSPy 3.0.1"),
         dspy.Example(context=["MLflow runs on SQLite."], question="Where does MLflow store runs?", answer="SQLite")]
COMPLETION = "[[ ## answer ## ]]\nAsyncMemoryRehydrator\n\n[[ ## completed ## ]]"
IMPORT_ROUNDS = int(os.environ.get("BENCH_IMPORT_ROUNDS", "3"))
MEMORY_QUESTIONS = int(os.environ.get("BENCH_MEMORY_QUESTIONS", "5"))
DEEP_FRAMES = 100  # web frameworks and test runners call code from stacks this deep and deeper
PROFILED_CALLS = 20
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


@pytest.fixture(autouse=True)
def dspy_version(benchmark: Any) -> None:
    """Every result names the dspy it measured."""
    benchmark.extra_info["dspy_version"] = dspy.__version__


@pytest.fixture(scope="module")
def retriever() -> DocRetriever:
    return DocRetriever.from_repo(ROOT)


def test_docsqa_forward(benchmark: Any, retriever: DocRetriever) -> None:
    """One DocsQA call: retrieval, ChatAdapter, ExtractiveLM, validation."""
    program, lm = DocsQA(retriever), ExtractiveLM()

    def forward() -> Any:
        with dspy.context(lm=lm):
            return program(question=QUESTION)

    assert benchmark(forward).answer


def test_adapter_format(benchmark: Any) -> None:
    """ChatAdapter.format of AnswerQuestion with two demos."""
    messages = benchmark(dspy.ChatAdapter().format, AnswerQuestion, demos=DEMOS, inputs=INPUTS)
    assert len(messages) == 6


def test_adapter_parse(benchmark: Any) -> None:
    """ChatAdapter.parse of a fixed AnswerQuestion completion."""
    assert benchmark(dspy.ChatAdapter().parse, AnswerQuestion, COMPLETION) == {"answer": "AsyncMemoryRehydrator"}


def test_retrieval(benchmark: Any, retriever: DocRetriever) -> None:
    """BM25 + TF-IDF search fused by RRF: no dspy code, a control for machine noise."""
    assert len(benchmark(retriever.search, QUESTION, 3)) == 3


class Constant(dspy.Module):
    """The cheapest possible dspy.Module: what a module call costs before any LM or adapter work."""

    def forward(self) -> dspy.Prediction:
        return dspy.Prediction(answer="constant")


def at_depth(frames: int, call: Any) -> Any:
    """`call()` from `frames` more Python frames down the stack."""
    return call() if frames <= 0 else at_depth(frames - 1, call)


def test_module_call(benchmark: Any) -> None:
    """`Constant()()`: dspy.Module.__call__ overhead (callbacks, usage tracking, attribute lookups)."""
    assert benchmark(Constant()).answer == "constant"


def test_module_call_deep(benchmark: Any) -> None:
    """The same call from DEEP_FRAMES frames further down; cProfile names where a deep call's time goes."""
    module = Constant()
    assert benchmark(at_depth, DEEP_FRAMES, module).answer == "constant"
    profile = cProfile.Profile()
    profile.runcall(lambda: [at_depth(DEEP_FRAMES, module) for _ in range(PROFILED_CALLS)])
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    top = sorted(stats.items(), key=lambda item: -item[1][2])[:3]  # by own ("tottime") time
    benchmark.extra_info.update(deep_frames=DEEP_FRAMES, stack_depth=len(inspect.stack(0)) + DEEP_FRAMES,
                                modules_loaded=len(sys.modules),
                                profile_top=[f"{Path(f).name}:{line}({name})" for (f, line, name), _ in top])


def import_breakdown(stderr: str) -> dict[str, float]:
    """From `python -X importtime`: microseconds of top-level imports, of dspy, of litellm, and litellm's share of dspy."""
    total, found = 0, {"dspy": 0, "litellm": 0}
    for line in stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if not match:
            continue
        cumulative, indent, name = int(match.group(2)), len(match.group(3)), match.group(4)
        total += cumulative if indent == 1 else 0
        if name in found:  # a package is listed once, where it was first imported (with all it pulled in)
            found[name] = max(found[name], cumulative)
    return {"importtime_total_us": total, "importtime_dspy_us": found["dspy"], "importtime_litellm_us": found["litellm"],
            "litellm_share_of_dspy": round(found["litellm"] / found["dspy"], 4) if found["dspy"] else 0.0}


def test_import_dspy(benchmark: Any) -> None:
    """`import dspy` in a fresh interpreter, IMPORT_ROUNDS times (compare the min)."""
    command = [sys.executable, "-c", "import dspy"]
    benchmark.pedantic(subprocess.run, args=(command,), kwargs={"check": True, "capture_output": True},
                       rounds=IMPORT_ROUNDS, iterations=1)


def test_peak_memory(benchmark: Any) -> None:
    """Peak RSS and tracemalloc peak of the fixed workload in `peak_memory.py` (one fresh interpreter).

    That interpreter also runs with `-X importtime` (its memory is unaffected): the import
    breakdown, litellm's share of `import dspy`, comes from the same run.
    """
    command = [sys.executable, "-X", "importtime", peak_memory.__file__, str(ROOT), str(MEMORY_QUESTIONS)]
    proc = benchmark.pedantic(subprocess.run, args=(command,), kwargs={"check": True, "capture_output": True, "text": True},
                              rounds=1, iterations=1)
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    benchmark.extra_info.update({k: v for k, v in measured.items() if k != "dspy_version"})
    benchmark.extra_info.update(import_breakdown(proc.stderr))
    assert measured["answers"] == MEMORY_QUESTIONS and measured["dspy_version"] == dspy.__version__
