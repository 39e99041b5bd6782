"""Loading and splitting the Markdown documentation."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.corpus import (
    MAX_PASSAGE_WORDS,
    clean_title,
    find_documents,
    load_corpus,
    split_markdown,
)


def test_split_at_headings_with_titles_cleaned() -> None:
    text = "# Top\n\nIntro text.\n\n## 🎯 **Execution Overview** {#overview}\n\nSome **bold** `code`.\n"
    passages = split_markdown("doc.md", text)
    assert [(p.title, p.text) for p in passages] == [
        ("Top", "Intro text."),
        ("Execution Overview", "Some bold code."),
    ]
    assert passages[1].as_context() == "Execution Overview\nSome bold code."


def test_headings_inside_code_fences_are_text() -> None:
    passages = split_markdown("doc.md", "# Real\n\n```markdown\n### Task 1.1: Not a heading\n```\n")
    assert [p.title for p in passages] == ["Real"]
    assert "Task 1.1: Not a heading" in passages[0].text


def test_list_markers_links_and_wrapped_lines() -> None:
    text = "# T\n\n- [ ] first item\n  continues here\n1. see [the docs](docs/x.md)\n**Priority**: High\n"
    (passage,) = split_markdown("doc.md", text)
    assert passage.text.splitlines() == [
        "first item continues here",
        "see the docs",
        "Priority: High",
    ]


def test_long_sections_are_split_between_list_items() -> None:
    items = "\n".join(f"- item {i} " + "word " * 20 for i in range(20))
    passages = split_markdown("doc.md", f"# Long\n\n{items}\n")
    assert len(passages) > 1
    assert all(len(p.text.split()) <= MAX_PASSAGE_WORDS for p in passages)
    assert all(p.title == "Long" for p in passages)


def test_clean_title_strips_emoji_anchor_and_emphasis() -> None:
    assert clean_title("🛠️ **HotFix Task Template** {#hotfix}") == "HotFix Task Template"


def test_find_documents_follows_the_patterns(tiny_repo: Path) -> None:
    (tiny_repo / "notes.md").write_text("# Not documentation\n", encoding="utf-8")
    found = [p.relative_to(tiny_repo).as_posix() for p in find_documents(tiny_repo)]
    assert found == ["README.md", "docs/pests.md", "docs/tools.md"]


def test_load_corpus_names_sources_relative_to_root(tiny_repo: Path) -> None:
    sources = {p.source for p in load_corpus(tiny_repo)}
    assert sources == {"README.md", "docs/pests.md", "docs/tools.md"}


def test_load_corpus_without_documents_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no documentation matching README.md"):
        load_corpus(tmp_path)


def test_the_repository_documents_are_found(repo_root: Path) -> None:
    sources = {p.source for p in load_corpus(repo_root)}
    assert {"README.md", "migration/B-1006.md"} <= sources
