"""The GitHub Actions job graph of a task list, as a plain document that `gitops.github.render` writes.

One job per task (it runs the task's code with a read-only token and hands its result over), a
recording job after each (it commits that result, running no task code), a gate job after each
task that can end awaiting approval (a checkpoint, or manual work), each waiting in its own
environment, a `plan` job first and a `report` job last. The graph is fixed by the task list;
what runs in a given workflow run is decided by the state that `plan` reads, through each job's
`if:` (see `_task_condition`), and by the tasks the run claims (gitops.run.claims): runs may
overlap, and each task runs in the one run that claimed it.
"""
from __future__ import annotations

import re
import shlex
from typing import Any, Collection

from gitops.errors import TaskListError
from gitops.github import handover_steps, production_jobs, production_order
from gitops.github.environments import PRODUCTION, checkpoint_environment
from gitops.model import Task, TaskList, project_slug
from gitops.plan.policy import deploy_gate, may_await_approval, needs_deploy_approval

BASE_BRANCH = "main"
PYTHON_VERSION = "3.11"
# Pinned to full commit SHAs (a tag can be moved; a SHA cannot); the version goes in a comment.
ACTIONS = {
    "checkout": ("actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "setup-python": ("actions/setup-python", "a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "cache": ("actions/cache", "5a3ec84eff668545956fd18022155c47e93e2684", "v4.2.3"),
    # Restore without the post-job save: https://github.com/actions/cache/tree/main/restore
    "cache-restore": ("actions/cache/restore", "5a3ec84eff668545956fd18022155c47e93e2684", "v4.2.3"),
    # The task job's result goes to its recording job as an artifact (_record_job).
    "upload-artifact": ("actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "download-artifact": ("actions/download-artifact", "d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
}
# Where a task job writes its result (`run-task --hand-over`) and its recording job finds it.
HANDOVER_DIR = ".gitops/handover"
# Every job bootstraps the same venv (dspy, mlflow: minutes); it is restored from the cache while
# the Python (its exact version: a venv points at its interpreter) and the pins are the same.
# uv's download cache rides along for the next change of pins.
VENV_CACHE = {
    "path": ".venv\n~/.cache/uv",
    "key": "gitops-venv-${{ runner.os }}-${{ steps.python.outputs.python-version }}-"
           "${{ hashFiles('pyproject.toml', 'constraints.txt') }}",
}
SHORT_JOB_MINUTES = 30  # plan, gate and report jobs; task jobs keep GitHub's 6-hour default

# Written into `env:` and read as shell variables: an expression expanded inside `run:`
# would be pasted into the script as code (template injection), so none appears there.
TOKEN_ENV = {"GITHUB_TOKEN": "${{ github.token }}"}
# The PR-merge fallback is chosen with a repository variable (gitops.github.preflight).
GATES_ENV = {"GITOPS_GATES": "${{ vars.GITOPS_GATES }}"}
# A `/gitops` comment's command arrives as the outputs of the plan job's `comment` step.
DISPATCH_ENV = {
    "APPROVE_GATE": "${{ inputs.approve }}",
    "RESUME_REASON": "${{ inputs.resume || steps.comment.outputs.resume }}",
    "RETRY_TASK": "${{ inputs.retry || steps.comment.outputs.retry }}",
}
COMMAND_PREFIX = "/gitops"


def workflow_path(tasklist_path: str) -> str:
    """Where the workflow of a task list lives, relative to the repository root."""
    return f".github/workflows/{project_slug(tasklist_path)}.yml"


def job_id(prefix: str, task_id: str) -> str:
    """A stable job id: `task-1-1`, `gate-1-1`."""
    return f"{prefix}-" + re.sub(r"[^A-Za-z0-9_-]", "-", task_id)


def gated_tasks(tasklist: TaskList, handled: Collection[str] = ()) -> list[str]:
    """The tasks that get a gate job: every task that can end awaiting approval (`handled`: the
    task ids of the handler registry; a task without Run or handler is manual work)."""
    return [task.id for task in tasklist.tasks.values() if may_await_approval(tasklist, task, handled)]


def workflow(tasklist: TaskList, tasklist_path: str, handled: Collection[str] = (),
             state_path: str = "state.json") -> dict[str, Any]:
    """The workflow document (YAML-ready) for a task list at `tasklist_path` in the repository
    (`state_path`: where state.json lives, relative to the repository root)."""
    for path in (tasklist_path, state_path):
        # Paths are written into the header's comments and into `paths:`: a line break would end
        # the comment and start YAML keys of its own.
        if any(ord(char) < 32 or ord(char) == 127 for char in path):
            raise TaskListError(f"{path!r}: a path with a line break or control character cannot be written "
                                "into a workflow; rename the file")
    name = project_slug(tasklist_path)
    gated = frozenset(gated_tasks(tasklist, handled))
    jobs: dict[str, Any] = {"plan": _plan_job(tasklist_path)}
    for task in tasklist.tasks.values():
        kinds = ("task", "record", "gate") if task.id in gated else ("task", "record")
        for kind in kinds:
            key = job_id(kind, task.id)
            if key in jobs:
                raise TaskListError(f"{tasklist_path}: Task {task.id} and another task both make job "
                                    f"id {key}; rename one of them")
            if kind == "task":
                jobs[key] = _task_job(tasklist, task, tasklist_path, gated)
            elif kind == "record":
                jobs[key] = _record_job(tasklist, task, tasklist_path, gated)
            else:
                jobs[key] = _gate_job(task, tasklist_path)
    jobs["report"] = _report_job(list(jobs), tasklist_path)
    deploys = bool(tasklist.production_tasks)
    if deploys:
        jobs["rollback"] = production_jobs.rollback_job(PRODUCTION, _setup_steps(), lambda a: _gitops(tasklist_path, a),
                                                        _permissions, TOKEN_ENV)
        production_order.serialise(jobs, tasklist, job_id, rollback="rollback")  # one review per job
    return {
        "name": _name(f"gitops: {tasklist.title}"),  # the workflow's name is expanded too
        "on": {
            # Only main (`on:` takes no expressions: a repository whose default branch has another name
            # gets no run from a merged phase PR; dispatch then). State commits go to gitops/<slug>/phase-<n> (made with GITHUB_TOKEN they
            # start no run anyway, and with another token every state commit would start one);
            # merging the phase PR pushes to main, which is what advances the pipeline. Only pushes
            # that touch the task list, the state or this workflow: an unrelated push has nothing to do.
            "push": {"branches": [BASE_BRANCH],
                     "paths": list(dict.fromkeys([tasklist_path, state_path, workflow_path(tasklist_path)]))},
            "workflow_dispatch": {"inputs": {**_dispatch_inputs(),
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
        # Only the report job is serialised (_report_job).
        "defaults": {"run": {"shell": "bash"}},
        "jobs": jobs,
    }


def _dispatch_inputs() -> dict[str, Any]:
    def text(description: str) -> dict[str, Any]:
        return {"description": description, "required": False, "type": "string", "default": ""}

    return {
        "retry": text("HotFix done: the task id to retry (e.g. 2.1)"),
        "resume": text("Clear a halt: why it is safe to go on"),
        # Only what GitHub can prove: a merged phase PR. A checkpoint's approval is read in its own
        # gate job (gitops.github.commands.approver_from_forge); the next run's gate job asks again.
        "approve": text("Record a phase gate whose PR is merged (e.g. phase-2) if its run did not"),
    }


def _gitops(tasklist_path: str, args: str) -> str:
    # `gitops` is on PATH once the Bootstrap step ran (scripts/bootstrap appends to $GITHUB_PATH).
    return f"gitops --forge github --tasklist {shlex.quote(tasklist_path)} {args}"


def _setup_steps(history: bool = False, task_code: bool = False) -> list[dict[str, Any]]:
    """Checkout, Python, bootstrap; `history`: the whole history, so that run-task can merge
    the phase branch into the checkout (gitops.state.git_store.GitStateStore.sync_worktree).
    `task_code`: the job runs task code, so it only restores the venv: a cache it saved after the
    task ran could carry a venv the task changed into the jobs that hold the write token."""
    repo, sha, _ = ACTIONS["checkout"]
    python, python_sha, _ = ACTIONS["setup-python"]
    cache, cache_sha, _ = ACTIONS["cache-restore" if task_code else "cache"]
    checkout: dict[str, Any] = {"persist-credentials": False}
    if history:
        checkout["fetch-depth"] = 0
    return [
        # No job keeps the token in .git/config: the jobs that push hand it to git through the
        # environment (gitops.state.git_store.github_auth_env), only for the git calls that need it.
        {"uses": f"{repo}@{sha}", "with": checkout},
        {"id": "python", "uses": f"{python}@{python_sha}", "with": {"python-version": PYTHON_VERSION}},
        {"name": "Restore the environment", "uses": f"{cache}@{cache_sha}", "with": dict(VENV_CACHE)},
        {"name": "Bootstrap", "run": "scripts/bootstrap"},
    ]


def _plan_job(tasklist_path: str) -> dict[str, Any]:
    gitops = _gitops(tasklist_path, "").rstrip()
    dispatch = "\n".join([
        'if [ -n "$RESUME_REASON" ]; then',
        f'  {gitops} resume --reason "$RESUME_REASON" --by "$GITHUB_ACTOR"',
        "fi",
        'if [ -n "$APPROVE_GATE" ]; then',
        f'  {gitops} approve "$APPROVE_GATE" --recorded',
        "fi",
        'if [ -n "$RETRY_TASK" ]; then',
        f'  {gitops} retry "$RETRY_TASK"',
        "fi",
    ]) + "\n"
    # `gitops status --outputs` writes key=value lines for $GITHUB_OUTPUT: no jq, no parsing in bash.
    outputs = ("current_phase", "done", "pending", "awaiting", "proceed")
    return {
        "name": "Plan",
        # A comment runs the pipeline only when it is a command (then the plan job checks its author).
        "if": f"${{{{ github.event_name != 'issue_comment' || startsWith(github.event.comment.body, '{COMMAND_PREFIX}') }}}}",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": SHORT_JOB_MINUTES,
        "permissions": _permissions(
            actions=("read", "the gate environments' reviewers; approve --recorded: deployment reviews of this run"),
            contents=("write", "state commits (recover, retry, resume, approve, claims)"),
            issues=("write", "answer a /gitops comment (a reaction, a reply)"),
            pull_requests=("read", "approve --recorded: the merged phase PR"),
        ),
        "outputs": {**{key: f"${{{{ steps.plan.outputs.{key} }}}}" for key in outputs},
                    # After the claim (when tasks may start): what this run starts.
                    "pending": "${{ steps.claim.outputs.pending || steps.plan.outputs.pending }}"},
        "steps": [
            *_setup_steps(),
            # Fail closed: a missing environment would be created unprotected by the first job that
            # names it, and a gate without required reviewers would stop nobody (gitops.github.preflight).
            {"name": "Check that every gate waits for a reviewer", "env": {**TOKEN_ENV, **GATES_ENV},
             "run": f"{gitops} setup-github --check\n"},
            # A task still `running` for another run whose run has completed lost its job (cancelled,
            # timed out): record it as failed first (gitops.plan.stale, gitops.github.run_status).
            {"name": "Record tasks an ended run left running", "env": dict(TOKEN_ENV), "run": f"{gitops} recover\n"},
            # The comment is read from the event file, never pasted into the script.
            {"name": "Read a /gitops command", "id": "comment", "if": "${{ github.event_name == 'issue_comment' }}",
             "env": dict(TOKEN_ENV), "run": f'{gitops} comment-command >> "$GITHUB_OUTPUT"\n'},
            {"name": "Apply the dispatch inputs",
             "if": "${{ github.event_name == 'workflow_dispatch' || github.event_name == 'issue_comment' }}",
             "env": {**DISPATCH_ENV, **TOKEN_ENV}, "run": dispatch},
            {"name": "Read the state", "id": "state", "if": "${{ github.event_name == 'push' }}",
             "env": dict(TOKEN_ENV), "run": f'{gitops} status --outputs >> "$GITHUB_OUTPUT"\n'},
            # Merging the phase PR is the approval of the next phase's gate; --recorded checks the merge.
            {"name": "Record a merged phase PR",
             "if": "${{ github.event_name == 'push' && steps.state.outputs.phase_gate == 'pending' }}",
             "env": {"PHASE_GATE": "phase-${{ steps.state.outputs.current_phase }}", **TOKEN_ENV},
             "run": f'{gitops} approve "$PHASE_GATE" --recorded\n'},
            {"name": "Plan", "id": "plan", "env": dict(TOKEN_ENV),
             "run": f'{gitops} plan --json\n{gitops} status --outputs | tee -a "$GITHUB_OUTPUT"\n'},
            # The tasks ready now start in this run, and in no other (gitops.run.claims); `pending` then
            # leaves out what an overlapping run claimed, so this run's jobs of those tasks skip.
            {"name": "Claim the tasks this run starts", "id": "claim", "if": "${{ steps.plan.outputs.proceed == 'true' }}",
             "env": {"PENDING": "${{ steps.plan.outputs.pending }}", **TOKEN_ENV},
             "run": f'{gitops} claim --outputs "$PENDING" >> "$GITHUB_OUTPUT"\n'},
        ],
    }


def _permissions(**granted: tuple[str, str]) -> dict[str, str]:
    """Job permissions, sorted, each with the reason it is needed (written as a YAML comment)."""
    return {key.replace("_", "-"): f"{level} # {why}" for key, (level, why) in sorted(granted.items())}


def _contains(output: str, task_id: str) -> str:
    # fromJSON makes a list, and contains(list, x) compares whole items: on the raw string,
    # contains() would be a substring test and "1.10" would count as "1.1".
    return f"contains(fromJSON(needs.plan.outputs.{output}), '{task_id}')"


def _dependency_met(dep: str, gated: frozenset[str]) -> str:
    """A dependency is met when it was done before this run, or passed in it: its task job
    succeeded and its recording job committed it (then its gate passed, for a checkpoint)."""
    if dep in gated:
        passed = f"needs.{job_id('gate', dep)}.result == 'success'"
    else:
        passed = f"needs.{job_id('task', dep)}.result == 'success' && needs.{job_id('record', dep)}.result == 'success'"
    return f"({_contains('done', dep)} || {passed})"


def _task_condition(task: Task, gated: frozenset[str]) -> str:
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
        *(_dependency_met(dep, gated) for dep in task.dependencies),
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


def _name(text: str) -> str:
    # Job names are expanded as expressions; task list text must stay text.
    text = " ".join(text.replace("${{", "$ {{").split())
    return text if len(text) <= 100 else text[:97] + "..."


def _task_job(tasklist: TaskList, task: Task, tasklist_path: str, gated: frozenset[str]) -> dict[str, Any]:
    # The job runs task code: it holds no write token (a job's token has only the permissions its
    # `permissions:` grants: https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication#modifying-the-permissions-for-the-github_token).
    # It reads the phase branch, runs the task and hands its result over as an artifact
    # (https://docs.github.com/en/actions/writing-workflows/choosing-what-your-workflow-does/storing-and-sharing-data-from-a-workflow);
    # its recording job commits it (_record_job, gitops.run.recording).
    production = needs_deploy_approval(tasklist, task)
    permissions = {"contents": ("read", "fetch the phase branch; the state commit is the recording job's")}
    steps = _setup_steps(history=True, task_code=True)
    if production:
        # The job starts only once a reviewer approved the production environment; the task's
        # start checks it in this job's copy of the state, the recording job records it.
        permissions["actions"] = ("read", "approve --recorded: the production deployment review")
        # Deployment statuses around the task (gitops.run.deploying; issue 15 item 7). The one
        # write this job holds: task code could at worst post a false deployment status, never
        # touch state, issues or the repository.
        permissions["deployments"] = production_jobs.DEPLOYMENTS_PERMISSION
        steps.append({"name": "Read the production approval", "env": {**TOKEN_ENV, **GATES_ENV},
                      "run": _gitops(tasklist_path, f"approve {deploy_gate(task.id)} --recorded --hand-over") + "\n"})
    steps.append({"name": f"Run Task {task.id}",
                  "env": {**TOKEN_ENV, **(production_jobs.PRODUCTION_SETTINGS if production else {})},
                  "run": _gitops(tasklist_path, f"run-task {task.id} --hand-over {_handover_file(task)}") + "\n"})
    upload, upload_sha, _ = ACTIONS["upload-artifact"]
    steps.extend(handover_steps.upload(f"{upload}@{upload_sha}", _artifact(task), _handover_file(task)))
    job: dict[str, Any] = {
        "name": _name(f"Task {task.id}: {task.title}"),
        "needs": _task_needs(tasklist, task, tasklist_path, gated),
        "if": _task_condition(task, gated),
        "runs-on": "ubuntu-latest",
    }
    if production:
        job["environment"] = PRODUCTION
    job["permissions"] = _permissions(**permissions)
    job["steps"] = steps
    return job


def _handover_file(task: Task) -> str:
    return f"{HANDOVER_DIR}/{job_id('task', task.id)}.json"


def _artifact(task: Task) -> str:
    # Artifact names are unique per run: a re-run attempt uploads its own.
    return f"gitops-{job_id('task', task.id)}-attempt-${{{{ github.run_attempt }}}}"


def _record_job(tasklist: TaskList, task: Task, tasklist_path: str, gated: frozenset[str]) -> dict[str, Any]:
    """Commits the task job's result: a fresh checkout that runs no task code holds the write token."""
    task_job = job_id("task", task.id)
    permissions = {"contents": ("write", "the state commit"), "issues": ("write", "the HotFix issue when the task fails")}
    download, download_sha, _ = ACTIONS["download-artifact"]
    steps = [
        *_setup_steps(),
        *handover_steps.download(f"{download}@{download_sha}", _artifact(task), HANDOVER_DIR),
    ]
    if needs_deploy_approval(tasklist, task):
        permissions["actions"] = ("read", "approve --recorded: the production deployment review")
        steps.append({"name": "Record the production approval", "env": {**TOKEN_ENV, **GATES_ENV},
                      "run": _gitops(tasklist_path, f"approve {deploy_gate(task.id)} --recorded") + "\n"})
    steps.append({"name": f"Record Task {task.id}", "env": dict(TOKEN_ENV),
                  "run": _gitops(tasklist_path, f"record-task {task.id} --from {_handover_file(task)}") + "\n"})
    if task.id not in gated:  # a gated task's dependents are claimed by its gate job
        steps.append(_claim_step(tasklist_path))
    if task.id in gated:
        # A gated task that passed now awaits approval, and its gate job waits before running any
        # step: say so on the sticky comment now, not when the report job runs after every gate.
        # Best effort (the report job posts again), so a failed comment never fails the record.
        permissions["pull_requests"] = ("read", "find the phase PR that carries the progress comment")
        permissions.setdefault("actions", ("read", "whether the run that left a task running still runs"))
        steps.append({"name": f"Say that checkpoint {task.id} waits for a reviewer", "continue-on-error": True,
                      "env": dict(TOKEN_ENV), "run": _gitops(tasklist_path, "report") + "\n"})
    return {
        "name": _name(f"Record Task {task.id}"),
        "needs": ["plan", task_job],
        # always(): a failed, cancelled or timed-out task job is recorded too; a skipped one ran nothing.
        "if": "${{ always() && " + " && ".join(_planned(task)) + f" && needs.{task_job}.result != 'skipped' }}}}",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": SHORT_JOB_MINUTES,
        "permissions": _permissions(**permissions),
        "steps": steps,
    }


def _claim_step(tasklist_path: str) -> dict[str, Any]:
    """The tasks this job made ready start in this run, and in no other (gitops.run.claims)."""
    return {"name": "Claim the tasks that are ready now", "env": {"PLANNED": "${{ needs.plan.outputs.pending }}", **TOKEN_ENV},
            "run": _gitops(tasklist_path, 'claim "$PLANNED"') + "\n"}


def _gate_job(task: Task, tasklist_path: str) -> dict[str, Any]:
    # Runs after its task passed in this run, or when plan found the task awaiting approval
    # (its gate job of an earlier run was cancelled or timed out).
    passed = f"needs.{job_id('task', task.id)}.result == 'success' && needs.{job_id('record', task.id)}.result == 'success'"
    condition = ("${{ !cancelled() && needs.plan.result == 'success' && needs.plan.outputs.proceed == 'true' && "
                 f"(({passed}) || {_contains('awaiting', task.id)}) }}}}")
    prompt = task.when_ready_prompt or f"Task {task.id} complete. Proceed?"
    return {
        "name": _name(f"Checkpoint {task.id}: {prompt}"),
        "needs": ["plan", job_id("task", task.id), job_id("record", task.id)],
        "if": condition,
        "runs-on": "ubuntu-latest",
        # Its own environment: GitHub approves per environment per run (gitops.github.environments).
        "environment": checkpoint_environment(project_slug(tasklist_path), task.id),
        "timeout-minutes": SHORT_JOB_MINUTES,
        "permissions": _permissions(
            actions=("read", "approve --recorded: the checkpoint deployment review"),
            contents=("write", "the state commit"),
        ),
        "steps": [
            *_setup_steps(),
            {"name": f"Record the approval of checkpoint {task.id}", "env": {**TOKEN_ENV, **GATES_ENV},
             "run": _gitops(tasklist_path, f"approve {task.id} --recorded") + "\n"},
            _claim_step(tasklist_path),
        ],
    }


def _report_job(needs: list[str], tasklist_path: str) -> dict[str, Any]:
    return {
        "name": "Report",
        "needs": needs,
        "if": "${{ always() && needs.plan.result != 'skipped' }}",  # skipped: a comment that is no command
        "runs-on": "ubuntu-latest",
        # Two runs' reports at once could open the phase PR or the progress comment twice. One report
        # at a time; a newer pending one replaces an older pending one (GitHub's rule, at job level
        # too: https://docs.github.com/en/actions/using-jobs/using-concurrency), and it reports the
        # newer state, so nothing is lost.
        "concurrency": {"group": f"gitops-{project_slug(tasklist_path)}-report", "cancel-in-progress": False},
        "timeout-minutes": SHORT_JOB_MINUTES,
        "permissions": _permissions(
            actions=("read", "whether the run that left a task running still runs (gitops.github.run_status)"),
            # report first opens HotFix issues whose notice failed and records their URLs in the state
            # (Runner.flush_notifications): a state commit, which `contents: read` refuses with a 403.
            contents=("write", "record the URL of a HotFix issue opened late"),
            issues=("write", "the sticky comment (PR comments are issue comments)"),
            pull_requests=("write", "open or update the phase PR"),
            statuses=("write", "the status gitops/phase-<n> on the phase PR's head"),
        ),
        "steps": [
            *_setup_steps(),
            {"name": "Update the phase PR and its comment", "env": dict(TOKEN_ENV),
             "run": _gitops(tasklist_path, "report") + "\n"},
        ],
    }
