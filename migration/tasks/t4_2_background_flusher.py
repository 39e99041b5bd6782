"""Task 4.2: the background flusher, bounded concurrency, circuit breakers and graceful shutdown.

The action runs the memory benchmark with the semaphore and without it at Task 4.1's round
trip (1 ms), the short-term store's fault scenarios (migration/memory/faults.py) and the
faults at the network, made by the real PostgreSQL server and the latency proxy
(migration/memory/network_faults.py: the server stopped and restarted under load,
connections cut mid-query, a latency spike past the query timeout). Like Task 4.1 it starts
the project's server when DATABASE_URL is not set. What it measured goes to `<workdir>/evidence.json`
and into `performance_metrics`; each check reads it back, or reads the source with `ast`,
and cites the numbers.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gitops.handlers import Check, Handler, TaskContext
from migration.memory import evidence as measure
from assistant import memory_server
from migration.memory import faults as memory_faults
from migration.memory import network_faults
from migration.memory.dependencies import check_dependencies
from migration.memory.evidence import calls
from migration.memory.record import evidence, save
from migration.memory.targets import TARGET_PCT, TARGET_RTT, bench_metrics, less_time, met


def action_4_2(ctx: TaskContext) -> Mapping[str, Any]:
    """Benchmark with the semaphore and without; run the fault scenarios."""
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    with memory_server.serving(ctx.root, ctx.environ) as url:
        curve = measure.run_benchmark(ctx.root, ctx.workdir, {**ctx.environ, "DATABASE_URL": url},
                                      ("sync", "async_bounded", "async_unbounded"), (TARGET_RTT,))
        faults = memory_faults.run_all(ctx.workdir / "faults")
        network = network_faults.run_all(ctx.root, ctx.workdir / "network")
    save(ctx, {"benchmark": curve, "faults": faults, "network": network})
    for name, result in {**faults, **network}.items():
        ctx.log(f"fault scenario {name}: {json.dumps(result)}")
    recovery, shutdown, full = faults["recovery"], faults["shutdown"], faults["full_queue"]
    at = curve[TARGET_RTT]
    metrics = {
        **bench_metrics(curve),
        "memory_bound_cost_pct": -measure.improvement(at, "async_bounded", "min_ms", baseline="async_unbounded"),
        "memory_restart_writes_lost": network["server_restart"]["acknowledged_writes"] - network["server_restart"]["long_term_keys"],
        "memory_spike_slowest_rehydration_s": network["latency_spike"]["slowest_rehydration_s"],
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
    network = evidence(ctx)["network"]
    exactly_once = {name: (n["events_persisted"], n["events_distinct"], n["events_offered"]) for name, n in network.items()}
    bounded = all(n["queue_high_water"] <= n["queue_maxsize"] and n["ltm_peak_connections"] <= n["ltm_connections"]
                  for n in network.values())
    ok = ok and bounded and all(p == d == o for p, d, o in exactly_once.values())
    return (Check.passed if ok else Check.failed)(
        f"assistant/memory_flusher.py uses asyncio.Queue ({uses}x). Under faults at the network, episodic events "
        f"(persisted, distinct, offered): {exactly_once}, each written exactly once; queue high water "
        f"{max(n['queue_high_water'] for n in network.values())}/{network_faults.OPTIONS['queue_size']}, "
        f"PostgreSQL connections at most {max(n['ltm_peak_connections'] for n in network.values())} of "
        f"{network_faults.OPTIONS['ltm_connections']}. Load: {shutdown['events']} events from 8 producers "
        f"written in {shutdown['batches']} batches (one transaction each), queue high water {shutdown['queue_high_water']}"
        f"/{shutdown['queue_maxsize']}. Stalled store, {full['offered']} events offered: producer blocked "
        f"{full['producer_blocked']}, add_event_nowait refused {full['nowait_refused']}, {full['held_while_stalled']} held "
        f"(queue {full['queue_maxsize']} + batch {full['batch_size']}), traced memory peak {full['traced_peak_kib']} KiB "
        f"against {full['all_offered_kib']} KiB to hold them all; {full['persisted']} persisted once the store resumed",
        batches=shutdown["batches"], peak_kib=full["traced_peak_kib"], held=full["held_while_stalled"])


def check_semaphore(ctx: TaskContext) -> Check:
    bench = evidence(ctx)["benchmark"][TARGET_RTT]
    bounded, unbounded = bench["async_bounded"], bench["async_unbounded"]
    limit = bounded["options"]["ltm_concurrency"]
    uses = calls(ctx.root / "assistant" / "memory_pool.py", "asyncio.Semaphore")
    ok = uses and bounded["ltm_peak_concurrency"] <= limit < unbounded["ltm_peak_concurrency"]
    return (Check.passed if ok else Check.failed)(
        f"assistant/memory_pool.py Slots wraps asyncio.Semaphore ({uses}x); with {bounded['queries']} rehydrations in "
        f"flight at {TARGET_RTT} ms, long-term queries peaked at {bounded['ltm_peak_concurrency']} with Semaphore({limit}) "
        f"and at {unbounded['ltm_peak_concurrency']} without it", peak_bounded=bounded["ltm_peak_concurrency"],
        peak_unbounded=unbounded["ltm_peak_concurrency"])


def cycled(transitions: list[str]) -> bool:
    """The breaker opened, was tried half-open later, and ended closed."""
    return "open" in transitions and "half_open" in transitions[transitions.index("open"):] and transitions[-1] == "closed"


def check_resilience(ctx: TaskContext) -> Check:
    r = evidence(ctx)["faults"]["recovery"]
    network = evidence(ctx)["network"]
    restart, cut, spike = network["server_restart"], network["connections_cut"], network["latency_spike"]
    t = r["transitions"]
    ok = (cycled(t) and r["persisted"] == r["distinct"] == r["events"]
          and all(cycled(n["transitions"]) or n is cut and n["transitions"][-1] == "closed" and "open" in n["transitions"]
                  for n in network.values())
          and all(n["long_term_rows"] == n["long_term_keys"] == n["acknowledged_writes"] and n["failed"] == 0
                  for n in network.values())
          and cut["answers_match_after"])

    def told(name: str, n: dict) -> str:
        return (f"{name}: breaker {' -> '.join(n['transitions'])}; {n['ltm_failures']} failed calls, "
                f"{n['rejected_while_open']} refused at once while open, {n['rehydrations']} rehydrations "
                f"({n['without_long_term']} from short-term memory alone, {n['failed']} failed, slowest "
                f"{n['slowest_rehydration_s']} s); {n['acknowledged_writes']} long-term writes acknowledged after "
                f"{n['write_retries']} retries, {n['long_term_rows']} rows and {n['long_term_keys']} keys on the server")

    return (Check.passed if ok else Check.failed)(
        f"Short-term store failing with 'disk I/O error' then recovering: breaker {' -> '.join(t)}; {r['failed_writes']} "
        f"failed batch writes, {r['rejected_while_open']} calls refused while open, {r['write_attempts']} write attempts "
        f"(retries with backoff {network_faults.RETRY.base_delay}-{network_faults.RETRY.max_delay} s); {r['persisted']} of "
        f"{r['events']} events persisted, {r['distinct']} distinct. At the network, through the latency proxy (1 ms), "
        f"with the real server: {told('server stopped under load', restart)}; breaker open "
        f"{restart['opened_after_s']} s after the stop command, closed {restart['closed_after_start_command_s']} s after "
        f"the start command. {told('connections cut mid-query ' + str(cut['cut_connections']), cut)}; answers after the cuts "
        f"match the sync class's: {cut['answers_match_after']}. {told('round trip 1000 ms, past the 0.3 s query timeout', spike)}; "
        f"open after {spike['opened_after_s']} s, closed {spike['closed_after_spike_s']} s after the spike ended",
        events_lost=r["events"] - r["persisted"], failed_writes=r["failed_writes"],
        network_writes_lost=sum(n["acknowledged_writes"] - n["long_term_keys"] for n in network.values()))


def check_shutdown(ctx: TaskContext) -> Check:
    faults = evidence(ctx)["faults"]
    s, dead = faults["shutdown"], faults["dead_store"]
    spike = evidence(ctx)["network"]["latency_spike"]
    task_group = calls(ctx.root / "assistant" / "memory_flusher.py", "asyncio.TaskGroup")
    ok = (task_group and s["pending_at_shutdown"] > 0 and s["persisted"] == s["events"]
          and dead["handed_back"] == dead["events"] and dead["seconds"] < dead["shutdown_timeout"] + 5
          and spike["shutdown_s"] < spike["shutdown_timeout_s"] + 2
          and spike["events_persisted_at_shutdown"] == spike["events_queued_at_shutdown"])
    return (Check.passed if ok else Check.failed)(
        f"assistant/memory_flusher.py runs the flusher in an asyncio.TaskGroup ({task_group}x), opened and closed "
        f"by AsyncMemoryRehydrator's `async with`. Shutdown under load: "
        f"{s['pending_at_shutdown']} events still queued when the block exited, all {s['events']} persisted, drain took "
        f"{s['shutdown_seconds']} s. Store that never recovers: shutdown gave up after its {dead['shutdown_timeout']} s "
        f"timeout ({dead['seconds']} s in all) and handed back {dead['handed_back']} of {dead['events']} events in "
        f"MemoryFlushError. Shutdown while a 1000 ms round trip held {spike['in_flight_at_shutdown']} rehydrations: "
        f"{spike['shutdown_s']} s (timeout {spike['shutdown_timeout_s']} s), {spike['in_flight_answered']} of them "
        f"answered, {spike['events_persisted_at_shutdown']} of {spike['events_queued_at_shutdown']} queued events "
        f"written; every scenario ran under asyncio.timeout({memory_faults.DEADLINE:.0f} or {network_faults.DEADLINE:.0f})",
        pending_at_shutdown=s["pending_at_shutdown"], shutdown_seconds=s["shutdown_seconds"],
        spike_shutdown_seconds=spike["shutdown_s"])


def check_bounded_performance(ctx: TaskContext) -> Check:
    """Task 4.1's target (40% less time at a 1 ms round trip), met by the async class with its semaphore.

    What the bound costs against the unbounded variant is reported beside it: it is the price
    of the bound, and is not what the criterion asks.
    """
    bench = evidence(ctx)["benchmark"][TARGET_RTT]
    bounded, unbounded = bench["async_bounded"], bench["async_unbounded"]
    cost = -measure.improvement(bench, "async_bounded", baseline="async_unbounded")
    gains = {name: measure.improvement(bench, name) for name in ("async_bounded", "async_unbounded")}
    ok = met(gains["async_bounded"])
    text = (
        f"this task's own pytest-benchmark run at {TARGET_RTT} ms added round trip (SELECT 1 measured "
        f"{bounded['ping_ms']} ms), medians: sync {bench['sync']['median_ms']} ms, async with "
        f"Semaphore({bounded['options']['ltm_concurrency']}) {bounded['median_ms']} ms ({less_time(gains['async_bounded'])}), "
        f"without the semaphore ({unbounded['options']['ltm_connections']} connections) {unbounded['median_ms']} ms "
        f"({less_time(gains['async_unbounded'])}). Task 4.1's target, at least {TARGET_PCT:g}% less time than sync, is "
        f"{'met' if ok else 'NOT met'} with the bound in place. The bound costs {cost}% against the unbounded variant "
        f"(fastest rounds {bounded['min_ms']} and {unbounded['min_ms']} ms; load average {bounded['load_average_1m']})."
    )
    return (Check.passed if ok else Check.failed)(
        text, bound_cost_pct=cost, target_pct=TARGET_PCT, **{f"{k}_improvement_pct": v for k, v in gains.items()})


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
