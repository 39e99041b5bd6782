"""Task 4.2: the background flusher, bounded concurrency, circuit breakers and graceful shutdown.

The action runs the memory benchmark with the semaphore and without it, and the fault
scenarios of migration/memory/faults.py. What it measured goes to `<workdir>/evidence.json`
and into `performance_metrics`; each check reads it back, or reads the source with `ast`,
and cites the numbers.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gitops.handlers import Check, Handler, TaskContext
from migration.memory import evidence as measure
from migration.memory import faults as memory_faults
from migration.memory.dependencies import check_dependencies
from migration.memory.evidence import calls
from migration.memory.record import evidence, save
from migration.memory.targets import bench_metrics, capacity, less_time, target_pct


def action_4_2(ctx: TaskContext) -> Mapping[str, Any]:
    """Benchmark with the semaphore and without; run the fault scenarios."""
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    variants = measure.run_benchmark(ctx.root, ctx.workdir, ctx.environ, ("sync", "async_bounded", "async_unbounded"))
    faults = memory_faults.run_all(ctx.workdir / "faults")
    save(ctx, {"benchmark": variants, "faults": faults})
    for name, result in faults.items():
        ctx.log(f"fault scenario {name}: {json.dumps(result)}")
    recovery, shutdown, full = faults["recovery"], faults["shutdown"], faults["full_queue"]
    metrics = {
        **bench_metrics(variants),
        "memory_bound_cost_pct": -measure.improvement(variants, "async_bounded", "min_ms", baseline="async_unbounded"),
        "memory_recovery_events_lost": recovery["events"] - recovery["persisted"],
        "memory_shutdown_events_lost": shutdown["events"] - shutdown["persisted"],
        "memory_shutdown_seconds": shutdown["shutdown_seconds"],
        "memory_full_queue_peak_kib": full["traced_peak_kib"],
    }
    return {"performance_metrics": metrics}


def check_queue(ctx: TaskContext) -> Check:
    shutdown, full = evidence(ctx)["faults"]["shutdown"], evidence(ctx)["faults"]["full_queue"]
    uses = calls(ctx.root / "assistant" / "memory_flusher.py", "asyncio.Queue")
    ok = (uses and shutdown["persisted"] == shutdown["events"] and shutdown["batches"] < shutdown["events"]
          and full["producer_blocked"] and full["nowait_refused"] and full["queue_high_water"] <= full["queue_maxsize"]
          and full["traced_peak_kib"] < full["all_offered_kib"] / 10 and full["persisted"] == full["offered"])
    return (Check.passed if ok else Check.failed)(
        f"assistant/memory_flusher.py uses asyncio.Queue ({uses}x). Load: {shutdown['events']} events from 8 producers "
        f"written in {shutdown['batches']} batches (one transaction each), queue high water {shutdown['queue_high_water']}"
        f"/{shutdown['queue_maxsize']}. Stalled store, {full['offered']} events offered: producer blocked "
        f"{full['producer_blocked']}, add_event_nowait refused {full['nowait_refused']}, {full['held_while_stalled']} held "
        f"(queue {full['queue_maxsize']} + batch {full['batch_size']}), traced memory peak {full['traced_peak_kib']} KiB "
        f"against {full['all_offered_kib']} KiB to hold them all; {full['persisted']} persisted once the store resumed",
        batches=shutdown["batches"], peak_kib=full["traced_peak_kib"], held=full["held_while_stalled"])


def check_semaphore(ctx: TaskContext) -> Check:
    bench = evidence(ctx)["benchmark"]
    bounded, unbounded = bench["async_bounded"], bench["async_unbounded"]
    limit = bounded["options"]["ltm_concurrency"]
    uses = calls(ctx.root / "assistant" / "memory_pool.py", "asyncio.Semaphore")
    ok = uses and bounded["ltm_peak_concurrency"] <= limit < unbounded["ltm_peak_concurrency"]
    return (Check.passed if ok else Check.failed)(
        f"assistant/memory_pool.py Slots wraps asyncio.Semaphore ({uses}x); with {bounded['queries']} rehydrations in "
        f"flight, long-term queries peaked at {bounded['ltm_peak_concurrency']} with Semaphore({limit}) and at "
        f"{unbounded['ltm_peak_concurrency']} without it", peak_bounded=bounded["ltm_peak_concurrency"],
        peak_unbounded=unbounded["ltm_peak_concurrency"])


def check_resilience(ctx: TaskContext) -> Check:
    r = evidence(ctx)["faults"]["recovery"]
    t = r["transitions"]
    cycle = "open" in t and "half_open" in t[t.index("open"):] and t[-1] == "closed"
    ok = cycle and r["persisted"] == r["distinct"] == r["events"]
    return (Check.passed if ok else Check.failed)(
        f"a store failing with 'disk I/O error' then recovering: breaker {' -> '.join(t)}; {r['failed_writes']} failed "
        f"batch writes, {r['rejected_while_open']} calls refused while open, {r['write_attempts']} write attempts "
        f"(retries with backoff); {r['persisted']} of {r['events']} events persisted, {r['distinct']} distinct "
        f"(none lost, none duplicated)", events_lost=r["events"] - r["persisted"], failed_writes=r["failed_writes"])


def check_shutdown(ctx: TaskContext) -> Check:
    faults = evidence(ctx)["faults"]
    s, dead = faults["shutdown"], faults["dead_store"]
    task_group = calls(ctx.root / "assistant" / "memory_flusher.py", "asyncio.TaskGroup")
    ok = (task_group and s["pending_at_shutdown"] > 0 and s["persisted"] == s["events"]
          and dead["handed_back"] == dead["events"] and dead["seconds"] < dead["shutdown_timeout"] + 5)
    return (Check.passed if ok else Check.failed)(
        f"assistant/memory_flusher.py runs the flusher in an asyncio.TaskGroup ({task_group}x), opened and closed "
        f"by AsyncMemoryRehydrator's `async with`. Shutdown under load: "
        f"{s['pending_at_shutdown']} events still queued when the block exited, all {s['events']} persisted, drain took "
        f"{s['shutdown_seconds']} s. Store that never recovers: shutdown gave up after its {dead['shutdown_timeout']} s "
        f"timeout ({dead['seconds']} s in all) and handed back {dead['handed_back']} of {dead['events']} events in "
        f"MemoryFlushError; every scenario ran under asyncio.timeout({memory_faults.DEADLINE:.0f})",
        pending_at_shutdown=s["pending_at_shutdown"], shutdown_seconds=s["shutdown_seconds"])


def check_bounded_performance(ctx: TaskContext) -> Check:
    """Task 4.1's performance target, met by the async class with its semaphore (async_bounded).

    What the bound costs against the unbounded variant is reported beside it: it is the price
    of the bound (a few percent, swinging with load), and is not what the criterion asks.
    """
    bench = evidence(ctx)["benchmark"]
    bounded, unbounded = bench["async_bounded"], bench["async_unbounded"]
    cost = -measure.improvement(bench, "async_bounded", baseline="async_unbounded")
    gains = {name: measure.improvement(bench, name) for name in ("async_bounded", "async_unbounded")}
    cores = bounded["cores"]
    target = target_pct(cores)
    met = gains["async_bounded"] >= target
    text = (
        f"this task's own pytest-benchmark run, medians: sync {bench['sync']['median_ms']} ms, async with "
        f"Semaphore(2) {bounded['median_ms']} ms ({less_time(gains['async_bounded'])}), without the semaphore "
        f"{unbounded['median_ms']} ms ({less_time(gains['async_unbounded'])}). Task 4.1's target on {cores} core(s), "
        f"{target:g}% less time than sync, is {'met' if met else 'NOT met'} with the bound in place. The bound "
        f"costs {cost}% against the unbounded variant (fastest rounds {bounded['min_ms']} and {unbounded['min_ms']} ms; "
        f"load average {bounded['load_average_1m']}).{capacity(bench)}"
    )
    return (Check.passed if met else Check.failed)(
        text, bound_cost_pct=cost, target_pct=target, **{f"{k}_improvement_pct": v for k, v in gains.items()})


HANDLER_4_2 = Handler(
    action=action_4_2,
    checks={
        "Background flusher implemented with asyncio.Queue for episodic events": check_queue,
        "Bounded concurrency with asyncio.Semaphore for LTM queries": check_semaphore,
        "Circuit breakers and retries implemented for resilience": check_resilience,
        "Structured concurrency with graceful shutdown": check_shutdown,
        "Performance targets maintained with bounded concurrency": check_bounded_performance,
        "Zero new external dependencies": check_dependencies,
    },
)
