"""BM25, TF-IDF cosine and reciprocal rank fusion."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.memory_ranking import content_weights
from assistant.ranking import (
    RRF_K,
    bm25_scores,
    rank,
    reciprocal_rank_fusion,
    stem,
    tfidf_cosine,
    tokenize,
    words,
)


def test_tokenize_lowercases_drops_stopwords_and_stems() -> None:
    assert tokenize("The Pipeline RUNS the tasks") == ["pipeline", "run", "task"]
    assert words("The Pipeline RUNS") == ["pipeline", "runs"]


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("runs", "run"),
        ("running", "runn"),
        ("process", "process"),
        ("processes", "process"),
        ("use", "use"),
        ("3", "3"),
        ("gpt4s", "gpt4s"),
    ],
)
def test_stem_strips_only_common_suffixes(token: str, expected: str) -> None:
    assert stem(token) == expected


def test_bm25_scores_matching_documents_only() -> None:
    docs = {"a": ["spade", "rake"], "b": ["basil", "tomato"], "c": ["spade", "spade", "file"]}
    scores = bm25_scores(["spade"], docs)
    assert scores["b"] == 0.0
    assert scores["a"] > 0 and scores["c"] > 0
    assert rank(scores) == ["c", "a"]  # more occurrences in a same-length document win


def test_bm25_matches_the_okapi_formula_for_one_document() -> None:
    score = bm25_scores(["x"], {"only": ["x", "y"]})["only"]
    idf = math.log(1 + (1 - 1 + 0.5) / (1 + 0.5))
    assert score == pytest.approx(idf * 1 * 2.2 / (1 + 1.2))


def test_bm25_of_empty_collection_is_empty() -> None:
    assert bm25_scores(["x"], {}) == {}


def test_tfidf_cosine_is_one_for_identical_text_and_zero_for_disjoint() -> None:
    docs = {"same": ["slug", "basil"], "other": ["spade"]}
    scores = tfidf_cosine(["slug", "basil"], docs)
    assert scores["same"] == pytest.approx(1.0)
    assert scores["other"] == 0.0


def test_tfidf_cosine_matches_the_smoothed_sublinear_formula_exactly() -> None:
    """Per-term IDF is computed once per call; scores stay bit-for-bit those of the formula."""
    docs = {"a": ["slug", "slug", "basil"], "b": ["basil", "spade"], "c": ["rake"]}
    query = ["slug", "basil", "unseen"]  # "unseen" is in no document: df 0

    def vector(tokens: list[str]) -> dict[str, float]:
        df = {t: sum(t in d for d in docs.values()) for t in set(tokens)}
        return {t: (1 + math.log(tokens.count(t))) * (math.log((1 + 3) / (1 + df[t])) + 1) for t in dict.fromkeys(tokens)}

    q = vector(query)
    expected = {}
    for key, doc in docs.items():
        d = vector(doc)
        dot = sum(w * d.get(t, 0.0) for t, w in q.items())
        expected[key] = dot / (math.sqrt(sum(v * v for v in q.values())) * math.sqrt(sum(v * v for v in d.values())))
    assert tfidf_cosine(query, docs) == expected


def _reference_cosine(query: list[str], docs: dict[str, list[str]]) -> dict[str, float]:
    """The formula as first written (dicts per document): the fast version must equal it bit for bit."""
    n = len(docs)
    counts = {key: Counter(doc) for key, doc in docs.items()}
    df = Counter(t for c in counts.values() for t in c)
    idf = {t: math.log((1 + n) / (1 + f)) + 1 for t, f in df.items()}
    unseen = math.log(1 + n) + 1

    def vector(tf: Counter[str]) -> dict[str, float]:
        return {t: (1 + math.log(c)) * idf.get(t, unseen) for t, c in tf.items()}

    q = vector(Counter(query))
    q_norm = math.sqrt(sum(v * v for v in q.values()))
    scores = {}
    for key, tf in counts.items():
        d = vector(tf)
        d_norm = math.sqrt(sum(v * v for v in d.values()))
        dot = sum(w * d.get(t, 0.0) for t, w in q.items())
        scores[key] = dot / (q_norm * d_norm) if q_norm and d_norm else 0.0
    return scores


_TERMS = st.sampled_from(["task", "dspy", "test", "run", "memory", "async", "gate", "x"])


@given(st.lists(_TERMS, max_size=6), st.dictionaries(st.text("abcdef", min_size=1, max_size=3),
                                                     st.lists(_TERMS, max_size=80), max_size=12))
def test_tfidf_cosine_equals_the_per_document_formula_bit_for_bit(query: list[str], docs: dict[str, list[str]]) -> None:
    assert tfidf_cosine(query, docs) == _reference_cosine(query, docs)


def test_memory_term_weights_are_memoized_with_a_bound() -> None:
    assert content_weights.cache_info().maxsize == 8192
    assert content_weights("Tasks run; tasks pass") is content_weights("Tasks run; tasks pass")
    assert content_weights("Tasks run; tasks pass").terms == ("task", "run", "pass")


def test_stem_is_memoized_with_a_bound() -> None:
    assert stem.cache_info().maxsize == 65536
    assert stem("tasks") == stem("tasks") == "task"

def test_rank_drops_zero_scores_and_keeps_order_of_ties() -> None:
    assert rank({"a": 0.0, "b": 1.0, "c": 2.0, "d": 1.0}) == ["c", "b", "d"]


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b"], ["b", "c"]]))
    assert fused["a"] == pytest.approx(1 / (RRF_K + 1))
    assert fused["b"] == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert fused["c"] == pytest.approx(1 / (RRF_K + 2))


def test_rrf_orders_by_fused_score_with_stable_ties() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "a"], ["c"]], k=1)
    # a and b both score 1/2 + 1/3; c scores 1/2: a was seen first.
    assert [key for key, _ in fused] == ["a", "b", "c"]


def test_rrf_weights_scale_each_ranking() -> None:
    fused = dict(reciprocal_rank_fusion([["a"], ["b"]], k=0, weights=[1.0, 0.5]))
    assert fused == {"a": 1.0, "b": 0.5}


def test_rrf_rejects_mismatched_weights() -> None:
    with pytest.raises(ValueError, match="1 weights for 2 rankings"):
        reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0])
