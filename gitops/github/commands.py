"""The GitHub side of two commands: `gitops setup-github` and `gitops approve GATE --forge github`.

The command line parses options and prints; this module turns a task list and the environment
into API calls (through gitops/github/admin.py) and says what happened, in words.
"""
from __future__ import annotations

from typing import Callable, Collection, Mapping, Sequence

from gitops.errors import UsageError
from gitops.forge.base import Forge
from gitops.github import task_jobs, workflow
from gitops.github.admin import approve_pending, waiting_run
from gitops.github.api import GitHubSettings, connect, translated
from gitops.github.environment_setup import PLAN_NOTE
from gitops.github.environments import PRODUCTION, environment_for, workflow_environments
from gitops.github.forge import GitHubForge
from gitops.github.preflight import FALLBACK, FALLBACK_VARIABLE, check_gates, gated_by_pr_merge
from gitops.model import Gate, GateKind, TaskList
from gitops.plan.planner import EVALUATION_REJECTED, Step, StepKind
from gitops.state.phase_branches import phase_branch

# What the gate job records when the repository chose the PR-merge fallback: nobody reviewed it.
NO_REVIEWER = f"nobody ({FALLBACK_VARIABLE}={FALLBACK}: the phase PR's review is the check)"


def forge_for(tasklist: TaskList, environ: Mapping[str, str]) -> GitHubForge:
    """The GitHubForge of this task list's project (PyGithub is loaded on its first call)."""
    return GitHubForge.from_environ(environ, tasklist.slug)


def gate_environment(tasklist: TaskList, gate: str) -> str:
    """The environment whose pending deployment a gate is; phase gates and unknown gates are errors."""
    project = tasklist.slug
    environment = environment_for(gate, project)
    if environment is None:
        finished = Gate.parse(gate).phase_number - 1
        raise UsageError(
            f"Gate {gate} is a phase gate: it is approved by merging the PR of phase {finished} "
            f"(branch {phase_branch(project, finished)}), not with `gitops approve --forge github`."
        )
    if Gate.parse(gate).subject not in tasklist.tasks:
        raise UsageError(
            f"Unknown gate {gate!r}. Gates are task ids (e.g. 1.1), deploy-<task> and phase-N; "
            f"tasks: {', '.join(tasklist.tasks)}."
        )
    return environment


def approve_deployment(
    tasklist: TaskList,
    gate: str,
    environ: Mapping[str, str],
    by: str,
    run_id: int | None = None,
    **transport: object,
) -> str:
    """Approve the waiting run's pending deployment for the gate (its own environment, so nothing
    else waiting in the run is approved with it); return the run's web page."""
    environment = gate_environment(tasklist, gate)
    settings = GitHubSettings.from_environ(environ, **transport)
    gh = connect(settings)
    with translated(f"reading repository {settings.repository}", settings):
        repo = gh.get_repo(settings.repository)
    run = run_id or settings.run_id or waiting_run(repo, workflow.workflow_path(tasklist.path), settings)
    comment = f"Gate {gate} approved with `gitops approve {gate}` by {by}."
    return approve_pending(gh, repo, run, environment, comment, settings)


def setup_github(
    tasklist: TaskList,
    environ: Mapping[str, str],
    reviewers: Sequence[str] = (),
    handled: Collection[str] = (),
    **transport: object,
) -> list[str]:
    """Create every environment the workflow names, the state branches' ruleset and the labels;
    return what was done. `handled`: the task ids of the handler registry (which tasks get a gate)."""
    settings = GitHubSettings.from_environ(environ, **transport)
    forge = GitHubForge(settings, tasklist.slug, environ, reviewers)
    # The incidents' labels too (gitops.forge.incidents: Task 6.2's drill), so they exist with their
    # colours: the REST API's create-an-issue makes a missing label only as observed behaviour, for a
    # token with push access (https://github.com/orgs/community/discussions/197408), not as documented.
    labels = ["hotfix", "gitops", "incident", "production", *(f"task:{task_id}" for task_id in tasklist.tasks)]
    done = forge.setup(workflow_environments(tasklist, workflow.gated_tasks(tasklist, handled)), labels)
    with translated(f"reading {settings.repository}", settings):
        private = forge.repo.private
    if not reviewers:
        done.append("No --reviewer given: environments keep the reviewers they have; new ones wait for nobody "
                    "(the workflow's plan job refuses to run then). Run again with --reviewer LOGIN "
                    "(or --reviewer org/team).")
    elif len(reviewers) == 1 and "/" not in reviewers[0]:
        done.append(f"Note: {reviewers[0]} is the only reviewer and may not approve runs they started (self-review "
                    "is prevented): name a second reviewer or a team.")
    visibility = "private" if private else "public"
    done.append(f"Note: {settings.repository} is {visibility}. {PLAN_NOTE}")
    return done


def check_github(tasklist: TaskList, environ: Mapping[str, str], handled: Collection[str] = (),
                 **transport: object) -> str:
    """The plan job's first check: every gate environment exists with required reviewers (or the
    PR-merge fallback is configured); raises, naming the gaps and the fix, otherwise."""
    settings = GitHubSettings.from_environ(environ, **transport)
    gh = connect(settings)
    with translated(f"reading repository {settings.repository}", settings):
        repo = gh.get_repo(settings.repository)
    environments = workflow_environments(tasklist, workflow.gated_tasks(tasklist, handled))
    return check_gates(gh, repo, environments, settings, environ)


def approver_from_forge(forge: Forge, gate: str, environ: Mapping[str, str], note: Callable[[str], None]) -> str | None:
    """Who approved the gate as the forge saw it; None when nobody did (nothing is recorded then).

    Never a guess: an approval that cannot be read is an error (it propagates), and the run's
    actor is never taken for the approver. A phase gate counts only a merged phase PR. In the
    gate's own job GitHub held the job until its environment's rules passed, so finding no
    approval there means the environment had no required reviewers: an error, unless the
    repository chose the PR-merge fallback (then the record says nobody reviewed the gate).
    """
    who = forge.record_approval(gate)
    if who or environ.get("GITHUB_JOB") != gate_job(gate):
        return who
    if gated_by_pr_merge(environ):
        note(f"Gate {gate}: no required reviewers ({FALLBACK_VARIABLE}={FALLBACK}); recorded as {NO_REVIEWER}.")
        return NO_REVIEWER
    environment = environment_for(gate, getattr(forge, "project", ""))
    raise UsageError(
        f"Gate {gate}: its job started, but GitHub holds no approval of environment {environment} in this run, "
        "so the environment has no required reviewers and nobody reviewed the gate. Nothing is recorded. "
        "Fix: a repository admin runs `gitops setup-github --reviewer LOGIN`, then run the workflow again "
        "(the gate waits for a reviewer)."
    )


def gate_job(gate: str) -> str | None:
    """The workflow job that runs behind the gate's environment: gate-<id>, task-<id> for deploy-<id>."""
    parsed = Gate.parse(gate)
    if parsed.kind is GateKind.PHASE:
        return None
    if parsed.kind is GateKind.DEPLOY:
        return task_jobs.job_id("task", parsed.subject)
    return task_jobs.job_id("gate", gate)


def step_text(project: str, run_url: str | None) -> Callable[[Step], str]:
    """The next step as people act on GitHub: which environment to approve, which PR to merge."""
    on_run = f" on [the waiting run]({run_url})" if run_url else " on the waiting run"

    def text(step: Step) -> str:
        gate = step.gate or ""
        kind = Gate.parse(gate).kind
        if step.kind is StepKind.GATE and kind is GateKind.PHASE:
            return f"Merge this PR to start Phase {Gate.parse(gate).phase_number} (the merge approves gate {gate})."
        if step.kind is StepKind.GATE and kind is GateKind.DEPLOY:
            return (f"A release reviewer approves the `{PRODUCTION}` environment{on_run}: Task {step.task} deploys "
                    f"next (or `gitops --forge github approve {gate}`).")
        if step.kind is StepKind.GATE:
            signoff = "".join(f"\n- [ ] {c}" for c in step.unsigned)
            return (f"{step.message} A reviewer approves the `{environment_for(gate, project)}` environment{on_run} "
                    f"(Review deployments), or runs `gitops --forge github approve {gate}`.{signoff}")
        if step.kind is StepKind.PAUSED:
            return f"{step.message} Push the fix, then run the workflow with input `retry={step.task}`."
        if step.kind is StepKind.REJECTED and EVALUATION_REJECTED in step.reasons:
            return (f"{step.message} On GitHub: run the workflow with input `retry={step.task}`, or comment "
                    f"`/gitops retry {step.task}` on the phase PR; the next run of the hourly workflow "
                    f"`{project}-windows.yml` (or one started by hand) then asks a release reviewer again.")
        if step.kind is StepKind.REJECTED and kind is GateKind.DEPLOY:
            return (f"{step.message} On GitHub: run the workflow with input `retry={step.task}`, or comment "
                    f"`/gitops retry {step.task}` on the phase PR; its job then waits for a release reviewer again.")
        if step.kind is StepKind.INTERRUPTED:
            return (f"{step.message} On GitHub: run the workflow with input `retry={step.task}`, or comment "
                    f"`/gitops retry {step.task}` on the phase PR.")
        if step.kind is StepKind.HALTED:
            return f'{step.message} Run the workflow with inputs `resume="<why it is safe>"` and `retry=<task>`.'
        if step.kind is StepKind.WAITING:
            return (f"{step.message.split(';')[0]}. The hourly workflow `{project}-windows.yml` evaluates it at its first "
                    "run after that (scheduled runs can be late); nothing needs a person until then.")
        return step.message

    return text
