"""Which GitHub environment each gate waits in: one per checkpoint, `production` for deploy gates.

GitHub reviews deployments per environment per run: every job of a run waiting in one
environment is released by one approval, under one reviewer's name
(https://docs.github.com/en/actions/managing-workflow-runs/reviewing-deployments, "Select the
job environment(s) to approve"). Two checkpoints sharing an environment would be approved
together, so each checkpoint gate has its own: `b-1006-checkpoint-2-1`.

Pure names, no PyGithub: the renderer, setup-github and approvals all ask here.
"""
from __future__ import annotations

import re

from gitops.model import Gate, GateKind, TaskList
from gitops.plan.policy import needs_deploy_approval

PRODUCTION = "production"


def checkpoint_environment(project: str, task_id: str) -> str:
    """The environment of one checkpoint gate, e.g. `b-1006-checkpoint-2-1`."""
    return f"{project}-checkpoint-" + re.sub(r"[^A-Za-z0-9_-]", "-", task_id)


def environment_for(gate: str, project: str) -> str | None:
    """The environment a gate waits in; None for phase gates (approved by merging the PR)."""
    parsed = Gate.parse(gate)
    if parsed.kind is GateKind.PHASE:
        return None
    return PRODUCTION if parsed.kind is GateKind.DEPLOY else checkpoint_environment(project, parsed.subject)


def workflow_environments(tasklist: TaskList, gated: list[str]) -> list[str]:
    """Every environment the workflow names: one per gated task, then `production` if a phase deploys."""
    names = [checkpoint_environment(tasklist.slug, task_id) for task_id in gated]
    if any(needs_deploy_approval(tasklist, task) for task in tasklist.tasks.values()):
        names.append(PRODUCTION)
    return names
