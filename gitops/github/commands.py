"""The GitHub side of two commands: `gitops setup-github` and `gitops approve GATE --forge github`.

The command line parses options and prints; this module turns a task list and the environment
into API calls (through gitops/github/admin.py) and says what happened, in words.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

from gitops.errors import GitopsError, UsageError
from gitops.forge.base import Forge
from gitops.github import workflow
from gitops.github.admin import (
    PLAN_NOTE,
    PRODUCTION,
    approve_pending,
    checkpoint_environment,
    environment_for,
    waiting_run,
)
from gitops.github.api import GitHubSettings, connect, translated
from gitops.github.forge import GitHubForge
from gitops.model import Gate, GateKind, TaskList
from gitops.plan.planner import Step, StepKind
from gitops.state.git_store import phase_branch


def forge_for(tasklist: TaskList, environ: Mapping[str, str]) -> GitHubForge:
    """The GitHubForge of this task list's project (PyGithub is loaded on its first call)."""
    return GitHubForge.from_environ(environ, tasklist.slug)


def gate_environment(tasklist: TaskList, gate: str, checkpoint_env: str | None = None) -> str:
    """The environment whose pending deployment a gate is; phase gates and unknown gates are errors."""
    project = tasklist.slug
    environment = environment_for(gate, checkpoint_env or checkpoint_environment(project))
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
    checkpoint_env: str | None = None,
    **transport: object,
) -> str:
    """Approve the waiting run's pending deployment for the gate; return the run's web page."""
    environment = gate_environment(tasklist, gate, checkpoint_env)
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
    checkpoint_env: str | None = None,
    **transport: object,
) -> list[str]:
    """Create the checkpoint and production environments and the labels; return what was done."""
    project = tasklist.slug
    environment = checkpoint_env or checkpoint_environment(project)
    settings = GitHubSettings.from_environ(environ, **transport)
    forge = GitHubForge(settings, project, environ, environment, reviewers)
    labels = ["hotfix", "gitops", *(f"task:{task_id}" for task_id in tasklist.tasks)]
    done = forge.setup([environment, PRODUCTION], labels)
    with translated(f"reading {settings.repository}", settings):
        private = forge.repo.private
    if not reviewers:
        done.append("No --reviewer given: the environments exist, but no job waits for a person. "
                    "Run again with --reviewer LOGIN (or --reviewer org/team).")
    visibility = "private" if private else "public"
    done.append(f"Note: {settings.repository} is {visibility}. {PLAN_NOTE}")
    return done


def approver_from_forge(forge: Forge, gate: str, environ: Mapping[str, str], note: Callable[[str], None]) -> str | None:
    """Who approved the gate as the forge saw it; None when nobody did (nothing is recorded then).

    A phase gate counts only a merged phase PR. An environment gate falls back to the run's actor
    only inside the gate's own job: GitHub started that job after the environment's rules passed
    (with no required reviewers there is no approval to read). Anywhere else (a push, a dispatch
    run's plan job) the actor proves nothing: any writer could otherwise approve any gate.
    """
    try:
        who = forge.record_approval(gate)
    except GitopsError as exc:
        note(f"warning: cannot read who approved {gate} on GitHub ({exc})")
        who = None
    return who or (environ.get("GITHUB_ACTOR") if environ.get("GITHUB_JOB") == gate_job(gate) else None)


def gate_job(gate: str) -> str | None:
    """The workflow job that runs behind the gate's environment: gate-<id>, task-<id> for deploy-<id>."""
    parsed = Gate.parse(gate)
    if parsed.kind is GateKind.PHASE:
        return None
    if parsed.kind is GateKind.DEPLOY:
        return workflow.job_id("task", parsed.subject)
    return workflow.job_id("gate", gate)


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
            return (f"{step.message} A reviewer approves the `{checkpoint_environment(project)}` environment{on_run} "
                    f"(Review deployments), or runs `gitops --forge github approve {gate}`.{signoff}")
        if step.kind is StepKind.PAUSED:
            return f"{step.message} Push the fix, then run the workflow with input `retry={step.task}`."
        if step.kind is StepKind.HALTED:
            return f'{step.message} Run the workflow with inputs `resume="<why it is safe>"` and `retry=<task>`.'
        return step.message

    return text
