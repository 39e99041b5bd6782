"""A workflow task job's side of the hand-over: run only a task its run claimed, then hand the result over.

The job holds no write token (docs/github.md, *What task code can reach*): its state changes stay
in its own copy (gitops.state.handover_store), and what its recording job commits is written to
one file (gitops.run.handover), uploaded as an artifact.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gitops.errors import BadInput, UsageError
from gitops.handlers import TaskResult
from gitops.run import handover, history_commits
from gitops.run.claims import not_ours, why_not_runnable
from gitops.run.runner import Runner


def ours_to_run(runner: Runner, task_id: str, path: Path) -> bool:
    """A task job runs its task only when its run claimed it (gitops.run.claims); another run's
    task is left alone, and a claimed task whose production approval is missing fails."""
    if task_id not in runner.tasklist.tasks:
        raise UsageError(f"{runner.tasklist.path} has no Task {task_id}. Tasks: {', '.join(runner.tasklist.tasks)}.")
    state = runner.current()
    reason = not_ours(state, task_id, runner.whoami)
    if reason:
        runner.ui.note(f"Nothing to run: {reason}.")
        # Handed over all the same, so that a missing hand-over always means a broken job (the upload
        # step fails on one: gitops.github.handover_steps); its recording job records nothing.
        _did_not_run(runner, state, task_id, path, reason)
        return False
    reason = why_not_runnable(runner, state, task_id)
    if reason:
        _did_not_run(runner, state, task_id, path, reason)
        raise UsageError(f"Task {task_id} did not run: {reason}; its recording job records the failure.")
    return True


def _did_not_run(runner: Runner, state: dict, task_id: str, path: Path, reason: str) -> None:
    attempt = max(state["tasks"][task_id]["attempts"], 1)
    handover.write(path, handover.HandOver(task_id, attempt - 1, handover.INTERRUPTED, [],
                                           f"the task did not run: {reason}", {}, None, {},
                                           run=handover.run_of(runner.whoami)))


def hand_over_result(runner: Runner, task_id: str, result: TaskResult | None, path: Path) -> None:
    """Write what the recording job commits (its run claimed the task: it is running or finished)."""
    record = runner.current()["tasks"][task_id]
    work = runner.store.source.work_files()
    handed = handover.from_record(task_id, record, result.updates if result else None, work,
                                  run=handover.run_of(runner.whoami))
    if result is not None:  # opened by the recording job, which holds `issues: write`
        handed = replace(handed, incidents=result.incidents)
    try:
        handed = replace(handed, history=history_commits.recorded(runner.work_dir / "work" / task_id))
    except BadInput as exc:  # the task's own history is malformed: the task failed, and says why
        handed = replace(handed, error=f"its history commits were not handed over: {exc}")
    handover.write(path, handed)
    runner.ui.note(f"Task {task_id}'s result, {len(work)} changed file(s) and {len(handed.history)} history "
                   f"commit(s) handed over in {path}")
