"""The values the memory store reads and writes: which store, an event to write, a memory read."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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
