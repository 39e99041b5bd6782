"""GitHub reviews deployments per environment per run: two jobs waiting in `production` at once
are released by one click. So the workflow's jobs in `production` wait one at a time, and each
production task is released, and recorded, by its own review (issue 11)."""
from __future__ import annotations

import dataclasses
from typing import Any

from gitops.github import workflow
from gitops.github.commands import approve_deployment, setup_github
from gitops.github.production_order import in_line
from tests.gitops.builders import task, tasklist
from tests.gitops.github.conftest import FAST, make_forge

PATH = "migration/B-1006.md"
# Two production tasks that are ready together: nothing orders them but the workflow.
TL = dataclasses.replace(tasklist(task("1.1", run="true"), task("1.2", run="true"),
                                  phase_titles={1: "Production Deployment"}), path=PATH)


def reaching_production(jobs: dict[str, Any], done: set[str], reached: set[str]) -> list[str]:
    """The jobs in `production` whose needs are all done: they reach the environment now."""
    return [name for name, job in jobs.items() if job.get("environment") == "production"
            and name not in done | reached and set(job["needs"]) <= done]


def test_two_jobs_waiting_in_production_together_are_released_by_one_review(api, environ):
    # GitHub's rule, as the stand-in models it: the reason the workflow puts them in a line.
    setup_github(TL, environ | {"GITHUB_TOKEN": "token-ada"}, ["ada", "bob"], **FAST)
    api.github.add_run(77, workflow.workflow_path(PATH), actor="carol",
                       jobs={"task-1-1": "production", "task-1-2": "production"})
    approve_deployment(TL, "deploy-1.1", environ | {"GITHUB_TOKEN": "token-ada"}, "ada", **FAST)
    assert api.github.runs[77]["started"] == ["task-1-1", "task-1-2"]


def test_production_jobs_wait_one_at_a_time_and_each_is_recorded_with_its_own_reviewer(api, environ):
    jobs = workflow.workflow(TL, PATH)["jobs"]
    setup_github(TL, environ | {"GITHUB_TOKEN": "token-ada"}, ["ada", "bob"], **FAST)
    api.github.add_run(77, workflow.workflow_path(PATH), actor="carol")
    run, done, reached = api.github.runs[77], {"plan", "rollback"}, set()  # no rollback input: skipped
    for reviewer, job, gate in (("ada", "task-1-1", "deploy-1.1"), ("bob", "task-1-2", "deploy-1.2")):
        assert reaching_production(jobs, done, reached) == [job]  # alone in production
        api.github.reach(77, job, "production")
        reached.add(job)
        approve_deployment(TL, gate, environ | {"GITHUB_TOKEN": f"token-{reviewer}"}, reviewer, **FAST)
        assert run["started"][-1] == job and run["jobs"] == {}
        # The task job reads its approval as it starts, the recording job after it: before the next review.
        assert make_forge(environ).record_approval(gate) == reviewer
        done |= {job, job.replace("task-", "record-")}
    assert reaching_production(jobs, done, reached) == []


def test_the_line_follows_the_dependencies_and_only_orders():
    later_first = dataclasses.replace(tasklist(task("1.1", ("1.3",), run="true"), task("1.2", run="true"),
                                               task("1.3", run="true"), phase_titles={1: "Production Deployment"}),
                                      path=PATH)
    assert in_line(later_first, ["1.1", "1.2", "1.3"]) == ["1.3", "1.1", "1.2"]
    jobs = workflow.workflow(later_first, PATH)["jobs"]
    assert [jobs[f"task-1-{n}"]["needs"] for n in (3, 1, 2)] == [
        ["plan", "rollback"], ["plan", "task-1-3", "record-1-3"], ["plan", "record-1-1"]]
    # 1.2 does not depend on 1.1: its `if:` never asks how 1.1 ended, so a failed 1.1 does not skip it.
    assert "1-1" not in jobs["task-1-2"]["if"] and jobs["task-1-2"]["if"].startswith("${{ !cancelled() && ")
