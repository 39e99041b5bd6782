"""Faults around AsyncMemoryRehydrator: nothing is lost, nothing hangs, memory stays bounded.

The scenarios are the ones the Task 4.2 handler runs (migration/memory/faults.py); each test
also runs under `asyncio.timeout`, so a hang fails in seconds.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import pytest

from assistant.memory_flusher import EventFlusher, MemoryFlushError
from assistant.memory_rehydrator import AsyncMemoryRehydrator, EpisodicEvent, MemoryRehydrator
from assistant.memory_resilience import (
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    RetryPolicy,
    call_with_retries,
)
from migration.memory import faults as faults
from tests.assistant.test_async_memory import run


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_half_opens_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker("episodic", failure_threshold=3, reset_timeout=5.0, clock=clock)
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError, match=r"episodic store: circuit open after 3 consecutive failures; next trial in 5.00 s"):
        breaker.before_call()
    clock.now += 5.0
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record_failure()  # the trial failed: open again at once
    assert breaker.state is BreakerState.OPEN
    clock.now += 5.0
    breaker.before_call()
    breaker.record_success()
    assert list(breaker.transitions) == ["closed", "open", "half_open", "open", "half_open", "closed"]
    assert (breaker.failures, breaker.rejected) == (4, 1)


def test_retries_back_off_then_succeed() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "ok"

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    breaker = CircuitBreaker("long_term", failure_threshold=5)
    result = run(lambda: call_with_retries(flaky, breaker, RetryPolicy(attempts=3, base_delay=0.01), sleep=sleep))
    assert (result, len(calls), sleeps, breaker.state) == ("ok", 3, [0.01, 0.02], BreakerState.CLOSED)
    assert RetryPolicy(base_delay=0.1, max_delay=0.3).delay(5) == 0.3


def test_only_transient_errors_are_retried_and_an_open_breaker_fails_fast() -> None:
    calls: list[int] = []

    async def broken() -> None:
        calls.append(1)
        raise sqlite3.IntegrityError("NOT NULL constraint failed")

    breaker = CircuitBreaker("episodic", failure_threshold=1)
    with pytest.raises(sqlite3.IntegrityError):
        run(lambda: call_with_retries(broken, breaker, RetryPolicy(attempts=3)))
    assert len(calls) == 1 and breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    with pytest.raises(CircuitOpenError):
        run(lambda: call_with_retries(broken, breaker, RetryPolicy(attempts=3)))
    assert len(calls) == 1


def test_a_store_that_fails_and_recovers_loses_nothing(tmp_path: Path) -> None:
    result = run(lambda: faults.store_fails_and_recovers(tmp_path / "m.db"))
    assert result["persisted"] == result["distinct"] == result["events"] == 300  # no loss, no duplicate
    transitions = result["transitions"]
    assert transitions[:3] == ["closed", "open", "half_open"] and transitions[-1] == "closed"
    assert transitions.count("open") >= 2 and result["rejected_while_open"] >= 1


def test_shutdown_under_load_persists_every_queued_event(tmp_path: Path) -> None:
    result = run(lambda: faults.shutdown_under_load(tmp_path / "m.db"))
    assert result["pending_at_shutdown"] > 0
    assert result["persisted"] == result["distinct"] == result["events"] == 4000
    assert result["queue_high_water"] <= result["queue_maxsize"]
    assert result["batches"] < result["events"] / 10  # written in batches, not one by one


def test_a_full_queue_pushes_back_and_memory_stays_bounded(tmp_path: Path) -> None:
    result = run(lambda: faults.full_queue(tmp_path / "m.db"))
    assert result["producer_blocked"] and result["nowait_refused"]
    assert result["held_while_stalled"] <= result["queue_maxsize"] + result["batch_size"]  # queue + one batch
    assert result["queue_high_water"] == result["queue_maxsize"]
    assert result["traced_peak_kib"] < result["all_offered_kib"] / 10
    assert result["persisted"] == result["offered"]


def test_shutdown_against_a_dead_store_hands_every_event_back(tmp_path: Path) -> None:
    result = run(lambda: faults.store_never_recovers(tmp_path / "m.db"))
    assert result["handed_back"] == result["distinct"] == result["events"] and result["persisted"] == 0


def test_the_flusher_gives_back_the_batch_in_flight_on_timeout() -> None:
    async def main() -> list[EpisodicEvent]:
        async def write(batch: list[EpisodicEvent]) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        flusher = EventFlusher(write, maxsize=8, batch_size=3)
        async with asyncio.TaskGroup() as tasks:
            runner = tasks.create_task(flusher.run())
            for i in range(5):
                await flusher.put(EpisodicEvent("s", "note", str(i)))
            with pytest.raises(MemoryFlushError, match="5 events not written within 0.05 s") as caught:
                await flusher.drain(0.05)
            assert runner.done()
        return caught.value.unwritten

    assert [e.content for e in run(main)] == ["0", "1", "2", "3", "4"]


class Buggy(MemoryRehydrator):
    def add_events(self, events: Iterable[EpisodicEvent]) -> list[int]:
        raise ValueError("a bug, not a transient fault")


def test_a_flusher_bug_surfaces_through_the_task_group(tmp_path: Path) -> None:
    path = tmp_path / "m.db"

    async def main() -> None:
        async with AsyncMemoryRehydrator(path, connect=lambda: Buggy(path)) as memory:
            await memory.add_event("s", "note", "hello")
            await asyncio.sleep(LONG)  # the TaskGroup cancels this when the flusher fails

    with pytest.raises(ExceptionGroup) as caught:
        run(main)
    assert caught.group_contains(ValueError, match="a bug")  # type: ignore[attr-defined]
    assert caught.group_contains(MemoryFlushError, match="1 events not written")  # type: ignore[attr-defined]


LONG = 3600.0
