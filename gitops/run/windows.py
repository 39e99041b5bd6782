"""Evaluate the time windows that have ended (`gitops evaluate-windows`; gitops.plan.windows says what a window is).

A task waiting for its window is evaluated once the window's `until` has passed on the runner's
clock: the handler's window evaluation runs (it measures what the window saw), then the task's
checks, and the result is recorded as a task's result is, on the waiting task: done, awaiting
approval at its checkpoint, or failed with a HotFix. A window not yet ended is left waiting.

On GitHub the evaluation is task code, so it runs in a job without the write token: with
`hand_over` each result goes to a file (gitops.run.handover) in the job's own copy of the state,
and the windows workflow's recording job commits it (`record`), running no task code. An
evaluation that handed nothing over leaves its task waiting: the next scheduled run evaluates it
again, so a lost runner costs an hour, not the window. Unless a reviewer rejected the evaluation
job's production review (it never started): a person decided, so the recording job records who
and why in each window it would have evaluated (transitions.EvaluationRejected), and those are not
due again until someone asks (`gitops retry`), as the main workflow's recording job records a
rejected task job (gitops.run.recording).
"""
from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from gitops.errors import BadInput, UsageError, WorkNotPushed
from gitops.forge.base import Rejection
from gitops.handlers import TaskResult
from gitops.plan import transitions, windows
from gitops.plan.planner import window_rejected_step
from gitops.plan.policy import deploy_gate
from gitops.run import handover, history_commits
from gitops.run.job_results import may_be_rejected
from gitops.run.recording import CarryingStore
from gitops.run.runner import Runner
from gitops.state.schema import find_problem


@dataclass(frozen=True)
class Evaluated:
    task: str
    status: str  # the task's status afterwards: still `waiting` when its window has not ended
    until: str


def evaluate_due(runner: Runner, hand_over: Path | None = None) -> list[Evaluated]:
    """Evaluate every waiting task whose window has ended by `runner.clock()`, in task-list order;
    `hand_over`: a folder for each result (a job without the write token) instead of the state."""
    state = runner.current()
    due = set(windows.due(runner.tasklist, state, runner.clock()))
    if due and runner.prepare is not None:  # the checkout takes in the phase branch, as a task job's does
        runner.ui.note(runner.prepare())
    out = []
    for task_id, until in windows.waiting(runner.tasklist, state):
        if task_id not in due:
            runner.ui.note(waits(task_id, until, state["tasks"][task_id]))
            out.append(Evaluated(task_id, windows.WAITING, until))
            continue
        runner.ui.note(f"Task {task_id}: its window ended at {until}; evaluating it.")
        state = runner.current()
        began = time.perf_counter()
        result = runner.evaluate_window(task_id, state)
        new, result = runner.record_result(task_id, state, result, time.perf_counter() - began)  # redacted
        if hand_over is not None:
            _hand_over(runner, task_id, result, hand_over / handover_name(task_id))
        out.append(Evaluated(task_id, new["tasks"][task_id]["status"], until))
    return out


def waits(task_id: str, until: str, record: dict) -> str:
    """Why a waiting task is not evaluated now: its window has not ended, or its evaluation was rejected."""
    rejected = windows.rejection(record)
    if rejected is not None:
        return window_rejected_step(task_id, rejected).message
    return f"Task {task_id} waits for its window to end at {until}."


def handover_name(task_id: str) -> str:
    """The hand-over file of a task's evaluation in the hand-over folder: `window-6-2.json`."""
    return "window-" + re.sub(r"[^A-Za-z0-9_-]", "-", task_id) + ".json"


def _hand_over(runner: Runner, task_id: str, result: TaskResult, path: Path) -> None:
    record = runner.current()["tasks"][task_id]
    handed = handover.from_record(task_id, record, result.updates, {})  # an evaluation's files stay on its runner
    handed = replace(handed, incidents=result.incidents)  # opened by the recording job (`record`)
    try:
        handed = replace(handed, history=history_commits.recorded(runner.work_dir / "work" / task_id))
    except BadInput as exc:  # its own history is malformed: the evaluation failed, and says why
        handed = replace(handed, error=f"its history commits were not handed over: {exc}")
    handover.write(path, handed)
    runner.ui.note(f"Task {task_id}'s evaluation handed over in {path}")


@dataclass(frozen=True)
class Recorded:
    task: str
    completed: bool  # False: the task still waits
    message: str


def record(runner: Runner, store: CarryingStore, folder: Path, job_result: str | None = None) -> list[Recorded]:
    """Commit the evaluations handed over in `folder` (the windows workflow's recording job), each saying
    what it did. `job_result`: the evaluate job's result in the workflow, when known."""
    state = runner.current()
    waiting = windows.waiting(runner.tasklist, state)
    unevaluated = [t for t in windows.due(runner.tasklist, state, runner.clock())
                   if not (folder / handover_name(t)).exists()]
    # The forge is asked only when the job may have been rejected and left a due window unevaluated.
    rejection = _rejection(runner, unevaluated[0]) if unevaluated and may_be_rejected(job_result) else None
    said = []
    for task_id, until in waiting:
        path = folder / handover_name(task_id)
        if path.exists():
            said.append(_record_one(runner, store, task_id, path))
        elif rejection is not None and task_id in unevaluated:
            said.append(_record_rejection(runner, task_id, rejection))
        else:
            rejected = windows.rejection(state["tasks"][task_id])
            said.append(Recorded(task_id, False, window_rejected_step(task_id, rejected).message if rejected else
                                 f"Task {task_id} still waits (until {until}): no evaluation was handed over."))
    return said


def _rejection(runner: Runner, task_id: str) -> Rejection | None:
    """Who rejected the evaluate job's production review in this run, when someone did: the job never
    started, so nothing was handed over. Its environment is `production`, every deploy gate's; asked
    of the forge (never guessed: an unreadable answer raises). Where no window deploys, the job names
    no environment and nobody reviewed it: the forge finds no rejection."""
    return runner.forge.rejection(deploy_gate(task_id))


def _record_rejection(runner: Runner, task_id: str, rejection: Rejection) -> Recorded:
    attempt = runner.current()["tasks"][task_id]["attempts"]
    new, _ = runner.transition(transitions.EvaluationRejected(task_id, attempt, rejection.by, rejection.comment))
    rejected = windows.rejection(new["tasks"][task_id]) or {}
    return Recorded(task_id, False, window_rejected_step(task_id, rejected).message)


def _record_one(runner: Runner, store: CarryingStore, task_id: str, path: Path) -> Recorded:
    state = runner.current()
    try:
        handed = handover.read(path, task_id)
    except handover.HandOverRefused as exc:
        return Recorded(task_id, False, f"Task {task_id} still waits: {exc}.")
    reason = _refused(runner, state, handed)
    if reason:
        return Recorded(task_id, False, f"Task {task_id} still waits: {reason}.")
    store.carry(handed.work)
    store.carry_history(handed.history)
    finished = transitions.Finished(task_id, handed.checks, handed.error, handed.updates, handed.mlflow_run_id)
    try:
        new, _ = runner.transition(finished)
    except WorkNotPushed as exc:
        new, _ = runner.transition(transitions.Finished(task_id, handed.checks, str(exc), handed.updates,
                                                        handed.mlflow_run_id))
    runner.open_incidents(handed.incidents)  # after the result is committed: the issues only tell of it
    return Recorded(task_id, True, f"Task {task_id} evaluated: {new['tasks'][task_id]['status'].replace('_', ' ')}")


def _refused(runner: Runner, state: dict, handed: handover.HandOver) -> str | None:
    """Why an evaluation cannot complete the waiting task: another attempt's, interrupted, a window of
    its own, or a state the schema refuses. Checked on a copy first, so nothing half is committed."""
    attempt = state["tasks"][handed.task]["attempts"]
    if handed.after_attempt + 1 != attempt:
        return f"the evaluation handed over is attempt {handed.after_attempt + 1}'s, and attempt {attempt} waits"
    if handed.outcome != handover.FINISHED:
        return f"its evaluation did not finish ({handed.error}); the next scheduled run evaluates it again"
    finished = transitions.Finished(handed.task, handed.checks, handed.error, handed.updates, handed.mlflow_run_id)
    try:
        preview, _ = transitions.apply(runner.tasklist, copy.deepcopy(state), finished, "now")
    except UsageError as exc:
        return str(exc)
    problem = find_problem(preview)
    return problem.describe() if problem else None
