"""Hybrid in-memory retrieval over documentation passages: BM25 and TF-IDF fused by RRF."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from assistant.corpus import DOC_PATTERNS, Passage, load_corpus
from assistant.ranking import bm25_scores, rank, reciprocal_rank_fusion, tfidf_cosine, tokenize


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its fused score (higher is better)."""

    passage: Passage
    score: float


class Retriever(Protocol):
    """Anything that returns the `k` passages most relevant to a query, best first."""

    def search(self, query: str, k: int) -> list[Hit]:
        """The `k` best passages for `query`."""
        ...


class DocRetriever:
    """Ranks passages by BM25 and by TF-IDF cosine and fuses both rankings with RRF.

    Two rankings because they fail differently: BM25 rewards repeated rare terms and
    penalises long passages, cosine rewards a passage whose vocabulary matches the
    question's as a whole. RRF needs no score calibration between them.
    """

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages: tuple[Passage, ...] = tuple(passages)
        # Titles are indexed with the text: "Task 4.1: ..." is often what a question names.
        self._tokens: dict[int, list[str]] = {
            i: tokenize(p.as_context()) for i, p in enumerate(self.passages)
        }

    @classmethod
    def from_repo(cls, root: Path, patterns: tuple[str, ...] = DOC_PATTERNS) -> DocRetriever:
        """A retriever over the documentation of the repository at `root`."""
        return cls(load_corpus(root, patterns))

    def search(self, query: str, k: int) -> list[Hit]:
        """The `k` best passages for `query`; empty when no query term occurs anywhere."""
        terms = tokenize(query)
        lexical = rank(bm25_scores(terms, self._tokens))
        semantic = rank(tfidf_cosine(terms, self._tokens))
        fused = reciprocal_rank_fusion([lexical, semantic])
        return [Hit(self.passages[i], score) for i, score in fused[:k]]
