"""Benchmark of Tasks 4.1 and 4.2: sync MemoryRehydrator against AsyncMemoryRehydrator on real I/O.

Long-term memory is in the session's PostgreSQL server, short-term memory in a SQLite file
(workload.py). Every variant answers the same 32 questions per round: the sync class one
after another, the async class all at once. Each round-trip time is a row of the curve:
`direct` (loopback, no proxy), `0` (through the latency proxy with no delay: what the proxy
itself costs), then 0.5, 1, 2 and 5 ms added by the proxy; at each, `SELECT 1` is measured
through it before and after the case (network.py). At each, the variants run in interleaved blocks, each block in a
rotated order, so a burst of load falls on all of them alike.

Run with `scripts/bench -k async_memory` (or `--benchmark-enable`); the Task 4.1/4.2 handlers
run this file and compute ratios from its JSON. Without --benchmark-enable only the first
block at 1 ms runs, once per variant, as a test that every variant answers alike through the proxy.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.memory_rehydrator import MemoryRehydrator
from migration.memory import evidence as measure
from migration.memory import network, workload
from migration.memory.latency_proxy import ProxyProcess
from tests.postgres import fresh_database

QUERIES = workload.queries(32)
# name -> AsyncMemoryRehydrator options; "sync" is the MemoryRehydrator baseline.
VARIANTS: dict[str, dict[str, Any]] = {
    "async_bounded": {"ltm_concurrency": 8, "ltm_connections": 8},  # the defaults: Semaphore(8), 8 connections
    "async_unbounded": {"ltm_concurrency": None, "ltm_connections": 32},  # every rehydration its own connection
}
RTTS = os.environ.get("GITOPS_MEMORY_BENCH_RTTS", "direct,0,0.5,1,2,5").split(",")
BLOCKS = int(os.environ.get("GITOPS_MEMORY_BENCH_BLOCKS", "3"))
ROUNDS = int(os.environ.get("GITOPS_MEMORY_BENCH_ROUNDS", "3"))  # per variant and block
WARMUP = 1
CHOSEN = os.environ.get("GITOPS_MEMORY_BENCH_VARIANTS", ",".join(["sync", *VARIANTS])).split(",")
CASES = [(rtt, block, CHOSEN[(i + block) % len(CHOSEN)])
         for rtt in RTTS for block in range(1, BLOCKS + 1) for i in range(len(CHOSEN))]
SMOKE_RTT = "1"  # without --benchmark-enable: block 1 at this round-trip time only


@pytest.fixture(scope="module")
def store(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(SQLite file, PostgreSQL URL) of the workload's memory, in a database of its own."""
    path = tmp_path_factory.mktemp("memory") / "memory.db"
    with fresh_database(postgres_server, "bench") as url:
        workload.build_store(path, database_url=url)
        yield path, url


@pytest.fixture(scope="module")
def proxy(store: tuple[Path, str]) -> Iterator[ProxyProcess]:
    with ProxyProcess(*network.host_port(store[1])) as running:
        yield running


@pytest.fixture(scope="module")
def expected(store: tuple[Path, str]) -> list[list[tuple[str, int]]]:
    """What the sync class answers over loopback: every variant, at every RTT, must answer the same."""
    path, url = store
    with MemoryRehydrator(path, database_url=url) as memory:
        return workload.sync_answers(memory, QUERIES)


@pytest.fixture(scope="module")
def base_ping(store: tuple[Path, str]) -> float:
    return network.ping_ms(store[1])


def route(rtt: str, url: str, proxy: ProxyProcess) -> tuple[str, dict[str, Any]]:
    """The URL to use at `rtt` and what the network measured there."""
    if rtt == "direct":
        return url, {"setting_ms": None, "ping_ms": network.ping_ms(url)}
    return network.through(url, proxy.port), network.set_round_trip(proxy, url, float(rtt))


def sync_case(benchmark, path: Path, url: str, expected) -> int:
    with MemoryRehydrator(path, database_url=url) as memory:
        cpu = time.process_time()
        found = benchmark.pedantic(workload.sync_round, args=(memory, QUERIES), rounds=ROUNDS, warmup_rounds=WARMUP)
        benchmark.extra_info["cpu_seconds"] = round(time.process_time() - cpu, 3)
        assert workload.sync_answers(memory, QUERIES) == expected
    return found


def async_case(benchmark, name: str, path: Path, url: str, expected) -> int:
    options = VARIANTS[name]
    benchmark.extra_info["options"] = options
    with workload.serving(path, database_url=url, **options) as loop:
        cpu = time.process_time()
        found = benchmark.pedantic(
            loop.run, args=(lambda memory: workload.async_round(memory, QUERIES),), rounds=ROUNDS, warmup_rounds=WARMUP)
        benchmark.extra_info["cpu_seconds"] = round(time.process_time() - cpu, 3)
        assert loop.run(lambda memory: workload.answers(memory, QUERIES)) == expected
        stats = loop.run(workload.stats)
    benchmark.extra_info["ltm_peak_concurrency"] = stats["ltm_peak_concurrency"]
    if options["ltm_concurrency"]:
        assert stats["ltm_peak_concurrency"] <= options["ltm_concurrency"]
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("rtt", "block", "variant"), CASES, ids=[f"{v}-rtt{r}-{b}" for r, b, v in CASES])
def test_memory(benchmark, store, proxy, expected, base_ping, rtt: str, block: int, variant: str) -> None:
    if benchmark.disabled and (block > 1 or rtt != SMOKE_RTT):
        pytest.skip("the whole curve only when benchmarking (scripts/bench -k async_memory)")
    path, url = store
    used, measured = route(rtt, url, proxy)
    benchmark.group = f"memory: 32 rehydrations, round trip {rtt}" + ("" if rtt in ("direct", "0") else " ms")
    benchmark.extra_info.update(rtt=rtt, variant=variant, block=block, base_ping_ms=base_ping, **measured)
    found = sync_case(benchmark, path, used, expected) if variant == "sync" else async_case(
        benchmark, variant, path, used, expected)
    benchmark.extra_info.update(
        queries=len(QUERIES), memories_found=found, cores=measure.usable_cores(), warmup_rounds=WARMUP,
        load_average_1m=round(os.getloadavg()[0], 2), ping_after_ms=network.ping_ms(used, 20))
