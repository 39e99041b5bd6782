"""A reviewer rejects a deploying task's `production` review (issue 11): its task job never runs,
and its recording job records what a person decided, by whom, and how to ask again; never an
interruption, and never the approval of the production job before it in the line.

The recording job's steps run through the command line against the stand-in, as the workflow
runs them; the review is posted as a reviewer would (POST .../pending_deployments, state rejected).
"""
from __future__ import annotations

import json
import urllib.request

import pytest

from gitops.github import workflow
from tests.gitops.github.test_cli_github import branch_state, gitops, site  # noqa: F401 (site: a fixture)

PRODUCTION_LIST = """# Process Task List: Ship a service

**Auto-Advance**: yes
**Pause After**: no

## Phase 1: Production Deployment

### Task 1.1: Roll out the API
**Dependencies**: None
**Run**: `echo api`

**Done when**:
- [ ] The API serves the new version

### Task 1.2: Roll out the worker
**Dependencies**: None
**Run**: `echo worker`

**Done when**:
- [ ] The worker serves the new version
"""
RUN = 77


@pytest.fixture
def production(api, site, monkeypatch):  # noqa: F811 (site: the fixture imported above)
    """Both production tasks claimed by run 77; Task 1.1's review approved by ada, Task 1.2's
    rejected by bob: the second job in the production line, as production_order puts them."""
    (site / "B-1006.md").write_text(PRODUCTION_LIST)
    github = api.github
    github.add_environment("production", (("User", github.users["ada"]), ("User", github.users["bob"])))
    github.add_run(RUN, workflow.workflow_path("B-1006.md"), actor="carol")
    assert "Claimed for this run: 1.1, 1.2." in gitops("--forge", "github", "claim", '["1.1", "1.2"]')
    github.reach(RUN, "task-1-1", "production")
    review(api, "token-ada", "approved", "")
    github.reach(RUN, "task-1-2", "production")
    review(api, "token-bob", "rejected", "not on a Friday")
    monkeypatch.setenv("GITHUB_JOB", "record-1-2")
    return github


def review(api, token: str, state: str, comment: str) -> None:
    """A reviewer answers the run's pending `production` deployment (Review deployments)."""
    env_id = api.github.environments["production"]["id"]
    request = urllib.request.Request(
        f"{api.url}/repos/octo/pipeline/actions/runs/{RUN}/pending_deployments", method="POST",
        data=json.dumps({"environment_ids": [env_id], "state": state, "comment": comment}).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200


def test_the_standin_fails_a_rejected_job_without_starting_it(production):
    run = production.runs[RUN]
    assert "task-1-2" not in run["started"] and run["results"]["task-1-2"] == "failure"
    assert [(a["state"], a["user"]["login"]) for a in run["approvals"]] == [("approved", "ada"), ("rejected", "bob")]


def test_the_recording_job_never_takes_the_approval_of_the_job_before_it_in_the_line(site, production):
    out = gitops("--forge", "github", "approve", "deploy-1.2", "--recorded")
    assert "Gate deploy-1.2 is not approved on the forge yet: nothing to record." in out
    assert branch_state(site)["gates"]["deploy-1.2"]["status"] == "pending"

