"""**Dependencies** values as people write them: task ids, ranges, and things that are not tasks.

`None`; `Task 1.1`; `1.1, T-1`; `T1`; `A1`; ranges `C1-C3`, `T-1..T-3`, `T1–T3`; `All previous
tasks`; and, not waited on, `Phase 1 completion`, backlog items (`B-1006-A completion`) and free
text (`DB reachable`). Which ids are this list's tasks is known only once every task is read, so
this reads references and `task_area` resolves them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from gitops.tasklist.fields import without_notes
from gitops.tasklist.ids import END, ID, expand_range, normalise
from gitops.tasklist.text import unmark

_NONE = ("", "none", "n/a", "-", "—", "–", "nothing", "no dependencies")
_DONE = r"(?:\s+(?i:completion|complete|completed|done|finished))?"
_TASK_RE = re.compile(rf"(?:(?i:tasks?)\s+)?(?P<id>{ID}){END}{_DONE}")
_RANGE_RE = re.compile(rf"(?:(?i:tasks?)\s+)?(?P<first>{ID})\s*(?:\.\.\.?|-|–|—|\s(?i:to|through)\s)\s*"
                       rf"(?:(?i:task)\s+)?(?P<last>{ID}){END}{_DONE}")
_PHASE_RE = re.compile(r"(?i:phase)\s+[0-9]{1,9}\b.*", re.S)
_BACKLOG_RE = re.compile(r"[A-Z][A-Z0-9]*-[0-9]{1,9}\S*(?:\s+\S+){0,2}", re.S)
_PREVIOUS_RE = re.compile(r"(?:all\s+)?(?:previous|prior|preceding|earlier|above)\s+tasks?(?:\s+.*)?|"
                          r"all\s+tasks\s+(?:above|before)(?:\s+.*)?", re.I | re.S)
_SPLIT_RE = re.compile(r",|;|&|\+|\band\b", re.I)


@dataclass(frozen=True)
class Reference:
    """One part of a Dependencies value: kind "task" (an id of some task list), "previous" (every
    task above), "phase", "backlog" or "text"; `text` is the id or the words as written."""

    kind: str
    text: str


def read_dependencies(value: str) -> tuple[Reference, ...]:
    """The references in a Dependencies value, in order; ranges expanded. Never unreadable:
    what is not an id is kept as text."""
    text = without_notes(unmark(value).replace("`", "")).strip().rstrip(".")
    if text.lower() in _NONE:
        return ()
    found: list[Reference] = []
    for part in _SPLIT_RE.split(text):
        part = " ".join(part.split())
        if part:
            found.extend(_references(part))
    return tuple(dict.fromkeys(found))


def _references(part: str) -> list[Reference]:
    if match := _TASK_RE.fullmatch(part):
        return [Reference("task", normalise(match.group("id")))]
    if (match := _RANGE_RE.fullmatch(part)) and (ids := expand_range(match.group("first"),
                                                                      match.group("last"))):
        return [Reference("task", normalise(task_id)) for task_id in ids]
    if _PREVIOUS_RE.fullmatch(part):
        return [Reference("previous", part)]
    if _PHASE_RE.fullmatch(part):
        return [Reference("phase", part)]
    if _BACKLOG_RE.fullmatch(part):
        return [Reference("backlog", part)]
    return [Reference("text", part)]
