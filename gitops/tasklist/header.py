"""The header: the fields above the first Phase or Task heading (project, totals, defaults)."""
from __future__ import annotations

import re
from types import MappingProxyType
from typing import Mapping

from gitops.model import Header
from gitops.tasklist.diagnostics import Sink
from gitops.tasklist.fields import (
    Field,
    Reader,
    Unreadable,
    parse_hours,
    read_bool,
    read_fields,
    read_values,
)
from gitops.tasklist.markdown import Block
from gitops.tasklist.text import unmark

_TOTAL_RE = re.compile(r"([0-9]{1,9})(?:\s*tasks?)?(?:\s+(?:across|in|over)\s+([0-9]{1,9})\s*phases?)?\b.*", re.I | re.S)


def _read_total(value: str) -> tuple[int, int | None]:
    match = _TOTAL_RE.fullmatch(unmark(value))
    if not match:
        raise Unreadable("write it like 10 tasks across 5 phases")
    phases = match.group(2)
    return int(match.group(1)), int(phases) if phases else None


_READERS: Mapping[str, Reader] = {
    "project": unmark,
    "total_tasks": _read_total,
    "estimated_time": unmark,
    "auto_advance": read_bool,
    "pause_after": read_bool,
}


def read_header(blocks: list[Block], sink: Sink) -> Header:
    """The header's fields from the blocks before the task area; the first value of each wins."""
    first: dict[str, Field] = {}
    for block in blocks:
        if block.kind == "paragraph":
            for item in read_fields(block.lines, block.line):
                first.setdefault(item.key, item)  # the first value wins, as for task fields
    values = read_values(_READERS, first.values(), sink, "the header")
    total = values.pop("total_tasks", (None, None))
    assert isinstance(total, tuple)
    estimated = values.get("estimated_time")
    return Header(total_tasks=total[0], total_phases=total[1],
                  line_of=MappingProxyType({key: item.line for key, item in first.items()}),
                  estimated_hours=parse_hours(estimated if isinstance(estimated, str) else None),
                  **values)  # type: ignore[arg-type]
