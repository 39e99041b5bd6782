"""MemoryRehydrator: rebuild an assistant's context from an SQLite memory store.

Two kinds of memory share one database:

- short-term (episodic) memory: `episodic_events`, the turns of a session as they happen;
- long-term memory: `long_term_memory`, durable facts keyed by name (documents, summaries).

`rehydrate(query, k)` ranks both with three signals fused by reciprocal rank fusion:
FTS5's BM25 (per table), a TF-IDF cosine over the candidates, and recency (weighted
lower). Without FTS5 in the sqlite3 build, BM25 is computed in Python over every row.

The API is synchronous and thread-safe (one connection guarded by a lock), so an async
wrapper can call it through `asyncio.to_thread`, and a batch writer can use `add_events`.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any

from assistant.memory_schema import (
    FTS_TABLES,
    INDEXED_TABLES,
    SCHEMA_VERSION,
    TABLES,
    TRIGGERS,
    fts5_available,
    fts_query,
)
from assistant.ranking import bm25_scores, rank, reciprocal_rank_fusion, tfidf_cosine, tokenize

log = logging.getLogger(__name__)
Row = tuple[Any, ...]

CANDIDATES_PER_STORE = 50  # lexical matches per table that go on to the fused ranking
RECENCY_WEIGHT = 0.5  # recency breaks ties between equally relevant memories, no more


class MemoryKind(str, Enum):
    """Which store a memory came from."""

    EPISODIC = "episodic"
    LONG_TERM = "long_term"


@dataclass(frozen=True)
class EpisodicEvent:
    """A short-term memory to write: one turn or observation in a session."""

    session: str
    kind: str  # e.g. "question", "answer", "feedback"
    content: str
    created_at: float | None = None  # None: the store's clock at write time


@dataclass(frozen=True)
class Memory:
    """A memory read back from the store, with its fused relevance score."""

    kind: MemoryKind
    id: int
    content: str
    label: str  # episodic: "<session>/<kind>"; long-term: its key
    at: float  # created_at or updated_at, seconds since the epoch
    score: float = 0.0


Candidates = list[tuple[tuple[MemoryKind, int], Memory]]  # ((store, row id), memory), best first


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
            self._db.execute("COMMIT")

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
        candidates = {key: memory for ranking in lexical for key, memory in ranking}
        if not candidates:
            return []
        # Newest first, so equal similarities rank the newer memory higher (rank() is stable).
        newest = sorted(candidates, key=lambda key: -candidates[key].at)
        documents = {key: tokenize(candidates[key].content) for key in newest}
        cosine = rank(tfidf_cosine(terms, documents))
        rankings = [[key for key, _ in ranking] for ranking in lexical] + [cosine, newest]
        weights = [1.0] * len(lexical) + [1.0, RECENCY_WEIGHT]
        fused = reciprocal_rank_fusion(rankings, weights=weights)
        return [_scored(candidates[key], score) for key, score in fused[:k]]

    def _lexical_candidates(
        self, query: str, terms: Sequence[str], session: str | None
    ) -> list[Candidates]:
        """One BM25-ranked candidate list per store, best first."""
        if self.uses_fts5:
            return [self._fts_episodic(query, session), self._fts_long_term(query)]
        return [_bm25_ranked(terms, self._all_episodic(session)), _bm25_ranked(terms, self._all_long_term())]

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


def _episodic(row: Row) -> Memory:
    id_, session, kind, content, created_at = row
    return Memory(MemoryKind.EPISODIC, int(id_), str(content), f"{session}/{kind}", float(created_at))


def _long_term(row: Row) -> Memory:
    id_, key, content, updated_at = row
    return Memory(MemoryKind.LONG_TERM, int(id_), str(content), str(key), float(updated_at))


def _scored(memory: Memory, score: float) -> Memory:
    return Memory(memory.kind, memory.id, memory.content, memory.label, memory.at, score)


def _bm25_ranked(terms: Sequence[str], memories: list[Memory]) -> Candidates:
    """The FTS5-less path: BM25 in Python over every row of one store."""
    by_key = {(m.kind, m.id): m for m in memories}
    scores = bm25_scores(terms, {key: tokenize(m.content) for key, m in by_key.items()})
    return [(key, by_key[key]) for key in rank(scores)[:CANDIDATES_PER_STORE]]
