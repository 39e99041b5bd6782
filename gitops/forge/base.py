"""The narrow interface every forge implements; the runner talks only to this."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from gitops.forge.deployments import Deployment, DeploymentStatus


@dataclass(frozen=True)
class Rejection:
    """A reviewer's no to a gate, as the forge holds it."""

    by: str
    comment: str = ""


class Forge(Protocol):
    """Writes are idempotent: the same marker always names the same issue or comment."""

    def open_issue(self, marker: str, title: str, body: str, labels: Sequence[str]) -> str:
        """Open the issue with this marker, or update it if it exists; return its URL or path."""

    def close_issue(self, marker: str, comment: str) -> None:
        """Close the issue with this marker (if open), leaving the comment."""

    def upsert_comment(self, marker: str, body: str) -> str:
        """Create or replace the comment with this marker; return its URL or path."""

    def open_phase_pr(self, phase: int, title: str, body: str) -> str:
        """Open (or find) the PR that ends a phase; return its URL or path."""

    def record_approval(self, gate: str) -> str | None:
        """Who approved a gate on the forge, when the forge knows (None locally)."""

    def rejection(self, gate: str) -> Rejection | None:
        """Who rejected a production gate's review in this run, and why; None when nobody did (always locally)."""

    def phase_rejected(self, phase: int) -> bool:
        """Whether a reviewer said no to what follows `phase` (GitHub: its PR closed unmerged)."""

    def setup(self, environments: Sequence[str], labels: Sequence[str]) -> list[str]:
        """Create environments and labels idempotently; return what was done, in words."""

    def record_deployment(self, deployment: Deployment, status: DeploymentStatus) -> str:
        """Record a deploying task's execution and its new status (gitops.forge.deployments)."""
