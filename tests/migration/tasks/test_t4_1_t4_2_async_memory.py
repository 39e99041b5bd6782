"""Tasks 4.1 and 4.2: checks judged on recorded evidence, then both handlers end to end."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gitops.handlers import Registry, TaskContext, match_checks
from gitops.run.execute import run_handler
from gitops.tasklist import parser
from migration.handlers import HANDLERS
from migration.memory import evidence as measure
from migration.memory import record, targets
from migration.memory.curve import table as curve_table
from migration.tasks import t4_1_async_memory_rehydrator as t4_1
from migration.tasks import t4_2_background_flusher as t4_2
from tests.conftest import ROOT

TASKLIST, _ = parser.load(ROOT / "migration" / "B-1006.md")


def context(task_id: str, workdir: Path, environ: dict[str, str] | None = None) -> TaskContext:
    workdir.mkdir(parents=True, exist_ok=True)
    return TaskContext(TASKLIST.tasks[task_id], ROOT, workdir, 1, environ or {}, {}, lambda message: None)


def variant(median: float, minimum: float | None = None, **extra: Any) -> dict[str, Any]:
    return {"median_ms": median, "mean_ms": median, "min_ms": minimum or median, "rounds": 9, "queries": 32,
            "cpu_per_wall_second": 1.0, "cpu_ms_per_round": median, "load_average_1m": 0.5, "memories_found": 160,
            "cores": 2, "blocks": 3, "ping_ms": 1.2, "ping_after_ms": 1.2,
            "options": {"ltm_concurrency": 8, "ltm_connections": 8}, "ltm_peak_concurrency": 8, **extra}


def evidence_of(ctx: TaskContext) -> dict[str, Any]:
    return record.evidence(ctx)["benchmark"]


def recorded(tmp_path: Path, **curve: dict[str, dict[str, Any]]) -> TaskContext:
    ctx = context("4.1", tmp_path)
    record.save(ctx, {"benchmark": curve})
    return ctx


@pytest.mark.parametrize("task_id", ["4.1", "4.2"])
def test_every_criterion_has_a_check(task_id: str) -> None:
    paired, unmatched = match_checks(Registry(HANDLERS).resolve(task_id), TASKLIST.tasks[task_id])
    assert unmatched == [] and None not in paired


def test_the_task_list_states_the_seeds_target_and_its_round_trip() -> None:
    criteria = [c.text for c in TASKLIST.tasks["4.1"].done_when]
    assert "40-60% I/O performance improvement achieved at a 1 ms database round trip" in criteria
    assert "Zero new external dependencies (uses existing psycopg2/sqlite3)" in criteria
    assert targets.TARGET_PCT == 40.0 and targets.TARGET_RTT == "1"


def improvement_check(tmp_path: Path, async_median: float) -> Any:
    at_target = {"sync": variant(1000.0), "async_bounded": variant(async_median, 500.0)}
    ctx = recorded(tmp_path, direct={"sync": variant(300.0, ping_ms=0.04), "async_bounded": variant(200.0, ping_ms=0.04)},
                   **{"1": at_target})
    return t4_1.check_improvement(ctx)


@pytest.mark.parametrize(("async_median", "status"), [(600.0, "passed"), (590.0, "passed"), (601.0, "failed"), (900.0, "failed")])
def test_the_improvement_needs_forty_percent_less_time_at_one_ms(tmp_path: Path, async_median: float, status: str) -> None:
    check = improvement_check(tmp_path, async_median)
    assert check.status.value == status, check.evidence
    assert ("target: at least 40% less time (the seed's 40-60%): " + ("met." if status == "passed" else "NOT met.")) in check.evidence


def test_the_improvement_evidence_cites_the_round_trip_medians_load_and_curve(tmp_path: Path) -> None:
    check = improvement_check(tmp_path, 550.0)
    assert check.metrics == {"improvement_pct": 45.0, "target_pct": 40.0, "rtt_ms": 1.0, "ping_ms": 1.2,
                             "sync_median_ms": 1000.0, "async_median_ms": 550.0}
    assert check.evidence == (
        "one pytest-benchmark run on 2 core(s), 3 interleaved blocks per round-trip time, 32 concurrent rehydrations "
        "per round, each reading its session's short-term memory (SQLite) and the long-term memory in PostgreSQL "
        "(ranked by the server); async_bounded: Semaphore(8), 8 connections. At 1 ms added by the latency proxy "
        "(SELECT 1 measured 1.2 ms; 1.2 ms in the sync rounds): sync 1000.0 ms, async 550.0 ms, 45.0% less time by "
        "median (by min 50.0%, by mean 45.0%); target: at least 40% less time (the seed's 40-60%): met. 1-minute load "
        "average: 0.5. The whole curve: loopback (SELECT 1 0.04 ms): sync 300.0 ms, async_bounded 200.0 ms (33.3% less "
        "time, load 0.5); 1 ms added (SELECT 1 1.2 ms): sync 1000.0 ms, async_bounded 550.0 ms (45.0% less time, load 0.5).")
    assert "10.0% more time" in improvement_check(tmp_path, 1100.0).evidence


def test_bounded_concurrency_must_keep_task_4_1_s_target(tmp_path: Path) -> None:
    unbounded = variant(500.0, options={"ltm_concurrency": None, "ltm_connections": 32}, ltm_peak_concurrency=32)
    ctx = recorded(tmp_path, **{"1": {"sync": variant(1000.0), "async_bounded": variant(590.0, 550.0),
                                      "async_unbounded": unbounded}})
    check = t4_2.check_bounded_performance(ctx)
    assert check.status.value == "passed", check.evidence
    assert check.metrics == {"bound_cost_pct": 18.0, "target_pct": 40.0, "async_bounded_improvement_pct": 41.0,
                             "async_unbounded_improvement_pct": 50.0}
    assert "Task 4.1's target, at least 40% less time than sync, is met with the bound in place" in check.evidence
    ctx = recorded(tmp_path, **{"1": {"sync": variant(1000.0), "async_bounded": variant(610.0), "async_unbounded": unbounded}})
    check = t4_2.check_bounded_performance(ctx)
    assert check.status.value == "failed" and "is NOT met with the bound in place" in check.evidence


def test_summarize_reads_interleaved_blocks_at_each_round_trip_from_pytest_benchmark_json() -> None:
    def bench(rtt: str, variant: str, block: int, median: float, load: float = 0.5) -> dict[str, Any]:
        stats = {"median": median, "mean": median, "min": median / 2, "rounds": 2, "total": 2 * median}
        extra = {"rtt": rtt, "variant": variant, "block": block, "cpu_seconds": 3 * median, "warmup_rounds": 1,
                 "load_average_1m": load, "cores": 2, "ping_ms": 1.0 + block / 10, "ping_after_ms": 1.1}
        return {"name": f"test_memory[{variant}-rtt{rtt}-{block}]", "stats": stats, "extra_info": extra}

    data = {"benchmarks": [bench("1", "sync", 1, 0.5), bench("1", "async_bounded", 1, 0.25),
                           bench("1", "async_bounded", 2, 0.5, load=3.0), bench("1", "sync", 2, 0.5),
                           bench("1", "async_bounded", 3, 0.3), bench("1", "sync", 3, 0.5),
                           bench("direct", "sync", 1, 0.2), bench("direct", "async_bounded", 1, 0.1)]}
    curve = measure.summarize(data, ("sync", "async_bounded"), ("direct", "1"))
    assert list(curve) == ["direct", "1"]
    # A block hit by load (block 2) moves the median of the blocks' medians little.
    assert curve["1"]["async_bounded"] == {"rtt": "1", "variant": "async_bounded", "warmup_rounds": 1, "cores": 2,
                                           "median_ms": 300.0, "mean_ms": 350.0, "min_ms": 125.0, "rounds": 6,
                                           "blocks": 3, "cpu_seconds": 3.15, "cpu_per_wall_second": 1.0,
                                           "cpu_ms_per_round": 350.0, "load_average_1m": 3.0,
                                           "ltm_peak_concurrency": 0, "ping_ms": 1.2, "ping_after_ms": 1.1}
    assert measure.improvement(curve["1"], "async_bounded") == 40.0
    with pytest.raises(RuntimeError, match=r"lacks \['async_unbounded at 1'\]"):
        measure.summarize(data, ("sync", "async_unbounded"), ("1",))
    assert curve_table(curve).splitlines()[2] == "| loopback, no proxy | 1.1 ms | 200.0 ms | 100.0 ms | 50.0% | - | - | 0.5 |"


def test_imports_and_dependencies_are_read_from_the_source() -> None:
    assert measure.imports("import asyncio, numpy.linalg\nfrom . import x\nfrom assistant.ranking import rank") == {
        "asyncio", "numpy", "assistant"}
    modules = measure.third_party_imports(ROOT)
    assert set(modules) == {"memory_rehydrator", "memory_flusher", "memory_pool", "memory_ranking", "memory_postgres",
                            "memory_postgres_async", "memory_resilience", "memory_schema", "memory_server", "memory_sqlite",
                            "memory_types", "memory_watchdog",
                            "ranking"}
    assert {name for name, found in modules.items() if found} == {"memory_postgres", "memory_postgres_async",
                                                                   "memory_resilience"}
    assert all(found == ["psycopg"] for found in modules.values() if found)
    pyproject = '[project]\ndependencies = ["click>=8"]\n[project.optional-dependencies]\ntest = ["pytest"]\n'
    assert measure.dependencies(pyproject) == ["click>=8"]


def test_sync_api_sees_a_changed_signature() -> None:
    before = textwrap.dedent('''
        class MemoryRehydrator:
            def rehydrate(self, query: str, k: int = 5) -> list: ...
            def _private(self) -> None: ...
    ''')
    after = before.replace("k: int = 5", "k: int = 3")
    assert measure.sync_api(before) == {"rehydrate": "(self, query: str, k: int=5) -> list"}
    assert measure.sync_api(after) != measure.sync_api(before)
    assert set(measure.sync_api((ROOT / measure.SOURCE).read_text(encoding="utf-8"))) >= {
        "__init__", "add_event", "add_events", "remember", "rehydrate", "candidates"}


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict]]:
    """Both handlers as the runner runs them, with one benchmark round at two round trips to keep this quick."""
    out = {}
    for task_id in ("4.1", "4.2"):
        quick = {"GITOPS_MEMORY_BENCH_ROUNDS": "1", "GITOPS_MEMORY_BENCH_BLOCKS": "1", "GITOPS_MEMORY_BENCH_RTTS": "direct,1"}
        ctx = context(task_id, tmp_path_factory.mktemp("work") / task_id, quick)
        result = run_handler(Registry(HANDLERS).resolve(task_id), ctx)
        assert result.error is None, result.error
        out[task_id] = {c["criterion"]: c for c in result.checks}
        out[task_id]["updates"] = dict(result.updates)
        out[task_id]["evidence"] = json.loads((ctx.workdir / record.EVIDENCE).read_text(encoding="utf-8"))
    return out


# Whether the target is reached depends on the machine's load; the tests check the evidence only.
TIMING = {"40-60% I/O performance improvement achieved", "Performance targets maintained with bounded concurrency"}


@pytest.mark.slow
@pytest.mark.parametrize("task_id", ["4.1", "4.2"])
def test_the_handlers_pass_every_criterion_that_does_not_depend_on_timing(ran, task_id: str) -> None:
    for criterion in TASKLIST.tasks[task_id].done_when:
        check = ran[task_id][criterion.text]
        if criterion.text.startswith(tuple(TIMING)):
            assert check["status"] in ("passed", "failed") and "pytest-benchmark run" in check["evidence"]
        else:
            assert check["status"] == "passed", (criterion.text, check["evidence"])


@pytest.mark.slow
def test_the_handlers_record_their_numbers(ran) -> None:
    metrics = ran["4.1"]["updates"]["performance_metrics"]
    assert {"memory_rtt1ms_sync_median_ms", "memory_rtt1ms_async_bounded_improvement_pct", "memory_loopback_ping_ms",
            "memory_loopback_async_bounded_median_ms", "memory_improvement_pct", "memory_improvement_target_pct"} <= set(metrics)
    metrics = ran["4.2"]["updates"]["performance_metrics"]
    assert metrics["memory_recovery_events_lost"] == metrics["memory_shutdown_events_lost"] == 0
    assert "memory_bound_cost_pct" in metrics and metrics["memory_restart_writes_lost"] == 0
    assert ran["4.1"]["evidence"]["sync_tests"]["tests"] >= 30
    assert ran["4.2"]["evidence"]["faults"]["dead_store"]["handed_back"] == 100
