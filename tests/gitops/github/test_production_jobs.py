"""What the workflow adds where a phase deploys: the deployments permission and production's
settings on the deploying jobs, the `rollback` input and its job; nothing where none deploys."""
from __future__ import annotations

from pathlib import Path

import yaml

from gitops.github import render
from gitops.handlers import Registry
from gitops.tasklist import parser
from tests.conftest import ROOT
from tests.gitops.builders import task, tasklist

TASKLIST = "migration/B-1006.md"


def b1006() -> dict:
    tl, _ = parser.load(ROOT / TASKLIST)
    return yaml.safe_load(render.render(tl, tasklist_path=TASKLIST,
                                        handled=Registry.from_module("migration.handlers").ids()))


def test_the_deploying_jobs_may_record_deployments_and_know_where_production_is() -> None:
    doc = b1006()
    for job in ("task-6-1", "task-6-2"):
        permissions = doc["jobs"][job]["permissions"]
        assert permissions["deployments"] == "write"
        (run,) = [s for s in doc["jobs"][job]["steps"] if s.get("name", "").startswith("Run Task")]
        assert run["env"] == {"GITHUB_TOKEN": "${{ github.token }}",
                              "GITOPS_PRODUCTION_URL": "${{ vars.GITOPS_PRODUCTION_URL }}",
                              "GITOPS_PROMETHEUS_URL": "${{ vars.GITOPS_PROMETHEUS_URL }}",
                              "GITOPS_PRODUCTION_REMOTE": "${{ vars.GITOPS_PRODUCTION_REMOTE }}",
                              "GITOPS_PRODUCTION_BRANCH": "${{ vars.GITOPS_PRODUCTION_BRANCH }}",
                              "GITOPS_PRODUCTION_DEPLOY_KEY": "${{ secrets.GITOPS_PRODUCTION_DEPLOY_KEY }}"}
    assert "deployments" not in doc["jobs"]["task-5-2"]["permissions"]


def test_the_rollback_input_runs_gitops_rollback_behind_production_with_the_reason_in_the_environment() -> None:
    doc = b1006()
    assert doc["on"]["workflow_dispatch"]["inputs"]["rollback"]["type"] == "string"
    job = doc["jobs"]["rollback"]
    assert (job["environment"], job["needs"]) == ("production", ["plan"])
    assert job["if"] == ("${{ !cancelled() && needs.plan.result == 'success' && github.event_name == "
                         "'workflow_dispatch' && inputs.rollback != '' }}")
    assert job["permissions"] == {"contents": "read", "deployments": "write"}
    step = job["steps"][-1]
    assert step["env"]["ROLLBACK_REASON"] == "${{ inputs.rollback }}"
    assert step["run"] == (f'gitops --forge github --tasklist {TASKLIST} rollback --reason "$ROLLBACK_REASON" '
                           '--by "$GITHUB_ACTOR"\n')  # the input never pasted into the script
    assert "rollback" not in doc["jobs"]["report"]["needs"]


def test_a_task_list_that_deploys_nothing_gets_neither() -> None:
    doc = yaml.safe_load(render.render(tasklist(task("1.1", run="true")), tasklist_path="plain.md"))
    assert "rollback" not in doc["on"]["workflow_dispatch"]["inputs"] and "rollback" not in doc["jobs"]
    assert "deployments" not in doc["jobs"]["task-1-1"]["permissions"]


def test_the_committed_workflow_is_rendered() -> None:
    assert "rollback --reason \"$ROLLBACK_REASON\"" in Path(ROOT / ".github" / "workflows" / "b-1006.yml").read_text()
