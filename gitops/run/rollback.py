"""Rolling production back by hand: `gitops rollback --reason` (the workflow's `rollback` input).

The registry module names, per deploying task, the command that rolls its production back
(`ROLLBACKS`, e.g. {"6.1": "scripts/production rollback"}). The engine runs it as task code (from
the repository root, with the environment a Run command gets: no credentials), passing the reason
and who asked as GITOPS_ROLLBACK_REASON and GITOPS_ROLLBACK_BY (never pasted into the command),
and records it on the forge as a deployment of its own in the `production` environment: in
progress, then success or failure. A re-run of the same workflow run writes the same deployment.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path

from gitops.forge.deployments import Deployment, DeploymentRecorder, DeploymentState, DeploymentStatus
from gitops.github.environments import PRODUCTION
from gitops.github.run_url import current_run_url
from gitops.run.command import run_shell
from gitops.run.deploying import head_commit, production_url, where
from gitops.run.task_env import task_environment

REASON_VARIABLE = "GITOPS_ROLLBACK_REASON"
BY_VARIABLE = "GITOPS_ROLLBACK_BY"


def roll_back(rollbacks: Mapping[str, str], forge: DeploymentRecorder, root: Path, logs: Path,
              environ: Mapping[str, str], reason: str, by: str, note: Callable[[str], None]) -> bool:
    """Run every registered rollback command; True when all of them succeeded."""
    if not rollbacks:
        note("nothing to roll back: the handler registry names no ROLLBACKS")
        return False
    run = environ.get("GITHUB_RUN_ID") or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    ok = True
    for task_id, command in sorted(rollbacks.items()):
        deployment = Deployment(f"rollback:{task_id}:{run}", PRODUCTION,
                                environ.get("GITHUB_SHA") or head_commit(root) or "unknown",
                                f"Rollback of Task {task_id} by {by}: {reason}")
        _record(forge, deployment, DeploymentState.IN_PROGRESS, f"rolling back: {where(environ)}", environ, note)
        log = logs / f"rollback-{task_id}.log"
        env = {**task_environment(environ), REASON_VARIABLE: reason, BY_VARIABLE: by}
        ran = run_shell(command, root, env, log)
        if ran.returncode == 0:
            _record(forge, deployment, DeploymentState.SUCCESS, f"rolled back: {where(environ)}", environ, note)
            note(f"Task {task_id}: `{command}` rolled production back (log: {log})")
        else:
            ok = False
            _record(forge, deployment, DeploymentState.FAILURE, f"`{command}` exited {ran.returncode}", environ, note)
            note(f"Task {task_id}: `{command}` exited {ran.returncode} (log: {log}):\n"
                 f"{(ran.stderr_tail or ran.stdout_tail).rstrip()}")
    return ok


def _record(forge: DeploymentRecorder, deployment: Deployment, state: DeploymentState, description: str,
            environ: Mapping[str, str], note: Callable[[str], None]) -> None:
    status = DeploymentStatus(state, description, production_url(environ), current_run_url(environ) or "")
    try:
        forge.record_deployment(deployment, status)
    except Exception as exc:  # noqa: BLE001 - the record never stops the rollback itself
        note(f"warning: deployment {deployment.key} was not recorded as {state.value} ({exc})")
