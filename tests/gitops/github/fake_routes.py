"""The REST endpoints of the stand-in: (method, path pattern, handler) over a FakeGitHub.

A handler gets the FakeGitHub, the path match, the query, the JSON body and the caller's login;
it returns (status, payload) or raises HTTPFail.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from tests.gitops.github import fake_deployments
from tests.gitops.github.fake_github import LIMIT, FakeGitHub, HTTPFail, now, too_long

REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
Answer = tuple[int, Any]


def _number(gh: FakeGitHub, m: re.Match[str], pulls: bool = False) -> int:
    number = int(m["number"])
    if number not in (gh.pulls if pulls else gh.issues):
        raise HTTPFail(404, "Not Found")
    return number


def get_repo(gh: FakeGitHub, m, q, body, login) -> Answer:
    return 200, gh.repo()


def list_issues(gh: FakeGitHub, m, q, body, login) -> Answer:
    state = q.get("state", "open")
    wanted = set(filter(None, q.get("labels", "").split(",")))
    found = [n for n, i in sorted(gh.issues.items(), reverse=True)
             if (state == "all" or i["state"] == state) and wanted <= set(i["labels"])]
    return 200, [gh.issue(n) for n in found]


def create_issue(gh: FakeGitHub, m, q, body, login) -> Answer:
    if not body.get("title"):
        raise HTTPFail(422, "Validation Failed", [{"resource": "Issue", "code": "missing_field", "field": "title"}])
    if len(body.get("body") or "") > LIMIT:
        raise too_long("Issue")
    number = max(gh.issues, default=0) + 1
    gh.issues[number] = {"id": next(gh.ids), "number": number, "title": body["title"], "body": body.get("body"),
                         "state": "open", "state_reason": None, "labels": list(body.get("labels") or []),
                         "created_at": now(), "updated_at": now(), "closed_at": None, "user": gh.user(login)}
    return 201, gh.issue(number)


def get_issue(gh: FakeGitHub, m, q, body, login) -> Answer:
    return 200, gh.issue(_number(gh, m))


def edit_issue(gh: FakeGitHub, m, q, body, login) -> Answer:
    number = _number(gh, m)
    if len(body.get("body") or "") > LIMIT:
        raise too_long("Issue")
    item = gh.issues[number]
    for key in ("title", "body", "state", "state_reason"):
        if key in body:
            item[key] = body[key]
    if "labels" in body:
        item["labels"] = list(body["labels"])
    item["closed_at"] = now() if item["state"] == "closed" else None
    item["updated_at"] = now()
    return 200, gh.issue(number)


def list_comments(gh: FakeGitHub, m, q, body, login) -> Answer:
    number = _number(gh, m)
    return 200, [gh.comment(i) for i, c in sorted(gh.comments.items()) if c["issue"] == number]


def create_comment(gh: FakeGitHub, m, q, body, login) -> Answer:
    number = _number(gh, m)
    if len(body.get("body") or "") > LIMIT:
        raise too_long("IssueComment")
    comment_id = next(gh.ids)
    gh.comments[comment_id] = {"issue": number, "body": body["body"], "user": gh.user(login),
                               "created_at": now(), "updated_at": now()}
    return 201, gh.comment(comment_id)


def edit_comment(gh: FakeGitHub, m, q, body, login) -> Answer:
    comment_id = int(m["id"])
    if comment_id not in gh.comments:
        raise HTTPFail(404, "Not Found")
    if len(body.get("body") or "") > LIMIT:
        raise too_long("IssueComment")
    gh.comments[comment_id] |= {"body": body["body"], "updated_at": now()}
    return 200, gh.comment(comment_id)


def list_labels(gh: FakeGitHub, m, q, body, login) -> Answer:
    return 200, [gh.label(name) for name in sorted(gh.labels)]


def create_label(gh: FakeGitHub, m, q, body, login) -> Answer:
    if body["name"] in gh.labels:
        raise HTTPFail(422, "Validation Failed", [{"resource": "Label", "code": "already_exists", "field": "name"}])
    gh.labels[body["name"]] = {"color": body["color"], "description": body.get("description"), "id": next(gh.ids)}
    return 201, gh.label(body["name"])


def list_pulls(gh: FakeGitHub, m, q, body, login) -> Answer:
    state, head = q.get("state", "open"), q.get("head")
    found = [n for n, p in sorted(gh.pulls.items(), reverse=True)
             if (state == "all" or gh.issues[n]["state"] == state)
             and (head is None or f"{gh.owner}:{p['head']}" == head)]
    shapes = [gh.pull(n) for n in found]
    for shape in shapes:
        del shape["merged"]  # like GitHub: the list has merged_at, not merged
    return 200, shapes


def create_pull(gh: FakeGitHub, m, q, body, login) -> Answer:
    head = body["head"].split(":")[-1]
    if head not in gh.branches:
        raise HTTPFail(422, "Validation Failed", [{"resource": "PullRequest", "field": "head", "code": "invalid"}])
    if any(p["head"] == head and gh.issues[n]["state"] == "open" for n, p in gh.pulls.items()):
        raise HTTPFail(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                   "message": f"A pull request already exists for {gh.owner}:{head}."}])
    if len(body.get("body") or "") > LIMIT:
        raise too_long("PullRequest")
    status, issue = create_issue(gh, m, q, {"title": body["title"], "body": body.get("body")}, login)
    gh.pulls[issue["number"]] = {"head": head, "base": body["base"], "merged_by": None, "merged_at": None}
    return 201, gh.pull(issue["number"])


def get_pull(gh: FakeGitHub, m, q, body, login) -> Answer:
    return 200, gh.pull(_number(gh, m, pulls=True))


def edit_pull(gh: FakeGitHub, m, q, body, login) -> Answer:
    edit_issue(gh, m, q, {k: v for k, v in body.items() if k in ("title", "body", "state")}, login)
    return 200, gh.pull(_number(gh, m, pulls=True))


def authenticated_user(gh: FakeGitHub, m, q, body, login) -> Answer:
    """GET /user: an installation token (a workflow's GITHUB_TOKEN) is refused
    (https://docs.github.com/en/rest/users/users#get-the-authenticated-user)."""
    if login.endswith("[bot]"):
        raise HTTPFail(403, "Resource not accessible by integration")
    return 200, gh.user(login)


def get_user(gh: FakeGitHub, m, q, body, login) -> Answer:
    if m["login"] not in gh.users:
        raise HTTPFail(404, "Not Found")
    return 200, gh.user(m["login"])


def get_team(gh: FakeGitHub, m, q, body, login) -> Answer:
    slug = f"{m['org']}/{m['slug']}"
    if slug not in gh.teams:
        raise HTTPFail(404, "Not Found")
    return 200, gh.team(slug)


def get_environment(gh: FakeGitHub, m, q, body, login) -> Answer:
    if m["env"] not in gh.environments:
        raise HTTPFail(404, "Not Found")
    return 200, gh.environment(m["env"])


def put_environment(gh: FakeGitHub, m, q, body, login) -> Answer:
    """PUT replaces the protection rules with what the body says; a field left out is reset, and
    PyGithub's `create_environment` always sends `prevent_self_review` and `deployment_branch_policy`
    (https://docs.github.com/en/rest/deployments/environments#create-or-update-an-environment)."""
    reviewers = [(r["type"], r["id"]) for r in body.get("reviewers") or []]
    if reviewers and gh.private:  # what GitHub does on a private repository without Enterprise
        raise HTTPFail(422, "Failed to create the environment protection rule: required reviewers are not "
                            "available for private repositories on this plan")
    for kind, rid in reviewers:
        known = gh.users.values() if kind == "User" else [t["id"] for t in gh.teams.values()]
        if rid not in known:
            raise HTTPFail(422, "Validation Failed",
                           [{"resource": "Environment", "code": "invalid", "field": "reviewers"}])
    policy = body.get("deployment_branch_policy")
    if policy is not None and bool(policy.get("protected_branches")) == bool(policy.get("custom_branch_policies")):
        raise HTTPFail(422, "Validation Failed: exactly one of protected_branches and custom_branch_policies "
                            "must be true")
    env = gh.environments.setdefault(m["env"], {"id": next(gh.ids) * 10, "created_at": now(), "branch_policies": []})
    env |= {"wait_timer": body.get("wait_timer") or 0, "reviewers": reviewers,
            "prevent_self_review": bool(body.get("prevent_self_review")), "branch_policy": policy,
            "can_admins_bypass": body.get("can_admins_bypass", True), "updated_at": now()}
    if not (policy or {}).get("custom_branch_policies"):
        env["branch_policies"] = []  # GitHub drops the custom policies with the setting
    return 200, gh.environment(m["env"])


def _environment(gh: FakeGitHub, m: re.Match[str]) -> dict[str, Any]:
    if m["env"] not in gh.environments:
        raise HTTPFail(404, "Not Found")
    return gh.environments[m["env"]]


def _branch_policy(gh: FakeGitHub, env: dict[str, Any], name: str) -> dict[str, Any]:
    return {"id": env["id"] + 100 + env["branch_policies"].index(name), "node_id": "MDE2", "name": name,
            "type": "branch"}


def list_branch_policies(gh: FakeGitHub, m, q, body, login) -> Answer:
    """https://docs.github.com/en/rest/deployments/branch-policies#list-deployment-branch-policies"""
    env = _environment(gh, m)
    return 200, {"total_count": len(env["branch_policies"]),
                 "branch_policies": [_branch_policy(gh, env, name) for name in env["branch_policies"]]}


def create_branch_policy(gh: FakeGitHub, m, q, body, login) -> Answer:
    """Only on an environment whose deployment_branch_policy has custom_branch_policies: true."""
    env = _environment(gh, m)
    if not (env.get("branch_policy") or {}).get("custom_branch_policies"):
        raise HTTPFail(404, "Not Found")
    if body["name"] in env["branch_policies"]:
        raise HTTPFail(303, "A policy with this name already exists")
    env["branch_policies"].append(body["name"])
    return 200, _branch_policy(gh, env, body["name"])


def list_rulesets(gh: FakeGitHub, m, q, body, login) -> Answer:
    """https://docs.github.com/en/rest/repos/rules#get-all-repository-rulesets (summaries, no rules)"""
    return 200, [{k: v for k, v in r.items() if k != "rules"} for _, r in sorted(gh.rulesets.items())]


def create_ruleset(gh: FakeGitHub, m, q, body, login) -> Answer:
    """https://docs.github.com/en/rest/repos/rules#create-a-repository-ruleset (needs administration: write)"""
    if login not in gh.admins:  # GITHUB_TOKEN can never be given administration

        raise HTTPFail(403, "Resource not accessible by integration")
    if any(r["name"] == body["name"] for r in gh.rulesets.values()):
        raise HTTPFail(422, "Validation Failed", [{"resource": "Ruleset", "code": "already_exists", "field": "name"}])
    ruleset_id = next(gh.ids)
    gh.rulesets[ruleset_id] = {"id": ruleset_id, "name": body["name"], "target": body.get("target", "branch"),
                               "source_type": "Repository", "source": f"{gh.owner}/{gh.name}",
                               "enforcement": body["enforcement"], "conditions": body.get("conditions"),
                               "rules": list(body.get("rules") or [])}
    return 201, gh.rulesets[ruleset_id]


def branch_rules(gh: FakeGitHub, m, q, body, login) -> Answer:
    """The active rules that apply to a branch (https://docs.github.com/en/rest/repos/rules#get-rules-for-a-branch);
    any reader may ask."""
    branch = m["branch"]
    found = []
    for ruleset_id, ruleset in sorted(gh.rulesets.items()):
        include = ((ruleset.get("conditions") or {}).get("ref_name") or {}).get("include") or []
        if ruleset["enforcement"] == "active" and any(_ref_matches(gh, pattern, branch) for pattern in include):
            found += [rule | {"ruleset_source_type": "Repository", "ruleset_source": f"{gh.owner}/{gh.name}",
                              "ruleset_id": ruleset_id} for rule in ruleset["rules"]]
    return 200, found


def _ref_matches(gh: FakeGitHub, pattern: str, branch: str) -> bool:
    if pattern in ("~ALL", f"refs/heads/{branch}") or (pattern == "~DEFAULT_BRANCH" and branch == gh.default_branch):
        return True
    return pattern.endswith("/**") and f"refs/heads/{branch}".startswith(pattern[:-2])


def list_runs(gh: FakeGitHub, m, q, body, login) -> Answer:
    found = [r for r in sorted(gh.runs, reverse=True) if q.get("status") in (None, gh.runs[r]["status"])]
    return 200, {"total_count": len(found), "workflow_runs": [gh.run(r) for r in found]}


def get_run(gh: FakeGitHub, m, q, body, login) -> Answer:
    return 200, gh.run(_run(gh, m))


def list_approvals(gh: FakeGitHub, m, q, body, login) -> Answer:
    return 200, gh.runs[_run(gh, m)]["approvals"]


def pending_deployments(gh: FakeGitHub, m, q, body, login) -> Answer:
    run = gh.runs[_run(gh, m)]
    return 200, [{"environment": _env_ref(gh, name), "wait_timer": 0, "wait_timer_started_at": None,
                  "current_user_can_approve": _may_approve(gh, name, login, run["actor"]), "reviewers": _reviewers(gh, name)}
                 for name in run["pending"]]


def _reviewers(gh: FakeGitHub, name: str) -> list[dict[str, Any]]:
    rules = gh.environment(name)["protection_rules"]
    return next((rule["reviewers"] for rule in rules if rule["type"] == "required_reviewers"), [])


def review_deployments(gh: FakeGitHub, m, q, body, login) -> Answer:
    """Approve or reject a run's deployments *per environment*: every job of the run waiting in a named
    environment is released together, under one reviewer
    (https://docs.github.com/en/rest/actions/workflow-runs#review-pending-deployments-for-a-workflow-run)."""
    run_id = _run(gh, m)
    run = gh.runs[run_id]
    names = [name for name in run["pending"] if gh.environments[name]["id"] in body.get("environment_ids", [])]
    if not names or len(names) != len(body["environment_ids"]):
        raise HTTPFail(422, "No pending deployment requests to approve or reject")
    if body.get("state") not in ("approved", "rejected"):
        raise HTTPFail(422, "Validation Failed", [{"resource": "Deployment", "code": "invalid", "field": "state"}])
    if not all(_may_approve(gh, name, login, run["actor"]) for name in names):
        raise HTTPFail(422, "Unprocessable Entity: the user is not a required reviewer of these environments")
    run["pending"] = [name for name in run["pending"] if name not in names]
    released = [job for job, env in run["jobs"].items() if env in names]
    run["jobs"] = {job: env for job, env in run["jobs"].items() if env not in names}
    if body["state"] == "approved":
        run["started"] += released
    else:
        # A rejected job never starts and fails: "If a job is rejected, the workflow will fail"
        # (https://docs.github.com/en/actions/how-tos/deploy/configure-and-manage-deployments/review-deployments);
        # the jobs that need it see `needs.<job>.result == 'failure'`
        # (https://docs.github.com/en/actions/reference/workflows-and-actions/contexts#needs-context).
        run["results"].update(dict.fromkeys(released, "failure"))
    run["approvals"].append({"state": body["state"], "comment": body.get("comment", ""), "user": gh.user(login),
                             "environments": [gh.environment(name) for name in names]})
    run["status"] = "waiting" if run["pending"] else "in_progress"
    return 200, [{"id": next(gh.ids), "node_id": "DE_1", "url": f"{gh.repo_url}/deployments/1", "sha": "0" * 40,
                  "ref": "main", "task": "deploy", "payload": {}, "environment": name, "original_environment": name,
                  "description": None, "creator": gh.user(login), "created_at": now(), "updated_at": now(),
                  "statuses_url": f"{gh.repo_url}/deployments/1/statuses", "repository_url": gh.repo_url}
                 for name in names]


def _run(gh: FakeGitHub, m: re.Match[str]) -> int:
    run_id = int(m["run"])
    if run_id not in gh.runs:
        raise HTTPFail(404, "Not Found")
    return run_id


def _env_ref(gh: FakeGitHub, name: str) -> dict[str, Any]:
    env = gh.environment(name)
    return {k: env[k] for k in ("id", "node_id", "name", "url", "html_url")}


def _may_approve(gh: FakeGitHub, name: str, login: str, actor: str | None = None) -> bool:
    """A required reviewer may approve, except the run's actor where the environment prevents self-review."""
    if actor == login and gh.environments[name].get("prevent_self_review"):
        return False
    for kind, rid in gh.environments[name]["reviewers"]:
        if kind == "User" and gh.users.get(login) == rid:
            return True
        if kind == "Team" and any(t["id"] == rid and login in t["members"] for t in gh.teams.values()):
            return True
    return False


def list_statuses(gh: FakeGitHub, m, q, body, login) -> Answer:
    """https://docs.github.com/en/rest/commits/statuses#list-commit-statuses-for-a-reference (newest first)"""
    return 200, list(gh.statuses.get(m["sha"], []))


def create_status(gh: FakeGitHub, m, q, body, login) -> Answer:
    """https://docs.github.com/en/rest/commits/statuses#create-a-commit-status"""
    if body.get("state") not in ("error", "failure", "pending", "success"):
        raise HTTPFail(422, "Validation Failed", [{"resource": "Status", "code": "custom", "field": "state"}])
    status = {"id": next(gh.ids), "state": body["state"], "context": body.get("context", "default"),
              "description": body.get("description"), "target_url": body.get("target_url"),
              "creator": gh.user(login), "created_at": now(), "updated_at": now()}
    gh.statuses.setdefault(m["sha"], []).insert(0, status)
    return 201, status


def collaborator_permission(gh: FakeGitHub, m, q, body, login) -> Answer:
    """https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user:
    `permission` is the legacy level (maintain reads as write), `role_name` the role."""
    if m["login"] not in gh.users:
        raise HTTPFail(404, "Not Found")
    role = gh.roles.get(m["login"], "none")
    legacy = {"maintain": "write", "triage": "read"}.get(role, role)
    return 200, {"permission": legacy, "role_name": role, "user": gh.user(m["login"])}


def create_reaction(gh: FakeGitHub, m, q, body, login) -> Answer:
    """https://docs.github.com/en/rest/reactions/reactions#create-reaction-for-an-issue-comment"""
    comment_id = int(m["id"])
    if comment_id not in gh.comments:
        raise HTTPFail(404, "Not Found")
    if body.get("content") not in ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"):
        raise HTTPFail(422, "Validation Failed", [{"resource": "Reaction", "code": "invalid", "field": "content"}])
    gh.reactions.setdefault(comment_id, []).append((login, body["content"]))
    return 201, {"id": next(gh.ids), "content": body["content"], "user": gh.user(login), "created_at": now()}


def table(gh: FakeGitHub) -> list[tuple[str, re.Pattern[str], Callable[..., Answer]]]:
    """Every route of the stand-in."""
    rows = [
        ("GET", REPO, get_repo),
        ("GET", REPO + r"/issues", list_issues),
        ("POST", REPO + r"/issues", create_issue),
        ("GET", REPO + r"/issues/(?P<number>\d+)", get_issue),
        ("PATCH", REPO + r"/issues/(?P<number>\d+)", edit_issue),
        ("GET", REPO + r"/issues/(?P<number>\d+)/comments", list_comments),
        ("POST", REPO + r"/issues/(?P<number>\d+)/comments", create_comment),
        ("PATCH", REPO + r"/issues/comments/(?P<id>\d+)", edit_comment),
        ("GET", REPO + r"/labels", list_labels),
        ("POST", REPO + r"/labels", create_label),
        ("GET", REPO + r"/pulls", list_pulls),
        ("POST", REPO + r"/pulls", create_pull),
        ("GET", REPO + r"/pulls/(?P<number>\d+)", get_pull),
        ("PATCH", REPO + r"/pulls/(?P<number>\d+)", edit_pull),
        ("GET", r"/user", authenticated_user),
        ("GET", r"/users/(?P<login>[^/]+)", get_user),
        ("GET", r"/orgs/(?P<org>[^/]+)/teams/(?P<slug>[^/]+)", get_team),
        ("GET", REPO + r"/environments/(?P<env>[^/]+)", get_environment),
        ("PUT", REPO + r"/environments/(?P<env>[^/]+)", put_environment),
        ("GET", REPO + r"/environments/(?P<env>[^/]+)/deployment-branch-policies", list_branch_policies),
        ("POST", REPO + r"/environments/(?P<env>[^/]+)/deployment-branch-policies", create_branch_policy),
        ("GET", REPO + r"/commits/(?P<sha>[0-9a-f]{40})/statuses", list_statuses),
        ("POST", REPO + r"/statuses/(?P<sha>[0-9a-f]{40})", create_status),
        ("GET", REPO + r"/collaborators/(?P<login>[^/]+)/permission", collaborator_permission),
        ("POST", REPO + r"/issues/comments/(?P<id>\d+)/reactions", create_reaction),
        ("GET", REPO + r"/rulesets", list_rulesets),
        ("POST", REPO + r"/rulesets", create_ruleset),
        ("GET", REPO + r"/rules/branches/(?P<branch>.+)", branch_rules),
        ("GET", REPO + r"/actions/runs", list_runs),
        ("GET", REPO + r"/actions/runs/(?P<run>\d+)", get_run),
        ("GET", REPO + r"/actions/runs/(?P<run>\d+)/approvals", list_approvals),
        ("GET", REPO + r"/actions/runs/(?P<run>\d+)/pending_deployments", pending_deployments),
        ("POST", REPO + r"/actions/runs/(?P<run>\d+)/pending_deployments", review_deployments),
        *fake_deployments.routes(REPO),
    ]
    return [(method, re.compile(f"^{pattern}$"), handler) for method, pattern, handler in rows]
