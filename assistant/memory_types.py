"""The values the memory store reads and writes: which store, an event to write, a memory read (and from which row)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


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


def episodic_row(row: tuple[Any, ...]) -> Memory:
    """A memory from an (id, session, kind, content, created_at) row."""
    id_, session, kind, content, created_at = row
    return Memory(MemoryKind.EPISODIC, int(id_), str(content), f"{session}/{kind}", float(created_at))


def long_term_row(row: tuple[Any, ...]) -> Memory:
    """A memory from an (id, key, content, updated_at) row, from SQLite or PostgreSQL."""
    id_, key, content, updated_at = row
    return Memory(MemoryKind.LONG_TERM, int(id_), str(content), str(key), float(updated_at))


def session_text(events: list[Memory]) -> str:
    """A session's events (newest first, as read) as one long-term memory's text, oldest first."""
    return "\n".join(f"{m.label.rsplit('/', 1)[1]}: {m.content}" for m in reversed(events))
