"""The scheduled workflow that evaluates time windows (gitops.plan.windows), rendered beside the main one.

A task whose handler declares a window (the registry's WINDOWS: Task 6.2 watches production for
24-48 hours) ends its task job `waiting`: no job sleeps through a window (GitHub ends a job after
6 hours: https://docs.github.com/en/actions/administering-github-actions/usage-limits-billing-and-administration#usage-limits).
This workflow runs hourly and on dispatch: its `due` job (no task code) says whether any window
has ended; only then does its `evaluate` job run `gitops evaluate-windows`, task code, with a
read-only token, and hand each evaluation over as an artifact; its `record` job,
which runs no task code, commits them (as the main workflow's task and recording jobs do,
gitops.github.task_jobs) and starts the main workflow when a task stopped waiting (its
checkpoint, its dependents); its `report` job updates the phase PR's progress comment.

GitHub's schedule rules, from
https://docs.github.com/en/actions/writing-workflows/choosing-when-your-workflow-runs/events-that-trigger-workflows#schedule:
a schedule runs only the workflow file on the default branch, at its latest commit (so this file
must be merged to take effect; the state it evaluates is read from the phase branch, as every job
reads it); a scheduled run can be delayed (the start of every hour is the busiest, hence minute
17) or dropped under load, so a window is evaluated at the first run after it ended, not at its
end; and in a public repository the schedule is disabled after 60 days without activity
(re-enable it on the Actions tab, or dispatch this workflow by hand).

Where a window belongs to a production task (Task 6.2), evaluating it touches production: the
reference release is declared beside it, and the alert drill injects a fault that real users'
requests meet for a moment, each a commit pushed to the branch production follows. That is a
deployment, so the `evaluate` job runs behind the `production` environment, as the deploying task
did: a reviewer approves it, and only then does the job receive the environment's deploy key
(GITOPS_PRODUCTION_DEPLOY_KEY) that may push there. Hourly runs must not ask a reviewer every
hour for nothing, hence the `due` job first: the evaluation job, and its review, exist only in the
run that finds a window ended (a skipped job never reaches its environment:
https://docs.github.com/en/actions/how-tos/deploy/configure-and-manage-deployments/review-deployments,
"Jobs that reference an environment configured with required reviewers will wait for an approval
before starting"). A review left waiting holds this workflow's one running run (the concurrency
group below); later hourly runs wait as one pending run, whose `due` job finds nothing left once
the evaluation was recorded. A rejected review evaluates nothing, and is a person's decision: the
`record` job records who rejected it and why in each window it would have evaluated (the task
keeps waiting, gitops.run.windows.record), and `due` no longer finds those windows ended, so no
later run asks again until someone does (`gitops retry <task>`: the dispatch input `retry=` of the
main workflow, or `/gitops retry <task>` on the phase PR), as a rejected task job in the main
workflow (gitops.run.recording).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Collection

from gitops.github import production_jobs
from gitops.github.environments import PRODUCTION
from gitops.github.job_steps import (
    ACTIONS,
    SHORT_JOB_MINUTES,
    TOKEN_ENV,
    gitops_command,
    job_name,
    job_permissions,
    setup_steps,
)
from gitops.github.workflow import report_job, workflow_path
from gitops.model import TaskList, project_slug

CRON = "17 * * * *"  # hourly, off the top of the hour (see the module's docstring)
HANDOVER_DIR = ".gitops/windows"
# The 6.2 evaluation on the embedded stack measures a short window and drills an alert: minutes.
EVALUATE_MINUTES = 60


def windows_workflow_path(tasklist_path: str) -> str:
    """Where the windows workflow of a task list lives: beside its main workflow."""
    return f".github/workflows/{project_slug(tasklist_path)}-windows.yml"


def windows_workflow(tasklist: TaskList, tasklist_path: str, windows: Collection[str]) -> dict[str, Any]:
    """The workflow document for the tasks `windows` of `tasklist` (their handlers declare a window)."""
    slug = project_slug(tasklist_path)
    upload, upload_sha, _ = ACTIONS["upload-artifact"]
    download, download_sha, _ = ACTIONS["download-artifact"]
    artifact = "gitops-windows-attempt-${{ github.run_attempt }}"
    deploys = any(t in tasklist.production_tasks for t in windows)
    due = {
        "name": "Whose window has ended",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": SHORT_JOB_MINUTES,
        # Reads the state, runs no task code: it only decides whether the evaluation job runs.
        "permissions": job_permissions(contents=("read", "read the state on the phase branch")),
        "outputs": {"due": "${{ steps.due.outputs.due }}"},
        "steps": [
            *setup_steps(),
            {"name": "Whose window has ended", "id": "due", "env": dict(TOKEN_ENV),
             "run": gitops_command(tasklist_path, "due-windows --outputs") + ' >> "$GITHUB_OUTPUT"\n'},
        ],
    }
    evaluate: dict[str, Any] = {
        "name": "Evaluate the windows that have ended",
        "needs": ["due"],
        "if": "${{ needs.due.outputs.due == 'true' }}",
        "runs-on": "ubuntu-latest",
    }
    if deploys:
        # The evaluation deploys (the reference, the drill's fault): a reviewer approves it, once per
        # window that ended, and the job gets the deploy key only then (see the module's docstring).
        evaluate["environment"] = PRODUCTION
    evaluate |= {
        "timeout-minutes": EVALUATE_MINUTES,
        # Task code: no write token (gitops.github.task_jobs.task_job says why).
        "permissions": job_permissions(contents=("read", "fetch the phase branch; the state commit is the record job's")),
        "steps": [
            *setup_steps(history=True, task_code=True),
            {"name": "Evaluate", "env": {**TOKEN_ENV, **(production_jobs.PRODUCTION_SETTINGS if deploys else {})},
             "run": gitops_command(tasklist_path, f"evaluate-windows --hand-over {HANDOVER_DIR}") + "\n"},
            {"name": "Hand the evaluations over", "if": "${{ always() }}", "uses": f"{upload}@{upload_sha}",
             "with": {"name": artifact, "path": HANDOVER_DIR, "if-no-files-found": "ignore",
                      "include-hidden-files": True, "retention-days": 1}},
        ],
    }
    record = {
        "name": "Record the evaluations",
        "needs": ["evaluate"],
        # always(): a failed evaluation (a failed check) is recorded too; a task with nothing handed
        # over keeps waiting and is evaluated again by the next run. And a rejected review: GitHub
        # fails the job without starting it ("If a job is rejected, the workflow will fail":
        # https://docs.github.com/en/actions/how-tos/deploy/configure-and-manage-deployments/review-deployments),
        # so `needs.evaluate.result` is `failure` (the values: success, failure, cancelled, skipped,
        # https://docs.github.com/en/actions/reference/workflows-and-actions/contexts#needs-context),
        # and this job records who rejected it, lest the next run ask the reviewer again.
        "if": "${{ always() && needs.evaluate.result != 'skipped' }}",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": SHORT_JOB_MINUTES,
        "permissions": job_permissions(
            actions=("write", "start the main workflow when an evaluation completed a task; read who "
                              "rejected the evaluation's production review"),
            contents=("write", "the state commit"),
            issues=("write", "the HotFix issue when an evaluation fails; the incidents it reported"),
        ),
        "steps": [
            *setup_steps(),
            # Read as data, never run (gitops.run.handover).
            {"name": "Take the evaluations over", "continue-on-error": True, "uses": f"{download}@{download_sha}",
             "with": {"name": artifact, "path": HANDOVER_DIR}},
            # The evaluate job's result says whether its review may have been rejected
            # (gitops.run.job_results); it reaches the command through the environment, never pasted into the script.
            {"name": "Record them", "id": "record",
             "env": {"EVALUATE_JOB_RESULT": "${{ needs.evaluate.result }}", **TOKEN_ENV},
             "run": gitops_command(tasklist_path, f"record-windows --from {HANDOVER_DIR} --outputs") + ' >> "$GITHUB_OUTPUT"\n'},
            # A task done (or awaiting its checkpoint) moves the pipeline on in the main workflow: its
            # gate job, its dependents. A state commit made with GITHUB_TOKEN starts no run, a
            # workflow_dispatch does (https://docs.github.com/en/actions/how-tos/write-workflows/choose-when-workflows-run/trigger-a-workflow).
            {"name": "Start the main workflow", "if": "${{ steps.record.outputs.completed == 'true' }}",
             "env": {"GH_TOKEN": "${{ github.token }}", "GH_REPO": "${{ github.repository }}",
                     "MAIN_WORKFLOW": Path(workflow_path(tasklist_path)).name},
             "run": 'gh workflow run "$MAIN_WORKFLOW" --ref "$GITOPS_DEFAULT_BRANCH"\n'},
        ],
    }
    # The main workflow's report job, in its concurrency group: one report at a time across both workflows.
    report = report_job(["record"], tasklist_path, "${{ always() && needs.record.result == 'success' }}")
    return {
        "name": job_name(f"gitops: {tasklist.title} (time windows)"),
        "on": {"schedule": [{"cron": CRON}], "workflow_dispatch": {}},
        "permissions": {},
        # Runs of this workflow never overlap: a second one waits (no run here waits at a gate).
        "concurrency": {"group": f"gitops-{slug}-windows", "cancel-in-progress": False},
        # A schedule's event carries no repository (https://github.com/github/codeql-action/pull/1211):
        # its run is on the default branch, which github.ref_name names then.
        "env": {"GITOPS_DEFAULT_BRANCH": "${{ github.event.repository.default_branch || github.ref_name }}"},
        "defaults": {"run": {"shell": "bash"}},
        "jobs": {"due": due, "evaluate": evaluate, "record": record, "report": report},
    }
