"""AsyncMemoryRehydrator: the sync store's answers, from worker threads, with a pool and a flusher."""

from __future__ import annotations

import ast
import asyncio
import sqlite3
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

import assistant.memory_rehydrator as module
from assistant.memory_flusher import FlusherClosedError
from assistant.memory_rehydrator import AsyncMemoryRehydrator, EpisodicEvent, MemoryKind, MemoryRehydrator
from assistant.memory_resilience import BreakerState
from migration.memory.faults import Faults, FlakyStore
from tests.assistant.test_memory_rehydrator import ticking_clock

T = TypeVar("T")
LIMIT = 10.0  # seconds: a hung test fails here instead of stalling the suite


def run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a fresh loop under a timeout."""

    async def bounded() -> T:
        async with asyncio.timeout(LIMIT):
            return await make()

    return asyncio.run(bounded())


def seed(store: MemoryRehydrator) -> None:
    store.remember("doc:task-4.1", "Task 4.1 adds AsyncMemoryRehydrator using asyncio.to_thread.")
    store.remember("doc:halt", "Run gitops resume with a reason to clear a halted pipeline.")
    store.remember("doc:garden", "Water the tomatoes every morning.")
    store.add_events(
        [EpisodicEvent("s1", "question", "How do I clear a halted pipeline?"),
         EpisodicEvent("s1", "answer", "Use gitops resume."),
         EpisodicEvent("s2", "question", "What does the background flusher do?")]
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "memory.db"
    with MemoryRehydrator(path, clock=ticking_clock()) as store:
        seed(store)
    return path


QUERIES = ["clear a halted pipeline", "background flusher", "tomatoes", "kubernetes", "resume pipeline task"]


def test_answers_exactly_as_the_sync_class(path: Path) -> None:
    with MemoryRehydrator(path) as store:
        expected = [store.rehydrate(q, k=3) for q in QUERIES] + [store.rehydrate("halted", k=5, session="s2")]

    async def main() -> list:
        async with AsyncMemoryRehydrator(path) as memory:
            found = await asyncio.gather(*(memory.rehydrate(q, k=3) for q in QUERIES))
            return [*found, await memory.rehydrate("halted", k=5, session="s2")]

    assert run(main) == expected


def test_store_calls_run_in_worker_threads_on_pooled_connections(path: Path) -> None:
    seen: list[tuple[int, int]] = []  # (thread, store)

    class Traced(MemoryRehydrator):
        def candidates(self, kind: MemoryKind, query: str, session: str | None = None) -> Any:
            seen.append((threading.get_ident(), id(self)))
            return super().candidates(kind, query, session)

    async def main() -> int:
        async with AsyncMemoryRehydrator(path, readers=3, connect=lambda: Traced(path)) as memory:
            await asyncio.gather(*(memory.rehydrate(q) for q in QUERIES * 4))
            return threading.get_ident()

    loop_thread = run(main)
    assert seen and loop_thread not in {thread for thread, _ in seen}
    assert len({store for _, store in seen}) == 3  # three readers; the writer never reads


def test_in_memory_store_uses_one_connection_for_reads_and_writes() -> None:
    async def main() -> tuple[list[str], dict]:
        async with AsyncMemoryRehydrator(clock=ticking_clock()) as memory:
            await memory.remember("doc:halt", "gitops resume clears a halt")
            await memory.add_event("s1", "question", "How do I clear a halt?")
            await memory.flush()
            return [m.label for m in await memory.rehydrate("clear a halt", k=5)], await memory.counts()

    labels, counts = run(main)
    assert labels == ["s1/question", "doc:halt"]
    assert counts == {MemoryKind.EPISODIC: 1, MemoryKind.LONG_TERM: 1}


def test_events_are_written_in_batches_and_visible_after_flush(tmp_path: Path) -> None:
    async def main() -> tuple[dict, dict, list[str]]:
        async with AsyncMemoryRehydrator(tmp_path / "m.db", batch_size=50) as memory:
            await memory.add_events(EpisodicEvent("s", "note", f"note {i} on the pipeline") for i in range(200))
            await memory.flush()
            return memory.stats(), await memory.counts(), [m.content for m in await memory.recent_events("s", 2)]

    stats, counts, recent = run(main)
    assert counts[MemoryKind.EPISODIC] == stats["events_written"] == 200
    assert 4 <= stats["batches"] < 200 and stats["queued"] == 0
    assert recent == ["note 199 on the pipeline", "note 198 on the pipeline"]


def test_leaving_the_block_writes_what_is_still_queued(tmp_path: Path) -> None:
    async def main() -> None:
        async with AsyncMemoryRehydrator(tmp_path / "m.db") as memory:
            for i in range(300):
                memory.add_event_nowait("s", "note", f"note {i}")

    run(main)
    with MemoryRehydrator(tmp_path / "m.db") as store:
        assert store.counts()[MemoryKind.EPISODIC] == 300


def test_long_term_writes_and_consolidation(path: Path) -> None:
    async def main() -> tuple[int, bool, list[str], dict]:
        async with AsyncMemoryRehydrator(path) as memory:
            basil = await memory.remember("doc:garden", "Basil needs less water.")
            gone = await memory.forget("doc:halt")
            await memory.add_event("s1", "feedback", "That worked.")
            await memory.consolidate("s1")  # flushes first: the feedback is part of it
            found = [m.label for m in await memory.rehydrate("basil halted pipeline worked", k=5)]
            return basil, gone, found, await memory.counts()

    basil, gone, found, counts = run(main)
    assert gone and basil > 0
    assert found == ["session:s1", "doc:garden"]  # "doc:halt" is gone
    assert counts == {MemoryKind.EPISODIC: 1, MemoryKind.LONG_TERM: 3}


def test_the_semaphore_bounds_long_term_queries(path: Path) -> None:
    async def peak(limit: int | None) -> int:
        async with AsyncMemoryRehydrator(path, readers=4, ltm_concurrency=limit) as memory:
            await asyncio.gather(*(memory.rehydrate(q) for q in QUERIES * 8))
            return memory.stats()["ltm_peak_concurrency"]

    assert run(lambda: peak(2)) == 2
    assert run(lambda: peak(None)) > 2  # without it, every query is in progress at once


def test_an_empty_query_returns_recent_events(path: Path) -> None:
    async def main() -> tuple[list[str], list]:
        async with AsyncMemoryRehydrator(path) as memory:
            return [m.label for m in await memory.rehydrate("?!", k=5, session="s1")], await memory.rehydrate("the a")

    assert run(main) == (["s1/answer", "s1/question"], [])


def test_a_failing_store_degrades_reads_to_the_other_store(path: Path) -> None:
    faults = Faults()
    faults.failing_reads = {MemoryKind.LONG_TERM}

    async def main() -> tuple[list[str], dict, BreakerState]:
        options = {"failure_threshold": 2, "reset_timeout": 60.0}
        async with AsyncMemoryRehydrator(path, connect=lambda: FlakyStore(path, faults), **options) as memory:
            found = [m.label for m in await memory.rehydrate("clear a halted pipeline", k=5)]
            await memory.rehydrate("halted pipeline", k=5)  # the breaker is open: fails fast
            return found, memory.stats(), memory.breakers[MemoryKind.LONG_TERM].state

    found, stats, state = run(main)
    assert found == ["s1/question"]  # the long-term "doc:halt" would rank next
    assert stats["degraded_reads"] == 2 and stats["long_term_rejected"] >= 1 and state is BreakerState.OPEN


def test_both_stores_failing_raises(path: Path) -> None:
    faults = Faults()
    faults.failing_reads = set(MemoryKind)

    async def main() -> None:
        async with AsyncMemoryRehydrator(path, connect=lambda: FlakyStore(path, faults)) as memory:
            await memory.rehydrate("halted pipeline")

    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        run(main)


def test_bad_events_are_refused_at_the_door_and_after_shutdown(tmp_path: Path) -> None:
    async def main() -> AsyncMemoryRehydrator:
        async with AsyncMemoryRehydrator(tmp_path / "m.db") as memory:
            with pytest.raises(TypeError, match="must be strings"):
                await memory.add_events([EpisodicEvent("s", "note", None)])  # type: ignore[arg-type]
        return memory

    memory = run(main)
    with pytest.raises(FlusherClosedError, match="shutting down"):
        memory.add_event_nowait("s", "note", "late")
    with pytest.raises(RuntimeError, match="not open: use `async with"):
        run(lambda: memory.rehydrate("halted pipeline"))  # fails at once instead of waiting forever


def test_the_sync_api_is_unchanged_and_the_modules_use_the_stdlib_and_the_postgresql_driver() -> None:
    for name in ("add_event", "add_events", "remember", "forget", "consolidate", "prune_events",
                 "recent_events", "counts", "rehydrate", "close"):
        assert callable(getattr(MemoryRehydrator, name))
    folder = Path(module.__file__).parent
    for path in folder.glob("memory_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                top = node.module.split(".")[0]
            elif isinstance(node, ast.Import):
                top = node.names[0].name.split(".")[0]
            else:
                continue
            # psycopg: the PostgreSQL driver of long-term memory (the seed's "existing psycopg2/sqlite3").
            assert top in sys.stdlib_module_names or top in ("assistant", "psycopg"), f"{path.name} imports {top}"


def test_the_async_api_mirrors_the_sync_one() -> None:
    for name in ("add_event", "add_events", "remember", "forget", "consolidate", "recent_events", "counts",
                 "rehydrate", "flush"):
        assert asyncio.iscoroutinefunction(getattr(AsyncMemoryRehydrator, name)), name
    assert not asyncio.iscoroutinefunction(AsyncMemoryRehydrator.add_event_nowait)
