"""Protect the state branches `gitops/**` from force-push and deletion with a repository ruleset.

The state of a run lives in the history of `gitops/<project>/phase-<n>`; the bot only ever adds
commits (gitops.state.git_store pushes without force), so a ruleset blocking non-fast-forward
pushes and deletion costs it nothing and keeps anybody from rewriting what happened
(https://docs.github.com/en/rest/repos/rules#create-a-repository-ruleset; rule types `deletion` and
`non_fast_forward`). An existing ruleset of that name is left as an admin made it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from gitops.github.api import GitHubError, GitHubSettings, translated

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository

NAME = "gitops state branches"
PATTERN = "refs/heads/gitops/**"


def ruleset_body() -> dict:
    return {"name": NAME, "target": "branch", "enforcement": "active",
            "conditions": {"ref_name": {"include": [PATTERN], "exclude": []}},
            "rules": [{"type": "deletion"}, {"type": "non_fast_forward"}]}


def ensure_ruleset(gh: Github, repo: Repository, settings: GitHubSettings) -> str:
    """Create the ruleset once; say what was done (or what a person must do instead)."""
    with translated("listing the repository's rulesets", settings):
        _, found = gh.requester.requestJsonAndCheck("GET", f"{repo.url}/rulesets")
    if any(ruleset.get("name") == NAME for ruleset in found or []):
        return f"ruleset '{NAME}': already present (kept as it is)"
    try:
        with translated(f"creating ruleset '{NAME}'", settings):
            gh.requester.requestJsonAndCheck("POST", f"{repo.url}/rulesets", input=ruleset_body())
    except GitHubError as exc:
        if exc.status not in (403, 404, 422):
            raise
        return (f"ruleset '{NAME}': NOT created ({exc}) Protect gitops/** from force-push and deletion by hand: "
                "Settings -> Rules -> Rulesets (rulesets on private repositories need GitHub Pro, Team or Enterprise).")
    return f"ruleset '{NAME}': created (gitops/** cannot be force-pushed or deleted)"
