"""MemoryRehydrator: rebuild an assistant's context from an SQLite memory store.

Two kinds of memory share one database:

- short-term (episodic) memory: `episodic_events`, the turns of a session as they happen;
- long-term memory: `long_term_memory`, durable facts keyed by name (documents, summaries).

`rehydrate(query, k)` ranks both with three signals fused by reciprocal rank fusion:
FTS5's BM25 (per table), a TF-IDF cosine over the candidates, and recency (weighted
lower). Without FTS5 in the sqlite3 build, BM25 is computed in Python over every row.

`MemoryRehydrator` is synchronous and thread-safe (one connection guarded by a lock).
`AsyncMemoryRehydrator` serves the same store to asyncio code (see its docstring and
docs/async-memory.md), with the standard library only.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from assistant.memory_flusher import EventFlusher
from assistant.memory_pool import Slots, StorePool
from assistant.memory_ranking import CANDIDATES_PER_STORE, bm25_ranked, fuse
from assistant.memory_resilience import RECOVERABLE, CircuitBreaker, RetryPolicy
from assistant.memory_schema import (
    FTS_TABLES,
    INDEXED_TABLES,
    SCHEMA_VERSION,
    TABLES,
    TRIGGERS,
    fts5_available,
    fts_query,
)
from assistant.memory_types import Candidates, EpisodicEvent, Memory, MemoryKind  # re-exported
from assistant.ranking import tokenize

log = logging.getLogger(__name__)
Row = tuple[Any, ...]


class MemoryRehydrator:
    """Synchronous hybrid retrieval over short-term and long-term memory in one SQLite file."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        clock: Callable[[], float] = time.time,
        use_fts5: bool | None = None,
    ) -> None:
        self.path = str(path)
        self.clock = clock
        self.uses_fts5 = fts5_available() if use_fts5 is None else use_fts5 and fts5_available()
        if use_fts5 is not False and not self.uses_fts5:
            log.warning("sqlite3 %s has no FTS5: ranking memories by BM25 in Python", sqlite3.sqlite_version)
        # check_same_thread=False: callers (e.g. asyncio.to_thread workers) may be any
        # thread; the lock serialises them, as one sqlite3 connection is not concurrent.
        # isolation_level=None: transactions are explicit (see `_transaction`).
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._create_schema()

    def _create_schema(self) -> None:
        with self._lock:
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            self._db.executescript(TABLES)
            if self.uses_fts5:
                existing = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
                self._db.executescript(FTS_TABLES)
                for table, fts in INDEXED_TABLES:
                    self._db.executescript(TRIGGERS.format(table=table, fts=fts))
                    if fts not in existing:  # a store first written without FTS5: index its rows
                        self._db.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

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
            return self._db.execute("DELETE FROM long_term_memory WHERE key = ?", (key,)).rowcount > 0

    def consolidate(self, session: str, *, key: str | None = None) -> int | None:
        """Move a session's events into one long-term memory (oldest first); None if none."""
        with self._transaction() as db:
            events = self.recent_events(session, limit=-1)
            if not events:
                return None
            text = "\n".join(f"{m.label.rsplit('/', 1)[1]}: {m.content}" for m in reversed(events))
            memory_id = self.remember(key or f"session:{session}", text, source=f"session {session}")
            db.execute("DELETE FROM episodic_events WHERE session = ?", (session,))
        return memory_id

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
        return [_episodic(row) for row in rows]

    def counts(self) -> dict[MemoryKind, int]:
        """How many memories each store holds."""
        with self._lock:
            episodic = self._db.execute("SELECT count(*) FROM episodic_events").fetchone()[0]
            long_term = self._db.execute("SELECT count(*) FROM long_term_memory").fetchone()[0]
        return {MemoryKind.EPISODIC: int(episodic), MemoryKind.LONG_TERM: int(long_term)}

    def rehydrate(self, query: str, k: int = 5, *, session: str | None = None) -> list[Memory]:
        """The `k` memories most relevant to `query` (only `session`'s events if given).

        A query with no searchable term returns the most recent events instead.
        """
        terms = tokenize(query)
        if not terms:
            return self.recent_events(session, k) if session is not None else []
        with self._lock:
            lexical = self._lexical_candidates(query, terms, session)
        return fuse(terms, lexical, k)

    def candidates(self, kind: MemoryKind, query: str, session: str | None = None) -> Candidates:
        """One store's BM25-ranked candidates for `query`, best first (what `fuse` ranks)."""
        terms = tokenize(query)
        with self._lock:
            if kind is MemoryKind.EPISODIC:
                if self.uses_fts5:
                    return self._fts_episodic(query, session)
                return bm25_ranked(terms, self._all_episodic(session))
            return self._fts_long_term(query) if self.uses_fts5 else bm25_ranked(terms, self._all_long_term())

    def _lexical_candidates(
        self, query: str, terms: Sequence[str], session: str | None
    ) -> list[Candidates]:
        """One BM25-ranked candidate list per store, best first."""
        return [self.candidates(MemoryKind.EPISODIC, query, session), self.candidates(MemoryKind.LONG_TERM, query)]

    def _fts_episodic(self, query: str, session: str | None) -> Candidates:
        # bm25() is lower-is-better in FTS5, hence ascending; ties go to the newer event.
        rows = self._db.execute(
            "SELECT e.id, e.session, e.kind, e.content, e.created_at FROM episodic_fts "
            "JOIN episodic_events e ON e.id = episodic_fts.rowid "
            "WHERE episodic_fts MATCH ? AND (? IS NULL OR e.session = ?) "
            "ORDER BY bm25(episodic_fts), e.created_at DESC LIMIT ?",
            (fts_query(query), session, session, CANDIDATES_PER_STORE),
        ).fetchall()
        return [((MemoryKind.EPISODIC, row[0]), _episodic(row)) for row in rows]

    def _fts_long_term(self, query: str) -> Candidates:
        rows = self._db.execute(
            "SELECT m.id, m.key, m.content, m.updated_at FROM long_term_fts "
            "JOIN long_term_memory m ON m.id = long_term_fts.rowid "
            "WHERE long_term_fts MATCH ? ORDER BY bm25(long_term_fts), m.updated_at DESC LIMIT ?",
            (fts_query(query), CANDIDATES_PER_STORE),
        ).fetchall()
        return [((MemoryKind.LONG_TERM, row[0]), _long_term(row)) for row in rows]

    def _all_episodic(self, session: str | None) -> list[Memory]:
        rows = self._db.execute(
            "SELECT id, session, kind, content, created_at FROM episodic_events "
            "WHERE ? IS NULL OR session = ? ORDER BY created_at DESC",
            (session, session),
        ).fetchall()
        return [_episodic(row) for row in rows]

    def _all_long_term(self) -> list[Memory]:
        rows = self._db.execute(
            "SELECT id, key, content, updated_at FROM long_term_memory ORDER BY updated_at DESC"
        ).fetchall()
        return [_long_term(row) for row in rows]

    # Lifecycle.

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

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
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        readers: int = 4,
        ltm_concurrency: int | None = 2,
        queue_size: int = 1024,
        batch_size: int = 128,
        shutdown_timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        failure_threshold: int = 5,
        reset_timeout: float = 1.0,
        clock: Callable[[], float] = time.time,
        use_fts5: bool | None = None,
        connect: Callable[[], MemoryRehydrator] | None = None,
    ) -> None:
        self.path = str(path)
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
        await self._pool.open()
        try:
            await self._flusher.start()
        except BaseException:
            await self._pool.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._flusher.stop(self.shutdown_timeout)  # writes every queued event first
        finally:
            await self._pool.close()

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
        return await self._pool.write(MemoryKind.LONG_TERM, lambda store: store.remember(key, content, source=source))

    async def forget(self, key: str) -> bool:
        """Delete the long-term memory named `key`; whether it existed."""
        return await self._pool.write(MemoryKind.LONG_TERM, lambda store: store.forget(key))

    async def consolidate(self, session: str, *, key: str | None = None) -> int | None:
        """Flush, then move a session's events into one long-term memory; None if none."""
        await self.flush()
        return await self._pool.write(MemoryKind.EPISODIC, lambda store: store.consolidate(session, key=key))

    # Reading.

    async def recent_events(self, session: str, limit: int = 20) -> list[Memory]:
        """A session's written events, newest first (`limit=-1` for all)."""
        return await self._pool.read(MemoryKind.EPISODIC, lambda store: store.recent_events(session, limit))

    async def counts(self) -> dict[MemoryKind, int]:
        """How many written memories each store holds."""
        return await self._pool.read(MemoryKind.EPISODIC, lambda store: store.counts())

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
            log.warning("memory store unavailable (%s): rehydrating from the other store", error)
        return await asyncio.to_thread(fuse, terms, lexical, k)  # CPU work: keep it off the loop

    async def _long_term_candidates(self, query: str) -> Candidates:
        async with self.ltm_slots:
            return await self._pool.read(MemoryKind.LONG_TERM, lambda store: store.candidates(MemoryKind.LONG_TERM, query))

    def stats(self) -> dict[str, int]:
        """Counters for logs and checks: queue, batches, failed writes, breakers, concurrency."""
        stats = {**self._flusher.stats(), "ltm_peak_concurrency": self.ltm_slots.peak, "degraded_reads": self.degraded}
        for kind, breaker in self.breakers.items():
            stats.update({f"{kind.value}_failures": breaker.failures, f"{kind.value}_rejected": breaker.rejected})
        return stats


def _episodic(row: Row) -> Memory:
    id_, session, kind, content, created_at = row
    return Memory(MemoryKind.EPISODIC, int(id_), str(content), f"{session}/{kind}", float(created_at))


def _long_term(row: Row) -> Memory:
    id_, key, content, updated_at = row
    return Memory(MemoryKind.LONG_TERM, int(id_), str(content), str(key), float(updated_at))
