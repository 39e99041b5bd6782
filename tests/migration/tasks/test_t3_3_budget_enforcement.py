"""Task 3.3: the overhead check on recorded numbers, then end to end: both environments, GEPA's
overshoot, the stops' constitution checks, the overhead in each DSPy version."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from gitops.handlers import TaskContext
from gitops.run.execute import run_handler
from gitops.tasklist import parser
from migration.tasks import t3_3_budget_enforcement as task
from tests.conftest import ROOT

TASKLIST, _ = parser.load(ROOT / "migration" / "B-1006.md")


def recorded(workdir: Path, benchmark: dict[str, Any]) -> TaskContext:
    """A context whose record holds `benchmark` (and nothing the overhead check does not read)."""
    (workdir / task.RECORD).write_text(json.dumps({"benchmark": benchmark}), encoding="utf-8")
    return TaskContext(TASKLIST.tasks["3.3"], ROOT, workdir, 1, {}, {}, lambda message: None)


def side(dspy: str, plain: float, guarded: float) -> dict[str, Any]:
    return {"dspy": dspy, "plain_median": plain + 0.001, "guarded_median": guarded + 0.001, "plain_min": plain,
            "guarded_min": guarded, "rounds": 40, "blocks": 10, "block_ratios": [guarded / plain] * 10,
            "ratio": guarded / plain, "timer": "process_time", "json": f"budget_bench-{dspy}.json"}


def test_the_overhead_check_passes_when_both_versions_are_under_the_limit(tmp_path: Path) -> None:
    check = task.check_overhead(recorded(tmp_path, {"production": side("2.6.27", 0.0640, 0.0648),
                                                    "candidate": side("3.0.1", 0.1300, 0.1352)}))
    assert check.status.value == "passed"
    assert check.evidence == (
        "tests/assistant/test_budget_bench.py: BootstrapFewShot plain and guarded in one pytest-benchmark run per "
        "environment, in interleaved blocks; overhead: the median over the blocks of guarded/plain fastest rounds "
        "(limit 5% in each):\n"
        "production (DSPy 2.6.27): median 0.0650 s plain vs 0.0658 s guarded (fastest 0.0640 vs 0.0648 s) over "
        "40 rounds each in 10 blocks: overhead +1.2%; budget_bench-2.6.27.json\n"
        "candidate (DSPy 3.0.1): median 0.1310 s plain vs 0.1362 s guarded (fastest 0.1300 vs 0.1352 s) over "
        "40 rounds each in 10 blocks: overhead +4.0%; budget_bench-3.0.1.json")
    assert check.metrics == {"overhead_ratio": 1.04, "overhead_ratio_production": 1.0125,
                             "overhead_ratio_candidate": 1.04}


def test_the_overhead_check_fails_when_one_version_is_over_the_limit(tmp_path: Path) -> None:
    check = task.check_overhead(recorded(tmp_path, {"production": side("2.6.27", 0.0640, 0.0636),
                                                    "candidate": side("3.0.1", 0.1000, 0.1065)}))
    assert check.status.value == "failed"
    assert check.evidence.splitlines()[-1] == "over the limit in: candidate"
    assert "candidate (DSPy 3.0.1): median 0.1010 s plain vs 0.1075 s guarded (fastest 0.1000 vs 0.1065 s) over " \
        "40 rounds each in 10 blocks: overhead +6.5%" in check.evidence
    assert check.metrics["overhead_ratio"] == 1.065 and check.metrics["overhead_ratio_production"] == 0.9938
    check = task.check_overhead(recorded(tmp_path, {"production": side("2.6.27", 0.1, 0.107),
                                                    "candidate": side("3.0.1", 0.1, 0.1)}))
    assert check.status.value == "failed" and check.evidence.endswith("over the limit in: production")


def test_the_overhead_check_fails_without_a_benchmark_per_environment(tmp_path: Path) -> None:
    check = task.check_overhead(recorded(tmp_path, {"production": side("2.6.27", 0.064, 0.064)}))
    assert check.status.value == "failed"
    assert check.evidence == f"{tmp_path / task.RECORD}: no benchmark in candidate: run the task again"


def bench_row(variant: str, block: int, fastest: float, median: float) -> dict[str, Any]:
    return {"name": f"test_optimizer_overhead[{variant}-{block}]", "extra_info": {"variant": variant, "block": block},
            "options": {"timer": "process_time"}, "stats": {"min": fastest, "median": median, "rounds": 4}}


def test_the_overhead_is_the_median_of_the_blocks_fastest_round_ratios(tmp_path: Path) -> None:
    plain = [0.100, 0.100, 0.120, 0.100]
    guarded = [0.102, 0.103, 0.108, 0.101]  # +2%, +3%, -10% (load on the plain half of block 3), +1%
    rows = [bench_row(v, b + 1, m, m + 0.01) for b in range(4)
            for v, m in (("plain", plain[b]), ("guarded", guarded[b]))]
    unpaired = bench_row("plain", 5, 0.05, 0.05)
    (tmp_path / "b.json").write_text(json.dumps({"benchmarks": [*rows, unpaired]}), encoding="utf-8")
    found = task.read_benchmark(tmp_path / "b.json", "3.0.1")
    assert found == {"dspy": "3.0.1", "plain_median": pytest.approx(0.11), "guarded_median": pytest.approx(0.1125),
                     "plain_min": 0.1, "guarded_min": 0.101, "rounds": 16, "blocks": 4,
                     "block_ratios": [1.02, 1.03, 0.9, 1.01], "ratio": pytest.approx(1.015),
                     "timer": "process_time", "json": str(tmp_path / "b.json")}


@pytest.mark.slow
def test_handler_end_to_end(tmp_path: Path) -> None:
    ctx = TaskContext(TASKLIST.tasks["3.3"], ROOT, tmp_path, 1, dict(os.environ), {}, lambda message: None)
    result = run_handler(task.HANDLER, ctx)
    assert result.error is None, result.error
    statuses = {c["criterion"]: c["status"] for c in result.checks}
    overhead = next(k for k in statuses if k.startswith("Performance impact"))
    assert {k: v for k, v in statuses.items() if k != overhead} == dict.fromkeys(
        [k for k in statuses if k != overhead], "passed"), result.checks
    found = task.record(ctx)["candidate"]["optimizers"]["gepa"]
    assert found["unguarded"]["usage"]["metric_calls"] > task.N
    assert found["guarded"]["metric_calls"]["usage"]["metric_calls"] == task.N
    bench = task.record(ctx)["benchmark"]
    assert {side: b["dspy"] for side, b in bench.items()} == {"production": "2.6.27", "candidate": "3.0.1"}
    overhead_check = next(c for c in result.checks if c["criterion"] == overhead)
    assert all(f"{side} (DSPy {b['dspy']}): median" in overhead_check["evidence"] for side, b in bench.items())
