"""Task-list Markdown as top-level blocks (headings, paragraphs, lists, fences) with lines."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

from gitops.tasklist.fields import split_field
from gitops.tasklist.headings import phase_heading, task_heading
from gitops.tasklist.text import strip_emoji

_MD = MarkdownIt("commonmark")


@dataclass
class Item:
    line: int
    text: str  # plain text: emphasis removed, code spans kept
    raw: str  # Markdown source of the item's first paragraph
    end: int = 0  # last source line of the item, its nested lists included (`gitops fmt` moves it whole)
    # the items of lists nested in this one, at any depth, in order (`- **Done when**:` then `  - [ ] a`)
    children: list[Item] = field(default_factory=list)


@dataclass
class Block:
    kind: str  # phase | task | heading | paragraph | list | fence | other
    line: int  # 1-based first line
    end: int  # 1-based last line
    level: int = 0  # heading level
    text: str = ""  # heading: plain text without emoji
    raw: str = ""  # heading: Markdown source; fence: content
    info: str = ""  # fence info string
    lines: list[str] = field(default_factory=list)  # paragraph source lines
    items: list[Item] = field(default_factory=list)
    key: str = ""  # phase number or task id
    title: str = ""
    mark: str | None = None  # a task heading's status marker (headings.TaskHeading.status_mark)


def read_blocks(text: str) -> tuple[list[Block], list[str]]:
    """The document's top-level blocks, and its lines (which the blocks' line numbers index)."""
    # markdown-it normalizes newlines and NULs the same way; token.map indexes these lines.
    source = re.sub(r"\r\n?", "\n", text).replace("\0", "\ufffd")
    lines = source.split("\n")
    return _blocks(_MD.parse(source), lines), lines


def _blocks(tokens: list[Token], lines: list[str]) -> list[Block]:
    blocks: list[Block] = []
    for index, token in enumerate(tokens):
        if token.level != 0 or token.nesting < 0 or token.map is None:
            continue
        first, last = token.map[0] + 1, max(token.map[0] + 1, token.map[1])
        if token.type == "heading_open":
            blocks.append(_heading_block(token, tokens[index + 1], lines))
        elif token.type == "paragraph_open":
            blocks.append(Block("paragraph", first, last, lines=lines[first - 1:last]))
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            blocks.append(Block("list", first, last, items=_list_items(tokens, index)))
        elif token.type == "fence":
            blocks.append(Block("fence", first, last, raw=token.content, info=token.info.strip()))
        else:
            blocks.append(Block("other", first, last))
    return blocks


def without_anchor(text: str) -> str:
    """The heading text without a trailing `{#anchor}` attribute.

    What `\\s*\\{#[^}]*\\}\\s*$` removes, found from the end: that regex retries from every `{#`
    and took quadratic time on a heading of many `{#`.
    """
    stripped = text.rstrip()
    if not stripped.endswith("}"):
        return text
    previous = stripped.rfind("}", 0, len(stripped) - 1)
    start = stripped.find("{#", previous + 1, len(stripped) - 1)
    return text if start < 0 else stripped[:start].rstrip()


def _heading_block(token: Token, inline: Token, lines: list[str]) -> Block:
    assert token.map is not None and inline.map is not None
    first, last = token.map[0] + 1, token.map[1]
    content = lines[inline.map[0]:inline.map[1]]
    # A field paragraph directly above `---` is a setext heading to CommonMark; keep it fields.
    if token.markup in ("-", "=") and content and all(split_field(line) for line in content):
        return Block("paragraph", first, inline.map[1], lines=content)
    block = Block("heading", first, last, level=int(token.tag[1:]), raw=inline.content,
                  text=without_anchor(strip_emoji(_plain(inline))))
    _classify(block)
    return block


def _classify(block: Block) -> None:
    if task := task_heading(block.text, block.raw):
        block.kind, block.key, block.title, block.mark = "task", task.task_id, task.title, task.status_mark
    elif phase := phase_heading(block.text):
        block.kind, block.key, block.title = "phase", str(phase.number), phase.title


def _list_items(tokens: list[Token], start: int) -> list[Item]:
    items: list[Item] = []
    current: Item | None = None  # the item whose first paragraph comes next
    # By index, not tokens[start + 1:]: a slice copies the rest of the document for every list,
    # which made lint quadratic (10,000 tasks: 6 s of copying).
    for index in range(start + 1, len(tokens)):
        token = tokens[index]
        if token.level == 0:  # the list's closing token
            break
        if token.type == "list_item_open" and token.map:
            current = Item(token.map[0] + 1, "", "", token.map[1])
            if token.level == 1:
                items.append(current)
            elif items:
                items[-1].children.append(current)
        elif token.type == "inline" and current is not None:
            current.text, current.raw = _plain(token), token.content
            current = None
    return items


def _plain(inline: Token) -> str:
    parts = []
    for child in inline.children or []:
        if child.type == "code_inline":
            parts.append(f"{child.markup}{child.content}{child.markup}")
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        else:
            parts.append(child.content)
    return " ".join("".join(parts).split())
