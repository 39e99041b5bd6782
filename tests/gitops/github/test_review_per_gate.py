"""GitHub reviews deployments per environment per run, so each checkpoint waits in its own
environment: two gates waiting in one run are approved one by one, each by its own reviewer
(issue 11, item 1)."""
from __future__ import annotations

import dataclasses

import pytest

from gitops.errors import UsageError
from gitops.github import workflow
from gitops.github.commands import approve_deployment, setup_github
from tests.gitops.builders import task, tasklist
from tests.gitops.github.conftest import FAST, make_forge

PATH = "migration/B-1006.md"
# Two checkpoints that run in parallel after 1.1: their gate jobs wait in the same run.
TL = dataclasses.replace(tasklist(task("1.1", run="true"), task("1.2", ("1.1",), pause=True), task("1.3", ("1.1",), pause=True)),
                         path=PATH)


def waiting_run(api, environ, run_id=77):
    """A run whose gate jobs for 1.2 and 1.3 wait, in the environments the workflow names."""
    jobs = workflow.workflow(TL, PATH)["jobs"]
    setup_github(TL, environ | {"GITHUB_TOKEN": "token-ada"}, ["ada", "bob"], **FAST)
    api.github.add_run(run_id, workflow.workflow_path(PATH), actor="carol",
                       jobs={name: jobs[name]["environment"] for name in ("gate-1-2", "gate-1-3")})
    return api.github.runs[run_id]


def test_each_waiting_checkpoint_is_approved_on_its_own_and_recorded_with_its_own_approver(api, environ):
    run = waiting_run(api, environ)
    approve_deployment(TL, "1.2", environ | {"GITHUB_TOKEN": "token-ada"}, "ada", **FAST)
    assert (run["started"], list(run["jobs"])) == (["gate-1-2"], ["gate-1-3"])  # 1.3 still waits
    approve_deployment(TL, "1.3", environ | {"GITHUB_TOKEN": "token-bob"}, "bob", **FAST)
    assert (run["started"], run["jobs"], run["status"]) == (["gate-1-2", "gate-1-3"], {}, "in_progress")
    forge = make_forge(environ)
    assert (forge.record_approval("1.2"), forge.record_approval("1.3")) == ("ada", "bob")


def test_approving_a_gate_that_does_not_wait_approves_nothing_else(api, environ):
    run = waiting_run(api, environ)
    approve_deployment(TL, "1.3", environ | {"GITHUB_TOKEN": "token-bob"}, "bob", **FAST)
    with pytest.raises(UsageError) as caught:
        approve_deployment(TL, "1.3", environ | {"GITHUB_TOKEN": "token-bob"}, "bob", **FAST)
    assert str(caught.value).startswith(
        "Run 77 has no deployment waiting for environment b-1006-checkpoint-1-3 (it waits for: "
        "b-1006-checkpoint-1-2).")
    assert list(run["jobs"]) == ["gate-1-2"]
    assert make_forge(environ).record_approval("1.2") is None


def test_every_gate_job_names_its_own_environment():
    jobs = workflow.workflow(TL, PATH)["jobs"]
    assert {name: job.get("environment") for name, job in jobs.items() if name.startswith("gate-")} == {
        "gate-1-2": "b-1006-checkpoint-1-2", "gate-1-3": "b-1006-checkpoint-1-3"}
