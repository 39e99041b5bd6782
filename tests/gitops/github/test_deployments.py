"""A task that deploys is recorded as a Deployment with statuses (the repository's Environments
page), by the engine through the forge: on the GitHub stand-in (real PyGithub over HTTP) and in
the local forge's file; re-runs duplicate nothing; a rollback by hand is a deployment too."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops.errors import BadInput
from gitops.forge.deployments import Deployment, DeploymentState, DeploymentStatus
from gitops.forge.local import LocalForge
from gitops.handlers import Registry
from gitops.run.rollback import roll_back
from gitops.run.runner import Runner
from tests.gitops.builders import task, tasklist
from tests.gitops.github.conftest import actions_environ, make_forge
from tests.gitops.github.test_engine_github import NotesUI

REHEARSAL = "rehearsal on the runner with the embedded stack (no production configured: GITOPS_PRODUCTION_URL unset)"


def runner(folder: Path, environ: dict[str, str], handler: str, forge=None) -> Runner:
    return Runner(tasklist=tasklist(task("1.1", criteria=1, title="Gradual rollout")), state_path=folder / "state.json",
                  root=folder, work_dir=folder / ".gitops", forge=forge or make_forge(environ),
                  registry=Registry({"1.1": f"tests.gitops.github.deploying_handlers:{handler}"}, deployments={"1.1"}),
                  ui=NotesUI(), environ=environ, clock=lambda: "2026-12-04T00:00:00+00:00")


def statuses(api) -> list[tuple[str, str, str, str]]:
    (deployment,) = api.github.deployments.values()
    return [(s["state"], s["description"], s["environment_url"], s["log_url"]) for s in deployment["statuses"]]


def test_a_deploying_task_is_a_deployment_in_progress_then_successful(api, tmp_path):
    environ = actions_environ(api, tmp_path, GITHUB_SHA=api.github.head("main"))
    runner(tmp_path, environ, "PASSES").run("ada")
    (deployment,) = api.github.deployments.values()
    assert (deployment["environment"], deployment["sha"], deployment["payload"]) == (
        "production", api.github.head("main"), {"gitops": "deploy:1.1:1"})
    assert deployment["description"] == "Task 1.1 (attempt 1): Gradual rollout"
    assert deployment["production_environment"] and not deployment["transient_environment"]
    log = f"{api.url}/octo/pipeline/actions/runs/77"
    assert statuses(api) == [("success", f"deployed: {REHEARSAL}", "", log),
                             ("in_progress", f"deploying: {REHEARSAL}", "", log)]
    assert json.loads((tmp_path / "state.json").read_text())["tasks"]["1.1"]["status"] == "done"


def test_a_failed_deployment_names_the_criterion_and_the_configured_production(api, tmp_path):
    environ = actions_environ(api, tmp_path, GITHUB_SHA=api.github.head("main"),
                              GITOPS_PRODUCTION_URL="https://assistant.example.org")
    runner(tmp_path, environ, "FAILS").run("ada")
    assert [s[:3] for s in statuses(api)] == [
        ("failure", "failed (criterion 1 of 1.1): to production at https://assistant.example.org",
         "https://assistant.example.org"),
        ("in_progress", "deploying: to production at https://assistant.example.org", "https://assistant.example.org")]


def test_recording_again_duplicates_nothing_and_a_new_attempt_is_a_new_deployment(api, forge):
    sha = api.github.head("main")
    first = Deployment("deploy:6.1:1", "production", sha, "Task 6.1 (attempt 1)")
    done = DeploymentStatus(DeploymentState.SUCCESS, "deployed", "https://assistant.example.org")
    for status in (DeploymentStatus(DeploymentState.IN_PROGRESS, "deploying"), done):
        for _ in range(2):  # the same record again: a call retried after its answer was lost
            shown = forge.record_deployment(first, status)
    assert shown == f"{api.url}/octo/pipeline/deployments/production"
    assert [s[0] for s in statuses(api)] == ["success", "in_progress"]
    forge.record_deployment(Deployment("deploy:6.1:2", "production", sha, "Task 6.1 (attempt 2)"), done)
    assert sorted(d["payload"]["gitops"] for d in api.github.deployments.values()) == ["deploy:6.1:1", "deploy:6.1:2"]


def test_the_local_forge_keeps_the_same_history_in_a_file(tmp_path):
    forge = LocalForge(tmp_path / ".gitops" / "forge")
    runner(tmp_path, {}, "PASSES", forge).run("ada")
    text = (tmp_path / ".gitops" / "forge" / "deployments" / "deploy-1.1-1.md").read_text()
    assert text.startswith("# Deployment to production: Task 1.1 (attempt 1): Gradual rollout\n\n"
                           "<!-- gitops:deploy:1.1:1 -->\n**Environment**: production\n")
    rows = [line.split(" | ")[1:3] for line in text.splitlines() if line.startswith("| 20")]
    assert rows == [["in_progress", f"deploying: {REHEARSAL}"],
                    ["success", f"deployed: {REHEARSAL}"]]


def test_a_rollback_by_hand_is_a_deployment_of_its_own_with_the_runs_log(api, tmp_path: Path) -> None:
    environ = actions_environ(api, tmp_path, GITHUB_SHA=api.github.head("main"))
    assert roll_back({"6.1": "true"}, make_forge(environ), tmp_path, tmp_path / "logs", environ, "p95 doubled", "bob",
                     lambda m: None)
    (deployment,) = api.github.deployments.values()
    assert deployment["payload"] == {"gitops": "rollback:6.1:77"}
    assert deployment["description"] == "Rollback of Task 6.1 by bob: p95 doubled"
    assert [s["state"] for s in deployment["statuses"]] == ["success", "in_progress"]
    assert deployment["statuses"][0]["log_url"] == f"{api.url}/octo/pipeline/actions/runs/77"


def test_deployments_must_name_registered_tasks(tmp_path, monkeypatch):
    (tmp_path / "bad_registry.py").write_text('HANDLERS = {"6.1": "m:H"}\nDEPLOYMENTS = ("6.2",)\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BadInput) as raised:
        Registry.from_module("bad_registry")
    assert str(raised.value) == ("bad_registry.DEPLOYMENTS must be a collection of task ids that HANDLERS names, "
                                 "e.g. ('6.1',); it is ('6.2',). Fix it in the module.")
