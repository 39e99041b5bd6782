"""The stand-in's Deployments API: deployments per environment and their statuses, newest first,
as the repository's Environments page lists them.

https://docs.github.com/en/rest/deployments/deployments and
https://docs.github.com/en/rest/deployments/statuses: a deployment needs a ref the repository
has; with `auto_merge` (default true) GitHub merges the default branch into the ref first, and
unless `required_contexts` is given every commit status of the ref must be success (both end in
HTTP 409 when they do not hold): the stand-in refuses those defaults, so a client that omits
them fails here as it would there. A status description past 140 characters is a 422.
"""
from __future__ import annotations

import re
from typing import Any

from tests.gitops.github.fake_github import FakeGitHub, HTTPFail, now

Answer = tuple[int, Any]
STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


def _shape(gh: FakeGitHub, item: dict[str, Any]) -> dict[str, Any]:
    url = f"{gh.repo_url}/deployments/{item['id']}"
    return {k: item[k] for k in ("id", "sha", "ref", "task", "payload", "environment", "description", "creator",
                                 "created_at", "updated_at", "transient_environment", "production_environment")} | {
        "node_id": f"DE_{item['id']}", "url": url, "statuses_url": f"{url}/statuses", "repository_url": gh.repo_url,
        "original_environment": item["environment"]}


def _deployment(gh: FakeGitHub, m: re.Match[str]) -> dict[str, Any]:
    item = gh.deployments.get(int(m["id"]))
    if item is None:
        raise HTTPFail(404, "Not Found")
    return item


def create_deployment(gh: FakeGitHub, m, q, body, login) -> Answer:
    ref = body.get("ref", "")
    sha = ref if re.fullmatch(r"[0-9a-f]{40}", ref) else (gh.head(ref) if ref in gh.branches else None)
    if sha is None:
        raise HTTPFail(422, "No ref found for: " + ref)
    if body.get("auto_merge", True):
        raise HTTPFail(409, "Conflict merging main into " + ref)  # what a phase branch behind main gets
    if body.get("required_contexts") is None:
        raise HTTPFail(409, "Conflict: Commit status checks failed for " + ref)
    item = {"id": next(gh.ids), "sha": sha, "ref": ref, "task": body.get("task", "deploy"),
            "payload": body.get("payload", {}), "environment": body.get("environment", "production"),
            "description": body.get("description"), "creator": gh.user(login), "created_at": now(),
            "updated_at": now(), "transient_environment": body.get("transient_environment", False),
            "production_environment": body.get("production_environment", False), "statuses": []}
    gh.deployments[item["id"]] = item
    return 201, _shape(gh, item)


def list_deployments(gh: FakeGitHub, m, q, body, login) -> Answer:
    """Newest first, filtered by sha, ref, task and environment."""
    found = [item for item in reversed(gh.deployments.values())
             if all(item[key] == q[key] for key in ("sha", "ref", "task", "environment") if key in q)]
    return 200, [_shape(gh, item) for item in found]


def get_deployment(gh: FakeGitHub, m, q, body, login) -> Answer:
    return 200, _shape(gh, _deployment(gh, m))


def create_deployment_status(gh: FakeGitHub, m, q, body, login) -> Answer:
    item = _deployment(gh, m)
    if body.get("state") not in STATES:
        raise HTTPFail(422, "Validation Failed", [{"resource": "DeploymentStatus", "code": "custom", "field": "state"}])
    if len(body.get("description") or "") > 140:
        raise HTTPFail(422, "Validation Failed", [{"resource": "DeploymentStatus", "code": "custom",
                                                   "field": "description", "message": "description is too long "
                                                   "(maximum is 140 characters)"}])
    log = body.get("log_url") or body.get("target_url") or ""
    status = {"id": next(gh.ids), "state": body["state"], "description": body.get("description") or "",
              "environment": body.get("environment") or item["environment"],
              "environment_url": body.get("environment_url") or "", "log_url": log, "target_url": log,
              "creator": gh.user(login), "created_at": now(), "updated_at": now(),
              "deployment_url": f"{gh.repo_url}/deployments/{item['id']}", "repository_url": gh.repo_url,
              "url": f"{gh.repo_url}/deployments/{item['id']}/statuses/{next(gh.ids)}"}
    item["statuses"].insert(0, status)
    return 201, status


def list_deployment_statuses(gh: FakeGitHub, m, q, body, login) -> Answer:
    return 200, list(_deployment(gh, m)["statuses"])


def routes(repo: str) -> list[tuple[str, str, Any]]:
    return [
        ("GET", repo + r"/deployments", list_deployments),
        ("POST", repo + r"/deployments", create_deployment),
        ("GET", repo + r"/deployments/(?P<id>\d+)", get_deployment),
        ("GET", repo + r"/deployments/(?P<id>\d+)/statuses", list_deployment_statuses),
        ("POST", repo + r"/deployments/(?P<id>\d+)/statuses", create_deployment_status),
    ]
