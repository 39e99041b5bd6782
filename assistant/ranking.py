"""Lexical ranking primitives shared by document retrieval, memory and the offline LM.

Pure functions over token lists: BM25, TF-IDF cosine and reciprocal rank fusion (RRF).
No DSPy import here, so the memory store and its tests stay light.
"""
from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from itertools import chain
from operator import mul
from typing import NamedTuple, TypeVar

K = TypeVar("K", bound=Hashable)

# Small on purpose: the corpus is technical prose where words like "task" carry meaning.
STOPWORDS: frozenset[str] = frozenset(
    """a an and are as at be by do does for from has have how i if in into is it its
    of on or that the their then there these this those to was we what when where which
    who why will with you your can should after before than them they our not no""".split()
)

_TOKEN = re.compile(r"[a-z0-9]+")

# Okapi BM25 defaults (Robertson & Zaragoza); also SQLite FTS5's bm25() defaults.
BM25_K1 = 1.2
BM25_B = 0.75
# The constant from Cormack et al. 2009 ("Reciprocal Rank Fusion outperforms Condorcet").
RRF_K = 60


# Memoized: rehydration stems every word of ~100 candidates per query, from a small vocabulary.
@functools.lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """A light suffix stripper, so "runs", "running" and "run" match ("process" stays)."""
    if token.endswith("ss") or not token.isalpha():
        return token
    for suffix in ("ing", "ed", "es", "s"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            return token[: -len(suffix)]
    return token


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words of `text`, stopwords removed, not stemmed."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def tokenize(text: str) -> list[str]:
    """Lower-case, lightly stemmed alphanumeric tokens of `text`, stopwords removed."""
    return list(map(stem, words(text)))


def bm25_scores(query: Sequence[str], docs: Mapping[K, Sequence[str]]) -> dict[K, float]:
    """Okapi BM25 score of every document for the query tokens (0.0 when nothing matches)."""
    n = len(docs)
    if n == 0:
        return {}
    avg_len = sum(len(d) for d in docs.values()) / n or 1.0
    df = Counter(t for d in docs.values() for t in set(d))
    terms = set(query)
    scores: dict[K, float] = {}
    for key, doc in docs.items():
        tf = Counter(doc)
        norm = BM25_K1 * (1 - BM25_B + BM25_B * len(doc) / avg_len)
        score = 0.0
        for t in terms:
            if tf[t]:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                score += idf * tf[t] * (BM25_K1 + 1) / (tf[t] + norm)
        scores[key] = score
    return scores


def tfidf_cosine(query: Sequence[str], docs: Mapping[K, Sequence[str]]) -> dict[K, float]:
    """Cosine similarity between sublinear TF-IDF vectors of the query and each document."""
    return weighted_cosine(query, {key: term_weights(doc) for key, doc in docs.items()})


class TermWeights(NamedTuple):
    """A document's distinct terms (first-occurrence order) and the sublinear TF of each.

    Depends on the document alone (IDF depends on the set ranked), so a caller that ranks
    the same documents again and again (memory rehydration) can compute it once per text.
    """

    terms: tuple[str, ...]
    tf: tuple[float, ...]
    by_term: Mapping[str, float]


def term_weights(tokens: Sequence[str]) -> TermWeights:
    counts = Counter(tokens)
    tf = tuple(map(_sublinear, counts.values()))
    return TermWeights(tuple(counts), tf, dict(zip(counts, tf)))


def weighted_cosine(query: Sequence[str], docs: Mapping[K, TermWeights]) -> dict[K, float]:
    """`tfidf_cosine` over documents given as `TermWeights`.

    The per-term loops run in C (map over bound methods): this is most of a memory
    rehydration's CPU time, which under the GIL is what asyncio cannot overlap. The
    arithmetic and its order are exactly those of the formula (tests compare bit for bit).
    """
    n = len(docs)
    if n == 0:
        return {}
    df = Counter(chain.from_iterable(doc.terms for doc in docs.values()))
    # Smoothed IDF as in scikit-learn, so a term in every document still counts a little.
    # Computed once per term, not once per occurrence; a query term in no document has df 0.
    idf = {t: math.log((1 + n) / (1 + f)) + 1 for t, f in df.items()}
    unseen = math.log(1 + n) + 1
    q = {t: _sublinear(c) * idf.get(t, unseen) for t, c in Counter(query).items()}
    q_norm = math.sqrt(sum(v * v for v in q.values()))
    scores: dict[K, float] = {}
    for key, doc in docs.items():
        vector = list(map(mul, doc.tf, map(idf.__getitem__, doc.terms)))
        d_norm = math.sqrt(sum(map(mul, vector, vector)))
        by_term = doc.by_term
        dot = sum(w * (by_term[t] * idf[t] if t in by_term else 0.0) for t, w in q.items())
        scores[key] = dot / (q_norm * d_norm) if q_norm and d_norm else 0.0
    return scores


# 1 + log(count) for the small counts nearly every term has: the same float, computed once
# (math.log ran ~65,000 times per round of 32 rehydrations, about 8% of the fusion's time).
_SUBLINEAR = [0.0] + [1 + math.log(c) for c in range(1, 64)]


def _sublinear(count: int) -> float:
    return _SUBLINEAR[count] if count < 64 else 1 + math.log(count)


def rank(scores: Mapping[K, float]) -> list[K]:
    """Keys with a positive score, best first; ties keep the mapping's order."""
    positive = [(key, s) for key, s in scores.items() if s > 0]
    return [key for key, _ in sorted(positive, key=lambda item: -item[1])]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]],
    *,
    k: int = RRF_K,
    weights: Sequence[float] | None = None,
) -> list[tuple[K, float]]:
    """Fuse ranked lists: score(d) = sum_i w_i / (k + rank_i(d)), ranks starting at 1."""
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    fused: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for position, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + weight / (k + position)
    # Stable sort: equal fused scores keep first-seen order, so results are deterministic.
    return sorted(fused.items(), key=lambda item: -item[1])
