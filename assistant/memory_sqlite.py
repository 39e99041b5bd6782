"""The SQLite side of MemoryRehydrator: creating the schema, and the queries that read candidates.

Functions of a connection, so the rehydrator keeps only its locking and routing: FTS5's BM25
when the build has FTS5, else every row (ranked in Python by `memory_ranking.bm25_ranked`).
"""
from __future__ import annotations

import sqlite3

from assistant.memory_ranking import CANDIDATES_PER_STORE
from assistant.memory_schema import FTS_TABLES, INDEXED_TABLES, SCHEMA_VERSION, TABLES, TRIGGERS, fts_query
from assistant.memory_types import Candidates, Memory, MemoryKind, episodic_row, long_term_row


def create_schema(db: sqlite3.Connection, path: str, uses_fts5: bool) -> None:
    """Create the tables (and FTS5 indexes with their triggers) that are missing; drop nothing."""
    if path != ":memory:":
        db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    db.executescript(TABLES)
    if uses_fts5:
        existing = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        db.executescript(FTS_TABLES)
        for table, fts in INDEXED_TABLES:
            db.executescript(TRIGGERS.format(table=table, fts=fts))
            if fts not in existing:  # a store first written without FTS5: index its rows
                db.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def fts_episodic(db: sqlite3.Connection, query: str, session: str | None) -> Candidates:
    # bm25() is lower-is-better in FTS5, hence ascending; ties go to the newer event.
    rows = db.execute(
        "SELECT e.id, e.session, e.kind, e.content, e.created_at FROM episodic_fts "
        "JOIN episodic_events e ON e.id = episodic_fts.rowid "
        "WHERE episodic_fts MATCH ? AND (? IS NULL OR e.session = ?) "
        "ORDER BY bm25(episodic_fts), e.created_at DESC LIMIT ?",
        (fts_query(query), session, session, CANDIDATES_PER_STORE),
    ).fetchall()
    return [((MemoryKind.EPISODIC, row[0]), episodic_row(row)) for row in rows]


def fts_long_term(db: sqlite3.Connection, query: str) -> Candidates:
    rows = db.execute(
        "SELECT m.id, m.key, m.content, m.updated_at FROM long_term_fts "
        "JOIN long_term_memory m ON m.id = long_term_fts.rowid "
        "WHERE long_term_fts MATCH ? ORDER BY bm25(long_term_fts), m.updated_at DESC LIMIT ?",
        (fts_query(query), CANDIDATES_PER_STORE),
    ).fetchall()
    return [((MemoryKind.LONG_TERM, row[0]), long_term_row(row)) for row in rows]


def all_episodic(db: sqlite3.Connection, session: str | None) -> list[Memory]:
    rows = db.execute(
        "SELECT id, session, kind, content, created_at FROM episodic_events "
        "WHERE ? IS NULL OR session = ? ORDER BY created_at DESC",
        (session, session),
    ).fetchall()
    return [episodic_row(row) for row in rows]


def all_long_term(db: sqlite3.Connection) -> list[Memory]:
    rows = db.execute("SELECT id, key, content, updated_at FROM long_term_memory ORDER BY updated_at DESC").fetchall()
    return [long_term_row(row) for row in rows]
