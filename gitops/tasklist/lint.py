"""Consistency checks on a parsed task list: the dependency graph, counts, checkpoints."""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Iterable, Iterator

from gitops.model import Diagnostic, Severity, Task, TaskList
from gitops.tasklist.fields import parse_hours
from gitops.tasklist.ids import phase_of, prefix_of

_Check = Callable[[TaskList], Iterator[Diagnostic]]


def lint(tasklist: TaskList, parse_diagnostics: list[Diagnostic],
         handler_ids: frozenset[str] | None = None,
         handler_diagnostics: Iterable[Diagnostic] = (), strict: bool = False) -> list[Diagnostic]:
    """All diagnostics for a task list (the parser's, the handler lint's (handler_lint.py) plus
    these checks), by line then severity.

    An error is what stops a run (`gitops run` refuses a task list with errors): a cycle, a
    dependency on an undefined task (an id of this list's form; other references are recorded, not
    waited on), a duplicate id, no task at all. A task with no Done-when criteria does not: it runs
    as manual, so it is a warning unless `strict` (the rules the seed's dialect was held to: every
    task says how it is checked), as is a value that cannot be read (left out, as if not written).
    """
    found = [replace(d, severity=Severity.ERROR) if strict and d.strict else d
             for d in (*parse_diagnostics, *handler_diagnostics)]
    for check in _CHECKS:
        found.extend(check(tasklist))
    found.extend(_missing_criteria(tasklist, strict))
    if handler_ids is not None:
        found.extend(_manual_tasks(tasklist, handler_ids))
    return sorted(found, key=lambda d: (d.line, d.severity != Severity.ERROR))


def _error(tasklist: TaskList, line: int, message: str) -> Diagnostic:
    return Diagnostic(tasklist.path, line, Severity.ERROR, message)


def _warning(tasklist: TaskList, line: int, message: str) -> Diagnostic:
    return Diagnostic(tasklist.path, line, Severity.WARNING, message)


def _line(task: Task, *fields: str) -> int:
    """Line of the first of `fields` the task has, else of its heading."""
    return next((task.field_lines[f] for f in fields if f in task.field_lines), task.line)


def _unknown_dependencies(tasklist: TaskList) -> Iterator[Diagnostic]:
    for task in tasklist.tasks.values():
        for dep in task.dependencies:
            if dep not in tasklist.tasks:
                yield _error(tasklist, _line(task, "dependencies"),
                             f"Task {task.id} depends on Task {dep}, which is not defined; fix "
                             f"**Dependencies** or add a Task {dep} heading")


def _later_phase_dependencies(tasklist: TaskList) -> Iterator[Diagnostic]:
    """A task that waits for a task of a later phase never runs: that phase starts only once
    every task before it is done (its gate), this one included."""
    order = {phase.number: index for index, phase in enumerate(tasklist.phases)}
    for task in tasklist.tasks.values():
        for dep in task.dependencies:
            other = tasklist.tasks.get(dep)
            if other is not None and order.get(other.phase, 0) > order.get(task.phase, 0):
                yield _error(tasklist, _line(task, "dependencies"),
                             f"Task {task.id} (Phase {task.phase}) depends on Task {dep} of a later phase "
                             f"(Phase {other.phase}), which starts only after Phase {task.phase} is done: "
                             f"neither could run. Move Task {task.id} to Phase {other.phase} or later, "
                             f"or drop the dependency")


def _cycles(tasklist: TaskList) -> Iterator[Diagnostic]:
    position = {task_id: index for index, task_id in enumerate(tasklist.tasks)}
    for cycle in _find_cycles(tasklist):
        # Start each cycle at its earliest task, so one cycle is one message whatever the entry.
        first = min(range(len(cycle)), key=lambda i: position[cycle[i]])
        ordered = cycle[first:] + cycle[:first]
        names = " -> ".join(f"Task {task_id}" for task_id in [*ordered, ordered[0]])
        yield _error(tasklist, _line(tasklist.tasks[ordered[0]], "dependencies"),
                     f"dependency cycle: {names}; remove one of these dependencies so the tasks "
                     "can run in order")


def _find_cycles(tasklist: TaskList) -> list[list[str]]:
    """Cycles met by a depth-first walk (iterative: long chains must not hit the recursion limit)."""
    cycles: dict[frozenset[str], list[str]] = {}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for root in tasklist.tasks:
        if root in state:
            continue
        path, stack = [root], [iter(tasklist.tasks[root].dependencies)]
        state[root] = 1
        while stack:
            dep = next(stack[-1], None)
            if dep is None:
                state[path.pop()] = 2
                stack.pop()
            elif dep in tasklist.tasks and dep not in state:
                state[dep] = 1
                path.append(dep)
                stack.append(iter(tasklist.tasks[dep].dependencies))
            elif state.get(dep) == 1:
                cycle = path[path.index(dep):]
                cycles.setdefault(frozenset(cycle), cycle)
    return list(cycles.values())


def _missing_criteria(tasklist: TaskList, strict: bool) -> Iterator[Diagnostic]:
    for task in tasklist.tasks.values():
        if task.done_when:
            continue
        if strict:
            yield _error(tasklist, task.line,
                         f"Task {task.id} has no **Done when** criteria; add `**Done when**:` "
                         "followed by `- [ ]` items that say how to check it")
            continue
        kinds = ", ".join(sorted({c.kind.replace("_", " ").title() for c in task.further_criteria}))
        shown = f" (its {kinds} are shown, not checked)" if kinds else ""
        yield _warning(tasklist, task.line,
                       f"Task {task.id} has no **Done when** criteria{shown}: it runs as manual, a person "
                       "signs it off at its checkpoint; add `**Done when**:` (or **Acceptance Criteria**:) "
                       "followed by `- [ ]` items to have it checked")


def _header_counts(tasklist: TaskList) -> Iterator[Diagnostic]:
    header = tasklist.header
    tasks, phases = len(tasklist.tasks), len(tasklist.phases)
    line = header.line_of.get("total_tasks", 1)
    fix = f'change **Total Tasks** to "{_count(tasks, "task")} across {_count(phases, "phase")}"'
    if header.total_tasks is not None and header.total_tasks != tasks:
        yield _warning(tasklist, line, f"the header says {header.total_tasks} tasks but the task "
                                       f"list defines {tasks}; {fix}")
    if header.total_phases is not None and header.total_phases != phases:
        yield _warning(tasklist, line, f"the header says {header.total_phases} phases but the task "
                                       f"list has {phases}; {fix}")
    yield from _header_hours(tasklist)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _header_hours(tasklist: TaskList) -> Iterator[Diagnostic]:
    header = tasklist.header
    hours = [parse_hours(task.estimated_time) for task in tasklist.tasks.values()]
    if header.estimated_hours is None or not hours or None in hours:
        return  # only comparable when every estimate reads as hours
    total = sum(h for h in hours if h is not None)
    if not math.isclose(total, header.estimated_hours):
        yield _warning(tasklist, header.line_of.get("estimated_time", 1),
                       f"the header's **Estimated Time** is {header.estimated_time!r} but the "
                       f"tasks' estimates add up to {total:g} hours; change it to "
                       f'"{total:g} hours"')


def _state_counts(tasklist: TaskList) -> Iterator[Diagnostic]:
    state = tasklist.initial_state or {}
    total = state.get("total_tasks")
    count = len(tasklist.tasks)
    # bool is an int subclass: `true` is not a count
    if isinstance(total, int) and not isinstance(total, bool) and total != count:
        line = tasklist.initial_state_lines.get("total_tasks", tasklist.initial_state_line or 1)
        yield _warning(tasklist, line, f"the Current State block says total_tasks is {total} but "
                                       f"the task list defines {count}; change it to {count}")


def _contradictions(tasklist: TaskList) -> Iterator[Diagnostic]:
    header = tasklist.header
    if header.auto_advance is not None and header.auto_advance == header.pause_after:
        yield _warning(tasklist, header.line_of.get("auto_advance", 1),
                       _contradiction("the header", header.auto_advance, ""))
    for task in tasklist.tasks.values():
        auto = header.auto_advance if task.auto_advance is None else task.auto_advance
        pause = header.pause_after if task.pause_after is None else task.pause_after
        if auto is not None and auto == pause:
            inherited = " (partly from the header's defaults)" if None in (
                task.auto_advance, task.pause_after) else ""
            yield _warning(tasklist, _line(task, "auto_advance", "pause_after"),
                           _contradiction(f"Task {task.id}", auto, inherited))


def _contradiction(owner: str, value: bool, inherited: str) -> str:
    word = "yes" if value else "no"
    fix = ("to pause after it set Auto-Advance: no, to continue set Pause After: no" if value
           else "to pause after it set Pause After: yes, to continue set Auto-Advance: yes")
    return (f"{owner} has Auto-Advance: {word} and Pause After: {word}{inherited}, which "
            f"contradict each other; {fix}")


def _misplaced(tasklist: TaskList) -> Iterator[Diagnostic]:
    for task in tasklist.tasks.values():
        major = phase_of(task.id)
        if major is not None and major != task.phase:
            yield _warning(tasklist, task.line,
                           f"Task {task.id} is under Phase {task.phase}; renumber it "
                           f"{prefix_of(task.id)}{task.phase}.<n> or move it under Phase {major}")


def _manual_tasks(tasklist: TaskList, handler_ids: frozenset[str]) -> Iterator[Diagnostic]:
    for task in tasklist.tasks.values():
        if task.id not in handler_ids and not task.run:
            yield _warning(tasklist, task.line,
                           f"Task {task.id} has neither a handler nor a **Run** command: it will "
                           "be manual (signed off at its checkpoint)")


_CHECKS: tuple[_Check, ...] = (
    _unknown_dependencies,
    _later_phase_dependencies,
    _cycles,
    _header_counts,
    _state_counts,
    _contradictions,
    _misplaced,
)
