"""Tasks written as list items: `- **Task 1.1**: Title (1 hour) - Auto-advance: yes`, `- T1: Title`.

The item's text is the task's heading; ` - Name: value` parts after the title and a duration in
parentheses are its fields; nested items are fields (`- **Done when**: ...`), criteria (`- [ ] ...`)
or, plain, steps.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from gitops.tasklist.fields import LIST_FIELDS, Field, field_key, split_fields
from gitops.tasklist.headings import task_heading
from gitops.tasklist.markdown import Item
from gitops.tasklist.text import CHECKBOX_RE

# the fields a ` - Name: value` part of the item's line may set
_INLINE_FIELDS = frozenset({"auto_advance", "pause_after", "priority", "estimated_time",
                            "dependencies", "status", "run"})
_PART_RE = re.compile(r"\s+[-–—|]\s+")
_NAMED_RE = re.compile(r"([^:]{1,40}):\s*(.*)", re.S)
_DURATION_RE = re.compile(
    r"(.*?)\s*\(\s*([0-9][0-9.,\s–-]*\s*(?:h|hrs?|hours?|m|mins?|minutes?|d|days?|w|weeks?))\s*\)", re.I | re.S)


@dataclass(frozen=True)
class ItemTask:
    task_id: str
    title: str
    line: int
    status_mark: str | None
    fields: tuple[Field, ...]
    item: Item


def item_task(item: Item) -> ItemTask | None:
    """The task a list item writes, or None when it is not one."""
    text, mark = item.text, None
    if box := CHECKBOX_RE.fullmatch(text):
        text, mark = box.group(2), "x" if box.group(1).lower() == "x" else " "
    heading = task_heading(text, item.raw)
    if heading is None:
        return None
    title, fields = _title_fields(heading.title, item.line)
    fields += _nested(item)
    return ItemTask(heading.task_id, title or f"Task {heading.task_id}", item.line,
                    mark if mark is not None else heading.status_mark, tuple(fields), item)


def _title_fields(text: str, line: int) -> tuple[str, list[Field]]:
    kept: list[str] = []
    fields: list[Field] = []
    for part in _PART_RE.split(text):
        named = _NAMED_RE.fullmatch(part)
        if kept and named and field_key(named.group(1)) in _INLINE_FIELDS:
            fields.append(Field(field_key(named.group(1)), named.group(1).strip(), named.group(2).strip(), line,
                                source=[(line, line)]))
        else:
            kept.append(part)
    title = " - ".join(kept).strip()
    if (duration := _DURATION_RE.fullmatch(title)) and duration.group(1):
        title = duration.group(1).strip()
        fields.append(Field("estimated_time", "Estimated Time", duration.group(2).strip(), line,
                            source=[(line, line)]))
    return title, fields


def _nested(item: Item) -> list[Field]:
    fields: list[Field] = []
    current: Field | None = None  # the list field that nested items after it belong to
    loose: dict[str, Field] = {}  # criteria and steps under no field
    for child in item.children:
        first = child.raw.split("\n")[0]
        if parts := split_fields(first):
            for name, value in parts:
                # Its first line only: the value is read from it, what follows is text (kept by fmt).
                fields.append(Field(field_key(name), name, value.strip(), child.line,
                                    source=[(child.line, child.line)]))
            current = fields[-1] if fields[-1].key in LIST_FIELDS else None
            continue
        if current is not None:
            current.items.append((child.text, child.line))
            current.source.append((child.line, child.end))
            continue
        key, name = ("done_when", "Done when") if CHECKBOX_RE.fullmatch(child.text) else ("do", "Do")
        if key not in loose:
            loose[key] = Field(key, name, "", child.line)
            fields.append(loose[key])
        loose[key].items.append((child.text, child.line))
        loose[key].source.append((child.line, child.end))
    return fields
