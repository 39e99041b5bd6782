"""The SQLite schema of the memory store, and FTS5 detection and query building."""
from __future__ import annotations

import sqlite3
from functools import lru_cache

from assistant.ranking import words

SCHEMA_VERSION = 1

TABLES = """
CREATE TABLE IF NOT EXISTS episodic_events (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    kind TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS episodic_by_session ON episodic_events (session, created_at);
CREATE TABLE IF NOT EXISTS long_term_memory (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    content TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL
);
"""

# External-content FTS5 tables kept in step by triggers (https://sqlite.org/fts5.html#external_content_tables).
FTS_TABLES = """
CREATE VIRTUAL TABLE IF NOT EXISTS episodic_fts USING fts5(
    content, content='episodic_events', content_rowid='id', tokenize='porter unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS long_term_fts USING fts5(
    content, content='long_term_memory', content_rowid='id', tokenize='porter unicode61');
"""
# (content table, its FTS5 index): TRIGGERS is instantiated once per pair.
INDEXED_TABLES = (("episodic_events", "episodic_fts"), ("long_term_memory", "long_term_fts"))
TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS {table}_ai AFTER INSERT ON {table} BEGIN
    INSERT INTO {fts}(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER IF NOT EXISTS {table}_ad AFTER DELETE ON {table} BEGIN
    INSERT INTO {fts}({fts}, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER IF NOT EXISTS {table}_au AFTER UPDATE ON {table} BEGIN
    INSERT INTO {fts}({fts}, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO {fts}(rowid, content) VALUES (new.id, new.content);
END;
"""


@lru_cache(maxsize=1)
def fts5_available() -> bool:
    """Whether this Python's sqlite3 was compiled with FTS5."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()
    return True


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression: any of the query's words, each quoted (no FTS5 syntax leaks).

    Unstemmed words: the porter tokenizer stems query terms the way it stemmed the rows.
    """
    return " OR ".join(f'"{word}"' for word in dict.fromkeys(words(text)))
