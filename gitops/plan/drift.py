"""Definition drift: a done task whose steps or criteria changed in the task list since it ran.

DVC keeps a hash per stage and re-runs a stage whose definition changed. A pipeline of risky
work must not re-run a production step on its own because someone reworded a criterion, so
here a changed task is only *shown* as stale (`status`, `plan`); it re-runs when a person asks
(`gitops run --rerun-stale`, or `gitops retry ID`). Only what the task does and how it is judged
counts: its steps, its criteria and its Run command, not its title, the header or other tasks.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from gitops.model import Task, TaskList, TaskStatus


def definition_hash(task: Task) -> str:
    """A short, stable hash of the task's steps, criteria (further criteria too) and Run command."""
    definition: dict[str, Any] = {"do": list(task.do), "criteria": [c.text for c in task.done_when], "run": task.run}
    if task.further_criteria:  # Quality Gates, Testing Requirements: only when the task has them,
        definition["further"] = [[c.kind, c.text] for c in task.further_criteria]  # so others keep their hash
    text = json.dumps(definition, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def has_drifted(task: Task, record: Mapping[str, Any]) -> bool:
    """Done, and run with another definition (a record from before gitops kept one is not stale)."""
    ran_with = record.get("definition")
    return record.get("status") == TaskStatus.DONE.value and bool(ran_with) and ran_with != definition_hash(task)


def drifted_tasks(tasklist: TaskList, state: Mapping[str, Any]) -> list[str]:
    records = state["tasks"]
    return [t.id for t in tasklist.tasks.values() if t.id in records and has_drifted(t, records[t.id])]
