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
from migration.tasks import t4_1_async_memory_rehydrator as t4_1
from migration.tasks import t4_2_background_flusher as t4_2
from tests.conftest import ROOT

TASKLIST, _ = parser.load(ROOT / "migration" / "B-1006.md")


def context(task_id: str, workdir: Path, environ: dict[str, str] | None = None) -> TaskContext:
    workdir.mkdir(parents=True, exist_ok=True)
    return TaskContext(TASKLIST.tasks[task_id], ROOT, workdir, 1, environ or {}, {}, lambda message: None)


def variant(median: float, minimum: float | None = None, **extra: Any) -> dict[str, Any]:
    return {"median_ms": median, "mean_ms": median, "min_ms": minimum or median, "rounds": 5, "queries": 32,
            "cpu_per_wall_second": 1.0, "cpu_ms_per_round": median, "load_average_1m": 0.5, "memories_found": 160,
            "cores": 2, "blocks": 4, **extra}


def evidence_of(ctx: TaskContext) -> dict[str, Any]:
    return record.evidence(ctx)["benchmark"]


def recorded(tmp_path: Path, **benchmark: dict[str, Any]) -> TaskContext:
    ctx = context("4.1", tmp_path)
    record.save(ctx, {"benchmark": benchmark})
    return ctx


@pytest.mark.parametrize("task_id", ["4.1", "4.2"])
def test_every_criterion_has_a_check(task_id: str) -> None:
    paired, unmatched = match_checks(Registry(HANDLERS).resolve(task_id), TASKLIST.tasks[task_id])
    assert unmatched == [] and None not in paired


@pytest.mark.parametrize(("cores", "target"), [(1, 0.0), (2, 30.0), (3, 40.0), (4, 40.0), (64, 40.0)])
def test_the_target_is_sixty_percent_of_what_the_cores_allow_at_most_forty(cores: int, target: float) -> None:
    assert targets.target_pct(cores) == target


def improvement_check(tmp_path: Path, cores: int, async_median: float) -> Any:
    ctx = recorded(tmp_path, sync=variant(1000.0, cores=cores), async_bounded=variant(async_median, 500.0, cores=cores),
                   async_unbounded=variant(650.0, cores=cores), async_one_connection=variant(900.0, cores=cores))
    return t4_1.check_improvement(ctx)


@pytest.mark.parametrize(("cores", "passing", "failing"), [(1, 1000.0, 1010.0), (2, 700.0, 710.0), (4, 600.0, 610.0)])
def test_the_improvement_passes_at_the_cores_target_and_fails_below_it(
        tmp_path: Path, cores: int, passing: float, failing: float) -> None:
    check = improvement_check(tmp_path, cores, passing)
    assert check.status.value == "passed", check.evidence
    assert check.metrics["cores"] == cores and check.metrics["target_pct"] == targets.target_pct(cores)
    check = improvement_check(tmp_path, cores, failing)
    assert check.status.value == "failed" and f"{targets.target_pct(cores):g}% less time" in check.evidence
    assert "NOT met" in check.evidence


def test_the_improvement_evidence_cites_cores_medians_statistics_and_load(tmp_path: Path) -> None:
    check = improvement_check(tmp_path, 2, 550.0)
    assert check.metrics == {"improvement_pct": 45.0, "target_pct": 30.0, "cores": 2,
                             "sync_median_ms": 1000.0, "async_median_ms": 550.0}
    assert check.evidence == (
        "one pytest-benchmark run on 2 core(s) in 4 interleaved blocks, 32 rehydrations per round on a "
        "file-backed WAL store (20,000 events, 4,000 long-term memories); medians: sync 1000.0 ms, async_bounded 550.0 ms, async_unbounded 650.0 ms, "
        "async_one_connection 900.0 ms. async_bounded (4 readers, semaphore 2): 45.0% less time by median (by min "
        "50.0%, by mean 45.0%); target on 2 core(s): 30% less time (60% of the 50% that parallel work can save, at "
        "most 40%): met. CPU per round: sync 1000.0 ms, async 550.0 ms; async got 1.0 CPU-seconds per second. "
        "1-minute load average at benchmark time: 0.5; other processes take cores from the worker threads, so on a "
        "loaded machine the gain shrinks.")
    assert "10.0% more time" in improvement_check(tmp_path, 1, 1100.0).evidence


def test_the_evidence_says_what_parallel_speed_up_the_cores_gave(tmp_path: Path) -> None:
    parallel = variant(100.0, speedup=1.62)
    ctx = recorded(tmp_path, sync=variant(1000.0), async_bounded=variant(750.0), async_unbounded=variant(700.0),
                   async_one_connection=variant(900.0), parallel=parallel)
    check = t4_1.check_improvement(ctx)
    assert check.status.value == "failed"
    assert check.evidence.endswith(" During the run 2 threads hashed x1.62 as fast as one (the parallel speed-up the "
                                   "machine gave; below 2 when other tenants of a shared host take CPU time).")
    assert t4_2.check_bounded_performance(ctx).evidence.endswith("take CPU time).")
    metrics = targets.bench_metrics(evidence_of(ctx))
    assert metrics["memory_bench_parallel_speedup"] == 1.62 and "memory_parallel_median_ms" not in metrics


def test_bounded_concurrency_must_keep_task_4_1_s_target(tmp_path: Path) -> None:
    sync = variant(1000.0)
    ctx = recorded(tmp_path, sync=sync, async_bounded=variant(690.0, 650.0), async_unbounded=variant(600.0))
    check = t4_2.check_bounded_performance(ctx)
    assert check.status.value == "passed", check.evidence
    assert check.metrics == {"bound_cost_pct": 15.0, "target_pct": 30.0, "async_bounded_improvement_pct": 31.0,
                             "async_unbounded_improvement_pct": 40.0}
    assert "Task 4.1's target on 2 core(s), 30% less time than sync, is met with the bound in place" in check.evidence
    ctx = recorded(tmp_path, sync=sync, async_bounded=variant(710.0), async_unbounded=variant(600.0))
    check = t4_2.check_bounded_performance(ctx)
    assert check.status.value == "failed" and "is NOT met with the bound in place" in check.evidence


def test_summarize_reads_interleaved_blocks_from_pytest_benchmark_json() -> None:
    def bench(variant: str, block: int, median: float, load: float = 0.5) -> dict[str, Any]:
        stats = {"median": median, "mean": median, "min": median / 2, "rounds": 2, "total": 2 * median}
        extra = {"variant": variant, "block": block, "cpu_seconds": 3 * median, "warmup_rounds": 1,
                 "load_average_1m": load, "cores": 2}
        return {"name": f"test_memory[{variant}-{block}]", "stats": stats, "extra_info": extra}

    data = {"benchmarks": [bench("sync", 1, 0.5), bench("async_bounded", 1, 0.25),
                           bench("async_bounded", 2, 0.5, load=3.0), bench("sync", 2, 0.5),
                           bench("async_bounded", 3, 0.3), bench("sync", 3, 0.5)]}
    variants = measure.summarize(data, ("sync", "async_bounded"))
    # A block hit by load (block 2) moves the median of the blocks' medians little.
    assert variants["async_bounded"] == {"variant": "async_bounded", "warmup_rounds": 1, "cores": 2,
                                         "median_ms": 300.0, "mean_ms": 350.0, "min_ms": 125.0, "rounds": 6,
                                         "blocks": 3, "cpu_seconds": 3.15, "cpu_per_wall_second": 1.0,
                                         "cpu_ms_per_round": 350.0, "load_average_1m": 3.0, "ltm_peak_concurrency": 0}
    assert measure.improvement(variants, "async_bounded") == 40.0
    with pytest.raises(RuntimeError, match=r"lacks variants \['async_unbounded'\]"):
        measure.summarize(data, ("sync", "async_unbounded"))


def test_imports_and_dependencies_are_read_from_the_source() -> None:
    assert measure.imports("import asyncio, numpy.linalg\nfrom . import x\nfrom assistant.ranking import rank") == {
        "asyncio", "numpy", "assistant"}
    modules = measure.third_party_imports(ROOT)
    assert set(modules) == {"memory_rehydrator", "memory_flusher", "memory_pool", "memory_ranking",
                            "memory_resilience", "memory_schema", "memory_types", "ranking"}
    assert not any(modules.values())
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
    """Both handlers as the runner runs them, with one benchmark round to keep this quick."""
    out = {}
    for task_id in ("4.1", "4.2"):
        ctx = context(task_id, tmp_path_factory.mktemp("work") / task_id, {"GITOPS_MEMORY_BENCH_ROUNDS": "1", "GITOPS_MEMORY_BENCH_BLOCKS": "1"})
        result = run_handler(Registry(HANDLERS).resolve(task_id), ctx)
        assert result.error is None, result.error
        out[task_id] = {c["criterion"]: c for c in result.checks}
        out[task_id]["updates"] = dict(result.updates)
        out[task_id]["evidence"] = json.loads((ctx.workdir / record.EVIDENCE).read_text(encoding="utf-8"))
    return out


# Whether the target is reached depends on the machine's idle cores; the tests check the evidence only.
TIMING = {"I/O performance improvement benchmarked", "Performance targets maintained with bounded concurrency"}


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
    assert {"memory_sync_median_ms", "memory_async_bounded_improvement_pct", "memory_bench_cores", "memory_improvement_target_pct",
            "memory_async_one_connection_improvement_pct"} <= set(metrics)
    metrics = ran["4.2"]["updates"]["performance_metrics"]
    assert metrics["memory_recovery_events_lost"] == metrics["memory_shutdown_events_lost"] == 0
    assert "memory_bound_cost_pct" in metrics
    assert ran["4.1"]["evidence"]["sync_tests"]["tests"] >= 30
    assert ran["4.2"]["evidence"]["faults"]["dead_store"]["handed_back"] == 100
