"""The task area: Phase and Task headings and the fields under them, read into Phases and Tasks."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from gitops.model import Criterion, Phase, Task
from gitops.tasklist.diagnostics import Sink
from gitops.tasklist.fields import (
    LIST_FIELDS,
    Field,
    Reader,
    read_bool,
    read_dependencies,
    read_fields,
    read_prompt,
    read_run,
    read_status,
    read_values,
)
from gitops.tasklist.ids import phase_of
from gitops.tasklist.markdown import Block
from gitops.tasklist.text import CHECKBOX_RE, unbold, unmark

_READERS: Mapping[str, Reader] = {
    "priority": unmark,
    "estimated_time": unmark,
    "dependencies": read_dependencies,
    "status": read_status,
    "auto_advance": read_bool,
    "pause_after": read_bool,
    "when_ready_prompt": read_prompt,
    "run": read_run,
}
_TASK_FIELDS = frozenset({*_READERS, *LIST_FIELDS})
# "Task" and then something with a digit (any script's: `\d` matches ١): a heading a person meant
# as a task. When it is not read as one, its fields would silently join the task above it.
_TASKLIKE_RE = re.compile(r"task\s+[^\s:]*\d", re.I)
# `Phase 1 Quality Gates`: a section about a phase inside the task area, which it does not end.
_PHASELIKE_RE = re.compile(r"phase\s+[0-9]", re.I)
_ATTRIBUTES = {"status": "status_mark"}  # field key -> Task attribute, where they differ


def task_area(blocks: list[Block]) -> tuple[int, int]:
    """Index of the first Phase/Task heading and of the heading that ends the task area."""
    start = next((i for i, b in enumerate(blocks) if b.kind in ("phase", "task")), len(blocks))
    level, phase_seen = None, False
    for index in range(start, len(blocks)):
        block = blocks[index]
        if block.kind == "phase" and not phase_seen:
            level, phase_seen = block.level, True
        elif block.kind == "task" and level is None:
            level = block.level
        elif (block.kind == "heading" and level is not None and block.level <= level
              and not _PHASELIKE_RE.match(block.text)):
            return start, index
    return start, len(blocks)


def warn_ignored_headings(blocks: list[Block], end: int, sink: Sink) -> None:
    """Warn about Phase/Task headings after the heading that ended the task area."""
    if end == len(blocks):
        return
    closer = blocks[end]
    for block in blocks[end + 1:]:
        if block.kind in ("phase", "task"):
            sink.warning(block.line, f"{block.text!r} comes after the task list ended at line "
                                     f"{closer.line} ({closer.text!r}) and is ignored; move it "
                                     "above that heading")


def read_tasks(blocks: list[Block], sink: Sink) -> tuple[tuple[Phase, ...], dict[str, Task]]:
    """Phases and tasks (by id, in order) from the task-area blocks."""
    walker = _TaskWalker(sink)
    for block in blocks:
        walker.visit(block)
    tasks: dict[str, Task] = {}
    for draft in walker.drafts:
        first = tasks.get(draft.id)
        if first is not None:
            sink.error(draft.line, f"duplicate task id {draft.id}: Task {draft.id} is defined at "
                                   f"line {first.line} and again at line {draft.line}; give one of "
                                   "them a new id (this one is ignored)")
            continue
        tasks[draft.id] = _task(draft, sink)
        walker.phases[draft.phase].task_ids.append(draft.id)
    phases = tuple(Phase(p.number, p.title, p.line, tuple(p.task_ids)) for p in walker.phases.values())
    return phases, tasks


@dataclass
class _Draft:
    id: str
    title: str
    phase: int
    line: int
    implicit: bool = False
    heading_mark: str | None = None  # a status marker on the heading (`✅ COMPLETED`)
    fields: dict[str, Field] = field(default_factory=dict)
    do: list[str] = field(default_factory=list)
    done_when: list[Criterion] = field(default_factory=list)


@dataclass
class _PhaseDraft:
    number: int
    title: str
    line: int
    synthetic: bool = False  # made for tasks that have no Phase heading above them
    task_ids: list[str] = field(default_factory=list)


class _TaskWalker:
    """Walks the task-area blocks in order, building phase and task drafts."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.phases: dict[int, _PhaseDraft] = {}
        self.drafts: list[_Draft] = []
        self.phase: int | None = None
        self.task: _Draft | None = None
        self.pending: Field | None = None  # a Do/Done-when field waiting for its list

    def visit(self, block: Block) -> None:
        pending, self.pending = self.pending, None
        if block.kind == "phase":
            self._phase(block)
        elif block.kind == "task":
            self._task(block)
        elif block.kind == "heading" and _TASKLIKE_RE.match(block.text):
            self._not_a_task(block)
        elif block.kind == "paragraph":
            self._paragraph(block)
        elif block.kind == "list" and pending is not None:
            self._list(pending.key, [(i.text, i.line) for i in block.items])

    def _phase(self, block: Block) -> None:
        number, self.task = int(block.key), None
        self.phase = number
        known = self.phases.get(number)
        if known is None:
            self.phases[number] = _PhaseDraft(number, block.title, block.line)
        elif known.synthetic:
            known.title, known.line, known.synthetic = block.title, block.line, False
        else:
            self.sink.warning(block.line, f"Phase {number} is used twice (lines {known.line} and "
                                          f"{block.line}); its tasks are read as one phase titled "
                                          f"{known.title!r}; renumber or merge the phases")

    def _task(self, block: Block) -> None:
        number = self.phase
        if number is None:
            # `T-2.1` belongs to Phase 2; `T-3` or `A1` names no phase: one phase holds them.
            number = phase_of(block.key) or 1
            if number not in self.phases:
                self.phases[number] = _PhaseDraft(number, f"Phase {number}", block.line, True)
                self.sink.warning(block.line, f"Task {block.key} is not under a Phase heading and "
                                              f"is read as part of Phase {number}; add a "
                                              f"`Phase {number}: Title` heading above it")
        self.task = _Draft(block.key, block.title, number, block.line, heading_mark=block.mark)
        self.drafts.append(self.task)

    def _not_a_task(self, block: Block) -> None:
        joins = f"would be read as part of Task {self.task.id}" if self.task else "would be ignored"
        self.sink.error(block.line, f"`{block.text}` is not read as a task: a task id is one or two numbers "
                                    f"in ASCII digits, optionally after capital letters, like Task 1.2, "
                                    f"Task 3, T-1.1 or A1, and its fields {joins}. Give it an id like "
                                    "that, or reword the heading if it is not a task")

    def _paragraph(self, block: Block) -> None:
        found = read_fields(block.lines, block.line)
        if self.task is None and self.phase is not None and any(f.key in _TASK_FIELDS for f in found):
            self._implicit_task(self.phase, found[0].line)
        if self.task is None or not found:
            return
        for item in found:
            self._add_field(self.task, item)
        last = found[-1]
        if last.key in LIST_FIELDS and self.task.fields.get(last.key) is last:
            self.pending = last

    def _implicit_task(self, number: int, line: int) -> None:
        phase = self.phases[number]
        task_id = f"{phase.number}.1"
        self.sink.warning(line, f"Phase {phase.number} has a task body but no Task heading; it is "
                                f"read as Task {task_id} {phase.title!r}; add a heading like "
                                f"`Task {task_id}: {phase.title}` above line {line}")
        self.task = _Draft(task_id, phase.title, phase.number, line, implicit=True)
        self.drafts.append(self.task)

    def _add_field(self, task: _Draft, item: Field) -> None:
        earlier = task.fields.get(item.key)
        if earlier is not None:
            self.sink.warning(item.line, f"Task {task.id} sets **{item.name}** twice (lines "
                                         f"{earlier.line} and {item.line}); the first one is used; "
                                         "delete the other")
            return
        task.fields[item.key] = item
        if item.key in LIST_FIELDS:
            inline = [(item.value, item.line)] if item.value else []
            self._list(item.key, inline + item.items)

    def _list(self, key: str, items: list[tuple[str, int]]) -> None:
        assert self.task is not None  # a list is only read after a task's Do/Done-when field
        for text, line in items:
            if key == "do":
                self.task.do.append(unbold(text))
            else:
                self.task.done_when.append(_criterion(text, line))


def _criterion(text: str, line: int) -> Criterion:
    text = unbold(text)
    if match := CHECKBOX_RE.fullmatch(text):
        return Criterion(match.group(2).strip(), line, match.group(1).lower() == "x")
    return Criterion(text.strip(), line)


def _task(draft: _Draft, sink: Sink) -> Task:
    values = read_values(_READERS, draft.fields.values(), sink, f"Task {draft.id}")
    if "status" not in values and draft.heading_mark is not None:
        values["status"] = draft.heading_mark
    attributes = {_ATTRIBUTES.get(key, key): value for key, value in values.items()}
    return Task(
        id=draft.id, title=draft.title, phase=draft.phase, line=draft.line,
        do=tuple(draft.do), done_when=tuple(draft.done_when), implicit=draft.implicit,
        field_lines=MappingProxyType({key: item.line for key, item in draft.fields.items()}),
        **attributes,  # type: ignore[arg-type]
    )
