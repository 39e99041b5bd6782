"""Repository setup and approvals on GitHub: reviewers by name, labels, who approved a gate, and
approving a run's pending deployment.

Gates map to environments (gitops.github.environments): a checkpoint gate ("1.1") waits in its own
environment, a production gate ("deploy-6.1") in `production`; phase gates ("phase-2") have none:
merging the phase PR approves them. Environments themselves are set up by environment_setup.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from gitops.errors import UsageError
from gitops.github.api import GitHubError, GitHubSettings, translated
from gitops.github.reviews import APPROVED, newest_review

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository

LABEL_COLORS = {"hotfix": ("d73a4a", "A task failed: the pipeline is paused until it is fixed"),
                "gitops": ("0e8a16", "Written by the gitops pipeline"),
                # Incidents a task reports (gitops.forge.incidents), e.g. Task 6.2's alert drill.
                "incident": ("b60205", "An incident a task reported: closed when it resolves"),
                "production": ("5319e7", "About production")}
TASK_LABEL = ("c5def5", "HotFixes of one task of the task list")


def reviewer_ids(gh: Github, names: Sequence[str], settings: GitHubSettings) -> list[tuple[str, int]]:
    """(type, id) of user logins and `org/team` slugs, looked up through the API."""
    params = []
    for name in names:
        if "/" in name:
            org, slug = name.split("/", 1)
            with translated(f"looking up team {name}", settings, "Give teams as org/team-slug."):
                _, team = gh.requester.requestJsonAndCheck("GET", f"/orgs/{org}/teams/{slug}")
            params.append(("Team", int(team["id"])))
        else:
            with translated(f"looking up user {name}", settings, "Give users by their GitHub login."):
                params.append(("User", gh.get_user(name).id))
    return params


def ensure_labels(repo: Repository, names: Sequence[str], settings: GitHubSettings) -> str:
    """Create the labels that do not exist yet (existing ones are left as people made them)."""
    with translated("listing labels", settings):
        present = {label.name for label in repo.get_labels()}
    missing = [name for name in dict.fromkeys(names) if name not in present]
    for name in missing:
        color, description = LABEL_COLORS.get(name, TASK_LABEL)
        with translated(f"creating label {name}", settings):
            repo.create_label(name, color, description)
    kept = len(set(names) & present)
    created = f"{len(missing)} created" + (f" ({', '.join(missing)})" if missing else "")
    return f"labels: {created}, {kept} already present"


def approver(gh: Github, repo: Repository, run_id: int, environment: str, settings: GitHubSettings) -> str | None:
    """The login that approved this run's deployment to the environment, if its newest review is an
    approval (an older one is another job's: gitops.github.reviews)."""
    review = newest_review(gh, repo, run_id, environment, settings)
    return review.by if review is not None and review.state == APPROVED else None


def waiting_run(repo: Repository, workflow: str, settings: GitHubSettings) -> int:
    """The newest run of the workflow (`.github/workflows/b-1006.yml`) that waits for an approval."""
    with translated("looking for a waiting workflow run", settings):
        for run in repo.get_workflow_runs(status="waiting"):
            if run.path == workflow or run.path.startswith(f"{workflow}@"):
                return run.id
    raise UsageError(
        f"No run of {workflow} waits for an approval in {settings.repository}. "
        f"See {settings.server_url}/{settings.repository}/actions, or pass --run-id."
    )


def approve_pending(
    gh: Github, repo: Repository, run_id: int, environment: str, comment: str, settings: GitHubSettings
) -> str:
    """Approve the run's deployment waiting for the environment; return the run's web page."""
    with translated(f"reading run {run_id}", settings, "Check --run-id / GITHUB_RUN_ID."):
        run = repo.get_workflow_run(run_id)
        url = run.url
    with translated(f"reading the pending deployments of run {run_id}", settings):
        _, pending = gh.requester.requestJsonAndCheck("GET", f"{url}/pending_deployments")
    page = settings.run_url(run_id)
    match = [p for p in pending or [] if (p.get("environment") or {}).get("name") == environment]
    if not match:
        waiting = ", ".join(sorted((p.get("environment") or {}).get("name", "?") for p in pending or []))
        raise UsageError(
            f"Run {run_id} has no deployment waiting for environment {environment} "
            f"({'it waits for: ' + waiting if waiting else 'nothing waits'}). "
            f"Check the run ({page}) or pass the --run-id of the run that waits."
        )
    not_reviewer = (
        f"The token's user may not approve environment {environment}: it is not one of its required "
        f"reviewers ({_reviewer_names(match[0]) or 'none listed'}). Approve in the run page ({page}) as a "
        "reviewer, or have an admin add you: `gitops setup-github --reviewer YOUR-LOGIN`."
    )
    if match[0].get("current_user_can_approve") is False:
        raise GitHubError(not_reviewer, 403)
    env_id = int(match[0]["environment"]["id"])
    body = {"environment_ids": [env_id], "state": "approved", "comment": comment}
    try:
        with translated(f"approving run {run_id} for environment {environment}", settings):
            gh.requester.requestJsonAndCheck("POST", f"{url}/pending_deployments", input=body)
    except GitHubError as exc:
        if exc.status in (403, 422):
            raise GitHubError(f"{exc} {not_reviewer}", exc.status) from exc
        raise
    return page or url


def _reviewer_names(pending: dict[str, Any]) -> str:
    names = []
    for entry in pending.get("reviewers") or []:
        who = entry.get("reviewer") or {}
        names.append(who.get("login") or who.get("slug") or who.get("name") or "?")
    return ", ".join(names)
