"""One production job waits for its review at a time: the deploying jobs of a run are put in a line.

GitHub reviews deployments per environment per run: every job of a run waiting in one environment
is released by one approval, under one reviewer's name
(https://docs.github.com/en/rest/actions/workflow-runs#review-pending-deployments-for-a-workflow-run).
Two production tasks that are ready together would wait in `production` together, and one click
would release both, each recorded as approved by that reviewer. A job reaches its environment,
and waits there, only once its `needs` are done ("Jobs that reference an environment configured
with required reviewers will wait for an approval before starting":
https://docs.github.com/en/actions/how-tos/deploy/configure-and-manage-deployments/review-deployments).
So each job in `production` (the rollback job first, then the deploying tasks' jobs in an order
their dependencies allow) also needs the one before it: the next job reaches `production` after
the one before it ran and, for a task, was recorded. Each release is then a review of its own,
and `approve deploy-<id> --recorded` reads the newest approval, which is its own.

The extra `needs` only orders: a task job's `if:` starts with `!cancelled()` and checks its real
dependencies by name (gitops.github.workflow), so a job before it in the line that failed or was
skipped does not skip it. Production keeps one environment: its secrets, branch policy and
Deployment history (gitops.run.deploying) stay where they are. The price is that production
tasks of one run deploy one after the other, never at once.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from gitops.model import TaskList


def in_line(tasklist: TaskList, deploying: list[str]) -> list[str]:
    """The deploying tasks in task-list order, each after every one of them it depends on."""
    ordered: list[str] = []
    placing: set[str] = set()

    def place(task_id: str) -> None:
        if task_id in ordered or task_id in placing:
            return
        placing.add(task_id)
        for dep in _ancestors(tasklist, task_id):
            if dep in deploying:
                place(dep)
        ordered.append(task_id)

    for task_id in deploying:
        place(task_id)
    return ordered


def _ancestors(tasklist: TaskList, task_id: str) -> list[str]:
    """Every task `task_id` depends on, directly or not, in task-list order."""
    seen: set[str] = set()
    stack = list(tasklist.tasks[task_id].dependencies)
    while stack:
        dep = stack.pop()
        if dep in seen or dep not in tasklist.tasks:
            continue
        seen.add(dep)
        stack.extend(tasklist.tasks[dep].dependencies)
    return [t for t in tasklist.tasks if t in seen]


def serialise(jobs: Mapping[str, dict[str, Any]], tasklist: TaskList, job_id: Callable[[str, str], str],
              rollback: str | None) -> None:
    """Give each job in `production` the one before it as a need: `rollback` (its job id, when the
    workflow has one), then the production tasks' jobs, each after the previous one's recording job."""
    before = rollback
    for task_id in in_line(tasklist, [t for t in tasklist.tasks if t in tasklist.production_tasks]):
        job = jobs[job_id("task", task_id)]
        if before is not None and before not in job["needs"]:
            job["needs"].append(before)
        before = job_id("record", task_id)
