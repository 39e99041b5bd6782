"""Hybrid document retrieval ranks the right passage for known queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.retrieval import DocRetriever


@pytest.mark.parametrize(
    ("query", "source", "title"),
    [
        ("How often do I water the tomatoes?", "README.md", "Watering"),
        ("When should the spade be sharpened?", "docs/tools.md", "Sharpening"),
        ("What keeps slugs away from basil?", "docs/pests.md", "Pests"),
    ],
)
def test_tiny_corpus_ranks_the_right_section_first(
    tiny_repo: Path, query: str, source: str, title: str
) -> None:
    best = DocRetriever.from_repo(tiny_repo).search(query, 3)[0].passage
    assert (best.source, best.title) == (source, title)


@pytest.mark.parametrize(
    ("query", "source", "title_start"),
    [
        (
            "Which class does the memory_rehydrator gain for asyncio.to_thread?",
            "migration/B-1006.md",
            "Task 4.1",
        ),
        (
            "replace the custom assertion framework with dspy.Refine",
            "migration/B-1006.md",
            "Task 3.1",
        ),
        ("background flusher asyncio.Queue episodic events", "migration/B-1006.md", "Task 4.2"),
        ("consecutive failures stop execution safety rules", "migration/B-1006.md", "Safety Rules"),
        ("gitops resume clear a halt", "README.md", "Using it"),
    ],
)
def test_repository_docs_rank_the_right_section(
    repo_retriever: DocRetriever, query: str, source: str, title_start: str
) -> None:
    top = [h.passage for h in repo_retriever.search(query, 3)]
    assert any(p.source == source and p.title.startswith(title_start) for p in top), [
        p.title for p in top
    ]


def test_results_are_best_first_and_limited_to_k(repo_retriever: DocRetriever) -> None:
    hits = repo_retriever.search("GEPA reflection_lm budget", 4)
    assert len(hits) == 4
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_query_matching_nothing_returns_nothing(tiny_repo: Path) -> None:
    assert DocRetriever.from_repo(tiny_repo).search("kubernetes helm chart", 3) == []
