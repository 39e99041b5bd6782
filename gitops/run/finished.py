"""The Finished event of an execution: the time window it opens, and its MLflow run id.

Apart from the runner, which writes the event: the run id is known before that one state
write (on GitHub each write is a commit and a push), because the tracker is shown the state as
the result will leave it, applied in memory; a tracking failure is said and never touches the result.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

from gitops.handlers import Registry, TaskResult
from gitops.model import TaskList
from gitops.plan import transitions, windows
from gitops.run.protocols import Tracker

# Logs an execution, given the state as its result leaves it; returns its run id.
Track = Callable[[Mapping[str, Any]], "str | None"]


def finished_event(tasklist: TaskList, registry: Registry, clock: Callable[[], str], task_id: str,
                   started: dict[str, Any], result: TaskResult, track: Track | None) -> transitions.Finished:
    """The event that records `result` on the state the task `started` from; `track`: None for manual work.

    The tracker reads this task's record and the project name only, so the preview is applied to
    the state this task started from, without the summary (derived=False)."""
    window = None
    if result.window_seconds is not None and not result.failed:  # the task waits (gitops.plan.windows)
        window = windows.opened(clock(), result.window_seconds, registry.refs[task_id])
    finished = transitions.Finished(task_id, result.checks, result.error, result.updates, window=window)
    if track is not None:
        preview, _ = transitions.apply(tasklist, started, finished, clock(), derived=False)
        finished = replace(finished, mlflow_run_id=track(preview))
    return finished


def tracked(tracker: Tracker | None, tasklist: TaskList, task_id: str, state: Mapping[str, Any], result: TaskResult,
            seconds: float, note: Callable[[str], None], state_path: Path) -> str | None:
    """Log the execution; a tracking failure is reported and never touches the result."""
    if tracker is None:
        return None
    try:
        return tracker.log_task(tasklist, task_id, state, result, seconds)
    except Exception as exc:  # noqa: BLE001
        note(f"warning: Task {task_id} was not tracked ({exc}); its result is in {state_path}")
        return None
