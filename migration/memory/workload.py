"""The memory benchmark's workload: the two stores of an assistant's memory and the questions to ask.

Short-term memory is SQLite (WAL): 2,000 recent turns of 200 conversations (about 25 words
each; older turns are consolidated or pruned). Long-term memory is PostgreSQL: 2,000 facts
and summaries of 30-60 words, ranked by the server. Each rehydration is one conversation's
question, so it reads that session's short-term memory and all long-term memory. Text is
drawn from windows of the task list itself (B-1006.md): real technical prose with a small
vocabulary, so a few words ("task", "dspy", "test") match most rows and the server ranks many
candidates. `LoopThread` keeps an `AsyncMemoryRehydrator` open on an event loop in another thread, so a
synchronous harness (pytest-benchmark) can time whole async rounds without reopening it.
"""
from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from assistant.memory_rehydrator import AsyncMemoryRehydrator, EpisodicEvent, MemoryRehydrator
from assistant.ranking import words

T = TypeVar("T")
CORPUS = Path(__file__).resolve().parents[1] / "B-1006.md"
EVENTS = 2_000  # episodic events (about 25 words each)
DOCUMENTS = 2_000  # long-term memories (30-60 words each)
DOCUMENT_WORDS = (30, 60)
SESSIONS = 200
SEED = 1006


def corpus_words() -> list[str]:
    """The task list's words in order (stopwords removed): the text memories are cut from."""
    return words(CORPUS.read_text(encoding="utf-8"))


def passage(rng: random.Random, corpus: list[str], length: int) -> str:
    start = rng.randrange(len(corpus) - length)
    return " ".join(corpus[start : start + length])


def build_store(path: Path, *, events: int = EVENTS, documents: int = DOCUMENTS, seed: int = SEED,
                database_url: str | None = None) -> dict[str, float]:
    """Write a memory store of `events` episodic events and `documents` long-term memories
    (in PostgreSQL at `database_url` when given, else in the SQLite file too)."""
    rng, corpus = random.Random(seed), corpus_words()
    started = time.perf_counter()
    with MemoryRehydrator(path, clock=lambda: 1.0e9, database_url=database_url) as store:
        store.add_events(
            EpisodicEvent(f"s{i % SESSIONS}", rng.choice(("question", "answer", "note")),
                          passage(rng, corpus, rng.randint(15, 35)), 1.0e9 + i)
            for i in range(events)
        )
        for i in range(documents):
            store.remember(f"doc:{i}", passage(rng, corpus, rng.randint(*DOCUMENT_WORDS)), source="benchmark")
    return {"events": events, "documents": documents, "megabytes": round(path.stat().st_size / 1e6, 1),
            "build_seconds": round(time.perf_counter() - started, 2)}


Question = tuple[str, str]  # (question, the session asking it)


def queries(n: int, *, seed: int = SEED + 1) -> list[Question]:
    """`n` questions of 3-6 words cut from the same prose, each from one of the sessions."""
    rng, corpus = random.Random(seed), corpus_words()
    return [(passage(rng, corpus, rng.randint(3, 6)), f"s{rng.randrange(SESSIONS)}") for _ in range(n)]


def sync_round(store: MemoryRehydrator, batch: list[Question]) -> int:
    """The synchronous service: one rehydration after another; how many memories came back."""
    return sum(len(store.rehydrate(q, k=5, session=s)) for q, s in batch)


def sync_answers(store: MemoryRehydrator, batch: list[Question]) -> list[list[tuple[str, int]]]:
    """What each rehydration returned, as (store, id) pairs."""
    return [[(m.kind.value, m.id) for m in store.rehydrate(q, k=5, session=s)] for q, s in batch]


async def async_round(memory: AsyncMemoryRehydrator, batch: list[Question]) -> int:
    """The same rehydrations, all in flight at once."""
    found = await asyncio.gather(*(memory.rehydrate(q, k=5, session=s) for q, s in batch))
    return sum(len(f) for f in found)


async def answers(memory: AsyncMemoryRehydrator, batch: list[Question]) -> list[list[tuple[str, int]]]:
    """What each rehydration returned, as (store, id) pairs: to compare with the sync class."""
    found = await asyncio.gather(*(memory.rehydrate(q, k=5, session=s) for q, s in batch))
    return [[(m.kind.value, m.id) for m in memories] for memories in found]


async def stats(memory: AsyncMemoryRehydrator) -> dict[str, int]:
    """The memory's counters, read on its own loop."""
    return memory.stats()


class LoopThread:
    """An event loop in a daemon thread, with an `AsyncMemoryRehydrator` open on it."""

    def __init__(self, memory: AsyncMemoryRehydrator) -> None:
        self.memory = memory
        self._loop = asyncio.new_event_loop()
        self._ready: Future[None] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with self.memory:
                self._ready.set_result(None)
                await self._stop.wait()
        except BaseException as error:
            if not self._ready.done():
                self._ready.set_exception(error)
            raise

    def run(self, make: Callable[[AsyncMemoryRehydrator], Awaitable[T]], timeout: float = 60.0) -> T:
        """Run `make(memory)` on the loop and wait for its result."""
        async def call() -> T:
            return await make(self.memory)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout)

    def start(self, timeout: float = 30.0) -> LoopThread:
        self._thread.start()
        self._ready.result(timeout)
        return self

    def stop(self, timeout: float = 60.0) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()


@contextmanager
def serving(path: Path, **options: Any) -> Iterator[LoopThread]:
    """An `AsyncMemoryRehydrator(path, **options)` open on a loop thread for the block."""
    loop = LoopThread(AsyncMemoryRehydrator(path, **options)).start()
    try:
        yield loop
    finally:
        loop.stop()
