"""How memory candidates are ranked: BM25 per store, then fusion with TF-IDF cosine and recency.

FTS5 computes BM25 inside SQLite; `bm25_ranked` is the path without FTS5. `fuse` merges the
stores' rankings by reciprocal rank fusion; the sync and async rehydrators both call it, so
they return the same memories for the same candidates.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

from assistant.memory_types import Candidates, Memory
from assistant.ranking import (
    TermWeights,
    bm25_scores,
    rank,
    reciprocal_rank_fusion,
    term_weights,
    tokenize,
    weighted_cosine,
)

CANDIDATES_PER_STORE = 50  # lexical matches per table that go on to the fused ranking
RECENCY_WEIGHT = 0.5  # recency breaks ties between equally relevant memories, no more


def fuse(terms: Sequence[str], lexical: Sequence[Candidates], k: int) -> list[Memory]:
    """The `k` best candidates by RRF of each store's BM25 ranking, TF-IDF cosine and recency."""
    candidates = {key: memory for ranking in lexical for key, memory in ranking}
    if not candidates:
        return []
    # Newest first, so equal similarities rank the newer memory higher (rank() is stable).
    newest = sorted(candidates, key=lambda key: -candidates[key].at)
    documents = {key: content_weights(candidates[key].content) for key in newest}
    cosine = rank(weighted_cosine(terms, documents))
    rankings = [[key for key, _ in ranking] for ranking in lexical] + [cosine, newest]
    weights = [1.0] * len(lexical) + [1.0, RECENCY_WEIGHT]
    fused = reciprocal_rank_fusion(rankings, weights=weights)
    return [_scored(candidates[key], score) for key, score in fused[:k]]


# The same memories come back for query after query (the stores change slowly), and cutting
# their text into weighted terms was a third of a rehydration's Python time. Keyed by the
# text itself, so an edited memory is simply a new entry. About 2 KB an entry (terms are
# shared through stem's cache): 8,192 entries stay under ~16 MB.
@functools.lru_cache(maxsize=8192)
def content_weights(content: str) -> TermWeights:
    """The sublinear term frequencies of one memory's text (memoized, thread-safe)."""
    return term_weights(tokenize(content))


def _scored(memory: Memory, score: float) -> Memory:
    return Memory(memory.kind, memory.id, memory.content, memory.label, memory.at, score)


def bm25_ranked(terms: Sequence[str], memories: list[Memory]) -> Candidates:
    """The FTS5-less path: BM25 in Python over every row of one store."""
    by_key = {(m.kind, m.id): m for m in memories}
    scores = bm25_scores(terms, {key: tokenize(m.content) for key, m in by_key.items()})
    return [(key, by_key[key]) for key in rank(scores)[:CANDIDATES_PER_STORE]]
