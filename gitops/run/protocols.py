"""What the runner reports to: a person (`UI`) and a run tracker (`Tracker`).

Apart from the runner so that what implements them (gitops.ui.terminal, gitops.tracking.tracker,
the tests' recorders) can be read against two short interfaces, not a coordinator.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol

from gitops.handlers import TaskResult
from gitops.model import TaskList
from gitops.plan.planner import Step


class UI(Protocol):
    """What the runner tells a person; the CLI draws it with rich, tests record it."""

    def task_started(self, task_id: str, title: str, attempt: int) -> None: ...

    def task_finished(self, task_id: str, result: TaskResult, seconds: float) -> None: ...

    def note(self, message: str) -> None: ...

    def confirm(self, step: Step, approver: str) -> bool | None:
        """Ask at a gate; None when there is no terminal to ask in."""


class Tracker(Protocol):
    """Where each task execution is logged as a run (MLflow: gitops.tracking.tracker)."""

    def log_task(self, tasklist: TaskList, task_id: str, state: Mapping[str, Any], result: TaskResult, seconds: float) -> str | None:
        """Log one execution (params, metrics, evidence); return its run id."""

    def close(self, state: Mapping[str, Any]) -> None:
        """End the pipeline run (the parent run) of this session."""
