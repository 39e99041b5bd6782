"""A deploying task's execution as a GitHub Deployment with statuses (PyGithub), idempotently.

https://docs.github.com/en/rest/deployments/deployments: the deployment is made with
`auto_merge=False` (GitHub would otherwise merge the default branch into the ref first) and
`required_contexts=[]` (otherwise every commit status of the ref must be success, and a phase
branch's are not all), marked as a production environment and not transient. Its `payload`
carries gitops' key, by which a re-run finds it instead of making another.
https://docs.github.com/en/rest/deployments/statuses: a status is added only when the last one
differs; `environment_url` is what the Environments page links to, `log_url` the run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitops.forge.deployments import Deployment, DeploymentStatus

if TYPE_CHECKING:
    from github.Repository import Repository

PAYLOAD_KEY = "gitops"


def record(repo: Repository, deployment: Deployment, status: DeploymentStatus) -> str:
    """Find or create the deployment, add the status unless it is already the last; the Environments page."""
    found = _find(repo, deployment)
    if found is None:
        found = repo.create_deployment(
            ref=deployment.ref, environment=deployment.environment, description=deployment.description[:140],
            payload={PAYLOAD_KEY: deployment.key}, auto_merge=False, required_contexts=[],
            production_environment=True, transient_environment=False)
    last = next(iter(found.get_statuses()), None)  # newest first
    if last is None or (last.state, last.description or "", last.environment_url or "") != (
            status.state.value, status.short(), status.environment_url):
        extra: dict[str, Any] = {"environment_url": status.environment_url} if status.environment_url else {}
        if status.log_url:
            extra["target_url"] = status.log_url  # PyGithub sends target_url; GitHub shows it as the log
        found.create_status(status.state.value, description=status.short(), **extra)
    return f"{repo.html_url}/deployments/{deployment.environment}"


def _find(repo: Repository, deployment: Deployment) -> Any:
    for candidate in repo.get_deployments(sha=deployment.ref, environment=deployment.environment):
        if (candidate.payload or {}).get(PAYLOAD_KEY) == deployment.key:
            return candidate
    return None
