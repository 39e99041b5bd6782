"""The recording job: commit what a task job handed over, in a job that runs no task code.

On GitHub the job that runs a task holds no write token. It hands its result over
(gitops.run.handover) and this job, with `contents: write`, records it as the task job would
have: the start and the result as two state commits (the second one carrying the task's
work), the HotFix issue of a failure. A task job that handed nothing over (cancelled, timed
out, its runner lost) or something malformed is recorded as failed with the reason, so the
task never stays `pending` or `running` after its job ended.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Protocol

from gitops.errors import UsageError, WorkNotPushed
from gitops.github.run_url import current_run_url
from gitops.model import TaskStatus
from gitops.plan import transitions
from gitops.run.handover import FINISHED, HandOver, HandOverRefused, Work, read
from gitops.run.runner import Runner
from gitops.state.schema import find_problem


class CarryingStore(Protocol):
    """A state store that commits handed-over work with its next write (GitStateStore.carry)."""

    def carry(self, files: Work) -> None: ...


def record(runner: Runner, store: CarryingStore, task_id: str, path: Path) -> str:
    """Record Task `task_id`'s result from the hand-over at `path`; say what was recorded."""
    if task_id not in runner.tasklist.tasks:
        raise UsageError(f"{runner.tasklist.path} has no Task {task_id}: render the workflow again (`gitops render`).")
    state = runner.current()
    attempts = state["tasks"][task_id]["attempts"]
    try:
        handover: HandOver | None = read(path, task_id)
        reason = _refused(runner, state, handover)
    except HandOverRefused as exc:
        handover, reason = None, str(exc)
    if handover is None or reason:
        if state["tasks"][task_id]["status"] != TaskStatus.PENDING.value:
            raise UsageError(f"Task {task_id} is {state['tasks'][task_id]['status'].replace('_', ' ')}, "
                             f"not pending: nothing to record ({reason})")
        runner.transition(_started(runner, task_id, attempts))
        runner.transition(transitions.Interrupted(task_id, attempts + 1, reason))
        return f"Task {task_id} recorded as failed: {reason}"
    runner.transition(_started(runner, task_id, handover.after_attempt))
    if handover.outcome != FINISHED:
        runner.transition(transitions.Interrupted(task_id, handover.after_attempt + 1, handover.error or ""))
        return f"Task {task_id} recorded as interrupted: {handover.error}"
    store.carry(handover.work)
    try:
        new, _ = runner.transition(_finished(handover))
    except WorkNotPushed as exc:  # its files conflict with the branch: it failed, and the state says why
        new, _ = runner.transition(_finished(handover, error=str(exc)))
    return f"Task {task_id} recorded: {new['tasks'][task_id]['status'].replace('_', ' ')}"


def _started(runner: Runner, task_id: str, after_attempt: int) -> transitions.Started:
    environ = runner.environ
    return transitions.Started(task_id, environ.get("GITHUB_SHA"), current_run_url(environ), runner.whoami,
                               after_attempt=after_attempt)


def _finished(handover: HandOver, error: str | None = None) -> transitions.Finished:
    return transitions.Finished(handover.task, handover.checks, error or handover.error, handover.updates,
                                handover.mlflow_run_id)


def _refused(runner: Runner, state: dict[str, Any], handover: HandOver) -> str | None:
    """Why the hand-over cannot be recorded on `state`: its start or result would not apply, or the
    state it makes breaks the state schema. Checked on a copy first, so nothing half is committed."""
    try:
        preview, _ = transitions.apply(runner.tasklist, copy.deepcopy(state),
                                       _started(runner, handover.task, handover.after_attempt), "now")
        if handover.outcome == FINISHED:
            preview, _ = transitions.apply(runner.tasklist, preview, _finished(handover), "now")
    except UsageError as exc:
        return f"the result handed over for Task {handover.task} was refused: {exc}"
    problem = find_problem(preview)
    if problem:
        return f"the result handed over for Task {handover.task} was refused: {problem.describe()}"
    return None
