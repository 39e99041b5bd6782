"""`gitops recover` on GitHub asks whether the run that recorded a running task still runs
(issue 11, item 3): runs may overlap, so another run's task is lost only once that run
attempt has completed. The stand-in answers GET /actions/runs/{id} with status and attempt."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitops.github.api import GitHubError
from gitops.github.run_status import RunStatus
from gitops.handlers import Registry
from gitops.run.runner import Runner
from gitops.state import file as state_io
from tests.gitops.builders import task, tasklist
from tests.gitops.github.conftest import make_forge
from tests.gitops.github.test_engine_github import NotesUI

PATH = ".github/workflows/b-1006.yml"


def runner_left_running_by(folder: Path, environ: dict[str, str], run_id: str, attempt: str = "1") -> Runner:
    """This job is run 77; state.json says Task 1.1 runs in `run_id` (`attempt`)."""
    forge = make_forge(environ)
    runner = Runner(tasklist=tasklist(task("1.1", criteria=1, run="true")), state_path=folder / "state.json",
                    root=folder, work_dir=folder / ".gitops", forge=forge, registry=Registry({}), ui=NotesUI(),
                    environ=environ, clock=lambda: "2026-12-04T00:00:00+00:00",
                    run_fate=RunStatus(forge.settings, lambda: forge.gh))
    state = runner.new_state()
    state["tasks"]["1.1"].update(status="running", attempts=1, runner={
        "host": "runner-a", "pid": 9, "process": None, "github_run_id": run_id, "github_run_attempt": attempt})
    state_io.save(folder / "state.json", state)
    return runner


def status(folder: Path) -> tuple[str, str | None]:
    record = state_io.load(folder / "state.json")["tasks"]["1.1"]
    return record["status"], record["error"]


def test_a_task_of_a_run_still_in_progress_is_not_recovered(api, environ, tmp_path):
    api.github.add_run(6, PATH)  # in progress: it overlaps this run, its job may still record the task
    runner = runner_left_running_by(tmp_path, environ, "6")
    assert runner.recover() == []
    assert status(tmp_path) == ("running", None)
    api.github.runs[6]["status"] = "waiting"  # at a gate: still not over
    assert runner_left_running_by(tmp_path, environ, "6").recover() == []


def test_a_task_of_a_completed_run_is_recorded_as_failed(api, environ, tmp_path):
    api.github.add_run(6, PATH)
    api.github.end(6, "cancelled")
    [gone] = runner_left_running_by(tmp_path, environ, "6").recover()
    reason = ("its runner is gone: workflow run 6 (attempt 1) ended while the task ran (cancelled: cancelled, "
              "timed out or its runner was lost)")
    assert gone.reason == reason
    assert status(tmp_path) == ("failed", reason)


def test_an_earlier_attempt_of_a_re_run_has_ended(api, environ, tmp_path):
    api.github.add_run(6, PATH)
    api.github.end(6)
    api.github.rerun(6)  # attempt 2 in progress: attempt 1, which recorded the task, is over
    [gone] = runner_left_running_by(tmp_path, environ, "6", attempt="1").recover()
    assert gone.reason == "its runner is gone: workflow run 6 (attempt 1) ended while the task ran: GitHub re-ran the run as attempt 2"
    assert runner_left_running_by(tmp_path, environ, "6", attempt="2").recover() == []  # the attempt that runs


def test_a_run_github_cannot_tell_about_is_an_error_and_nothing_is_recorded(api, environ, tmp_path):
    runner = runner_left_running_by(tmp_path, environ, "6")  # the stand-in knows no run 6: HTTP 404
    with pytest.raises(GitHubError) as error:
        runner.recover()
    assert str(error.value).startswith(
        "GitHub refused reading whether workflow run 6 still runs (a task it recorded is still running) (HTTP 404 "
        "Not Found). gitops records the task as failed only once its run has ended; run the workflow again later.")
    assert status(tmp_path) == ("running", None)


def test_a_record_naming_no_run_is_a_clear_error(api, environ, tmp_path):
    with pytest.raises(GitHubError) as error:
        runner_left_running_by(tmp_path, environ, "six").recover()
    assert str(error.value) == ("state.json records a running task's workflow run as 'six' (attempt '1'), which "
                                "names no run: restore the task's record from the branch history.")
