"""Checkpoints: which tasks pause for a person, and why (the task list's fields and safety rules)."""
from __future__ import annotations

import re
from typing import Collection

from gitops.model import Gate, Task, TaskList


def checkpoint_reasons(tasklist: TaskList, task: Task) -> list[str]:
    """Why a checkpoint follows this task; empty when it auto-advances."""
    header = tasklist.header
    pause_after = task.pause_after if task.pause_after is not None else header.pause_after
    auto_advance = task.auto_advance if task.auto_advance is not None else header.auto_advance
    reasons = []
    if pause_after:
        reasons.append("Pause After: yes")
    if auto_advance is False:
        reasons.append("Auto-Advance: no")
    safety = tasklist.safety
    if safety.critical_needs_person and (task.priority or "").strip().lower().startswith("critical"):
        reasons.append("safety rule: Critical priority tasks require human approval")
    words = _words(" ".join((task.title, *task.do)))
    for keyword in safety.pause_keywords:
        if any(word.startswith(keyword) for word in words):
            reasons.append(f"safety rule: {keyword} work always pauses for human review")
    return reasons


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def needs_deploy_approval(tasklist: TaskList, task: Task) -> bool:
    """Production-phase tasks run behind the `production` environment: approval before they run."""
    return task.id in tasklist.production_tasks


def deploy_gate(task_id: str) -> str:
    return Gate.deploy(task_id).id


def may_await_approval(tasklist: TaskList, task: Task, handled: Collection[str] = ()) -> bool:
    """Can this task end `awaiting_approval`? Then the workflow needs a gate job for it.

    A checkpoint always does. So does a task with neither a **Run** command nor a handler
    (`handled`: the task ids of the handler registry): it runs as manual work that only a person
    signs off (gitops.run.execute.run_manual), and without a gate on GitHub nothing could approve it.
    A handler that leaves a criterion unchecked is `gitops lint --handlers`' to report.
    """
    return bool(checkpoint_reasons(tasklist, task)) or (task.run is None and task.id not in handled)
