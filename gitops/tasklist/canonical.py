"""One task's fields in the canonical dialect, the seed's (`migration/B-1006.md`):

    #### Task 1.1: Title
    **Priority**: High
    **Estimated Time**: 2 hours
    **Dependencies**: Task 1.0
    **Status**: [ ]

    **Do**:
    1. step

    **Done when**:
    - [ ] criterion

    **Auto-Advance**: no
    **🛑 Pause After**: yes
    **When Ready Prompt**: "..."

Synonyms get the engine's names (Acceptance Criteria is Done when, Execution Steps is Do), list
items and sub-heading fields become `**Name**:` lines, further criteria keep their own field
(Quality Gates, Testing Requirements) so they stay distinguishable. Values are kept as written
(a Dependencies value, an estimate, a prompt); items keep their Markdown (bold, links, what is
nested in them). A status becomes a box when its words say no more than the box.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, Mapping

from gitops.model import Task
from gitops.tasklist.drafts import Draft, criterion
from gitops.tasklist.fields import FURTHER_CRITERIA, Field, Unreadable, read_status
from gitops.tasklist.markdown import Item
from gitops.tasklist.text import CHECKBOX_RE, strip_emoji, unbold, unmark

NAMES = {
    "priority": "Priority", "estimated_time": "Estimated Time", "dependencies": "Dependencies",
    "status": "Status", "run": "Run", "description": "Description", "do": "Do", "done_when": "Done when",
    "quality_gates": "Quality Gates", "testing_requirements": "Testing Requirements", "testing": "Testing",
    "ci_gates": "CI Gates", "auto_advance": "Auto-Advance", "pause_after": "🛑 Pause After",
    "when_ready_prompt": "When Ready Prompt",
}
_TOP = ("priority", "estimated_time", "dependencies", "status", "run")
_LISTS = ("description", "do", "done_when")
_BOTTOM = ("auto_advance", "pause_after", "when_ready_prompt")
_CRITERIA = ("done_when", *FURTHER_CRITERIA)
_BOX_RE = re.compile(r"\[([ xX!✅]?)\](.*)", re.S)
# Status words that say no more than their box: `✅ Completed` is `[x]`; `In progress` keeps its words.
_PLAIN = {"x": ("completed", "complete", "done", "finished"),
          " ": ("pending", "not started", "to do", "todo", "open"), "!": ("blocked",)}
_MARKER_RE = re.compile(r"\s*(?:[-*+]|[0-9]{1,9}[.)])(?:[ \t]+|$)")


@dataclass(frozen=True)
class Source:
    """The document the drafts were read from."""

    lines: list[str]  # line n is lines[n - 1]
    items: Mapping[int, Item]  # every list item of the task area, by its first line


def task_heading(level: int, task_id: str, title: str) -> str:
    return f"{'#' * level} Task {task_id}: {title}"


def phase_heading(level: int, number: int, title: str) -> str:
    if title == f"Phase {number}":
        return f"{'#' * level} Phase {number}"
    if title.startswith(f"Phase {number} "):  # `Phase 1 (P0)`: the title the parser made of it
        return f"{'#' * level} {title}"
    return f"{'#' * level} Phase {number}: {title}"


@dataclass(frozen=True)
class Fields:
    top: list[str]  # Priority, Estimated Time, Dependencies, Status, Run: one paragraph
    lists: list[list[str]]  # Description, Do, Done when, further criteria: a paragraph and list each
    bottom: list[str]  # Auto-Advance, Pause After, When Ready Prompt: one paragraph
    shared: list[str]  # other fields that were on a line of these (kept, on their own lines)
    claimed: set[int]  # the source lines they were read from: every other line is kept as written


def fields(draft: Draft, task: Task, source: Source) -> Fields:
    """The task's fields as canonical lines, and the source lines they were read from."""
    claimed = {line for first, last in _spans(draft) for line in range(first, last + 1)}
    # Further criteria in the order written: the engine lists them in that order.
    further = sorted((key for key in FURTHER_CRITERIA if key in draft.fields), key=lambda k: draft.fields[k].line)
    return Fields(
        top=[line for key in _TOP if (line := _scalar(draft, task, key))],
        lists=[_list_field(draft.fields[key], draft.lists.get(key, []), source)
               for key in (*_LISTS, *further) if key in draft.fields],
        bottom=[line for key in _BOTTOM if (line := _scalar(draft, task, key))],
        # A field fmt does not rewrite, or one set twice, on a line with one it does (`**Owner**: Ada
        # | **Priority**: High`, a list-item task's `(1 hour)`) gets a line of its own, first of the
        # text kept as written.
        shared=[f"**{item.name}**: {item.value}".rstrip()
                for item in (*(f for f in draft.fields.values() if f.key not in NAMES), *draft.unused)
                if item.line in claimed],
        claimed=claimed,
    )


def _spans(draft: Draft) -> Iterator[tuple[int, int]]:
    for key in NAMES:
        if key in draft.fields:
            yield from draft.fields[key].source


def _scalar(draft: Draft, task: Task, key: str) -> str | None:
    if key == "status":
        value = _status(draft.fields.get(key), task.status_mark, draft.heading_mark)
    elif key in draft.fields:
        value = draft.fields[key].value
    else:
        value = None
    return None if value is None else f"**{NAMES[key]}**: {value}".rstrip()


def _status(field: Field | None, mark: str, heading_mark: str | None) -> str | None:
    if field is None:
        # A status marker on the heading (`✅ **COMPLETED**`) becomes the field.
        return None if heading_mark is None else "Skipped" if mark == "-" else f"[{mark}]"
    try:
        read_status(field.value)
    except Unreadable:
        return field.value  # as written: lint keeps saying it cannot be read
    text = unmark(field.value)
    if box := _BOX_RE.fullmatch(text):
        return f"[{mark}]{box.group(2)}"
    if mark == "-":
        return field.value  # no box for skipped or deferred: its words say which
    words = strip_emoji(unbold(text))
    return f"[{mark}]" if words.lower() in _PLAIN.get(mark, ()) or not words else f"[{mark}] {words}"


def _list_field(field: Field, entries: list[tuple[str, int]], source: Source) -> list[str]:
    inline = 1 if field.value else 0  # the value after `**Name**:` is the list's first entry
    out = [f"**{NAMES[field.key]}**: {field.value}".rstrip()]
    owned = [source.items[line] for _, line in entries[inline:] if line in source.items]
    for number, (text, line) in enumerate(entries[inline:], 1):
        item = source.items.get(line)
        first, rest = _item_source(item, owned, source.lines) if item else ([text], [])
        marker = f"{number}. " if field.key == "do" else "- "
        if field.key in _CRITERIA:
            box = CHECKBOX_RE.fullmatch(first[0])
            mark = "x" if criterion(text, line).checked else " "
            first[0] = f"[{mark}] {box.group(2) if box else first[0]}"
        out += _placed(marker, first, rest, _content_column(source.lines[line - 1]) if item else 0)
    return out


def _item_source(item: Item, owned: list[Item], lines: list[str]) -> tuple[list[str], list[str]]:
    """An item's first paragraph (its Markdown, as lines), and the rest of its source lines: what is
    nested in it, less the items rendered on their own (a list-item field's children)."""
    first = item.raw.split("\n")
    inner = [(other.line, other.end) for other in owned if item.line < other.line <= item.end]
    rest = [lines[n - 1] for n in range(item.line + len(first), item.end + 1)
            if not any(low <= n <= high for low, high in inner)]
    while rest and not rest[-1].strip():
        rest.pop()
    return first, rest


def _placed(marker: str, first: list[str], rest: list[str], column: int) -> Iterator[str]:
    """The item under its new marker; nested lines moved by as much as its content column moved
    (the column after the marker: a `[ ]` box is content)."""
    pad = " " * len(marker)
    yield f"{marker}{first[0]}".rstrip()
    # A paragraph's lines lose their leading blanks in Markdown: the pad alone indents them.
    yield from (f"{pad}{line.lstrip()}" for line in first[1:])
    shift = len(marker) - column
    for line in rest:
        if not line.strip():
            yield ""
        elif shift >= 0:
            yield " " * shift + line
        else:
            yield line[min(-shift, len(line) - len(line.lstrip(" "))):]


def _content_column(line: str) -> int:
    match = _MARKER_RE.match(line)
    return len(match.group(0)) if match else 0
