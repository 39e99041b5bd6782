"""Create or update one environment without undoing what an admin hardened.

PyGithub's `Repository.create_environment` always sends `prevent_self_review: false` and
`deployment_branch_policy: null`, and GitHub's PUT replaces the protection rules with what the
body says (https://docs.github.com/en/rest/deployments/environments#create-or-update-an-environment):
re-running setup with it would silently drop both. So we PUT the whole setting ourselves, from
what the environment holds now:

- an environment that already has required reviewers keeps its wait timer, self-review rule and
  deployment branch policy; only its reviewers change, and only when --reviewer names others;
- a new environment (or one GitHub created, unprotected, because a job named it first) gets the
  defaults: reviewers may not approve runs they started, and only the default branch deploys
  (a custom branch policy: https://docs.github.com/en/rest/deployments/branch-policies).
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from gitops.github.api import GitHubSettings, translated

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository

CUSTOM_BRANCHES = {"protected_branches": False, "custom_branch_policies": True}
PLAN_NOTE = (
    "Required reviewers on environments work in public repositories on every plan; in private "
    "repositories they need GitHub Enterprise. Without them a job does not wait for anybody. "
    "Fallback: gate by PR merge: leave the environments without reviewers and protect the default "
    "branch instead (require a review); a phase advances only when its PR is merged."
)


@dataclass(frozen=True)
class EnvironmentSettings:
    """The protection of one environment, as GitHub returns it and as our PUT sends it."""

    reviewers: tuple[tuple[str, int], ...] = ()
    wait_timer: int = 0
    prevent_self_review: bool = False
    branch_policy: tuple[tuple[str, bool], ...] | None = None  # None: every branch may deploy
    # Whether admins may bypass the rules; in GET answers and taken by PUT, though not in the documented
    # body (https://github.com/google/go-github/issues/2725): sent back as read, so an admin's
    # "no bypass" cannot fall back to the default (admins may bypass) if a PUT without it resets it
    # (not verified against GitHub; the stand-in assumes the reset).
    can_admins_bypass: bool | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> EnvironmentSettings:
        reviewers, wait, prevent = [], 0, False
        for rule in data.get("protection_rules") or []:
            if rule.get("type") == "wait_timer":
                wait = int(rule.get("wait_timer") or 0)
            if rule.get("type") == "required_reviewers":
                prevent = bool(rule.get("prevent_self_review"))
                reviewers = [(r["type"], int(r["reviewer"]["id"])) for r in rule.get("reviewers") or []]
        policy = data.get("deployment_branch_policy")
        return cls(tuple(sorted(reviewers)), wait, prevent, tuple(sorted(policy.items())) if policy else None,
                   data.get("can_admins_bypass"))

    def body(self) -> dict[str, Any]:
        """Every field, always: a field left out would be reset by GitHub's PUT."""
        body = {"wait_timer": self.wait_timer, "reviewers": [{"type": t, "id": i} for t, i in self.reviewers],
                "prevent_self_review": self.prevent_self_review and bool(self.reviewers),
                "deployment_branch_policy": dict(self.branch_policy) if self.branch_policy else None}
        if self.can_admins_bypass is not None:
            body["can_admins_bypass"] = self.can_admins_bypass
        return body


def wanted(current: EnvironmentSettings | None, reviewers: tuple[tuple[str, int], ...]) -> EnvironmentSettings:
    """What the environment should hold: an admin's hardening kept, our defaults where nobody set any."""
    if current is not None and current.reviewers:
        return replace(current, reviewers=reviewers or current.reviewers)
    base = current or EnvironmentSettings()
    return replace(base, reviewers=reviewers, prevent_self_review=True,
                   branch_policy=tuple(sorted(CUSTOM_BRANCHES.items())))


def read_environment(gh: Github, repo: Repository, name: str, settings: GitHubSettings) -> dict[str, Any] | None:
    """The environment as the API returns it; None when it does not exist."""
    from github import UnknownObjectException

    with translated(f"reading environment {name}", settings):
        try:
            return gh.requester.requestJsonAndCheck("GET", _url(repo, name))[1]
        except UnknownObjectException:
            return None


def ensure_environment(gh: Github, repo: Repository, name: str, reviewer_ids: list[tuple[str, int]],
                       settings: GitHubSettings) -> str:
    """Create the environment or bring it to `wanted`; say what was done."""
    from github import GithubException

    found = read_environment(gh, repo, name, settings)
    current = EnvironmentSettings.from_api(found) if found is not None else None
    target = wanted(current, tuple(sorted(reviewer_ids)))
    verb = "created" if current is None else "updated"
    note = ""
    if target != current:
        hint = "Setting up environments needs administration: write (a repository admin's token)."
        with translated(f"setting up environment {name}", settings, hint):
            try:
                gh.requester.requestJsonAndCheck("PUT", _url(repo, name), input=target.body())
            except GithubException as exc:
                # Reviewers refused (a private repository without Enterprise): set up the rest, but
                # never strip the reviewers of an environment that has them.
                if (current is not None and current.reviewers) or exc.status not in (403, 404, 422):
                    raise
                target = replace(target, reviewers=())
                gh.requester.requestJsonAndCheck("PUT", _url(repo, name), input=target.body())
                note = f" WITHOUT required reviewers: GitHub refused them (HTTP {exc.status}). {PLAN_NOTE}"
    branch = _ensure_default_branch_policy(gh, repo, name, target, settings)
    if target == current and not branch:
        kept = " (reviewers kept)" if current.reviewers and not reviewer_ids else ""
        return f"environment {name}: already set up{kept}"
    if note:
        return f"environment {name}: {verb}{note}"
    return f"environment {name}: {verb}, {_describe(target, repo.default_branch)}"


def _describe(target: EnvironmentSettings, default_branch: str) -> str:
    parts = [f"{len(target.reviewers)} required reviewer(s)" if target.reviewers else "NO required reviewers"]
    if target.prevent_self_review and target.reviewers:
        parts.append("self-review prevented")
    policy = dict(target.branch_policy or ())
    parts.append(f"deploys from {default_branch} only" if policy.get("custom_branch_policies")
                 else "deploys from protected branches only" if policy.get("protected_branches")
                 else "deploys from any branch")
    return ", ".join(parts)


def _ensure_default_branch_policy(gh: Github, repo: Repository, name: str, target: EnvironmentSettings,
                                  settings: GitHubSettings) -> bool:
    """With custom branch policies on, make sure the default branch may deploy; True when added."""
    if not dict(target.branch_policy or ()).get("custom_branch_policies"):
        return False
    url = f"{_url(repo, name)}/deployment-branch-policies"
    with translated(f"reading the deployment branch policies of {name}", settings):
        _, found = gh.requester.requestJsonAndCheck("GET", url)
    names = {policy.get("name") for policy in (found or {}).get("branch_policies") or []}
    if repo.default_branch in names or names:  # an admin's own patterns are theirs to keep
        return False
    with translated(f"letting {repo.default_branch} deploy to {name}", settings):
        gh.requester.requestJsonAndCheck("POST", url, input={"name": repo.default_branch, "type": "branch"})
    return True


def _url(repo: Repository, name: str) -> str:
    return f"{repo.url}/environments/{urllib.parse.quote(name, safe='')}"
