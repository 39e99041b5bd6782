"""The connections behind AsyncMemoryRehydrator: one writer and a pool of readers, guarded.

SQLite takes one writer at a time but, in WAL mode, any number of readers beside it, each on
its own connection. One shared connection would serialize every call (the sync class guards
its connection with a lock), so concurrent async callers could never overlap; the pool lends
each concurrent read a connection of its own. Calls run in worker threads through
`asyncio.to_thread` (the sqlite3 module releases the GIL while SQLite works) behind one
circuit breaker per store, with retries. An in-memory database cannot be shared between
connections, so `:memory:` gets one connection that reads and writes.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from assistant.memory_resilience import CircuitBreaker, RetryPolicy, call_with_retries
from assistant.memory_types import MemoryKind

if TYPE_CHECKING:  # memory_rehydrator imports this module
    from assistant.memory_rehydrator import MemoryRehydrator

T = TypeVar("T")
NOT_OPEN = "the memory store is not open: use `async with AsyncMemoryRehydrator(...) as memory`"
StoreCall = Callable[["MemoryRehydrator"], T]


class Slots:
    """At most `limit` holders at once (an `asyncio.Semaphore`; None: no limit); counts the peak."""

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"a concurrency limit must be at least 1 (or None for no limit), not {limit}")
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit) if limit is not None else None
        self.active = 0
        self.peak = 0  # the most holders ever at once

    async def __aenter__(self) -> None:
        if self._semaphore is not None:
            await self._semaphore.acquire()
        self.active += 1
        self.peak = max(self.peak, self.active)

    async def __aexit__(self, *exc_info: object) -> None:
        self.active -= 1
        if self._semaphore is not None:
            self._semaphore.release()


class StorePool:
    """A writer connection and `readers` reader connections to one SQLite memory store."""

    def __init__(
        self,
        connect: Callable[[], MemoryRehydrator],
        *,
        readers: int,
        retry: RetryPolicy,
        breakers: Mapping[MemoryKind, CircuitBreaker],
    ) -> None:
        if readers < 1:
            raise ValueError(f"a memory pool needs at least one reader, not {readers}")
        self._connect = connect
        self.size = readers
        self.retry = retry
        self.breakers = dict(breakers)
        self._idle: asyncio.Queue[MemoryRehydrator] = asyncio.Queue()
        self._stores: list[MemoryRehydrator] = []
        self.writer: MemoryRehydrator | None = None

    async def open(self) -> None:
        """Open the connections (one by one: each may create the schema)."""
        self._stores = await asyncio.to_thread(self._open_all)
        self.writer = self._stores[0]
        for store in self._stores[1:] or self._stores:
            self._idle.put_nowait(store)

    def _open_all(self) -> list[MemoryRehydrator]:
        stores = [self._connect()]
        try:
            if stores[0].path != ":memory:":
                stores += [self._connect() for _ in range(self.size)]
        except BaseException:
            for store in stores:
                store.close()
            raise
        return stores

    async def read(self, kind: MemoryKind, call: StoreCall[T]) -> T:
        """Run `call(store)` on an idle reader in a worker thread, through `kind`'s breaker."""

        if not self._stores:  # else the get() below would wait forever
            raise RuntimeError(NOT_OPEN)

        async def attempt() -> T:
            store = await self._idle.get()
            try:
                return await asyncio.to_thread(call, store)
            finally:
                # Even if we were cancelled while the thread still runs: the store's own lock
                # keeps a second user waiting until that call is done.
                self._idle.put_nowait(store)

        return await call_with_retries(attempt, self.breakers[kind], self.retry)

    async def write(self, kind: MemoryKind, call: StoreCall[T]) -> T:
        """Run `call(writer)` in a worker thread, through `kind`'s breaker."""
        writer = self.writer
        if writer is None:
            raise RuntimeError(NOT_OPEN)
        return await call_with_retries(lambda: asyncio.to_thread(call, writer), self.breakers[kind], self.retry)

    async def call(self, kind: MemoryKind, call: Callable[[], Awaitable[T]]) -> T:
        """Await `call()` (a coroutine on the loop: PostgreSQL) through `kind`'s breaker, with retries."""
        return await call_with_retries(call, self.breakers[kind], self.retry)

    async def close(self) -> None:
        """Close every connection."""
        stores, self._stores, self.writer = self._stores, [], None
        while not self._idle.empty():
            self._idle.get_nowait()

        def close_all() -> None:
            for store in stores:
                store.close()

        await asyncio.to_thread(close_all)
