"""The in-memory GitHub behind the stand-in server: one repository, its issues, comments, labels,
pulls, environments and workflow runs, answered in the shapes of the real REST API.

Only the endpoints GitHubForge and gitops/github/admin.py call are implemented. `url` fields
point back at the stand-in so PyGithub follows them. Tests read and arrange the state directly.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Callable

LIMIT = 65_536
DOCS = "https://docs.github.com/rest"


class HTTPFail(Exception):
    """An error answer with GitHub's error body."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.payload: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
        if errors is not None:
            self.payload["errors"] = errors


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def too_long(resource: str) -> HTTPFail:
    return HTTPFail(422, "Validation Failed", [{"resource": resource, "code": "custom", "field": "body",
                                              "message": f"body is too long (maximum is {LIMIT} characters)"}])


@dataclass
class FakeGitHub:
    owner: str = "octo"
    name: str = "pipeline"
    private: bool = False
    default_branch: str = "main"
    base: str = ""  # set by the server once it has a port
    users: dict[str, int] = field(default_factory=lambda: {"ada": 1, "bob": 2, "carol": 3,
                                                                         "github-actions[bot]": 41898282})
    tokens: dict[str, str] = field(default_factory=lambda: {
        "ghs_tokenofthebot0000000000000000000000": "github-actions[bot]", "token-ada": "ada", "token-bob": "bob",
        "token-carol": "carol"})
    admins: set[str] = field(default_factory=lambda: {"ada"})
    roles: dict[str, str] = field(default_factory=lambda: {"ada": "admin", "bob": "write", "carol": "read"})
    reactions: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # comment id -> (login, content)
    teams: dict[str, dict[str, Any]] = field(default_factory=lambda: {"octo/reviewers": {"id": 70, "members": ["bob"]}})
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # PRs too: they share the numbers
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    branches: set[str] = field(default_factory=lambda: {"main"})
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    jobs: list[dict[str, Any]] = field(default_factory=list)  # jobs with a concurrency group (start_job)
    rulesets: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha -> newest first
    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> deployment, its statuses newest first
    ids: Any = field(default_factory=lambda: itertools.count(1000))

    # ------------------------------------------------------------ shapes
    @property
    def repo_url(self) -> str:
        return f"{self.base}/repos/{self.owner}/{self.name}"

    @property
    def web(self) -> str:
        return f"{self.base}/{self.owner}/{self.name}"

    def head(self, branch: str) -> str:
        """The tip commit of a branch (a stable made-up sha per branch name)."""
        return hashlib.sha1(branch.encode()).hexdigest()

    def user(self, login: str) -> dict[str, Any]:
        return {"login": login, "id": self.users[login], "node_id": f"U_{self.users[login]}", "type": "User",
                "url": f"{self.base}/users/{login}", "html_url": f"{self.base}/{login}", "site_admin": False}

    def team(self, slug: str) -> dict[str, Any]:
        org, name = slug.split("/")
        return {"id": self.teams[slug]["id"], "node_id": f"T_{name}", "name": name, "slug": name,
                "url": f"{self.base}/orgs/{org}/teams/{name}", "html_url": f"{self.base}/orgs/{org}/teams/{name}",
                "privacy": "closed", "permission": "pull", "parent": None}

    def repo(self) -> dict[str, Any]:
        return {"id": 7, "node_id": "R_7", "name": self.name, "full_name": f"{self.owner}/{self.name}",
                "owner": self.user("ada") | {"login": self.owner}, "private": self.private, "html_url": self.web,
                "url": self.repo_url, "default_branch": self.default_branch, "visibility":
                "private" if self.private else "public"}

    def label(self, name: str) -> dict[str, Any]:
        if name not in self.labels:  # GitHub makes the labels an issue is given
            self.labels[name] = {"color": "ededed", "description": None, "id": next(self.ids)}
        info = self.labels[name]
        return {"id": info["id"], "node_id": f"L_{info['id']}", "url": f"{self.repo_url}/labels/{name}",
                "name": name, "color": info["color"], "default": False, "description": info["description"]}

    def issue(self, number: int) -> dict[str, Any]:
        item = self.issues[number]
        shape = {k: item[k] for k in ("id", "number", "title", "body", "state", "state_reason", "created_at",
                                      "updated_at", "closed_at", "user")}
        shape |= {"node_id": f"I_{item['id']}", "url": f"{self.repo_url}/issues/{number}",
                  "repository_url": self.repo_url, "comments_url": f"{self.repo_url}/issues/{number}/comments",
                  "html_url": f"{self.web}/{'pull' if number in self.pulls else 'issues'}/{number}",
                  "labels": [self.label(n) for n in item["labels"]], "assignee": None, "assignees": [],
                  "milestone": None, "locked": False, "author_association": "NONE",
                  "comments": sum(1 for c in self.comments.values() if c["issue"] == number)}
        if number in self.pulls:
            shape["pull_request"] = {"url": f"{self.repo_url}/pulls/{number}", "html_url": f"{self.web}/pull/{number}"}
        return shape

    def comment(self, comment_id: int) -> dict[str, Any]:
        item = self.comments[comment_id]
        kind = "pull" if item["issue"] in self.pulls else "issues"
        return {"id": comment_id, "node_id": f"IC_{comment_id}", "body": item["body"], "user": item["user"],
                "url": f"{self.repo_url}/issues/comments/{comment_id}", "created_at": item["created_at"],
                "updated_at": item["updated_at"], "issue_url": f"{self.repo_url}/issues/{item['issue']}",
                "html_url": f"{self.web}/{kind}/{item['issue']}#issuecomment-{comment_id}",
                "author_association": "NONE"}

    def pull(self, number: int) -> dict[str, Any]:
        item, issue = self.pulls[number], self.issues[number]
        ref = lambda branch: {"label": f"{self.owner}:{branch}", "ref": branch, "sha": self.head(branch),  # noqa: E731
                              "user": self.user("ada") | {"login": self.owner}, "repo": self.repo()}
        return {"id": issue["id"], "node_id": f"PR_{number}", "number": number, "state": issue["state"],
                "title": issue["title"], "body": issue["body"], "user": issue["user"], "draft": False,
                "url": f"{self.repo_url}/pulls/{number}", "html_url": f"{self.web}/pull/{number}",
                "issue_url": f"{self.repo_url}/issues/{number}", "comments_url":
                f"{self.repo_url}/issues/{number}/comments", "head": ref(item["head"]), "base": ref(item["base"]),
                "merged": item["merged_by"] is not None, "merged_at": item["merged_at"],
                "merged_by": item["merged_by"], "created_at": issue["created_at"], "updated_at": issue["updated_at"]}

    def environment(self, name: str) -> dict[str, Any]:
        env = self.environments[name]
        rules = []
        if env["wait_timer"]:
            rules.append({"id": env["id"] + 1, "node_id": "GA_w", "type": "wait_timer",
                          "wait_timer": env["wait_timer"]})
        if env["reviewers"]:
            rules.append({"id": env["id"] + 2, "node_id": "GA_r", "type": "required_reviewers",
                          "prevent_self_review": env.get("prevent_self_review", False),
                          "reviewers": [{"type": kind, "reviewer": self._reviewer(kind, rid)}
                                        for kind, rid in env["reviewers"]]})
        return {"id": env["id"], "node_id": f"EN_{env['id']}", "name": name,
                "url": f"{self.repo_url}/environments/{name}",
                "html_url": f"{self.web}/deployments/activity_log?environments_filter={name}",
                "created_at": env["created_at"], "updated_at": env["updated_at"], "protection_rules": rules,
                "deployment_branch_policy": env.get("branch_policy"),
                "can_admins_bypass": env.get("can_admins_bypass", True)}

    def _reviewer(self, kind: str, rid: int) -> dict[str, Any]:
        if kind == "User":
            return self.user(next(login for login, uid in self.users.items() if uid == rid))
        return self.team(next(slug for slug, t in self.teams.items() if t["id"] == rid))

    def run(self, run_id: int) -> dict[str, Any]:
        """A run as GET /repos/{owner}/{repo}/actions/runs/{run_id} answers: the status and conclusion of its
        latest attempt, and that attempt's number (https://docs.github.com/en/rest/actions/workflow-runs#get-a-workflow-run).
        A run is re-run (a new attempt) only once it has completed: see `rerun`."""
        item = self.runs[run_id]
        return {"id": run_id, "node_id": f"WFR_{run_id}", "name": item["path"], "path": item["path"],
                "status": item["status"], "conclusion": item.get("conclusion"), "event": item.get("event", "push"), "head_branch": "main",
                "head_sha": "0" * 40, "run_number": run_id, "run_attempt": item.get("attempt", 1), "workflow_id": 9,
                "actor": self.user(item["actor"]), "triggering_actor": self.user(item["actor"]),
                "url": f"{self.repo_url}/actions/runs/{run_id}", "html_url": f"{self.web}/actions/runs/{run_id}",
                "created_at": item["created_at"], "updated_at": item["created_at"]}

    # ------------------------------------------------------------ arranging state (tests)
    def add_environment(self, name: str, reviewers: tuple[tuple[str, int], ...] = (), env_id: int | None = None,
                        prevent_self_review: bool = False) -> None:
        """An environment as an admin made it in the settings page."""
        self.environments[name] = {"id": env_id or next(self.ids) * 10, "wait_timer": 0, "reviewers": list(reviewers),
                                   "prevent_self_review": prevent_self_review, "branch_policy": None,
                                   "branch_policies": [], "created_at": now(), "updated_at": now()}

    def add_run(self, run_id: int, path: str, waiting_for: tuple[str, ...] = (),
                jobs: dict[str, str] | None = None, actor: str = "ada") -> None:
        """A workflow run started by `actor`; `jobs` maps a job to the environment it names
        (`waiting_for` are environments of unnamed jobs).

        GitHub's rules for a job that names an environment
        (https://docs.github.com/en/actions/how-tos/deploy/configure-and-manage-deployments/manage-environments):
        an environment that does not exist is created, with no protection rules; a job waits only
        while its environment has required reviewers. Review is per environment per run: the jobs of
        one run waiting in one environment are approved together, in one review
        (https://docs.github.com/en/actions/how-tos/deploy/configure-and-manage-deployments/review-deployments,
        "Select the job environment(s) to approve"). `results`: the jobs that ended without starting
        (a rejected review fails its jobs), as the jobs that need them read it (`needs.<job>.result`).
        """
        named = dict(jobs or {}) | {f"job-{i}": env for i, env in enumerate(waiting_for, 1)}
        for env in named.values():
            if env not in self.environments:
                self.add_environment(env)
        waiting = {job: env for job, env in named.items() if self.environments[env]["reviewers"]}
        self.runs[run_id] = {"path": path, "status": "waiting" if waiting else "in_progress", "actor": actor,
                             "jobs": waiting, "started": [job for job in named if job not in waiting],
                             "pending": list(dict.fromkeys(waiting.values())), "approvals": [], "results": {},
                             "created_at": now()}

    def reach(self, run_id: int, job: str, environment: str) -> None:
        """A job of a running run reaches the environment it names, once its `needs` are done: it
        waits there while the environment has required reviewers, in a review of its own unless
        jobs of the run already wait in that environment ("Jobs that reference an environment
        configured with required reviewers will wait for an approval before starting":
        https://docs.github.com/en/actions/how-tos/deploy/configure-and-manage-deployments/review-deployments)."""
        run = self.runs[run_id]
        if environment not in self.environments:
            self.add_environment(environment)
        if not self.environments[environment]["reviewers"]:
            run["started"].append(job)
            return
        run["jobs"][job] = environment
        run["pending"] = list(dict.fromkeys([*run["pending"], environment]))
        run["status"] = "waiting"

    def trigger(self, workflow: dict[str, Any], event: str, actor: str, path: str, ref: str = "main",
                changed: tuple[str, ...] = ()) -> int | None:
        """What GitHub does with an event for a workflow (its document as rendered); the new run's id,
        or None when no run starts.

        - Events made with a workflow's GITHUB_TOKEN start no run, except workflow_dispatch and
          repository_dispatch (https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication#using-the-github_token-in-a-workflow).
        - `on.push` filters by `branches` and `paths` (a push starts a run when any changed file matches).
        - `concurrency`: at most one running and one pending run per group; a newer pending run
          cancels the older pending one (https://docs.github.com/en/actions/using-jobs/using-concurrency).
        """
        triggers = workflow["on"]
        if event not in triggers or (actor == "github-actions[bot]" and event not in ("workflow_dispatch",
                                                                                        "repository_dispatch")):
            return None
        spec = triggers[event] or {}
        if event == "push":
            if "branches" in spec and not any(fnmatch.fnmatch(ref, b) for b in spec["branches"]):
                return None
            if "paths" in spec and not any(fnmatch.fnmatch(f, p) for f in changed for p in spec["paths"]):
                return None
        run_id = max(self.runs, default=0) + 1
        group = (workflow.get("concurrency") or {}).get("group")
        active = [r for r in self.runs.values() if group and r.get("group") == group and r["status"] != "completed"]
        status = "pending" if any(r["status"] != "pending" for r in active) else "in_progress"
        for older in active:
            if older["status"] == "pending":  # the newer pending run takes its place
                older |= {"status": "completed", "conclusion": "cancelled"}
        self.runs[run_id] = {"path": path, "status": status, "actor": actor, "jobs": {}, "started": [], "pending": [],
                             "approvals": [], "results": {}, "created_at": now(), "event": event, "group": group}
        return run_id

    def start_job(self, run_id: int, job_id: str, workflow: dict[str, Any]) -> str:
        """A job of a run becomes ready to start; its status ("in_progress", "pending").

        A job's `concurrency` follows the rule of a run's: at most one running and one pending job per
        group, and a newer pending job cancels the older pending one
        (https://docs.github.com/en/actions/using-jobs/using-concurrency, "at most one running and one
        pending job in a concurrency group at any time")."""
        group = (workflow["jobs"][job_id].get("concurrency") or {}).get("group")
        active = [job for job in self.jobs if group and job["group"] == group and job["status"] != "completed"]
        status = "pending" if any(job["status"] == "in_progress" for job in active) else "in_progress"
        for older in active:
            if older["status"] == "pending":
                older |= {"status": "completed", "conclusion": "cancelled"}
        self.jobs.append({"run": run_id, "job": job_id, "group": group, "status": status, "conclusion": None})
        return status

    def job(self, run_id: int, job_id: str) -> dict[str, Any]:
        return next(job for job in self.jobs if (job["run"], job["job"]) == (run_id, job_id))

    def end(self, run_id: int, conclusion: str = "cancelled") -> None:
        """A run's latest attempt completes (cancelled by hand, timed out, or it finished)."""
        self.runs[run_id] |= {"status": "completed", "conclusion": conclusion}

    def rerun(self, run_id: int) -> None:
        """Re-run a completed run: a new attempt of the same run id, in progress
        (https://docs.github.com/en/actions/managing-workflow-runs-and-deployments/managing-workflow-runs/re-running-workflows-and-jobs)."""
        run = self.runs[run_id]
        if run["status"] != "completed":
            raise ValueError(f"run {run_id} is {run['status']}: GitHub re-runs only a completed run")
        run |= {"status": "in_progress", "conclusion": None, "attempt": run.get("attempt", 1) + 1}

    def merge(self, number: int, by: str) -> None:
        """Merge a PR as a person would."""
        self.pulls[number] |= {"merged_by": self.user(by), "merged_at": now()}
        self.issues[number] |= {"state": "closed", "closed_at": now()}

    def hotfix_issues(self) -> list[dict[str, Any]]:
        return [i for n, i in self.issues.items() if n not in self.pulls and "hotfix" in i["labels"]]

    def comments_on(self, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["issue"] == number]

    def routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]:
        from tests.gitops.github import fake_routes

        return fake_routes.table(self)
