"""Long-term memory in PostgreSQL: schema, ranking in the database, connections that fail clearly.

The table keeps a generated `tsvector` of each memory (English stemming) under a GIN index,
and `candidates` ranks in the server with `ts_rank`, so only the best CANDIDATES_PER_STORE
rows cross the network. The sync and async classes send the same SQL (this module's
constants) and build the same `Memory` values, so they rank alike.

The driver is psycopg 3: its sync and asyncio APIs share one implementation, where psycopg2
(the seed's driver) has no asyncio API. Every connection gets `connect_timeout`, so a server
that does not answer fails in seconds, with `MemoryServerError` naming the host and what to
start, instead of libpq's default of waiting as long as the OS does.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from assistant.memory_ranking import CANDIDATES_PER_STORE
from assistant.memory_types import Candidates, MemoryKind, long_term_row
from assistant.memory_watchdog import Watchdog
from assistant.ranking import words

T = TypeVar("T")
QUERY_TIMEOUT = 5.0  # seconds a call may wait for its reply, the async class's default too
CONNECT_TIMEOUT = 3  # seconds; libpq's own minimum is 2 (https://www.postgresql.org/docs/15/libpq-connect.html)
SCHEMA_VERSION = 1
# Created or migrated in place, never dropped: a server that already holds memories keeps them.
SCHEMA = (
    # Connections that open at once would race on CREATE ... IF NOT EXISTS (the catalog's unique
    # index fails the loser): one at a time, for this transaction.
    "SELECT pg_advisory_xact_lock(1006)",
    """CREATE TABLE IF NOT EXISTS long_term_memory (
        id BIGSERIAL PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        content TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        updated_at DOUBLE PRECISION NOT NULL)""",
    # Added to a table made by an older schema (no full-text column yet).
    """ALTER TABLE long_term_memory ADD COLUMN IF NOT EXISTS tsv tsvector
        GENERATED ALWAYS AS (to_tsvector('english', content)) STORED""",
    "CREATE INDEX IF NOT EXISTS long_term_memory_tsv ON long_term_memory USING gin (tsv)",
    "CREATE TABLE IF NOT EXISTS memory_schema (version INTEGER NOT NULL)",
    f"INSERT INTO memory_schema (version) SELECT {SCHEMA_VERSION} WHERE NOT EXISTS (SELECT 1 FROM memory_schema)",
)
# ts_rank ties (equal float4 scores) go to the newer memory, then the higher id: a total order.
CANDIDATES = (
    "SELECT id, key, content, updated_at FROM long_term_memory, to_tsquery('english', %s) AS q "
    "WHERE tsv @@ q ORDER BY ts_rank(tsv, q) DESC, updated_at DESC, id DESC LIMIT %s"
)
UPSERT = (
    "INSERT INTO long_term_memory (key, content, source, updated_at) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (key) DO UPDATE SET content = excluded.content, source = excluded.source, "
    "updated_at = excluded.updated_at RETURNING id"
)
DELETE = "DELETE FROM long_term_memory WHERE key = %s"
COUNT = "SELECT count(*) FROM long_term_memory"


class MemoryServerError(RuntimeError):
    """The PostgreSQL server of long-term memory could not be reached; the message says what to do."""


def database_url(environ: Mapping[str, str] = os.environ, root: Any = None) -> str | None:
    """DATABASE_URL if set, else the project's own server when it runs (`scripts/postgres start`), else None."""
    if environ.get("DATABASE_URL"):
        return environ["DATABASE_URL"]
    if root is None:
        return None
    from assistant.memory_server import url  # standard library only

    return url(root)


def conninfo(url: str) -> str:
    """`url` with a connect_timeout (unless it sets one) and this client's application_name."""
    params = conninfo_to_dict(url)
    params.setdefault("connect_timeout", str(CONNECT_TIMEOUT))
    params.setdefault("application_name", "assistant-memory")
    return make_conninfo(**params)


def where(url: str) -> str:
    """host:port/dbname of a URL, for messages (never its password)."""
    params = conninfo_to_dict(url)
    return f"{params.get('host', 'localhost')}:{params.get('port', '5432')}/{params.get('dbname', '')}"


def unreachable(url: str, error: BaseException) -> MemoryServerError:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return MemoryServerError(
        f"long-term memory: PostgreSQL at {where(url)} does not answer ({reason}). Start the project's server "
        f"with `scripts/postgres start`, or point DATABASE_URL at a running server (unset it for SQLite only)")


def store_label(url: str | None, path: str) -> str:
    """Where long-term memory lives, for messages: "PostgreSQL at host:port/db" or "SQLite (path)"."""
    return f"PostgreSQL at {where(url)}" if url else f"SQLite ({path})"


def tsquery(text: str) -> str:
    """A to_tsquery expression matching any of the text's words (only [a-z0-9] words: no syntax leaks)."""
    return " | ".join(dict.fromkeys(words(text)))


def candidate_list(rows: list[tuple[Any, ...]]) -> Candidates:
    return [((MemoryKind.LONG_TERM, int(row[0])), long_term_row(row)) for row in rows]


class PostgresLongTerm:
    """Long-term memory on one sync psycopg connection (MemoryRehydrator's, behind its lock).

    Each call waits at most `timeout` seconds for its reply (a `TimeoutError` then, and the
    connection is replaced on the next call), as each call of the async class does.
    """

    def __init__(self, url: str, *, timeout: float = QUERY_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        self._db: psycopg.Connection[Any] | None = None
        self._watchdog = Watchdog(self._cut)
        self.connect()

    def connect(self) -> psycopg.Connection[Any]:
        """The open connection, (re)connecting and creating the schema when needed."""
        if self._db is not None and not self._db.closed and not self._db.broken:
            return self._db
        try:
            # autocommit: each statement is its own transaction, one round trip, no idle-in-transaction.
            self._db = psycopg.connect(conninfo(self.url), autocommit=True)
        except psycopg.OperationalError as error:
            raise unreachable(self.url, error) from None
        self._call(self._create_schema)
        return self._db

    @staticmethod
    def _create_schema(db: psycopg.Connection[Any]) -> None:
        with db.transaction():
            for statement in SCHEMA:
                db.execute(statement)

    def _cut(self) -> None:
        """The watchdog's move: shut the socket down, so the blocked read returns at once."""
        db = self._db
        if db is None or db.closed:
            return
        # fromfd duplicates the descriptor; shutdown acts on the socket both descriptors name.
        with socket.fromfd(db.pgconn.socket, socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.shutdown(socket.SHUT_RDWR)

    def _call(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        db = self._db if self._db is not None and not self._db.closed and not self._db.broken else self.connect()
        try:
            with self._watchdog.deadline(self.timeout):
                return work(db)
        except psycopg.OperationalError:
            if not self._watchdog.fired:
                raise
            db.close()  # half a reply may be unread: never reuse it
            raise TimeoutError(f"long-term memory: PostgreSQL at {where(self.url)} gave no answer within "
                               f"{self.timeout:g} s") from None

    def candidates(self, query: str) -> Candidates:
        terms = tsquery(query)
        if not terms:
            return []
        return candidate_list(self._call(lambda db: db.execute(CANDIDATES, (terms, CANDIDATES_PER_STORE)).fetchall()))

    def remember(self, key: str, content: str, source: str, at: float) -> int:
        row = self._call(lambda db: db.execute(UPSERT, (key, content, source, at)).fetchone())
        return int(row[0]) if row else 0

    def forget(self, key: str) -> bool:
        return self._call(lambda db: db.execute(DELETE, (key,)).rowcount) > 0

    def count(self) -> int:
        row = self._call(lambda db: db.execute(COUNT).fetchone())
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._watchdog.close()
        if self._db is not None:
            self._db.close()
