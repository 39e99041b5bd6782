"""The commit status `gitops/phase-<n>` on the phase PR's head, so branch protection can require it.

A PR opened with a workflow's GITHUB_TOKEN starts no workflow run, so it gets no CI checks of its
own; a commit status the report job sets is what a rule on the default branch can require
("Require status checks to pass": `gitops/phase-1`, `gitops/phase-2`, ...). It says the pipeline
completed the phase on exactly this commit; a PR made by hand from the phase branch, or a commit
pushed onto it later, lacks it. Statuses need `statuses: write`
(https://docs.github.com/en/rest/commits/statuses#create-a-commit-status).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitops.github.api import GitHubSettings, translated

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository


def context(phase: int) -> str:
    return f"gitops/phase-{phase}"


def mark_complete(gh: Github, repo: Repository, pull: Any, phase: int, settings: GitHubSettings) -> bool:
    """Set `success` on the PR's head unless it is there already; True when set."""
    sha, name = pull.head.sha, context(phase)
    with translated(f"reading the statuses of {sha[:12]}", settings):
        _, found = gh.requester.requestJsonAndCheck("GET", f"{repo.url}/commits/{sha}/statuses")
    latest = next((s for s in found or [] if s.get("context") == name), None)  # newest first
    if latest is not None and latest.get("state") == "success":
        return False
    body = {"state": "success", "context": name, "description": f"Phase {phase} complete: every task is done"}
    if settings.run_url():
        body["target_url"] = settings.run_url()
    with translated(f"setting status {name} on {sha[:12]}", settings, "Setting statuses needs statuses: write."):
        gh.requester.requestJsonAndCheck("POST", f"{repo.url}/statuses/{sha}", input=body)
    return True
