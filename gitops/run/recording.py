"""The recording job: commit what a task job handed over, in a job that runs no task code.

On GitHub the job that runs a task holds no write token. Its run claimed the task before the job
started (gitops.run.claims: the task is `running`, for this run); the job hands its result over
(gitops.run.handover) and this job, with `contents: write`, records it as the task job would
have: the task's history commits (gitops.run.history_commits), then one state commit carrying the
result and the task's work, and the HotFix issue of a failure. The task never stays `running`
after its job ended:

- no result of this attempt arrived (the task job was cancelled or timed out before it handed one
  over, the upload failed, the artifact expired; or what arrived is damaged, another task's, or
  another run's or attempt's): the task's outcome is unknown, so it is recorded as interrupted
  (transitions.Lost: no HotFix, nothing says it broke) and the next step is to retry it;
- a result arrived but is malformed, or would make an invalid state: recorded as a failure with
  the reason and a HotFix, never applied;
- none arrived because a reviewer rejected the production review of a deploying task's job (GitHub
  fails that job without starting it): a person decided, so the production gate is recorded as
  rejected, by whom and why, and the task as not run (transitions.DeployRejected).

The task job's result (`needs.task-<id>.result`, gitops.run.job_results) says why a hand-over is
missing, and whether its production review may have been rejected.

A task another run claimed is left alone: this run's job ran nothing.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Protocol, Sequence

from gitops.errors import UsageError, WorkNotPushed
from gitops.forge.base import Rejection
from gitops.plan import transitions
from gitops.plan.planner import deploy_rejected_step, lost_step
from gitops.plan.policy import deploy_gate, needs_deploy_approval
from gitops.run.claims import not_ours
from gitops.run.handover import FINISHED, HandOver, HandOverLost, HandOverMissing, HandOverRefused, Work, read, run_of
from gitops.run.history_commits import HistoryCommit
from gitops.run.job_results import may_be_rejected, why_missing
from gitops.run.runner import Runner
from gitops.state.schema import find_problem


class CarryingStore(Protocol):
    """A state store that commits handed-over work with its next write (GitStateStore.carry)."""

    def carry(self, files: Work) -> None: ...

    def carry_history(self, commits: Sequence[HistoryCommit]) -> None: ...


def record(runner: Runner, store: CarryingStore, task_id: str, path: Path, job_result: str | None = None) -> str:
    """Record Task `task_id`'s result from the hand-over at `path`; say what was recorded.
    `job_result`: its task job's result in the workflow, when known."""
    if task_id not in runner.tasklist.tasks:
        raise UsageError(f"{runner.tasklist.path} has no Task {task_id}: render the workflow again (`gitops render`).")
    state = runner.current()
    other = not_ours(state, task_id, runner.whoami)
    if other:
        return f"Nothing to record: {other}."  # its job ran nothing (gitops.run.claims)
    attempt = state["tasks"][task_id]["attempts"]
    handover, lost, refused = _take(runner, state, path, task_id, attempt, job_result)
    rejection = _rejection(runner, task_id, job_result) if lost and handover is None else None
    if rejection is not None:
        new, _ = runner.transition(transitions.DeployRejected(task_id, attempt, rejection.by, rejection.comment))
        return deploy_rejected_step(task_id, new["gates"][deploy_gate(task_id)]).message
    if lost:
        new, _ = runner.transition(transitions.Lost(task_id, attempt, lost))
        return f"Task {task_id} recorded as interrupted. {lost_step(task_id, new['tasks'][task_id]).message}"
    if refused or handover is None:
        runner.transition(transitions.Interrupted(task_id, attempt, refused or "no result"))
        return f"Task {task_id} recorded as failed: {refused}"
    if handover.outcome != FINISHED:  # the task job stopped it (a signal) or refused to run it: a failure
        runner.transition(transitions.Interrupted(task_id, attempt, handover.error or ""))
        return f"Task {task_id} recorded as failed: {handover.error}"
    store.carry(handover.work)
    store.carry_history(handover.history)  # committed one by one before the state commit
    try:
        new, _ = runner.transition(_finished(handover))
    except WorkNotPushed as exc:  # its files conflict with the branch: it failed, and the state says why
        new, _ = runner.transition(_finished(handover, error=str(exc)))
    runner.open_incidents(handover.incidents)  # after the result is committed: the issues only tell of it
    return f"Task {task_id} recorded: {new['tasks'][task_id]['status'].replace('_', ' ')}"


def _finished(handover: HandOver, error: str | None = None) -> transitions.Finished:
    return transitions.Finished(handover.task, handover.checks, error or handover.error, handover.updates,
                                handover.mlflow_run_id, window=handover.window if error is None else None)


def _rejection(runner: Runner, task_id: str, job_result: str | None) -> Rejection | None:
    """Who rejected the production review of the task's job, when it is a deploying task whose job
    may never have started; asked of the forge (never guessed: an unreadable answer raises)."""
    if not needs_deploy_approval(runner.tasklist, runner.tasklist.tasks[task_id]) or not may_be_rejected(job_result):
        return None
    return runner.forge.rejection(deploy_gate(task_id))


def _take(runner: Runner, state: dict[str, Any], path: Path, task_id: str, attempt: int,
          job_result: str | None) -> tuple[HandOver | None, str | None, str | None]:
    """(the hand-over at `path`, why none of this attempt's arrived, why it is refused)."""
    try:
        handover = read(path, task_id)
    except HandOverMissing:
        return None, f"the result handed over for Task {task_id} is missing: {why_missing(job_result)}", None
    except HandOverLost as exc:
        return None, str(exc), None
    except HandOverRefused as exc:
        return None, None, str(exc)
    lost = _not_this_attempt(runner, handover, attempt)
    return handover, lost, None if lost else _refused(runner, state, handover)


def _not_this_attempt(runner: Runner, handover: HandOver, attempt: int) -> str | None:
    """Why the hand-over is not the result of the attempt that runs: another run's, or another attempt's."""
    where = f"the result handed over for Task {handover.task} is not this attempt's"
    ours = run_of(runner.whoami)
    if handover.run != ours:
        return (f"{where}: it was handed over in workflow run {handover.run[0]} (attempt {handover.run[1]}), "
                f"and this is run {ours[0]} (attempt {ours[1]})")
    if handover.after_attempt + 1 != attempt:
        return f"{where}: it is attempt {handover.after_attempt + 1}'s, and attempt {attempt} runs"
    return None


def _refused(runner: Runner, state: dict[str, Any], handover: HandOver) -> str | None:
    """Why the hand-over cannot be recorded on `state`: its result would not apply, or the state it
    makes breaks the state schema. Checked on a copy first, so nothing half is committed."""
    where = f"the result handed over for Task {handover.task} was refused"
    if handover.outcome != FINISHED:
        return None
    try:
        preview, _ = transitions.apply(runner.tasklist, copy.deepcopy(state), _finished(handover), "now")
    except UsageError as exc:
        return f"{where}: {exc}"
    problem = find_problem(preview)
    return f"{where}: {problem.describe()}" if problem else None
