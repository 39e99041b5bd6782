"""The task area: Phase and Task headings and the fields under them, read into Phases and Tasks.

Fields come as `**Name**: value` lines, as list items (`- **Name**: value`, with a nested list
for a list field) or as sub-headings (`#### Acceptance Criteria:` followed by a list); a task may
also be a list item (`- **Task 1.1**: Title (1 hour) - Auto-advance: yes`, `task_items`).
"""
from __future__ import annotations

import re

from gitops.model import Phase, Task
from gitops.tasklist.diagnostics import Sink
from gitops.tasklist.drafts import READERS, TASK_FIELDS, Draft, PhaseDraft, to_task
from gitops.tasklist.fields import (
    LIST_FIELDS,
    Field,
    field_key,
    name_key,
    read_fields,
    split_fields,
)
from gitops.tasklist.ids import Resolver, phase_of, prefix_of
from gitops.tasklist.markdown import Block
from gitops.tasklist.task_items import item_task

# The seed's field names: under a phase heading with no task heading they make an implicit task.
# Not the synonyms: a phase's own `**Duration**: 2 days` or `**Description**:` is not a task body.
_IMPLICIT_TRIGGERS = frozenset({*READERS, "depends_on", "do", "done_when"})
# "Task" and then something with a digit (any script's: `\d` matches ١): a heading a person meant
# as a task. When it is not read as one, its fields would silently join the task above it.
_TASKLIKE_RE = re.compile(r"task\s+[^\s:]*\d", re.I)
# `Phase 1 Quality Gates`: a section about a phase inside the task area, which it does not end.
_PHASELIKE_RE = re.compile(r"phase\s+[0-9]", re.I)
# `## Exit Criteria` between two phases: a section of the phase above, not the end of the tasks.
_PHASE_SECTION_RE = re.compile(r"(?:exit|entry|success|acceptance)\s+criteria|quality\s+gates?|deliverables|"
                               r"checkpoints?|milestones?|phase\s+review", re.I)
def field_heading(block: Block) -> str | None:
    """The list field a sub-heading opens (`#### Acceptance Criteria:` -> done_when), else None."""
    if block.kind != "heading":
        return None
    key = field_key(block.text.rstrip(": "))
    return key if key in LIST_FIELDS else None


def task_area(blocks: list[Block]) -> tuple[int, int]:
    """Index of the first Phase/Task heading and of the heading that ends the task area."""
    start = next((i for i, b in enumerate(blocks) if b.kind in ("phase", "task")), None)
    if start is None:
        # No Phase or Task heading: tasks only as list items (`1. **Task 1**: Title` under `## Tasks`).
        start = next((i for i, b in enumerate(blocks) if b.kind == "list" and b.items
                      and all(item_task(item) for item in b.items)), len(blocks))
    last_phase = max((i for i, b in enumerate(blocks) if b.kind == "phase"), default=-1)
    level, phase_seen = None, False
    for index in range(start, len(blocks)):
        block = blocks[index]
        if block.kind == "phase" and not phase_seen:
            level, phase_seen = block.level, True
        elif block.kind == "task" and level is None:
            level = block.level
        elif (block.kind == "heading" and level is not None and block.level <= level
              and not _PHASELIKE_RE.match(block.text)
              and not (index < last_phase and _PHASE_SECTION_RE.fullmatch(block.text.rstrip(": ")))
              # tasks with no phase above them: `#### Acceptance Criteria:` beside `#### Task 1.1`
              and not (not phase_seen and block.level == level and field_heading(block))):
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


def read_tasks(blocks: list[Block], sink: Sink) -> tuple[tuple[Phase, ...], dict[str, Task], TaskWalker]:
    """Phases and tasks (by id, in order) from the task-area blocks, and the walker's drafts."""
    walker = walk(blocks, sink)
    kept: dict[str, Draft] = {}
    for draft in walker.drafts:
        first = kept.get(draft.id)
        if first is not None:
            sink.error(draft.line, f"duplicate task id {draft.id}: Task {draft.id} is defined at "
                                   f"line {first.line} and again at line {draft.line}; give one of "
                                   "them a new id (this one is ignored)")
            continue
        kept[draft.id] = draft
        walker.phases[draft.phase].task_ids.append(draft.id)
    # Which references are this list's tasks is known only now that every id is.
    families = {prefix_of(task_id).rstrip("-") for task_id in kept}
    resolver = Resolver(kept)
    tasks: dict[str, Task] = {}
    for draft in kept.values():
        tasks[draft.id] = to_task(draft, sink, families, resolver, tasks)
    phases = tuple(Phase(p.number, p.title, p.line, tuple(p.task_ids)) for p in walker.phases.values())
    return phases, tasks, walker


def walk(blocks: list[Block], sink: Sink) -> TaskWalker:
    """The phase and task drafts of the task-area blocks, as written (duplicates included)."""
    walker = TaskWalker(sink)
    for block in blocks:
        walker.visit(block)
    return walker


class TaskWalker:
    """Walks the task-area blocks in order, building phase and task drafts."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.phases: dict[int, PhaseDraft] = {}
        self.drafts: list[Draft] = []
        self.phase: int | None = None
        self.task: Draft | None = None
        self.pending: Field | None = None  # a list field waiting for its list
        self.task_level: int | None = None  # the level of the task headings
        # A heading where task headings are, without an id (`#### Set up the database`): the
        # fields under it are its own, not the task's above (30 such headings in the survey).
        self.untitled: Block | None = None

    def visit(self, block: Block) -> None:
        pending, self.pending = self.pending, None
        if block.kind == "phase":
            self._phase(block)
        elif block.kind == "task":
            self._task(block.key, block.title, block.line, block.mark)
            self.task_level = block.level
        elif block.kind == "heading" and _TASKLIKE_RE.match(block.text):
            self._not_a_task(block)
        elif (key := field_heading(block)) and self.task is not None:
            self._field_heading(self.task, key, block)
        elif block.kind == "heading" and block.level == self.task_level and not field_heading(block):
            self.task, self.untitled = None, block
        elif block.kind == "paragraph":
            self._paragraph(block)
        elif block.kind == "list" and pending is not None:
            pending.source.append((block.line, block.end))
            self._list(pending.key, [(i.text, i.line) for i in block.items])
        elif block.kind == "list":
            self._list_block(block)

    def _phase(self, block: Block) -> None:
        number, self.task, self.untitled = int(block.key), None, None
        self.phase = number
        known = self.phases.get(number)
        if known is None:
            self.phases[number] = PhaseDraft(number, block.title, block.line)
        elif known.synthetic:
            known.title, known.line, known.synthetic = block.title, block.line, False
        else:
            self.sink.warning(block.line, f"Phase {number} is used twice (lines {known.line} and "
                                          f"{block.line}); its tasks are read as one phase titled "
                                          f"{known.title!r}; renumber or merge the phases")

    def _task(self, task_id: str, title: str, line: int, mark: str | None) -> Draft:
        number = self.phase
        if number is None:
            # `T-2.1` belongs to Phase 2; `T-3` or `A1` names no phase: one phase holds them.
            number = phase_of(task_id) or 1
            if number not in self.phases:
                self.phases[number] = PhaseDraft(number, f"Phase {number}", line, True)
                self.sink.warning(line, f"Task {task_id} is not under a Phase heading and "
                                        f"is read as part of Phase {number}; add a "
                                        f"`Phase {number}: Title` heading above it")
        self.task, self.untitled = Draft(task_id, title, number, line, heading_mark=mark), None
        self.drafts.append(self.task)
        return self.task

    def _not_a_task(self, block: Block) -> None:
        joins = f"would be read as part of Task {self.task.id}" if self.task else "would be ignored"
        self.sink.error(block.line, f"`{block.text}` is not read as a task: a task id is one or two numbers "
                                    f"in ASCII digits, optionally after capital letters, like Task 1.2, "
                                    f"Task 3, T-1.1 or A1, and its fields {joins}. Give it an id like "
                                    "that, or reword the heading if it is not a task")

    def _field_heading(self, task: Draft, key: str, block: Block) -> None:
        item = Field(key, block.text.rstrip(": "), "", block.line, source=[(block.line, block.end)])
        if self._add_field(task, item):
            self.pending = item

    def _paragraph(self, block: Block) -> None:
        found = read_fields(block.lines, block.line)
        if self.task is None and self.untitled is not None:
            self._untitled_fields(found)
            return
        if (self.task is None and self.phase is not None
                and any(name_key(f.name) in _IMPLICIT_TRIGGERS for f in found)):
            self._implicit_task(self.phase, found[0].line)
        if self.task is None or not found:
            return
        for item in found:
            self._add_field(self.task, item)
        last = found[-1]
        if last.key in LIST_FIELDS and self.task.fields.get(last.key) is last:
            self.pending = last

    def _list_block(self, block: Block) -> None:
        """A list that follows no list field: tasks as list items, or fields as list items."""
        tasks = [item_task(item) for item in block.items]
        defined = {draft.id for draft in self.drafts}
        # A list naming tasks that headings already define is a summary of them, not tasks.
        if tasks and all(tasks) and not any(read.task_id in defined for read in tasks if read):
            for read in tasks:
                assert read is not None
                draft = self._task(read.task_id, read.title, read.line, read.status_mark)
                draft.item = read.item
                for item in read.fields:
                    self._add_field(draft, item)
            return
        if self.task is None:
            if self.untitled is not None:
                self._untitled_fields([Field(field_key(name), name, value, entry.line) for entry in block.items
                                       for name, value in split_fields(entry.raw.split("\n")[0])])
            return
        for entry in block.items:
            for name, value in split_fields(entry.raw.split("\n")[0]):
                key = field_key(name)
                # A list field's nested items are its list; under another field they are text.
                nested = entry.children if key in LIST_FIELDS else []
                item = Field(key, name, value.strip(), entry.line, [(child.text, child.line) for child in nested],
                             [(entry.line, entry.line), *((child.line, child.end) for child in nested)])
                self._add_field(self.task, item)

    def _untitled_fields(self, found: list[Field]) -> None:
        heading = self.untitled
        if heading is None or not any(item.key in TASK_FIELDS for item in found):
            return
        self.untitled = None  # one warning per heading
        self.sink.tolerated(heading.line, f"`{heading.text}` has task fields but no task id, so it is not "
                                          "read as a task and does not run; give it an id, like "
                                          f"`Task <id>: {heading.text}`, or remove its fields")

    def _implicit_task(self, number: int, line: int) -> None:
        phase = self.phases[number]
        task_id = f"{phase.number}.1"
        self.sink.warning(line, f"Phase {phase.number} has a task body but no Task heading; it is "
                                f"read as Task {task_id} {phase.title!r}; add a heading like "
                                f"`Task {task_id}: {phase.title}` above line {line}")
        self.task = Draft(task_id, phase.title, phase.number, line, implicit=True)
        self.drafts.append(self.task)

    def _add_field(self, task: Draft, item: Field) -> bool:
        earlier = task.fields.get(item.key)
        if earlier is not None:
            if earlier.name.lower() == item.name.lower():
                problem = f"sets **{item.name}** twice (lines {earlier.line} and {item.line})"
            else:
                problem = (f"sets **{earlier.name}** (line {earlier.line}) and **{item.name}** "
                           f"(line {item.line}), which mean the same")
            self.sink.warning(item.line, f"Task {task.id} {problem}; the first one is used; "
                                         "delete the other")
            task.unused.append(item)
            return False
        task.fields[item.key] = item
        if item.key in LIST_FIELDS:
            inline = [(item.value, item.line)] if item.value else []
            task.lists.setdefault(item.key, []).extend(inline + item.items)
        return True

    def _list(self, key: str, items: list[tuple[str, int]]) -> None:
        assert self.task is not None  # a list is only read after a task's list field
        self.task.lists.setdefault(key, []).extend(items)
