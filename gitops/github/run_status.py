"""Whether the workflow run attempt that recorded a running task still runs, asked of GitHub.

Runs of the workflow may overlap (docs/github.md, *Concurrency*), so a task another run left
`running` is not necessarily lost: `gitops recover` records it as failed only once GitHub says
that run attempt has completed. One request per run, answered once per process
(https://docs.github.com/en/rest/actions/workflow-runs#get-a-workflow-run). An answer that
cannot be had is an error (GitHubError), never a guess either way.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from gitops.github.api import GitHubError, GitHubSettings, translated

if TYPE_CHECKING:
    from github import Github


class RunStatus:
    """A RunFate (gitops.plan.stale) that reads the run from the API; `client` makes the PyGithub client."""

    def __init__(self, settings: GitHubSettings, client: Callable[[], Github]):
        self.settings = settings
        self.client = client
        self._answers: dict[tuple[str, str], str | None] = {}

    def __call__(self, run_id: str, attempt: str, here: Mapping[str, Any]) -> str | None:
        key = (run_id, attempt)
        if not (str(run_id).isdigit() and str(attempt).isdigit()):
            raise GitHubError(f"state.json records a running task's workflow run as {run_id!r} (attempt {attempt!r}), "
                              "which names no run: restore the task's record from the branch history.")
        if key not in self._answers:
            self._answers[key] = self._ask(run_id, attempt)
        return self._answers[key]

    def _ask(self, run_id: str, attempt: str) -> str | None:
        doing = f"reading whether workflow run {run_id} still runs (a task it recorded is still running)"
        hint = "gitops records the task as failed only once its run has ended; run the workflow again later."
        with translated(doing, self.settings, hint):
            _, run = self.client().requester.requestJsonAndCheck(
                "GET", f"/repos/{self.settings.repository}/actions/runs/{int(run_id)}")
        status, latest = run.get("status"), run.get("run_attempt", 1)
        if not isinstance(status, str) or not isinstance(latest, int):
            raise GitHubError(f"GitHub's answer while {doing} has no status or run_attempt: {str(run)[:200]}")
        # Only a completed run can be re-run: a later attempt means this one ended
        # (https://docs.github.com/en/actions/managing-workflow-runs-and-deployments/managing-workflow-runs/re-running-workflows-and-jobs).
        if latest > int(attempt):
            return f"ended while the task ran: GitHub re-ran the run as attempt {latest}"
        if status != "completed":
            return None  # queued, in progress, waiting at a gate: its job may still record the task
        return (f"ended while the task ran ({run.get('conclusion') or 'no conclusion'}: cancelled, timed out or "
                "its runner was lost)")
