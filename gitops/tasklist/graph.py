"""What a task list means, as a comparable value: `gitops fmt` may change how a list is written,
never this (ids, titles, phases, dependencies, steps, criteria, statuses, every field the engine
reads, and the sections outside the task area). Source lines are left out: they are layout.
"""
from __future__ import annotations

import json
from typing import Hashable

from gitops.model import Criterion, Task, TaskList


def task_meaning(task: Task) -> tuple[Hashable, ...]:
    """One task as the engine reads it, without its source lines (`implicit` is layout too)."""
    return (task.id, task.title, task.phase, task.status_mark, task.priority, task.estimated_time,
            task.dependencies, task.external_dependencies, task.auto_advance, task.pause_after,
            task.when_ready_prompt, task.run, task.do, _criteria(task.done_when),
            _criteria(task.further_criteria))


def list_meaning(tasklist: TaskList) -> tuple[Hashable, ...]:
    """Everything but the tasks: title, header, phases, and the sections outside the task area."""
    header = tasklist.header
    template = tasklist.hotfix_template
    return (
        tasklist.title,
        (header.project, header.total_tasks, header.total_phases, header.auto_advance,
         header.pause_after, header.estimated_time),
        tuple((phase.number, phase.title, phase.task_ids) for phase in tasklist.phases),
        (template.heading, template.body) if template else None,
        json.dumps(tasklist.initial_state, sort_keys=True) if tasklist.initial_state is not None else None,
        tasklist.quality_gates,
        tasklist.safety,
    )


def changed_tasks(before: TaskList, after: TaskList) -> set[str] | None:
    """Ids of the tasks whose meaning differs; None when more than tasks differ (ids, their order,
    phases or the sections), which no single task explains."""
    if list(before.tasks) != list(after.tasks) or list_meaning(before) != list_meaning(after):
        return None
    return {task_id for task_id, task in before.tasks.items()
            if task_meaning(task) != task_meaning(after.tasks[task_id])}


def _criteria(criteria: tuple[Criterion, ...]) -> tuple[tuple[str, bool, str], ...]:
    return tuple((c.text, c.checked, c.kind) for c in criteria)
