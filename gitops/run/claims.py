"""Which workflow run runs a task: claimed before its job starts, so overlapping runs never run it twice.

Runs of the workflow may overlap (docs/github.md, *Concurrency*): the plan job of a second run
can read the state while the first run's task jobs execute. A task job holds no write token and
records nothing (gitops.run.handover), so the run claims each task in a job that may write: the
plan job claims the tasks that are ready when the run starts, and the job that makes more tasks
ready (a recording job, a gate job) claims those. A claim is the task's start: `running`, with
this run and attempt as its runner. Every claim is one state commit that re-checks readiness on
the newest state, so of two runs that want one task exactly one gets it; a task job whose run
did not get its task runs nothing, and its recording job records nothing. A claim whose run
ended without recording a result is found by `gitops recover`, which asks GitHub whether the
run has completed (gitops.github.run_status).
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from gitops.errors import BadInput, UsageError
from gitops.github.run_url import current_run_url
from gitops.model import GateStatus, TaskStatus
from gitops.plan import transitions
from gitops.plan.policy import deploy_gate, needs_deploy_approval
from gitops.plan.readiness import why_not_ready
from gitops.run.runner import Runner


def planned(text: str) -> list[str]:
    """The plan job's `pending` output (a JSON list of task ids), checked."""
    try:
        ids = json.loads(text)
    except ValueError:
        ids = None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise BadInput(f"the tasks to claim must be a JSON list of task ids (the plan job's pending output), "
                       f"got {text[:200]!r}")
    return ids


def claim(runner: Runner, candidates: list[str]) -> list[str]:
    """Claim for this workflow run every task of `candidates` that is ready now; the ids claimed."""
    if not runner.whoami.get("github_run_id"):
        raise BadInput("claim is for a workflow run (GITHUB_ACTIONS=true with GITHUB_RUN_ID): "
                       "locally `gitops run` starts each task itself.")
    claimed = []
    for task_id in (t for t in runner.tasklist.tasks if t in candidates):
        state = runner.current()
        if why_not_ready(runner.tasklist, state, task_id, deploy_approval_later=True):
            continue
        started = transitions.Started(task_id, runner.environ.get("GITHUB_SHA"), current_run_url(runner.environ),
                                      runner.whoami, claim=True)
        try:
            runner.transition(started)
        except UsageError:
            continue  # another run claimed it (or it stopped being ready) between our read and our commit
        claimed.append(task_id)
    return claimed


def not_ours(state: Mapping[str, Any], task_id: str, whoami: Mapping[str, Any]) -> str | None:
    """None when the task is running, claimed by this run attempt; else what it is instead."""
    record = state["tasks"][task_id]
    if record["status"] != TaskStatus.RUNNING.value:
        return f"Task {task_id} is {record['status'].replace('_', ' ')}, not claimed by this run"
    runner = record.get("runner") or {}
    mine = (whoami.get("github_run_id"), whoami.get("github_run_attempt"))
    theirs = (runner.get("github_run_id"), runner.get("github_run_attempt"))
    if theirs != mine:
        return (f"Task {task_id} runs in workflow run {theirs[0]} (attempt {theirs[1] or 1}), "
                f"not in this one ({mine[0]}, attempt {mine[1] or 1})")
    return None


def why_not_runnable(runner: Runner, state: Mapping[str, Any], task_id: str) -> str | None:
    """Why this task job must not run the task: not its run's claim, or its production approval missing."""
    reason = not_ours(state, task_id, runner.whoami)
    if reason:
        return reason
    task = runner.tasklist.tasks[task_id]
    gate = deploy_gate(task_id)
    if needs_deploy_approval(runner.tasklist, task) and (state["gates"].get(gate) or {}).get("status") != GateStatus.APPROVED.value:
        return f"production gate {gate} is not approved"
    return None


def ours_or_pending(state: Mapping[str, Any], candidates: list[str], whoami: Mapping[str, Any]) -> list[str]:
    """The candidates this run may still start: pending, or claimed by this run (not by another).

    Not a task whose production review was rejected: its job would wait in `production` and ask a
    reviewer again in every run, for a task no run claims until a person retries it."""
    return [task_id for task_id in candidates if task_id in state["tasks"]
            and (state["gates"].get(deploy_gate(task_id)) or {}).get("status") != GateStatus.REJECTED.value
            and (state["tasks"][task_id]["status"] == TaskStatus.PENDING.value or not not_ours(state, task_id, whoami))]
