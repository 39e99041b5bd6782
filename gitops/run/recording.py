"""The recording job: commit what a task job handed over, in a job that runs no task code.

On GitHub the job that runs a task holds no write token. Its run claimed the task before the job
started (gitops.run.claims: the task is `running`, for this run); the job hands its result over
(gitops.run.handover) and this job, with `contents: write`, records it as the task job would
have: the task's history commits (gitops.run.history_commits), then one state commit carrying the
result and the task's work, and the HotFix issue of a failure. A task job that handed nothing
over (cancelled, timed out, its runner lost) or something malformed is recorded as failed with
the reason, so the task never stays `running` after its job ended. A task another run claimed is
left alone: this run's job ran nothing.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Protocol, Sequence

from gitops.errors import UsageError, WorkNotPushed
from gitops.plan import transitions
from gitops.run.claims import not_ours
from gitops.run.handover import FINISHED, HandOver, HandOverRefused, Work, read
from gitops.run.history_commits import HistoryCommit
from gitops.run.runner import Runner
from gitops.state.schema import find_problem


class CarryingStore(Protocol):
    """A state store that commits handed-over work with its next write (GitStateStore.carry)."""

    def carry(self, files: Work) -> None: ...

    def carry_history(self, commits: Sequence[HistoryCommit]) -> None: ...


def record(runner: Runner, store: CarryingStore, task_id: str, path: Path) -> str:
    """Record Task `task_id`'s result from the hand-over at `path`; say what was recorded."""
    if task_id not in runner.tasklist.tasks:
        raise UsageError(f"{runner.tasklist.path} has no Task {task_id}: render the workflow again (`gitops render`).")
    state = runner.current()
    other = not_ours(state, task_id, runner.whoami)
    if other:
        return f"Nothing to record: {other}."  # its job ran nothing (gitops.run.claims)
    attempt = state["tasks"][task_id]["attempts"]
    try:
        handover: HandOver | None = read(path, task_id)
        reason = _refused(runner, state, handover, attempt)
    except HandOverRefused as exc:
        handover, reason = None, str(exc)
    if handover is None or reason:
        runner.transition(transitions.Interrupted(task_id, attempt, reason))
        return f"Task {task_id} recorded as failed: {reason}"
    if handover.outcome != FINISHED:
        runner.transition(transitions.Interrupted(task_id, attempt, handover.error or ""))
        return f"Task {task_id} recorded as interrupted: {handover.error}"
    store.carry(handover.work)
    store.carry_history(handover.history)  # committed one by one before the state commit
    try:
        new, _ = runner.transition(_finished(handover))
    except WorkNotPushed as exc:  # its files conflict with the branch: it failed, and the state says why
        new, _ = runner.transition(_finished(handover, error=str(exc)))
    return f"Task {task_id} recorded: {new['tasks'][task_id]['status'].replace('_', ' ')}"


def _finished(handover: HandOver, error: str | None = None) -> transitions.Finished:
    return transitions.Finished(handover.task, handover.checks, error or handover.error, handover.updates,
                                handover.mlflow_run_id, window=handover.window if error is None else None)


def _refused(runner: Runner, state: dict[str, Any], handover: HandOver, attempt: int) -> str | None:
    """Why the hand-over cannot be recorded on `state`: another attempt's, its result would not
    apply, or the state it makes breaks the state schema. Checked on a copy first, so nothing half
    is committed."""
    where = f"the result handed over for Task {handover.task} was refused"
    if handover.after_attempt + 1 != attempt:
        return f"{where}: it is attempt {handover.after_attempt + 1}'s, and attempt {attempt} runs"
    if handover.outcome != FINISHED:
        return None
    try:
        preview, _ = transitions.apply(runner.tasklist, copy.deepcopy(state), _finished(handover), "now")
    except UsageError as exc:
        return f"{where}: {exc}"
    problem = find_problem(preview)
    return f"{where}: {problem.describe()}" if problem else None
