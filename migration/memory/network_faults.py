"""Faults at the network for Task 4.2, made by the real server and the latency proxy, not by fakes.

Each scenario runs AsyncMemoryRehydrator against the project's PostgreSQL server through a
`ProxyProcess` adding 1 ms, under a steady load (`Load`: concurrent rehydrations, a producer
of episodic events, and a writer of long-term memories that retries until each is written),
and returns what it measured:

- `server_restart`: the server is stopped (fast shutdown: open connections are terminated)
  under load and started again;
- `connections_cut`: the proxy aborts every connection mid-query, three times;
- `latency_spike`: the round trip jumps past the query timeout, then recovers; then the block
  is left while the spike holds queries, to show shutdown stays bounded.

It needs the project's own server (assistant/memory_server.py), since it stops it.
"""
from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from assistant import memory_server
from assistant.memory_rehydrator import AsyncMemoryRehydrator, MemoryKind, MemoryRehydrator
from assistant.memory_resilience import RECOVERABLE, BreakerState, RetryPolicy
from migration.memory import workload
from migration.memory.latency_proxy import ProxyProcess
from migration.memory.network import host_port, through

DEADLINE = 60.0  # seconds any one scenario may take before it counts as hung
QUERY_TIMEOUT = 0.3  # seconds per long-term call in these scenarios
RETRY = RetryPolicy(attempts=2, base_delay=0.02, max_delay=0.2)
OPTIONS: dict[str, Any] = {"failure_threshold": 3, "reset_timeout": 0.2, "retry": RETRY, "query_timeout": QUERY_TIMEOUT,
                           "ltm_connections": 4, "ltm_concurrency": 4, "queue_size": 256, "batch_size": 32,
                           "shutdown_timeout": 2.0}
QUESTIONS = workload.queries(16)


class Load:
    """Rehydrations, episodic events and long-term writes in flight until `stop()`."""

    def __init__(self, memory: AsyncMemoryRehydrator, prefix: str, readers: int = 6) -> None:
        self.memory = memory
        self.prefix = prefix
        self.readers = readers
        self._stop = asyncio.Event()
        self.rehydrations = self.without_long_term = self.failed = 0
        self.slowest = 0.0
        self.events = 0
        self.written: list[str] = []  # long-term keys the writer saw acknowledged
        self.write_retries = 0

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            for reader in range(self.readers):
                tasks.create_task(self._read(reader))
            tasks.create_task(self._produce())
            tasks.create_task(self._write())

    async def _read(self, reader: int) -> None:
        for question, session in itertools.cycle(QUESTIONS[reader::self.readers]):
            if self._stop.is_set():
                return
            began = time.perf_counter()
            try:
                found = await self.memory.rehydrate(question, k=5, session=session)
            except Exception:  # noqa: BLE001 - counted: both stores failed
                self.failed += 1
                await asyncio.sleep(0.01)
                continue
            self.slowest = max(self.slowest, time.perf_counter() - began)
            self.rehydrations += 1
            self.without_long_term += not any(m.kind is MemoryKind.LONG_TERM for m in found)
            await asyncio.sleep(0.005)  # a user's pace, not a spin while the long-term store is away

    async def _produce(self) -> None:
        for i in itertools.count():
            if self._stop.is_set():
                return
            await self.memory.add_event(f"{self.prefix}-s{i % 4}", "note", f"{self.prefix} event {i} about the pipeline")
            self.events += 1
            await asyncio.sleep(0.002)

    async def _write(self) -> None:
        """Long-term memories one after another, each retried until acknowledged (as an app would)."""
        for i in itertools.count():
            key = f"{self.prefix}:{i}"
            while not self._stop.is_set():
                try:
                    await self.memory.remember(key, f"{self.prefix} fact {i} about a halted pipeline", source="fault")
                    self.written.append(key)
                    break
                except RECOVERABLE:
                    self.write_retries += 1
                    await asyncio.sleep(0.05)
            if self._stop.is_set():
                return
            await asyncio.sleep(0.01)


async def until(condition: Callable[[], bool], poll: float = 0.005) -> float:
    """Wait until `condition()` holds; seconds waited (callers bound this with a timeout)."""
    began = time.perf_counter()
    while not condition():
        await asyncio.sleep(poll)
    return round(time.perf_counter() - began, 3)


def long_term_rows(url: str, prefix: str) -> tuple[int, int]:
    """(rows, distinct keys) of a scenario's long-term memories, read directly from the server."""
    with psycopg.connect(url, connect_timeout=5) as db:
        row = db.execute("SELECT count(*), count(DISTINCT key) FROM long_term_memory WHERE key LIKE %s",
                         (f"{prefix}:%",)).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def episodic_rows(path: Path, prefix: str) -> tuple[int, int]:
    with sqlite3.connect(path) as db:
        rows, distinct = db.execute("SELECT count(*), count(DISTINCT content) FROM episodic_events WHERE session LIKE ?",
                                    (f"{prefix}-%",)).fetchone()
    return int(rows), int(distinct)


def summary(load: Load, memory: AsyncMemoryRehydrator, path: Path, url: str) -> dict[str, Any]:
    breaker = memory.breakers[MemoryKind.LONG_TERM]
    stats = memory.stats()
    rows, keys = long_term_rows(url, load.prefix)
    events, distinct_events = episodic_rows(path, load.prefix)
    return {
        "transitions": [s.value for s in breaker.transitions], "final_state": breaker.state.value,
        "rehydrations": load.rehydrations, "without_long_term": load.without_long_term, "failed": load.failed,
        "slowest_rehydration_s": round(load.slowest, 3), "ltm_failures": stats["long_term_failures"],
        "rejected_while_open": stats["long_term_rejected"], "reconnects": stats["ltm_reconnects"],
        "discarded_connections": stats["ltm_discarded"], "acknowledged_writes": len(load.written),
        "write_retries": load.write_retries, "long_term_rows": rows, "long_term_keys": keys,
        "events_offered": load.events, "events_persisted": events, "events_distinct": distinct_events,
        "queue_high_water": stats["queue_high_water"], "queue_maxsize": stats["queue_maxsize"],
        "ltm_connections": OPTIONS["ltm_connections"], "ltm_peak_connections": stats["ltm_peak_connections"],
    }


async def server_restart(root: Path, url: str, path: Path, proxy: ProxyProcess) -> dict[str, Any]:
    """Stop the server under load (its connections are terminated), keep it down, start it again."""
    memory = AsyncMemoryRehydrator(path, database_url=through(url, proxy.port), **OPTIONS)
    async with memory:
        load = Load(memory, "restart")
        running = asyncio.create_task(load.run())
        await asyncio.sleep(0.5)
        breaker = memory.breakers[MemoryKind.LONG_TERM]
        stopping = asyncio.create_task(asyncio.to_thread(memory_server.stop, root))
        opened_after = await until(lambda: breaker.state is BreakerState.OPEN)  # from the stop command on
        await stopping
        await asyncio.sleep(1.0)  # down for a while: rehydrations go on from short-term memory
        down_rehydrations = load.rehydrations
        starting = asyncio.create_task(asyncio.to_thread(memory_server.start, root))
        closed_after = await until(lambda: breaker.state is BreakerState.CLOSED)  # from the start command on
        await starting
        await asyncio.sleep(0.5)
        load.stop()
        await running
    return {**summary(load, memory, path, url), "opened_after_s": opened_after, "closed_after_start_command_s": closed_after,
            "rehydrations_before_restart": down_rehydrations}


async def connections_cut(root: Path, url: str, path: Path, proxy: ProxyProcess) -> dict[str, Any]:
    """Abort every proxied connection mid-query, three times under load; answers must come back whole."""
    with MemoryRehydrator(path, database_url=url) as reference:
        expected = workload.sync_answers(reference, QUESTIONS)
    memory = AsyncMemoryRehydrator(path, database_url=through(url, proxy.port), **OPTIONS)
    async with memory:
        load = Load(memory, "cut")
        running = asyncio.create_task(load.run())
        cuts = []
        for _ in range(3):
            await asyncio.sleep(0.3)
            cuts.append(await asyncio.to_thread(proxy.cut))
        await asyncio.sleep(0.5)
        load.stop()
        await running
        breaker = memory.breakers[MemoryKind.LONG_TERM]
        await until(lambda: breaker.state is not BreakerState.OPEN)
        after = await workload.answers(memory, QUESTIONS)
    return {**summary(load, memory, path, url), "cut_connections": cuts, "answers_match_after": after == expected}


async def latency_spike(root: Path, url: str, path: Path, proxy: ProxyProcess) -> dict[str, Any]:
    """The round trip jumps to 1 s (past the 0.3 s query timeout) for 1.5 s; then a spike at shutdown."""
    memory = AsyncMemoryRehydrator(path, database_url=through(url, proxy.port), **OPTIONS)
    async with memory:
        load = Load(memory, "spike")
        running = asyncio.create_task(load.run())
        await asyncio.sleep(0.3)
        await asyncio.to_thread(proxy.set_rtt, 1000)
        breaker = memory.breakers[MemoryKind.LONG_TERM]
        opened_after = await until(lambda: breaker.state is BreakerState.OPEN)
        await asyncio.sleep(1.5)
        await asyncio.to_thread(proxy.set_rtt, 1)
        closed_after = await until(lambda: breaker.state is BreakerState.CLOSED)
        await asyncio.sleep(0.3)
        load.stop()
        await running
    out = {**summary(load, memory, path, url), "opened_after_s": opened_after, "closed_after_spike_s": closed_after}
    # Leave the block while the spike holds long-term calls and events are queued.
    memory = AsyncMemoryRehydrator(path, database_url=through(url, proxy.port), **OPTIONS)
    async with memory:
        await asyncio.to_thread(proxy.set_rtt, 1000)
        pending = [asyncio.create_task(memory.rehydrate(q, session=s)) for q, s in QUESTIONS]
        for i in range(200):
            memory.add_event_nowait("spike-exit-s0", "note", f"queued at shutdown {i}")
        await asyncio.sleep(0.05)
        began = time.perf_counter()
    out["shutdown_s"] = round(time.perf_counter() - began, 3)
    out["shutdown_timeout_s"] = OPTIONS["shutdown_timeout"]
    results = await asyncio.gather(*pending, return_exceptions=True)
    out["in_flight_at_shutdown"] = len(pending)
    out["in_flight_answered"] = sum(not isinstance(r, BaseException) for r in results)
    out["events_queued_at_shutdown"] = 200
    out["events_persisted_at_shutdown"] = episodic_rows(path, "spike-exit")[0]
    await asyncio.to_thread(proxy.set_rtt, 1)
    return out


SCENARIOS = {"server_restart": server_restart, "connections_cut": connections_cut, "latency_spike": latency_spike}


def run_all(root: Path, folder: Path) -> dict[str, dict[str, Any]]:
    """Every scenario on a small workload store, against the project's server (started if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    with memory_server.serving(root, {}) as server:
        url = _fresh_database(server)
        path = folder / "network.db"
        for leftover in folder.glob("network.db*"):
            leftover.unlink()
        workload.build_store(path, events=400, documents=400, database_url=url)
        with ProxyProcess(*host_port(url), rtt_ms=1.0) as proxy:
            for name, scenario in SCENARIOS.items():
                results[name] = asyncio.run(_bounded(scenario(root, url, path, proxy)))
                results[name]["proxy"] = proxy.stats()
    return results


async def _bounded(scenario: Any) -> dict[str, Any]:
    async with asyncio.timeout(DEADLINE):
        return await scenario


def _fresh_database(server: str) -> str:
    """A database of the fault scenarios' own (dropped and made again on each run)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
        admin.execute("DROP DATABASE IF EXISTS memory_faults WITH (FORCE)")
        admin.execute("CREATE DATABASE memory_faults")
    return make_conninfo(**{**conninfo_to_dict(server), "dbname": "memory_faults"})
