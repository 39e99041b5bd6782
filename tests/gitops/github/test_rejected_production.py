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
from gitops.github.commands import step_text
from gitops.plan.planner import deploy_rejected_step
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
    rejected by bob: the second job in the production line, as production_order puts them. Returns
    the checkout the recording job of Task 1.2 runs in."""
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
    return site


def review(api, token: str, state: str, comment: str) -> None:
    """A reviewer answers the run's pending `production` deployment (Review deployments)."""
    env_id = api.github.environments["production"]["id"]
    request = urllib.request.Request(
        f"{api.url}/repos/octo/pipeline/actions/runs/{RUN}/pending_deployments", method="POST",
        data=json.dumps({"environment_ids": [env_id], "state": state, "comment": comment}).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200


def test_the_standin_fails_a_rejected_job_without_starting_it(api, production):
    run = api.github.runs[RUN]
    assert "task-1-2" not in run["started"] and run["results"]["task-1-2"] == "failure"
    assert [(a["state"], a["user"]["login"]) for a in run["approvals"]] == [("approved", "ada"), ("rejected", "bob")]


def test_the_recording_job_never_takes_the_approval_of_the_job_before_it_in_the_line(production):
    out = gitops("--forge", "github", "approve", "deploy-1.2", "--recorded")
    assert "Gate deploy-1.2 is not approved on the forge yet: nothing to record." in out
    assert branch_state(production)["gates"]["deploy-1.2"]["status"] == "pending"


def test_a_rejected_production_review_is_recorded_as_the_reviewers_decision(api, production, monkeypatch):
    gitops("--forge", "github", "approve", "deploy-1.2", "--recorded")  # the step before: records nothing
    monkeypatch.setenv("TASK_JOB_RESULT", api.github.runs[RUN]["results"]["task-1-2"])
    missing = str(production / "never-uploaded.json")  # the job never started: nothing was handed over
    out = " ".join(gitops("--forge", "github", "record-task", "1.2", "--from", missing).split())
    assert ("Task 1.2 did not run: production gate deploy-1.2 was rejected by bob (\"not on a Friday\"). "
            "To ask for its review again: `gitops retry 1.2`.") in out
    state = branch_state(production)
    assert state["gates"]["deploy-1.2"] | {"at": None} == {
        "status": "rejected", "approved_by": None, "at": None, "rejected_by": "bob", "comment": "not on a Friday"}
    record = state["tasks"]["1.2"]
    assert (record["status"], record["attempts"], record.get("interrupted")) == ("pending", 0, None)
    assert not api.github.hotfix_issues()  # a person decided: nothing broke
    # The progress comment's next step, once it is the first thing a person must decide.
    step = deploy_rejected_step("1.2", state["gates"]["deploy-1.2"])
    assert step_text("b-1006", None)(step) == (
        'Task 1.2 did not run: production gate deploy-1.2 was rejected by bob ("not on a Friday"). To ask for its '
        "review again: `gitops retry 1.2`. On GitHub: run the workflow with input `retry=1.2`, or comment "
        "`/gitops retry 1.2` on the phase PR; its job then waits for a release reviewer again.")
    # The next run does not claim it, and its job does not run to ask a reviewer again: nobody asked.
    out = gitops("--forge", "github", "claim", "--outputs", '["1.2"]')
    assert "No task to claim" in out and "pending=[]" in out
    # Asking again (dispatch retry=1.2, or `/gitops retry 1.2`) opens the gate, and the task is claimed.
    gitops("--forge", "github", "retry", "1.2")
    assert branch_state(production)["gates"]["deploy-1.2"]["status"] == "pending"
    assert "Claimed for this run: 1.2." in gitops("--forge", "github", "claim", '["1.2"]')
