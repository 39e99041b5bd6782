"""Fault scenarios for AsyncMemoryRehydrator, each returning what it measured (Task 4.2).

A `FlakyStore` is the real SQLite store with switchable faults shared by all its connections:
writes that fail with "disk I/O error", writes held at a gate, slow writes, failing reads.
Every scenario runs under `asyncio.timeout`, so a hang fails fast instead of stalling the
pipeline, and counts what reached the database file afterwards with a fresh connection.
"""
from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import tracemalloc
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

from assistant.memory_flusher import MemoryFlushError
from assistant.memory_rehydrator import AsyncMemoryRehydrator, EpisodicEvent, MemoryKind, MemoryRehydrator
from assistant.memory_resilience import BreakerState, RetryPolicy

DEADLINE = 20.0  # seconds any one scenario may take before it counts as hung


class Faults:
    """Faults shared by every connection of one store; safe to flip from any thread."""

    def __init__(self) -> None:
        self.failing_writes = False
        self.failing_reads: set[MemoryKind] = set()
        self.write_delay = 0.0
        self.gate = threading.Event()  # writes wait here while it is clear
        self.gate.set()
        self.write_attempts = 0


class FlakyStore(MemoryRehydrator):
    """The real store, failing or stalling as its `Faults` say."""

    def __init__(self, path: str | Path, faults: Faults) -> None:
        super().__init__(path)
        self.faults = faults

    def add_events(self, events: Iterable[EpisodicEvent]) -> list[int]:
        events = list(events)
        self.faults.write_attempts += 1
        self.faults.gate.wait()
        if self.faults.failing_writes:
            raise sqlite3.OperationalError("disk I/O error")
        time.sleep(self.faults.write_delay)
        return super().add_events(events)

    def candidates(self, kind: MemoryKind, query: str, session: str | None = None) -> Any:
        if kind in self.faults.failing_reads:
            raise sqlite3.OperationalError("disk I/O error")
        return super().candidates(kind, query, session)


def flaky(path: Path, faults: Faults, **options: Any) -> AsyncMemoryRehydrator:
    """An AsyncMemoryRehydrator over FlakyStore connections, with quick breaker timings."""
    quick: dict[str, Any] = {"failure_threshold": 3, "reset_timeout": 0.05, "retry": RetryPolicy(attempts=2, base_delay=0.005)}
    return AsyncMemoryRehydrator(path, connect=lambda: FlakyStore(path, faults), **(quick | options))


def persisted(path: Path) -> tuple[int, int]:
    """(episodic rows, distinct contents) in the database file, read with a fresh connection."""
    with sqlite3.connect(path) as db:
        rows, distinct = db.execute("SELECT count(*), count(DISTINCT content) FROM episodic_events").fetchone()
    return int(rows), int(distinct)


def events(n: int, session: str = "s") -> list[EpisodicEvent]:
    return [EpisodicEvent(session, "note", f"event {i} of {session} about the flusher") for i in range(n)]


def traced_bytes(make: Any) -> int:
    """Bytes still allocated by what `make()` returns, by tracemalloc."""
    tracemalloc.start()
    try:
        kept = make()
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del kept
    return size


async def until(condition: Any, poll: float = 0.002) -> None:
    """Wait until `condition()` holds (callers bound this with a timeout)."""
    while not condition():
        await asyncio.sleep(poll)


async def store_fails_and_recovers(path: Path, n: int = 300) -> dict[str, Any]:
    """Writes fail until the breaker has opened, half-opened and re-opened; then the store heals."""
    faults = Faults()
    faults.failing_writes = True
    async with asyncio.timeout(DEADLINE):
        async with flaky(path, faults) as memory:
            breaker = memory.breakers[MemoryKind.EPISODIC]
            await memory.add_events(events(n))
            await until(lambda: list(breaker.transitions).count(BreakerState.OPEN) >= 2)
            faults.failing_writes = False
            await memory.flush()
            stats = memory.stats()
    rows, distinct = persisted(path)
    return {"events": n, "persisted": rows, "distinct": distinct, "transitions": [s.value for s in breaker.transitions],
            "failed_writes": stats["failed_writes"], "write_attempts": faults.write_attempts,
            "rejected_while_open": breaker.rejected, "final_state": breaker.state.value}


async def shutdown_under_load(path: Path, producers: int = 8, each: int = 500) -> dict[str, Any]:
    """Producers fill a bounded queue against a slow store; shutdown starts with it full."""
    faults = Faults()
    faults.write_delay = 0.002
    async with asyncio.timeout(DEADLINE):
        memory = flaky(path, faults, queue_size=256, batch_size=64)
        async with memory:
            async with asyncio.TaskGroup() as producing:
                for p in range(producers):
                    producing.create_task(memory.add_events(events(each, f"p{p}")))
                producing.create_task(memory.rehydrate("flusher event", k=3))
            pending = memory.stats()["queued"]
            started = time.perf_counter()
        shutdown = time.perf_counter() - started
    stats = memory.stats()
    rows, distinct = persisted(path)
    return {"events": producers * each, "pending_at_shutdown": pending, "persisted": rows, "distinct": distinct,
            "batches": stats["batches"], "queue_high_water": stats["queue_high_water"],
            "queue_maxsize": stats["queue_maxsize"], "shutdown_seconds": round(shutdown, 3)}


async def full_queue(path: Path, n: int = 5000, maxsize: int = 64, batch: int = 16) -> dict[str, Any]:
    """The store stalls; a producer offers `n` events: it must wait, and memory must stay flat."""
    faults = Faults()
    faults.gate.clear()
    all_offered = traced_bytes(lambda: events(n))  # what holding every offered event would take
    async with asyncio.timeout(DEADLINE):
        async with flaky(path, faults, queue_size=maxsize, batch_size=batch) as memory:
            tracemalloc.start()
            try:  # events are made as the producer offers them, so held ones show in the trace
                offered = (EpisodicEvent("s", "note", f"event {i} of s about the flusher") for i in range(n))
                producer = asyncio.create_task(memory.add_events(offered))
                # The queue has filled up and the flusher holds a batch at the stalled store.
                await until(lambda: memory.stats()["queue_high_water"] >= maxsize and faults.write_attempts >= 1)
                await asyncio.sleep(0.05)  # give a broken bound the chance to show itself
                blocked, held = not producer.done(), memory.stats()["queued"]
                try:
                    memory.add_event_nowait("s", "note", "one more")
                    refused = False
                except asyncio.QueueFull:
                    refused = True
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            faults.gate.set()
            await producer
            await memory.flush()
            stats = memory.stats()
    rows, _ = persisted(path)
    return {"offered": n, "producer_blocked": blocked, "held_while_stalled": held, "nowait_refused": refused,
            "queue_maxsize": maxsize, "batch_size": batch, "queue_high_water": stats["queue_high_water"],
            "traced_peak_kib": round(peak / 1024, 1), "all_offered_kib": round(all_offered / 1024, 1), "persisted": rows}


async def store_never_recovers(path: Path, n: int = 100, timeout: float = 0.3) -> dict[str, Any]:
    """Shutdown against a dead store returns within its timeout with every event handed back."""
    faults = Faults()
    faults.failing_writes = True
    unwritten: list[EpisodicEvent] = []
    started = time.perf_counter()
    async with asyncio.timeout(DEADLINE):
        try:
            async with flaky(path, faults, shutdown_timeout=timeout) as memory:
                await memory.add_events(events(n))
        except MemoryFlushError as error:
            unwritten = error.unwritten
    return {"events": n, "handed_back": len(unwritten), "distinct": len({e.content for e in unwritten}),
            "persisted": persisted(path)[0], "shutdown_timeout": timeout,
            "seconds": round(time.perf_counter() - started, 3)}


Scenario = Callable[[Path], Coroutine[Any, Any, dict[str, Any]]]
SCENARIOS: dict[str, Scenario] = {
    "recovery": store_fails_and_recovers,
    "shutdown": shutdown_under_load,
    "full_queue": full_queue,
    "dead_store": store_never_recovers,
}


def run_all(folder: Path) -> dict[str, dict[str, Any]]:
    """Run every scenario on its own database file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    for name, scenario in SCENARIOS.items():
        path = folder / f"{name}.db"
        for leftover in folder.glob(f"{name}.db*"):
            leftover.unlink()
        results[name] = asyncio.run(scenario(path))
    return results
