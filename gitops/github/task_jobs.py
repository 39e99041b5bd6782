"""The jobs of each task: its task job (runs the task's code with a read-only token and hands the
result over), its recording job (commits that result, running no task code) and, for a task that
can end awaiting approval, its gate job, waiting in its own environment. Each job's `if:` decides
from the plan job's outputs whether it runs in this run (see `task_condition`)."""
from __future__ import annotations

import re
from typing import Any

from gitops.errors import TaskListError
from gitops.github import handover_steps, production_jobs
from gitops.github.environments import PRODUCTION, checkpoint_environment
from gitops.github.job_steps import (
    ACTIONS,
    GATES_ENV,
    SHORT_JOB_MINUTES,
    TOKEN_ENV,
    gitops_command,
    job_name,
    job_permissions,
    setup_steps,
)
from gitops.model import Task, TaskList, project_slug
from gitops.plan.policy import deploy_gate, needs_deploy_approval

# Where a task job writes its result (`run-task --hand-over`) and its recording job finds it.
HANDOVER_DIR = ".gitops/handover"


def job_id(prefix: str, task_id: str) -> str:
    """A stable job id: `task-1-1`, `gate-1-1`."""
    return f"{prefix}-" + re.sub(r"[^A-Za-z0-9_-]", "-", task_id)


def _contains(output: str, task_id: str) -> str:
    # fromJSON makes a list, and contains(list, x) compares whole items: on the raw string,
    # contains() would be a substring test and "1.10" would count as "1.1".
    return f"contains(fromJSON(needs.plan.outputs.{output}), '{task_id}')"


def _dependency_met(dep: str, gated: frozenset[str], windowed: frozenset[str] = frozenset()) -> str:
    """A dependency is met when it was done before this run, or passed in it: its task job
    succeeded and its recording job committed it (then its gate passed, for a checkpoint). A task
    with a time window never passes in the run that started it (it waits: gitops.plan.windows)."""
    if dep in gated:
        passed = f"needs.{job_id('gate', dep)}.result == 'success'"
    elif dep in windowed:
        return _contains("done", dep)
    else:
        passed = f"needs.{job_id('task', dep)}.result == 'success' && needs.{job_id('record', dep)}.result == 'success'"
    return f"({_contains('done', dep)} || {passed})"


def task_condition(task: Task, gated: frozenset[str], windowed: frozenset[str] = frozenset()) -> str:
    """When a task job runs; GitHub's implicit success() would skip it whenever a need was skipped.

    `!cancelled()` replaces that implicit check, so a dependency that is skipped because it was
    done in an earlier run does not skip its dependents. A skipped job is not a passed one,
    though: a dependency counts only when plan lists it as done, or when its job (its gate job,
    for a checkpoint) succeeded in this run. A task whose dependency failed or was skipped for
    any other reason is skipped too, so skips never cascade into tasks running out of order.
    The task itself runs only when plan lists it as pending, in the current phase, while the
    pipeline may proceed; `gitops run-task` then re-checks all of it against the newest state.
    """
    parts = [
        "!cancelled()",
        *_planned(task),
        *(_dependency_met(dep, gated, windowed) for dep in task.dependencies),
    ]
    return "${{ " + " && ".join(parts) + " }}"


def _planned(task: Task) -> list[str]:
    """The plan job let the task run in this run (it was pending, in the current phase)."""
    return ["needs.plan.result == 'success'", "needs.plan.outputs.proceed == 'true'",
            f"needs.plan.outputs.current_phase == '{task.phase}'", _contains("pending", task.id)]


def _task_needs(tasklist: TaskList, task: Task, tasklist_path: str, gated: frozenset[str]) -> list[str]:
    needs = ["plan"]
    for dep in task.dependencies:
        if dep not in tasklist.tasks:
            raise TaskListError(f"{tasklist_path}: Task {task.id} depends on unknown Task {dep}; "
                                "fix it (see `gitops lint`) and render again")
        needs.extend([job_id("task", dep), job_id("record", dep)])
        if dep in gated:
            needs.append(job_id("gate", dep))
    return needs



def task_job(tasklist: TaskList, task: Task, tasklist_path: str, gated: frozenset[str],
             windowed: frozenset[str] = frozenset()) -> dict[str, Any]:
    # The job runs task code: it holds no write token (a job's token has only the permissions its
    # `permissions:` grants: https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication#modifying-the-permissions-for-the-github_token).
    # It reads the phase branch, runs the task and hands its result over as an artifact
    # (https://docs.github.com/en/actions/writing-workflows/choosing-what-your-workflow-does/storing-and-sharing-data-from-a-workflow);
    # its recording job commits it (record_job, gitops.run.recording).
    production = needs_deploy_approval(tasklist, task)
    permissions = {"contents": ("read", "fetch the phase branch; the state commit is the recording job's")}
    steps = setup_steps(history=True, task_code=True)
    if production:
        # The job starts only once a reviewer approved the production environment; the task's
        # start checks it in this job's copy of the state, the recording job records it.
        permissions["actions"] = ("read", "approve --recorded: the production deployment review")
        # Deployment statuses around the task (gitops.run.deploying; issue 15 item 7). The one
        # write this job holds: task code could at worst post a false deployment status, never
        # touch state, issues or the repository.
        permissions["deployments"] = production_jobs.DEPLOYMENTS_PERMISSION
        steps.append({"name": "Read the production approval", "env": {**TOKEN_ENV, **GATES_ENV},
                      "run": gitops_command(tasklist_path, f"approve {deploy_gate(task.id)} --recorded --hand-over") + "\n"})
    steps.append({"name": f"Run Task {task.id}",
                  "env": {**TOKEN_ENV, **(production_jobs.PRODUCTION_SETTINGS if production else {})},
                  "run": gitops_command(tasklist_path, f"run-task {task.id} --hand-over {_handover_file(task)}") + "\n"})
    upload, upload_sha, _ = ACTIONS["upload-artifact"]
    steps.extend(handover_steps.upload(f"{upload}@{upload_sha}", _artifact(task), _handover_file(task)))
    job: dict[str, Any] = {
        "name": job_name(f"Task {task.id}: {task.title}"),
        "needs": _task_needs(tasklist, task, tasklist_path, gated),
        "if": task_condition(task, gated, windowed),
        "runs-on": "ubuntu-latest",
    }
    if production:
        job["environment"] = PRODUCTION
    job["permissions"] = job_permissions(**permissions)
    job["steps"] = steps
    return job


def _handover_file(task: Task) -> str:
    return f"{HANDOVER_DIR}/{job_id('task', task.id)}.json"


def _artifact(task: Task) -> str:
    # Artifact names are unique per run: a re-run attempt uploads its own.
    return f"gitops-{job_id('task', task.id)}-attempt-${{{{ github.run_attempt }}}}"


def record_job(tasklist: TaskList, task: Task, tasklist_path: str, gated: frozenset[str]) -> dict[str, Any]:
    """Commits the task job's result: a fresh checkout that runs no task code holds the write token."""
    task_job = job_id("task", task.id)
    permissions = {"contents": ("write", "the state commit"), "issues": ("write", "the HotFix issue when the task fails; the incidents it reported")}
    download, download_sha, _ = ACTIONS["download-artifact"]
    steps = [
        *setup_steps(),
        *handover_steps.download(f"{download}@{download_sha}", _artifact(task), HANDOVER_DIR),
    ]
    if needs_deploy_approval(tasklist, task):
        permissions["actions"] = ("read", "approve --recorded: the production deployment review")
        # Only a job that reached `production` was reviewed: one that ran (success, failure) or was
        # rejected (failure, gitops.github.reviews). The newest review of a job cancelled or skipped
        # before it got there is the previous job's in the line, never this one's.
        steps.append({"name": "Record the production approval",
                      "if": f"${{{{ needs.{task_job}.result == 'success' || needs.{task_job}.result == 'failure' }}}}",
                      "env": {**TOKEN_ENV, **GATES_ENV},
                      "run": gitops_command(tasklist_path, f"approve {deploy_gate(task.id)} --recorded") + "\n"})
    # The task job's result says why a hand-over is missing (gitops.run.job_results); it reaches the
    # command through the environment, never pasted into the script.
    steps.append({"name": f"Record Task {task.id}",
                  "env": {"TASK_JOB_RESULT": f"${{{{ needs.{task_job}.result }}}}", **TOKEN_ENV},
                  "run": gitops_command(tasklist_path, f"record-task {task.id} --from {_handover_file(task)}") + "\n"})
    if task.id not in gated:  # a gated task's dependents are claimed by its gate job
        steps.append(_claim_step(tasklist_path))
    if task.id in gated:
        # A gated task that passed now awaits approval, and its gate job waits before running any
        # step: say so on the sticky comment now, not when the report job runs after every gate.
        # Best effort (the report job posts again), so a failed comment never fails the record.
        permissions["pull_requests"] = ("read", "find the phase PR that carries the progress comment")
        permissions.setdefault("actions", ("read", "whether the run that left a task running still runs"))
        steps.append({"name": f"Say that checkpoint {task.id} waits for a reviewer", "continue-on-error": True,
                      "env": dict(TOKEN_ENV), "run": gitops_command(tasklist_path, "report") + "\n"})
    # always(): a failed, cancelled or timed-out task job is recorded too; a skipped one ran nothing.
    # A deploying task's job is recorded even when skipped: GitHub fails a job whose review was
    # rejected (https://docs.github.com/en/actions/how-tos/deploy/configure-and-manage-deployments/review-deployments:
    # "If a job is rejected, the workflow will fail"), and were it ever reported as skipped, the
    # rejection would still be recorded, not left for the next run to take for a lost runner.
    ran = "" if needs_deploy_approval(tasklist, task) else f" && needs.{task_job}.result != 'skipped'"
    return {
        "name": job_name(f"Record Task {task.id}"),
        "needs": ["plan", task_job],
        "if": "${{ always() && " + " && ".join(_planned(task)) + ran + " }}",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": SHORT_JOB_MINUTES,
        "permissions": job_permissions(**permissions),
        "steps": steps,
    }


def _claim_step(tasklist_path: str) -> dict[str, Any]:
    """The tasks this job made ready start in this run, and in no other (gitops.run.claims)."""
    return {"name": "Claim the tasks that are ready now", "env": {"PLANNED": "${{ needs.plan.outputs.pending }}", **TOKEN_ENV},
            "run": gitops_command(tasklist_path, 'claim "$PLANNED"') + "\n"}


def gate_job(task: Task, tasklist_path: str, windowed: bool = False) -> dict[str, Any]:
    # Runs after its task passed in this run, or when plan found the task awaiting approval
    # (its gate job of an earlier run was cancelled or timed out). A task with a time window only
    # the latter: the run that started it leaves it waiting, and the windows workflow starts the
    # run whose plan finds it awaiting approval (gitops.github.windows_workflow).
    passed = f"needs.{job_id('task', task.id)}.result == 'success' && needs.{job_id('record', task.id)}.result == 'success'"
    awaiting = _contains("awaiting", task.id) if windowed else f"(({passed}) || {_contains('awaiting', task.id)})"
    condition = ("${{ !cancelled() && needs.plan.result == 'success' && needs.plan.outputs.proceed == 'true' && "
                 f"{awaiting} }}}}")
    prompt = task.when_ready_prompt or f"Task {task.id} complete. Proceed?"
    return {
        "name": job_name(f"Checkpoint {task.id}: {prompt}"),
        "needs": ["plan", job_id("task", task.id), job_id("record", task.id)],
        "if": condition,
        "runs-on": "ubuntu-latest",
        # Its own environment: GitHub approves per environment per run (gitops.github.environments).
        "environment": checkpoint_environment(project_slug(tasklist_path), task.id),
        "timeout-minutes": SHORT_JOB_MINUTES,
        "permissions": job_permissions(
            actions=("read", "approve --recorded: the checkpoint deployment review"),
            contents=("write", "the state commit"),
        ),
        "steps": [
            *setup_steps(),
            {"name": f"Record the approval of checkpoint {task.id}", "env": {**TOKEN_ENV, **GATES_ENV},
             "run": gitops_command(tasklist_path, f"approve {task.id} --recorded") + "\n"},
            _claim_step(tasklist_path),
        ],
    }
