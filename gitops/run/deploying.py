"""A deployment on the forge around each execution of a task that deploys (issue 15, item 7).

The registry module names the tasks whose execution is a deployment (`DEPLOYMENTS`); the engine,
not the task's code (which runs without the forge's credentials), records the deployment in
the `production` environment: in_progress before the task runs, then success or failure. Where
the deployed service answers is a setting of the engine's environment: GITOPS_PRODUCTION_URL
(with GITOPS_PROMETHEUS_URL for its metrics). Without them no production exists to deploy to,
the task rehearses on the runner with the embedded stack, and the statuses say so.
A failed forge call is reported and never changes the task's result.
"""
from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops.forge.deployments import Deployment, DeploymentRecorder, DeploymentState, DeploymentStatus
from gitops.github.environments import PRODUCTION
from gitops.handlers import TaskResult
from gitops.model import CheckStatus

PRODUCTION_URL = "GITOPS_PRODUCTION_URL"
PROMETHEUS_URL = "GITOPS_PROMETHEUS_URL"


def production_url(environ: Mapping[str, str]) -> str:
    """The configured production's URL, "" when none is configured (a rehearsal)."""
    return environ.get(PRODUCTION_URL, "").strip()


def where(environ: Mapping[str, str]) -> str:
    url = production_url(environ)
    if url:
        return f"to production at {url}"
    return f"rehearsal on the runner with the embedded stack (no production configured: {PRODUCTION_URL} unset)"


@dataclass
class DeploymentLog:
    """The forge's record of one execution of a deploying task."""

    forge: DeploymentRecorder
    deployment: Deployment
    environ: Mapping[str, str]
    log_url: str
    note: Callable[[str], None]

    @classmethod
    def of(cls, forge: DeploymentRecorder, task_id: str, title: str, attempt: int, root: Path,
           environ: Mapping[str, str], log_url: str | None, note: Callable[[str], None]) -> DeploymentLog:
        ref = environ.get("GITHUB_SHA") or head_commit(root) or "unknown"
        deployment = Deployment(f"deploy:{task_id}:{attempt}", PRODUCTION, ref,
                                f"Task {task_id} (attempt {attempt}): {title}")
        return cls(forge, deployment, environ, log_url or "", note)

    def begin(self) -> None:
        self._record(DeploymentState.IN_PROGRESS, f"deploying: {where(self.environ)}")

    def end(self, result: TaskResult) -> None:
        failed = [c["criterion"] for c in result.checks if c["status"] == CheckStatus.FAILED.value]
        if result.failed:
            said = f"failed ({'; '.join(failed) if failed else 'the task raised'})"
            self._record(DeploymentState.FAILURE, f"{said}: {where(self.environ)}")
        else:
            self._record(DeploymentState.SUCCESS, f"deployed: {where(self.environ)}")

    def _record(self, state: DeploymentState, description: str) -> None:
        status = DeploymentStatus(state, description, production_url(self.environ), self.log_url)
        try:
            shown = self.forge.record_deployment(self.deployment, status)
        except Exception as exc:  # noqa: BLE001 - the forge's record never decides the task's result
            self.note(f"warning: deployment {self.deployment.key} was not recorded as {state.value} ({exc})")
            return
        self.note(f"deployment {self.deployment.key}: {state.value} ({shown})")


def head_commit(root: Path) -> str:
    """The checkout's HEAD commit, "" outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""
