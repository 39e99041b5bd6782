"""Task code runs without the engine's credentials (issue 11, item 8): a **Run** command's
environment and a handler's process hold neither GITHUB_TOKEN nor git's GIT_CONFIG_* entries."""
from __future__ import annotations

import json
import os
from pathlib import Path

from gitops.forge.local import LocalForge
from gitops.handlers import Registry
from gitops.run.runner import Runner
from gitops.run.task_env import holds_credentials, task_environment
from gitops.state.git_auth import github_auth_env
from tests.gitops.builders import task, tasklist

TOKEN = "ghs_" + "A1b2C3d4" * 4 + "Zz"
ENGINE_ENV = {**github_auth_env(TOKEN, environ={"PLAIN": "kept", "PATH": os.environ["PATH"]}), "GITHUB_TOKEN": TOKEN}


class Notes:
    def __init__(self):
        self.notes: list[str] = []

    def task_started(self, *args): ...

    def task_finished(self, *args): ...

    def note(self, message):
        self.notes.append(message)

    def confirm(self, step, approver):
        return None


def runner(folder: Path, refs: dict[str, str], run: str | None = None, environ=ENGINE_ENV) -> Runner:
    return Runner(
        tasklist=tasklist(task("1.1", criteria=1, run=run)),
        state_path=folder / "state.json",
        root=folder,
        work_dir=folder / ".gitops",
        forge=LocalForge(folder / ".gitops" / "forge"),
        registry=Registry(refs),
        ui=Notes(),
        environ=environ,
        clock=lambda: "2026-11-24T00:00:00+00:00",
    )


def record(folder: Path) -> dict:
    return json.loads((folder / "state.json").read_text())["tasks"]["1.1"]


def test_the_task_environment_has_no_credentials():
    env = task_environment({**ENGINE_ENV, "GH_TOKEN": "x", "ACTIONS_RUNTIME_TOKEN": "y", "GIT_CONFIG_KEY_7": "z"})
    assert env == {"PLAIN": "kept", "PATH": os.environ["PATH"]}
    assert holds_credentials(ENGINE_ENV) and not holds_credentials(env)


# What the runner gives an action step of the Actions runtime (act gives it to `run:` steps too):
# with the token and the cache's address task code could save cache entries of its own.
RUNTIME = {"ACTIONS_RUNTIME_URL": "https://pipelines.example/", "ACTIONS_RUNTIME_TOKEN": "eyJ0eXAi.runtime",
           "ACTIONS_CACHE_URL": "https://artifactcache.example/", "ACTIONS_CACHE_SERVICE_V2": "True",
           "ACTIONS_RESULTS_URL": "https://results.example/", "ACTIONS_ID_TOKEN_REQUEST_URL": "https://oidc.example/",
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc"}


def test_the_task_environment_has_none_of_the_actions_runtime():
    debug = {"ACTIONS_STEP_DEBUG": "true", "ACTIONS_RUNNER_DEBUG": "true"}  # switches, not credentials: kept
    assert task_environment({**RUNTIME, **debug, "PLAIN": "kept"}) == {**debug, "PLAIN": "kept"}
    assert holds_credentials({"ACTIONS_CACHE_URL": "https://artifactcache.example/"})


def test_a_run_command_sees_no_actions_runtime(tmp_path):
    r = runner(tmp_path, {}, run="env > seen.txt", environ={**ENGINE_ENV, **RUNTIME})
    assert r.run("ana").step.kind.value == "finished"
    seen = (tmp_path / "seen.txt").read_text()
    assert "PLAIN=kept" in seen and not [name for name in RUNTIME if name in seen]


def test_a_run_command_sees_no_credentials(tmp_path):
    r = runner(tmp_path, {}, run="env > seen.txt")
    assert r.run("ana").step.kind.value == "finished"
    seen = (tmp_path / "seen.txt").read_text()
    assert "PLAIN=kept" in seen and TOKEN not in seen and "GITHUB_TOKEN" not in seen and "GIT_CONFIG" not in seen


def test_a_handler_runs_in_a_process_without_the_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)  # the engine's own process holds it, as in a job
    r = runner(tmp_path, {"1.1": "tests.gitops.run.apart_handlers:SEES"})
    assert r.run("ana").step.kind.value == "finished"
    check = record(tmp_path)["checks"][0]
    assert check["status"] == "passed", check
    assert check["evidence"].startswith("os.environ: {'GITHUB_TOKEN': None, 'GIT_CONFIG_VALUE_0': None, 'PLAIN': 'kept'}")
    assert "ctx.environ token: None" in check["evidence"] and "state tasks: ['1.1']" in check["evidence"]
    assert check["metrics"]["pid"] != os.getpid()
    assert f"handler pid {int(check['metrics']['pid'])}" in r.ui.notes and "printed by the handler" in r.ui.notes
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["performance_metrics"] == {"seen": 1}  # the action's updates come back too


def test_without_credentials_a_handler_runs_in_the_engines_process(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("GITHUB_TOKEN", "GH_", "GIT_CONFIG", "ACTIONS_")):
            monkeypatch.delenv(name)
    r = runner(tmp_path, {"1.1": "tests.gitops.run.apart_handlers:SEES"}, environ={"PLAIN": "kept"})
    r.run("ana")
    assert record(tmp_path)["checks"][0]["metrics"]["pid"] == os.getpid()


def test_a_handler_process_that_dies_fails_the_task_with_its_exit_code(tmp_path):
    r = runner(tmp_path, {"1.1": "tests.gitops.run.apart_handlers:EXITS"})
    assert r.run("ana").step.kind.value == "paused"
    found = record(tmp_path)
    assert found["status"] == "failed" and "ended with exit code 3 and no result" in found["error"]
    assert found["checks"][0]["status"] == "skipped"


def test_a_handler_that_raises_apart_fails_with_its_traceback(tmp_path):
    r = runner(tmp_path, {"1.1": "tests.gitops.run.apart_handlers:RAISES"})
    r.run("ana")
    assert "RuntimeError: the handler broke" in record(tmp_path)["error"]


def test_a_handler_that_cannot_be_imported_apart_says_so(tmp_path):
    r = runner(tmp_path, {"1.1": "tests.gitops.run.no_such_module:X"})
    r.run("ana")
    assert "the handler of Task 1.1 cannot be loaded" in record(tmp_path)["error"]

