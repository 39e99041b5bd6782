"""A task as read from the source (a draft: its fields as written, with their source lines) and
the Task its values make: criteria, steps, statuses, and which dependencies are waited on."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from gitops.model import Criterion, ExternalDependency, Task
from gitops.tasklist.dependencies import Reference, read_dependencies
from gitops.tasklist.diagnostics import Sink
from gitops.tasklist.fields import (
    FURTHER_CRITERIA,
    LIST_FIELDS,
    Field,
    Reader,
    read_bool,
    read_prompt,
    read_run,
    read_status,
    read_values,
)
from gitops.tasklist.ids import Resolver, prefix_of
from gitops.tasklist.markdown import Item
from gitops.tasklist.text import CHECKBOX_RE, strip_emoji, unbold, unmark

READERS: Mapping[str, Reader] = {
    # without emoji: `🔴 Critical` must meet the safety rule for Critical tasks (plan/policy.py)
    "priority": lambda value: strip_emoji(unmark(value)),
    "estimated_time": unmark,
    "dependencies": read_dependencies,
    "status": read_status,
    "auto_advance": read_bool,
    "pause_after": read_bool,
    "when_ready_prompt": read_prompt,
    "run": read_run,
}
TASK_FIELDS = frozenset({*READERS, *LIST_FIELDS})
# `Auto-advance: yes` inside another field's value (_compound)
_COMPOUND_RES = (("auto_advance", re.compile(r"\bauto[- ]?advance\s*:\s*(yes|no|true|false)\b", re.I)),
                 ("pause_after", re.compile(r"\b(?:pause[- ]?after|smart[- ]?pause)\s*:\s*(yes|no|true|false)\b", re.I)))
_ATTRIBUTES = {"status": "status_mark"}  # field key -> Task attribute, where they differ


@dataclass
class Draft:
    """A task as read from the source, before its values are read: `gitops fmt` rewrites it."""

    id: str
    title: str
    phase: int
    line: int
    implicit: bool = False
    item: Item | None = None  # a task written as a list item: that item
    unused: list[Field] = field(default_factory=list)  # fields set a second time (ignored, kept by fmt)
    heading_mark: str | None = None  # a status marker on the heading (`✅ COMPLETED`)
    fields: dict[str, Field] = field(default_factory=dict)
    lists: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # list field key -> items


@dataclass
class PhaseDraft:
    number: int
    title: str
    line: int
    synthetic: bool = False  # made for tasks that have no Phase heading above them
    task_ids: list[str] = field(default_factory=list)


def criterion(text: str, line: int, kind: str = "done_when") -> Criterion:
    """One criteria item: `[ ]`, `[x]`, `[✅]` or a plain bullet (not checked), bold removed."""
    text = unbold(text)
    if match := CHECKBOX_RE.fullmatch(text):
        return Criterion(match.group(2).strip(), line, match.group(1).lower() in ("x", "✅"), kind)
    return Criterion(text.strip(), line, kind=kind)


def to_task(draft: Draft, sink: Sink, families: set[str], resolver: Resolver,
            earlier: Mapping[str, Task]) -> Task:
    """The task a draft writes, its values read. `earlier`: the tasks above this one (`All previous
    tasks`), read only when named: a copy per task made reading 10,000 tasks quadratic."""
    values = read_values(READERS, draft.fields.values(), sink, f"Task {draft.id}")
    if "status" not in values and draft.heading_mark is not None:
        values["status"] = draft.heading_mark
    values.update(_compound(draft, values))
    references = values.pop("dependencies", ())
    assert isinstance(references, tuple)
    blocking, external = _dependencies(draft, references, families, resolver, earlier, sink)
    attributes = {_ATTRIBUTES.get(key, key): value for key, value in values.items()}
    steps = draft.lists.get("do") if "do" in draft.fields else draft.lists.get("description", [])
    further = sorted((item.line, key) for key, item in draft.fields.items() if key in FURTHER_CRITERIA)
    return Task(
        id=draft.id, title=draft.title, phase=draft.phase, line=draft.line,
        do=tuple(unbold(text) for text, _ in steps or ()),
        done_when=tuple(criterion(text, line) for text, line in draft.lists.get("done_when", [])),
        further_criteria=tuple(criterion(text, line, key) for _, key in further
                               for text, line in draft.lists.get(key, [])),
        dependencies=blocking, external_dependencies=external, implicit=draft.implicit,
        field_lines=MappingProxyType({key: item.line for key, item in draft.fields.items()}),
        **attributes,  # type: ignore[arg-type]
    )


def _compound(draft: Draft, values: Mapping[str, object]) -> dict[str, object]:
    """Auto-Advance and Pause After said inside another field's value (`**Solo Optimization**:
    Auto-advance: yes, Context preservation: yes`), when the task does not set them itself."""
    found: dict[str, object] = {}
    for item in draft.fields.values():
        if item.key in TASK_FIELDS:
            continue
        for key, pattern in _COMPOUND_RES:
            if key not in values and key not in found and (match := pattern.search(unbold(item.value))):
                found[key] = match.group(1).lower() in ("yes", "true")
    return found


def _dependencies(draft: Draft, references: tuple[Reference, ...], families: set[str], resolver: Resolver,
                  earlier: Mapping[str, Task], sink: Sink
                  ) -> tuple[tuple[str, ...], tuple[ExternalDependency, ...]]:
    """Task ids waited on, and what is recorded but not waited on.

    A reference to one of this list's tasks as written or nearly (`T1` for `T-1`: ids.Resolver) is
    waited on; so is an id of a family this list uses (no letters, or the letters of one of its ids),
    defined or not (lint reports an undefined one); `B-1006` in a list of `T-` ids is a backlog item.
    """
    blocking: list[str] = []
    external: list[ExternalDependency] = []
    line = draft.fields["dependencies"].line if "dependencies" in draft.fields else draft.line
    for reference in references:
        if reference.kind == "previous":
            blocking.extend(earlier)
        elif reference.kind == "task" and (resolved := resolver.resolve(reference.text)):
            blocking.append(resolved)
        elif reference.kind == "task" and prefix_of(reference.text).rstrip("-") in families | {""}:
            blocking.append(reference.text)
        elif reference.kind == "task":
            external.append(ExternalDependency("backlog", reference.text))
        else:
            external.append(ExternalDependency(reference.kind, reference.text))
            if reference.kind == "text":
                sink.warning(line, f"Task {draft.id} depends on {reference.text!r}, which is not a "
                                   "task id: it is shown and not waited on; if it means a task, "
                                   "write its id (like Task 1.1)")
    return tuple(dict.fromkeys(blocking)), tuple(dict.fromkeys(external))
