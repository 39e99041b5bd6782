"""The GitHub Actions job graph of a task list, as a plain document that `gitops.github.render` writes.

One job per task (it runs the task's code with a read-only token and hands its result over), a
recording job after each (it commits that result, running no task code), a gate job after each
task that can end awaiting approval (a checkpoint, or manual work), each waiting in its own
environment, a `plan` job first and a `report` job last. The graph is fixed by the task list;
what runs in a given workflow run is decided by the state that `plan` reads, through each job's
`if:` (see gitops.github.task_jobs.task_condition), and by the tasks the run claims
(gitops.run.claims): runs may overlap, and each task runs in the one run that claimed it. The
jobs are built in plan_job, task_jobs and job_steps; a task list with time windows gets a second,
scheduled workflow (gitops.github.windows_workflow).
"""
from __future__ import annotations

from typing import Any, Collection

from gitops.errors import TaskListError
from gitops.github import production_jobs, production_order
from gitops.github.environments import PRODUCTION
from gitops.github.job_steps import (
    SHORT_JOB_MINUTES,
    TOKEN_ENV,
    gitops_command,
    job_name,
    job_permissions,
    setup_steps,
)
from gitops.github.plan_job import dispatch_inputs, plan_job
from gitops.github.task_jobs import gate_job, job_id, record_job, task_job
from gitops.model import TaskList, project_slug
from gitops.plan.policy import may_await_approval

BASE_BRANCH = "main"


_PLAN_RAN = "${{ always() && needs.plan.result != 'skipped' }}"


def workflow_path(tasklist_path: str) -> str:
    """Where the workflow of a task list lives, relative to the repository root."""
    return f".github/workflows/{project_slug(tasklist_path)}.yml"


def gated_tasks(tasklist: TaskList, handled: Collection[str] = ()) -> list[str]:
    """The tasks that get a gate job: every task that can end awaiting approval (`handled`: the
    task ids of the handler registry; a task without Run or handler is manual work)."""
    return [task.id for task in tasklist.tasks.values() if may_await_approval(tasklist, task, handled)]


def workflow(tasklist: TaskList, tasklist_path: str, handled: Collection[str] = (),
             state_path: str = "state.json", windows: Collection[str] = ()) -> dict[str, Any]:
    """The workflow document (YAML-ready) for a task list at `tasklist_path` in the repository
    (`state_path`: where state.json lives, relative to the repository root)."""
    for path in (tasklist_path, state_path):
        # Paths are written into the header's comments and into `paths:`: a line break would end
        # the comment and start YAML keys of its own.
        if any(ord(char) < 32 or ord(char) == 127 for char in path):
            raise TaskListError(f"{path!r}: a path with a line break or control character cannot be written "
                                "into a workflow; rename the file")
    gated = frozenset(gated_tasks(tasklist, handled))
    windowed = frozenset(windows)  # tasks with a time window (the registry's WINDOWS): they end waiting
    jobs: dict[str, Any] = {"plan": plan_job(tasklist_path)}
    for task in tasklist.tasks.values():
        kinds = ("task", "record", "gate") if task.id in gated else ("task", "record")
        for kind in kinds:
            key = job_id(kind, task.id)
            if key in jobs:
                raise TaskListError(f"{tasklist_path}: Task {task.id} and another task both make job "
                                    f"id {key}; rename one of them")
            if kind == "task":
                jobs[key] = task_job(tasklist, task, tasklist_path, gated, windowed)
            elif kind == "record":
                jobs[key] = record_job(tasklist, task, tasklist_path, gated)
            else:
                jobs[key] = gate_job(task, tasklist_path, task.id in windowed)
    jobs["report"] = report_job(list(jobs), tasklist_path,
                                _PLAN_RAN)  # skipped: a comment that is no command
    deploys = bool(tasklist.production_tasks)
    if deploys:
        jobs["rollback"] = production_jobs.rollback_job(PRODUCTION, setup_steps(), lambda a: gitops_command(tasklist_path, a),
                                                        job_permissions, TOKEN_ENV)
        production_order.serialise(jobs, tasklist, job_id, rollback="rollback")  # one review per job
    return {
        "name": job_name(f"gitops: {tasklist.title}"),  # the workflow's name is expanded too
        "on": {
            # Only main (`on:` takes no expressions: a repository whose default branch has another name
            # gets no run from a merged phase PR; dispatch then). State commits go to gitops/<slug>/phase-<n> (made with GITHUB_TOKEN they
            # start no run anyway, and with another token every state commit would start one);
            # merging the phase PR pushes to main, which is what advances the pipeline. Only pushes
            # that touch the task list, the state or this workflow: an unrelated push has nothing to do.
            "push": {"branches": [BASE_BRANCH],
                     "paths": list(dict.fromkeys([tasklist_path, state_path, workflow_path(tasklist_path)]))},
            "workflow_dispatch": {"inputs": {**dispatch_inputs(),
                                             **(production_jobs.rollback_input() if deploys else {})}},
            # `/gitops retry 2.1` and `/gitops resume why` on the phase PR (gitops.github.comment_command).
            # Comments written with GITHUB_TOKEN (the bot's own) start no run.
            "issue_comment": {"types": ["created"]},
        },
        "permissions": {},
        # The branch the phase branches start from and whose state.json says the phase in progress.
        "env": {"GITOPS_DEFAULT_BRANCH": "${{ github.event.repository.default_branch }}"},
        # No workflow-level `concurrency`: GitHub keeps one running and one pending run per group and
        # a newer pending run cancels the older (https://docs.github.com/en/actions/using-jobs/using-concurrency),
        # so a run waiting days at a gate would hold the group and a push would cancel a queued
        # retry=/resume= dispatch. Runs overlap instead: state commits never lose an update
        # (gitops.state.git_store), a task runs in the one run that claimed it (gitops.run.claims),
        # and recover asks GitHub whether a claiming run has ended (gitops.github.run_status).
        # Only the report job is serialised (report_job).
        "defaults": {"run": {"shell": "bash"}},
        "jobs": jobs,
    }



def report_job(needs: list[str], tasklist_path: str, condition: str) -> dict[str, Any]:
    """The job that updates the phase PR and its progress comment, after `needs`, when `condition`
    holds; the windows workflow's report is the same job."""
    return {
        "name": "Report",
        "needs": needs,
        "if": condition,
        "runs-on": "ubuntu-latest",
        # Two runs' reports at once could open the phase PR or the progress comment twice. One report
        # at a time; a newer pending one replaces an older pending one (GitHub's rule, at job level
        # too: https://docs.github.com/en/actions/using-jobs/using-concurrency), and it reports the
        # newer state, so nothing is lost.
        "concurrency": report_concurrency(tasklist_path),
        "timeout-minutes": SHORT_JOB_MINUTES,
        "permissions": job_permissions(
            actions=("read", "whether the run that left a task running still runs (gitops.github.run_status)"),
            # report first opens HotFix issues whose notice failed and records their URLs in the state
            # (Runner.flush_notifications): a state commit, which `contents: read` refuses with a 403.
            contents=("write", "record the URL of a HotFix issue opened late"),
            issues=("write", "the sticky comment (PR comments are issue comments)"),
            pull_requests=("write", "open or update the phase PR"),
            statuses=("write", "the status gitops/phase-<n> on the phase PR's head"),
        ),
        "steps": [
            *setup_steps(),
            {"name": "Update the phase PR and its comment", "env": dict(TOKEN_ENV),
             "run": gitops_command(tasklist_path, "report") + "\n"},
        ],
    }


def report_concurrency(tasklist_path: str) -> dict[str, Any]:
    """The group of every job that posts the progress (this workflow's report job, the windows workflow's)."""
    return {"group": f"gitops-{project_slug(tasklist_path)}-report", "cancel-in-progress": False}
