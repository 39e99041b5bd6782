"""Fail closed: the plan job refuses to run a pipeline whose gates would not stop anybody.

A job that names an environment which does not exist makes GitHub create it with no protection
rules, and a job in an environment without required reviewers starts at once
(https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax#jobsjob_idenvironment).
So before any task runs, every environment the workflow names must exist with required
reviewers. The one accepted alternative is the PR-merge fallback, chosen on purpose: the
repository variable GITOPS_GATES=pr-merge *and* a rule on the default branch that requires an
approving review (read with https://docs.github.com/en/rest/repos/rules#get-rules-for-a-branch,
open to any reader).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

from gitops.errors import UsageError
from gitops.github.api import GitHubSettings, translated
from gitops.github.environment_setup import EnvironmentSettings, read_environment

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository

FALLBACK_VARIABLE = "GITOPS_GATES"
FALLBACK = "pr-merge"


def gated_by_pr_merge(environ: Mapping[str, str]) -> bool:
    """The repository chose the PR-merge fallback (variable GITOPS_GATES=pr-merge)."""
    return environ.get(FALLBACK_VARIABLE, "").strip() == FALLBACK


def check_gates(gh: Github, repo: Repository, environments: Sequence[str], settings: GitHubSettings,
                environ: Mapping[str, str]) -> str:
    """Say how gates are enforced; raise, naming every gap and the fix, when they would not be."""
    gaps = []
    for name in environments:
        found = read_environment(gh, repo, name, settings)
        if found is None:
            gaps.append(f"environment {name} does not exist")
        elif not EnvironmentSettings.from_api(found).reviewers:
            gaps.append(f"environment {name} has no required reviewers")
    if not gaps:
        return f"gates: {len(environments)} environment(s), each with required reviewers"
    if gated_by_pr_merge(environ):
        count = _required_reviews(gh, repo, settings)
        if count:
            return (f"gates: {FALLBACK_VARIABLE}={FALLBACK}: checkpoints do not wait; every phase PR into "
                    f"{repo.default_branch} needs {count} approving review(s)")
        gaps.append(f"{FALLBACK_VARIABLE}={FALLBACK} is set, but no active rule on {repo.default_branch} "
                    "requires an approving review")
    raise UsageError(
        f"The pipeline's gates would not stop anybody in {settings.repository}: {'; '.join(gaps)}. "
        "Nothing ran. Fix: a repository admin runs `gitops setup-github --reviewer LOGIN` (see docs/github.md), "
        f"or chooses the PR-merge fallback: repository variable {FALLBACK_VARIABLE}={FALLBACK} and a ruleset on "
        f"{repo.default_branch} that requires a pull request with at least one approving review."
    )


def _required_reviews(gh: Github, repo: Repository, settings: GitHubSettings) -> int:
    branch = repo.default_branch
    with translated(f"reading the rules of branch {branch}", settings):
        _, rules = gh.requester.requestJsonAndCheck("GET", f"{repo.url}/rules/branches/{branch}")
    counts = [int((rule.get("parameters") or {}).get("required_approving_review_count") or 0)
              for rule in rules or [] if rule.get("type") == "pull_request"]
    return max(counts, default=0)
