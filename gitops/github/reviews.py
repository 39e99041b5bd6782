"""The deployment reviews of a workflow run: the newest answer a reviewer gave an environment.

GitHub lists a run's reviews, oldest first, each with its state (`approved` or `rejected`), the
reviewer, the comment and the environments it answered (GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals:
https://docs.github.com/en/rest/actions/workflow-runs#get-the-review-history-for-a-workflow-run).

Only the newest review of an environment answers for the job that waited there last. The
production jobs of a run wait one at a time, each released (or rejected) by a review of its own
(gitops.github.production_order), so an older approval of `production` in the list is the job's
before it in the line: reading "the newest approval" instead took that reviewer's word for a job
they never saw, whenever the job after it was rejected.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from gitops.github.api import GitHubSettings, translated

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository

APPROVED, REJECTED = "approved", "rejected"


@dataclass(frozen=True)
class Review:
    state: str  # APPROVED or REJECTED
    by: str | None  # the reviewer's login
    comment: str


def newest(approvals: Iterable[Mapping[str, Any]], environment: str) -> Review | None:
    """The newest review among `approvals` (GitHub's list, oldest first) that answered `environment`."""
    for approval in reversed(list(approvals)):
        if environment in {env.get("name") for env in approval.get("environments") or []}:
            return Review(approval.get("state") or "", (approval.get("user") or {}).get("login"),
                          approval.get("comment") or "")
    return None


def newest_review(gh: Github, repo: Repository, run_id: int, environment: str,
                  settings: GitHubSettings) -> Review | None:
    """The newest review of `environment` in the run, read from GitHub; None when nobody reviewed it."""
    with translated(f"reading the approvals of run {run_id}", settings):
        _, approvals = gh.requester.requestJsonAndCheck("GET", f"{repo.url}/actions/runs/{run_id}/approvals")
    return newest(approvals or [], environment)
