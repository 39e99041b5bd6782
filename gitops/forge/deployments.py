"""Deployments as a forge records them: one per execution of a task that deploys, with its statuses.

GitHub shows them on the repository's Environments page (a Deployment, then statuses
in_progress, success or failure, each with the environment's URL and the run's log:
https://docs.github.com/en/rest/deployments/deployments and
https://docs.github.com/en/rest/deployments/statuses); the local forge keeps the same history
in a file. A re-run writes the same deployment (its key) and adds a status only when it differs
from the last one, so nothing is duplicated.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

DESCRIPTION_LIMIT = 140  # GitHub refuses a longer status description (HTTP 422)


class DeploymentState(str, Enum):
    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class Deployment:
    """One execution of a deploying task: `key` names it (`deploy:6.1:2`: task 6.1, attempt 2)."""

    key: str
    environment: str
    ref: str  # the commit deployed
    description: str


@dataclass(frozen=True)
class DeploymentStatus:
    state: DeploymentState
    description: str
    environment_url: str = ""  # where the deployed service answers ("" when nothing outlives the job)
    log_url: str = ""  # the run that deployed

    def short(self) -> str:
        """The description cut to GitHub's limit."""
        text = " ".join(self.description.split())
        return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


class DeploymentRecorder(Protocol):
    def record_deployment(self, deployment: Deployment, status: DeploymentStatus) -> str:
        """Create the deployment if new, add `status` unless it is already the last; return where it shows."""
