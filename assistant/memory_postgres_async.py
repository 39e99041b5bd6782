"""Long-term memory in PostgreSQL for asyncio: a small pool of psycopg AsyncConnections.

No threads: psycopg's AsyncConnection waits on the socket in the event loop, so every
rehydration in flight can wait for the server at once (the I/O the async class overlaps).
The pool is an `asyncio.Queue` of connection slots; a slot whose connection is missing,
closed or broken reconnects on its next use. Every call runs under `asyncio.timeout`: a
call that times out, or whose connection fails (server stopped, connection cut), closes
its connection, so no half-read reply is ever reused; the caller's retries and circuit
breaker (memory_resilience) decide what happens next. The SQL is the sync class's
(memory_postgres), so both rank alike.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg

from assistant.memory_postgres import (
    CANDIDATES,
    CONNECT_TIMEOUT,
    CANDIDATES_PER_STORE,
    COUNT,
    DELETE,
    SCHEMA,
    UPSERT,
    candidate_list,
    conninfo,
    tsquery,
    unreachable,
)
from assistant.memory_types import Candidates

T = TypeVar("T")
Connection = psycopg.AsyncConnection[Any]


class AsyncPostgresLongTerm:
    """`size` AsyncConnections to the long-term store; each call at most `timeout` seconds."""

    def __init__(self, url: str, *, size: int = 8, timeout: float = 5.0) -> None:
        if size < 1:
            raise ValueError(f"a long-term memory pool needs at least one connection, not {size}")
        self.url = url
        self.size = size
        self.timeout = timeout
        self._slots: asyncio.Queue[Connection | None] = asyncio.Queue()
        self._open: set[Connection] = set()
        self.reconnects = 0  # connections opened after open(): lazily as concurrency grows, or after a failure
        self.discarded = 0  # connections closed because a call on them failed or timed out
        self.peak_open = 0  # the most connections ever open at once (at most `size`)

    async def open(self) -> None:
        """Connect once (creating or migrating the schema) and fail clearly if the server does not answer."""
        try:
            # connect_timeout bounds libpq's attempt; asyncio.timeout bounds the whole (schema included).
            async with asyncio.timeout(self.timeout + CONNECT_TIMEOUT):
                first = await self._connect(schema=True)
        except (psycopg.OperationalError, TimeoutError) as error:
            raise unreachable(self.url, error) from None
        self._slots.put_nowait(first)
        for _ in range(self.size - 1):
            self._slots.put_nowait(None)  # connected lazily, when concurrency needs it
        self.reconnects = 0

    async def _connect(self, *, schema: bool = False) -> Connection:
        db = await psycopg.AsyncConnection.connect(conninfo(self.url), autocommit=True)
        try:
            if schema:
                async with db.transaction():
                    for statement in SCHEMA:
                        await db.execute(statement)
        except BaseException:
            await db.close()
            raise
        self._open.add(db)
        self.peak_open = max(self.peak_open, len(self._open))
        self.reconnects += 1
        return db

    async def _call(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        slot = await self._slots.get()
        holder: list[Connection | None] = [slot]
        task = asyncio.ensure_future(self._run(holder, work))
        try:
            # One deadline for reconnecting (a few round trips; open() made the schema) and the query.
            async with asyncio.timeout(self.timeout):
                return await asyncio.shield(task)
        except BaseException:
            # The reply may be half read (timeout, cancellation, a cut): never reuse the connection.
            # Close it before cancelling the task: cancelled, psycopg sends the server a cancel
            # request and waits for the query to end (psycopg/psycopg@a70c84d), which through a
            # slow network takes as long as the spike that caused the timeout.
            await self._discard(holder[0])
            holder[0] = None
            task.cancel()
            await asyncio.wait([task], timeout=1.0)
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: the caller gets the timeout or the cut, not this echo
            raise
        finally:
            self._slots.put_nowait(holder[0])

    async def _run(self, holder: list[Connection | None], work: Callable[[Connection], Awaitable[T]]) -> T:
        db = holder[0]
        if db is None or db.closed or db.broken:
            await self._discard(db)
            holder[0] = None
            db = holder[0] = await self._connect()
        return await work(db)

    async def _discard(self, db: Connection | None) -> None:
        if db is None:
            return
        self._open.discard(db)
        self.discarded += 1
        try:
            async with asyncio.timeout(1.0):
                await db.close()
        except BaseException:  # noqa: BLE001 - a dead socket: nothing left to close cleanly
            pass

    async def candidates(self, query: str) -> Candidates:
        terms = tsquery(query)
        if not terms:
            return []

        async def run(db: Connection) -> Candidates:
            cursor = await db.execute(CANDIDATES, (terms, CANDIDATES_PER_STORE))
            return candidate_list(await cursor.fetchall())

        return await self._call(run)

    async def remember(self, key: str, content: str, source: str, at: float) -> int:
        async def run(db: Connection) -> int:
            row = await (await db.execute(UPSERT, (key, content, source, at))).fetchone()
            return int(row[0]) if row else 0

        return await self._call(run)

    async def forget(self, key: str) -> bool:
        async def run(db: Connection) -> bool:
            return (await db.execute(DELETE, (key,))).rowcount > 0

        return await self._call(run)

    async def count(self) -> int:
        async def run(db: Connection) -> int:
            row = await (await db.execute(COUNT)).fetchone()
            return int(row[0]) if row else 0

        return await self._call(run)

    def stats(self) -> dict[str, int]:
        """Connections opened after open(), closed after a failed call, and the most open at once."""
        return {"ltm_reconnects": self.reconnects, "ltm_discarded": self.discarded, "ltm_peak_connections": self.peak_open}

    async def close(self) -> None:
        """Close every connection (in use or idle)."""
        for db in list(self._open):
            await self._discard(db)
