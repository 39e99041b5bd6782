"""The repository's own Markdown documentation, split into passages for retrieval."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# What the assistant answers questions about, relative to the repository root it is given.
DOC_PATTERNS: tuple[str, ...] = ("README.md", "migration/B-1006.md", "docs/*.md")

# A section longer than this is split at blank lines, so one passage stays one topic.
MAX_PASSAGE_WORDS = 120

_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
# Markdown decoration that only gets in the way of extracting a sentence.
_DECORATION = re.compile(r"\*\*|__|\\?`|^\s*(?:[-*+]\s+(?:\[[ x!]\]\s+)?|\d+\.\s+|>\s+)", re.MULTILINE)
_ANCHOR = re.compile(r"\s*\{#[^}]*\}")
_LIST_ITEM = re.compile(r"\n(?=[-*+]\s|\d+\.\s)")  # a line that starts a top-level list item
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")  # [text](url) -> text
# A wrapped line: indented, or starting in lower case. "Priority: High" lines stay apart.
_CONTINUATION = re.compile(r"\n(?:[ \t]+|(?=[a-z(\[]))")
_LEADING_SYMBOLS = re.compile(r"^[^\w]+")  # emoji and punctuation before a heading's words


@dataclass(frozen=True)
class Passage:
    """One retrievable chunk: a section (or part of one) of a document."""

    source: str  # path relative to the repository root, e.g. "migration/B-1006.md"
    title: str  # the nearest heading, emoji and anchors removed
    text: str  # plain-ish text: Markdown emphasis and list markers stripped

    @property
    def id(self) -> str:
        """A stable identifier: source, title and the passage's first words."""
        return f"{self.source}#{self.title}:{' '.join(self.text.split()[:6])}"

    def as_context(self) -> str:
        """The passage as the LM sees it: the title on its own first line, then the text."""
        return f"{self.title}\n{self.text}" if self.title else self.text


def find_documents(root: Path, patterns: tuple[str, ...] = DOC_PATTERNS) -> list[Path]:
    """Existing files under `root` matching `patterns`, in pattern order then name order."""
    found: list[Path] = []
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and path not in found:
                found.append(path)
    return found


def clean_title(raw: str) -> str:
    """A heading without Markdown emphasis, anchors or leading emoji."""
    title = _ANCHOR.sub("", raw).replace("**", "").replace("`", "")
    return _LEADING_SYMBOLS.sub("", title).strip()


def split_markdown(source: str, markdown: str) -> list[Passage]:
    """Split one Markdown document into passages at headings and long sections at blank lines."""
    passages: list[Passage] = []
    title = ""
    block: list[str] = []
    in_fence = False

    def flush() -> None:
        passages.extend(_chunk(source, title, "\n".join(block)))
        block.clear()

    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue  # keep code bodies (e.g. the state JSON) but drop the fence markers
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            flush()
            title = clean_title(heading.group(2))
        elif line.strip() != "---":
            block.append(line)
    flush()
    return passages


def _blocks(body: str) -> list[str]:
    """Paragraphs, with every list item its own block so long lists can be split."""
    blocks: list[str] = []
    for paragraph in re.split(r"\n\s*\n", body):
        for item in _LIST_ITEM.split(paragraph):
            text = _CONTINUATION.sub(" ", _LINK.sub(r"\1", _DECORATION.sub("", item))).strip()
            if text:
                blocks.append(text)
    return blocks


def _chunk(source: str, title: str, body: str) -> list[Passage]:
    chunks: list[list[str]] = []
    words = 0
    for block in _blocks(body):
        size = len(block.split())
        if chunks and words + size <= MAX_PASSAGE_WORDS:
            chunks[-1].append(block)
            words += size
        else:
            chunks.append([block])
            words = size
    return [Passage(source, title, "\n".join(chunk)) for chunk in chunks]


def load_corpus(root: Path, patterns: tuple[str, ...] = DOC_PATTERNS) -> list[Passage]:
    """All passages of the documentation under `root` (raises if no document is found)."""
    documents = find_documents(root, patterns)
    if not documents:
        raise FileNotFoundError(f"no documentation matching {', '.join(patterns)} under {root}")
    passages: list[Passage] = []
    for path in documents:
        source = path.relative_to(root).as_posix()
        passages.extend(split_markdown(source, path.read_text(encoding="utf-8")))
    return passages
