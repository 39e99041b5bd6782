"""Time windows: a task whose action opened one waits until the window ends, then is evaluated.

Some work is judged only after time has passed in the world: Task 6.2 of B-1006 watches production
for 24-48 hours after a rollout. A job that sleeps that long would hold a runner (and GitHub ends
a job after 6 hours), so such a task's handler declares a window (gitops.handlers.Window); where
windows are scheduled (on GitHub) the task's record becomes `waiting` with the window's `until`,
and `gitops evaluate-windows` evaluates it once that time has passed. Locally the short window
elapses within the run and the task never waits. Pure: the time is passed in.

Where evaluating a window touches production (Task 6.2), a reviewer approves the evaluation on
GitHub; one who rejects it leaves the task waiting with the rejection in its window
(transitions.EvaluationRejected): such a window is not due, so nobody is asked again every hour,
until a person asks again (`gitops retry`, transitions.Retried).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from gitops.model import TaskList, TaskStatus

WAITING = TaskStatus.WAITING.value
REJECTED = "rejected"  # the window's key for a rejected evaluation (`rejection`)


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 time as the engine writes it (with its offset); a naive one is taken as UTC."""
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def opened(now: str, seconds: float, evaluate: str) -> dict[str, Any]:
    """The `window` of a task record, opened at `now` for `seconds`; `evaluate`: the handler's reference."""
    until = parse_time(now) + dt.timedelta(seconds=seconds)
    return {"opened_at": now, "until": until.isoformat(), "evaluate": evaluate, "evaluated_at": None}


def waiting(tasklist: TaskList, state: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(task id, until) of every waiting task, in task-list order."""
    records = state["tasks"]
    return [(task_id, records[task_id]["window"]["until"]) for task_id in tasklist.tasks
            if task_id in records and records[task_id].get("status") == WAITING]


def rejection(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Who rejected the evaluation of a waiting task's window, and why (`by`, `comment`, `at`); None
    when nobody did, or the task is not waiting."""
    if record.get("status") != WAITING:
        return None
    return (record.get("window") or {}).get(REJECTED)


def due(tasklist: TaskList, state: Mapping[str, Any], now: str) -> list[str]:
    """The waiting tasks whose window has ended at `now`: their evaluation is due, unless a reviewer
    rejected it (then only a person asks again)."""
    moment = parse_time(now)
    records = state["tasks"]
    return [task_id for task_id, until in waiting(tasklist, state)
            if parse_time(until) <= moment and rejection(records[task_id]) is None]
