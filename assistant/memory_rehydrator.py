"""MemoryRehydrator: rebuild an assistant's context from its short-term and long-term memory.

Short-term (episodic) memory, the turns of each session, is in SQLite. Long-term memory,
durable facts keyed by name, is in PostgreSQL when a `database_url` is given (ranked by the
server: tsvector + ts_rank, memory_postgres.py), else in the same SQLite file (SQLite only).
`rehydrate(query, k)` fuses each store's ranking (BM25 / ts_rank), a TF-IDF cosine over the
candidates and recency (weighted lower) by reciprocal rank fusion (memory_ranking.fuse).

`MemoryRehydrator` is synchronous and thread-safe (one connection per store guarded by a lock).
`AsyncMemoryRehydrator` serves the same stores to asyncio code (see its docstring and
docs/async-memory.md): SQLite through `asyncio.to_thread`, PostgreSQL with psycopg's asyncio API.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from assistant.memory_flusher import EventFlusher
from assistant.memory_pool import Slots, StorePool
from assistant.memory_postgres import QUERY_TIMEOUT, PostgresLongTerm, store_label
from assistant.memory_postgres_async import AsyncPostgresLongTerm
from assistant.memory_ranking import bm25_ranked, fuse
from assistant.memory_resilience import RECOVERABLE, CircuitBreaker, CircuitOpenError, RetryPolicy
from assistant.memory_schema import fts5_available
from assistant.memory_sqlite import all_episodic, all_long_term, create_schema, fts_episodic, fts_long_term
from assistant.memory_types import Candidates, EpisodicEvent, Memory, MemoryKind, episodic_row, session_text  # re-exported
from assistant.ranking import tokenize

log = logging.getLogger(__name__)


class MemoryRehydrator:
    """Synchronous hybrid retrieval over short-term memory in SQLite and long-term memory in
    PostgreSQL (`database_url`) or, without one, in the same SQLite file. A PostgreSQL call
    waits at most `query_timeout` seconds for its reply (TimeoutError)."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        clock: Callable[[], float] = time.time,
        use_fts5: bool | None = None,
        database_url: str | None = None,
        query_timeout: float = QUERY_TIMEOUT,
    ) -> None:
        self.path = str(path)
        self.database_url = database_url
        self.clock = clock
        self.uses_fts5 = fts5_available() if use_fts5 is None else use_fts5 and fts5_available()
        if use_fts5 is not False and not self.uses_fts5:
            log.warning("sqlite3 %s has no FTS5: ranking memories by BM25 in Python", sqlite3.sqlite_version)
        # check_same_thread=False: callers (e.g. asyncio.to_thread workers) may be any
        # thread; the lock serialises them, as one sqlite3 connection is not concurrent.
        # isolation_level=None: transactions are explicit (see `_transaction`).
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            create_schema(self._db, self.path, self.uses_fts5)
        # Connects at once: a server that does not answer fails here, clearly (MemoryServerError).
        self._ltm = PostgresLongTerm(database_url, timeout=query_timeout) if database_url else None

    @property
    def long_term_store(self) -> str:
        """Where long-term memory lives, for messages: "PostgreSQL at host:port/db" or "SQLite (path)"."""
        return store_label(self.database_url, self.path)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error:
                # A failed COMMIT (busy, I/O error) can leave the transaction open: end it, so
                # the caller may retry the whole transaction on this connection.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    # Writing.

    def add_event(self, session: str, kind: str, content: str, *, at: float | None = None) -> int:
        """Record one episodic event; returns its id."""
        return self.add_events([EpisodicEvent(session, kind, content, at)])[0]

    def add_events(self, events: Iterable[EpisodicEvent]) -> list[int]:
        """Record episodic events in one transaction (the unit a batch flusher writes)."""
        ids: list[int] = []
        with self._transaction() as db:
            for event in events:
                at = self.clock() if event.created_at is None else event.created_at
                cursor = db.execute(
                    "INSERT INTO episodic_events (session, kind, content, created_at) VALUES (?, ?, ?, ?)",
                    (event.session, event.kind, event.content, at),
                )
                ids.append(int(cursor.lastrowid or 0))
        return ids

    def remember(self, key: str, content: str, *, source: str = "") -> int:
        """Store or replace the long-term memory named `key`; returns its id."""
        with self._lock:
            if self._ltm is not None:
                return self._ltm.remember(key, content, source, self.clock())
            self._db.execute(
                "INSERT INTO long_term_memory (key, content, source, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET content=excluded.content, source=excluded.source, "
                "updated_at=excluded.updated_at",
                (key, content, source, self.clock()),
            )
            row = self._db.execute("SELECT id FROM long_term_memory WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    def forget(self, key: str) -> bool:
        """Delete the long-term memory named `key`; whether it existed."""
        with self._lock:
            if self._ltm is not None:
                return self._ltm.forget(key)
            return self._db.execute("DELETE FROM long_term_memory WHERE key = ?", (key,)).rowcount > 0

    def consolidate(self, session: str, *, key: str | None = None) -> int | None:
        """Move a session's events into one long-term memory (oldest first); None if none."""
        with self._transaction() as db:
            events = self.recent_events(session, limit=-1)
            if not events:
                return None
            # With PostgreSQL the upsert is its own transaction: if the delete below then fails,
            # the SQLite transaction rolls back and a retry upserts the same text again (idempotent).
            memory_id = self.remember(key or f"session:{session}", session_text(events), source=f"session {session}")
            db.execute("DELETE FROM episodic_events WHERE session = ?", (session,))
        return memory_id

    def forget_events(self, session: str, through_id: int) -> int:
        """Delete `session`'s events with ids up to `through_id` (those consolidated); how many."""
        with self._lock:
            return self._db.execute(
                "DELETE FROM episodic_events WHERE session = ? AND id <= ?", (session, through_id)
            ).rowcount

    def prune_events(self, older_than: float) -> int:
        """Delete episodic events created before `older_than`; how many were deleted."""
        with self._lock:
            return self._db.execute(
                "DELETE FROM episodic_events WHERE created_at < ?", (older_than,)
            ).rowcount

    # Reading.

    def recent_events(self, session: str, limit: int = 20) -> list[Memory]:
        """A session's events, newest first (`limit=-1` for all)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, session, kind, content, created_at FROM episodic_events "
                "WHERE session = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                (session, limit),
            ).fetchall()
        return [episodic_row(row) for row in rows]

    def counts(self) -> dict[MemoryKind, int]:
        """How many memories each store holds."""
        with self._lock:
            episodic = self._db.execute("SELECT count(*) FROM episodic_events").fetchone()[0]
            long_term = self._ltm.count() if self._ltm is not None else self._db.execute(
                "SELECT count(*) FROM long_term_memory").fetchone()[0]
        return {MemoryKind.EPISODIC: int(episodic), MemoryKind.LONG_TERM: int(long_term)}

    def rehydrate(self, query: str, k: int = 5, *, session: str | None = None) -> list[Memory]:
        """The `k` memories most relevant to `query` (only `session`'s events if given).

        A query with no searchable term returns the most recent events instead.
        """
        terms = tokenize(query)
        if not terms:
            return self.recent_events(session, k) if session is not None else []
        with self._lock:  # one BM25-ranked candidate list per store, best first
            lexical = [self.candidates(MemoryKind.EPISODIC, query, session), self.candidates(MemoryKind.LONG_TERM, query)]
        return fuse(terms, lexical, k)

    def candidates(self, kind: MemoryKind, query: str, session: str | None = None) -> Candidates:
        """One store's BM25-ranked candidates for `query`, best first (what `fuse` ranks)."""
        terms = tokenize(query)
        with self._lock:
            if kind is MemoryKind.EPISODIC:
                if self.uses_fts5:
                    return fts_episodic(self._db, query, session)
                return bm25_ranked(terms, all_episodic(self._db, session))
            if self._ltm is not None:
                return self._ltm.candidates(query)
            return fts_long_term(self._db, query) if self.uses_fts5 else bm25_ranked(terms, all_long_term(self._db))

    # Lifecycle.

    def close(self) -> None:
        """Close the database connections."""
        with self._lock:
            self._db.close()
            if self._ltm is not None:
                self._ltm.close()

    def __enter__(self) -> MemoryRehydrator:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncMemoryRehydrator:
    """The same memory for asyncio code; use it as `async with AsyncMemoryRehydrator(path) as m`.

    Store calls run in worker threads over a `StorePool` (a writer and `readers` connections).
    `add_event` only queues: the flusher, a task in its own `TaskGroup`, writes events in
    batches, and they become visible to reads once written (`await flush()`). At most
    `ltm_concurrency` long-term queries run at once (None: as many as the pool allows).
    Leaving the `async with` block writes every queued event, or raises `MemoryFlushError`
    with the unwritten ones after `shutdown_timeout` seconds.

    With `database_url`, long-term memory is in PostgreSQL: `ltm_connections` psycopg
    AsyncConnections on the event loop (no threads), each call at most `query_timeout` s.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        readers: int = 4,
        ltm_concurrency: int | None = 8,
        queue_size: int = 1024,
        batch_size: int = 128,
        shutdown_timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        failure_threshold: int = 5,
        reset_timeout: float = 1.0,
        clock: Callable[[], float] = time.time,
        use_fts5: bool | None = None,
        connect: Callable[[], MemoryRehydrator] | None = None,
        database_url: str | None = None,
        ltm_connections: int = 8,
        query_timeout: float = QUERY_TIMEOUT,
    ) -> None:
        self.path = str(path)
        self.database_url = database_url
        self.clock = clock
        # The SQLite connections hold short-term memory only: long-term goes to the async pool.
        self._ltm = AsyncPostgresLongTerm(database_url, size=ltm_connections, timeout=query_timeout) if database_url else None
        connect = connect or functools.partial(MemoryRehydrator, self.path, clock=clock, use_fts5=use_fts5)
        self.breakers = {
            kind: CircuitBreaker(kind.value, failure_threshold=failure_threshold, reset_timeout=reset_timeout)
            for kind in MemoryKind
        }
        self._pool = StorePool(connect, readers=readers, retry=retry, breakers=self.breakers)
        # A failed batch is retried no less often than the breaker allows a trial call.
        backoff = RetryPolicy(attempts=1, base_delay=min(0.02, reset_timeout), max_delay=reset_timeout)
        self._flusher = EventFlusher(self._write_events, maxsize=queue_size, batch_size=batch_size, backoff=backoff)
        self.ltm_slots = Slots(ltm_concurrency)  # an asyncio.Semaphore that counts its peak
        self.degraded = 0  # rehydrations answered from one store because the other failed
        self.shutdown_timeout = shutdown_timeout

    async def __aenter__(self) -> AsyncMemoryRehydrator:
        try:
            if self._ltm is not None:
                await self._ltm.open()  # MemoryServerError, naming the host, when the server does not answer
            await self._pool.open()
            await self._flusher.start()
        except BaseException:
            await self._pool.close()  # closing what did not open is a no-op
            await self._close_ltm()
            raise
        return self

    async def _close_ltm(self) -> None:
        if self._ltm is not None:
            await self._ltm.close()

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._flusher.stop(self.shutdown_timeout)  # writes every queued event first
        finally:
            await self._pool.close()
            await self._close_ltm()

    # Writing.

    async def add_event(self, session: str, kind: str, content: str, *, at: float | None = None) -> None:
        """Queue one episodic event for the flusher; waits while the queue is full."""
        await self._flusher.put(EpisodicEvent(session, kind, content, at))

    def add_event_nowait(self, session: str, kind: str, content: str, *, at: float | None = None) -> None:
        """Queue one episodic event, or raise `asyncio.QueueFull` at once."""
        self._flusher.put_nowait(EpisodicEvent(session, kind, content, at))

    async def add_events(self, events: Iterable[EpisodicEvent]) -> None:
        """Queue episodic events in order; waits while the queue is full."""
        for event in events:
            await self._flusher.put(event)

    async def flush(self) -> None:
        """Wait until every event queued so far is written."""
        await self._flusher.join()

    async def _write_events(self, events: list[EpisodicEvent]) -> list[int]:
        return await self._pool.write(MemoryKind.EPISODIC, lambda store: store.add_events(events))

    async def remember(self, key: str, content: str, *, source: str = "") -> int:
        """Store or replace the long-term memory named `key`; returns its id."""
        if (ltm := self._ltm) is not None:
            return await self._pool.call(MemoryKind.LONG_TERM, lambda: ltm.remember(key, content, source, self.clock()))
        return await self._pool.write(MemoryKind.LONG_TERM, lambda store: store.remember(key, content, source=source))

    async def forget(self, key: str) -> bool:
        """Delete the long-term memory named `key`; whether it existed."""
        if (ltm := self._ltm) is not None:
            return await self._pool.call(MemoryKind.LONG_TERM, lambda: ltm.forget(key))
        return await self._pool.write(MemoryKind.LONG_TERM, lambda store: store.forget(key))

    async def consolidate(self, session: str, *, key: str | None = None) -> int | None:
        """Flush, then move a session's events into one long-term memory; None if none."""
        await self.flush()
        if self._ltm is None:
            return await self._pool.write(MemoryKind.EPISODIC, lambda store: store.consolidate(session, key=key))
        events = await self.recent_events(session, limit=-1)
        if not events:
            return None
        # Upsert first (idempotent by key), then delete only the events it holds: events written
        # meanwhile stay, and a failure in between leaves both copies rather than neither.
        memory_id = await self.remember(key or f"session:{session}", session_text(events), source=f"session {session}")
        await self._pool.write(MemoryKind.EPISODIC, lambda store: store.forget_events(session, max(m.id for m in events)))
        return memory_id

    # Reading.

    async def recent_events(self, session: str, limit: int = 20) -> list[Memory]:
        """A session's written events, newest first (`limit=-1` for all)."""
        return await self._pool.read(MemoryKind.EPISODIC, lambda store: store.recent_events(session, limit))

    async def counts(self) -> dict[MemoryKind, int]:
        """How many written memories each store holds."""
        counts = await self._pool.read(MemoryKind.EPISODIC, lambda store: store.counts())
        if (ltm := self._ltm) is not None:
            counts[MemoryKind.LONG_TERM] = await self._pool.call(MemoryKind.LONG_TERM, ltm.count)
        return counts

    async def rehydrate(self, query: str, k: int = 5, *, session: str | None = None) -> list[Memory]:
        """The `k` memories most relevant to `query`, ranked exactly as the sync class ranks them.

        Both stores are queried at once. If one is down (breaker open or retries spent), the
        other's memories are returned alone and `degraded` counts it; both down raises.
        """
        terms = tokenize(query)
        if not terms:
            return await self.recent_events(session, k) if session is not None else []
        results = await asyncio.gather(
            self._pool.read(MemoryKind.EPISODIC, lambda store: store.candidates(MemoryKind.EPISODIC, query, session)),
            self._long_term_candidates(query),
            return_exceptions=True,
        )
        lexical = [r for r in results if not isinstance(r, BaseException)]
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            if not isinstance(error, RECOVERABLE) or not lexical:
                raise error
            self.degraded += 1
            # An open circuit was already reported by the failures that opened it: no warning per call.
            level = logging.DEBUG if isinstance(error, CircuitOpenError) else logging.WARNING
            log.log(level, "memory store unavailable (%s): rehydrating from the other store", error)
        return await asyncio.to_thread(fuse, terms, lexical, k)  # CPU work: keep it off the loop

    async def _long_term_candidates(self, query: str) -> Candidates:
        async with self.ltm_slots:
            if (ltm := self._ltm) is not None:
                return await self._pool.call(MemoryKind.LONG_TERM, lambda: ltm.candidates(query))
            return await self._pool.read(MemoryKind.LONG_TERM, lambda store: store.candidates(MemoryKind.LONG_TERM, query))

    def stats(self) -> dict[str, int]:
        """Counters for logs and checks: queue, batches, failed writes, breakers, concurrency."""
        stats = {**self._flusher.stats(), "ltm_peak_concurrency": self.ltm_slots.peak, "degraded_reads": self.degraded}
        for kind, breaker in self.breakers.items():
            stats.update({f"{kind.value}_failures": breaker.failures, f"{kind.value}_rejected": breaker.rejected})
        if self._ltm is not None:
            stats.update(self._ltm.stats())
        return stats

    @property
    def long_term_store(self) -> str:
        """Where long-term memory lives, for messages: "PostgreSQL at host:port/db" or "SQLite (path)"."""
        return store_label(self.database_url, self.path)
