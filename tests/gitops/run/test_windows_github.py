"""A window on GitHub, job by job, with real git: the task job hands the opened window over, its
recording job records the task waiting; a day later the windows workflow's evaluate job (no write
token) hands the evaluation over and its recording job completes the task."""
from __future__ import annotations

import json
from pathlib import Path

from gitops.forge.local import LocalForge
from gitops.handlers import Registry
from gitops.run import handover
from gitops.run.claims import claim
from gitops.run.recording import record
from gitops.run.runner import Runner
from gitops.run.windows import evaluate_due
from gitops.run.windows import record as record_windows
from gitops.state.git_store import GitStateStore
from gitops.state.handover_store import HandOverStore
from tests.gitops.builders import task, tasklist
from tests.gitops.github.test_engine_github import NotesUI
from tests.gitops.run.test_recording import BRANCH, ENV, branch_state, checkout, git, refs, remote  # noqa: F401
from tests.gitops.run.test_windows import WATCHED, Clock

TASKS = tasklist(task("1.1", criteria=1))


def job(root: Path, store, clock: Clock, hands_over: bool = False) -> Runner:
    return Runner(tasklist=TASKS, state_path=root / "state.json", root=root, work_dir=root / ".gitops",
                  forge=LocalForge(root / ".gitops" / "forge"), registry=Registry({"1.1": WATCHED}), ui=NotesUI(),
                  environ=dict(ENV), clock=clock, store=store, hands_over=hands_over, scheduled_windows=True)


def without_token(remote: Path, name: str, clock: Clock) -> tuple[Runner, GitStateStore]:
    root = checkout(remote, name)
    source = GitStateStore(root, "origin", BRANCH)
    return job(root, HandOverStore(source, root / ".gitops" / "handover" / "state.json"), clock, True), source


def with_token(remote: Path, name: str, clock: Clock) -> tuple[Runner, GitStateStore]:
    root = checkout(remote, name)
    store = GitStateStore(root, "origin", BRANCH)
    return job(root, store, clock), store


def test_the_window_is_opened_recorded_then_evaluated_and_recorded_by_jobs_apart(remote):
    clock = Clock()
    planner, _ = with_token(remote, "plan", clock)
    assert claim(planner, ["1.1"]) == ["1.1"]
    task_job, source = without_token(remote, "task", clock)
    result = task_job.execute("1.1", claimed=True)
    path = task_job.root / ".gitops" / "handover" / "task-1-1.json"
    handover.write(path, handover.from_record("1.1", task_job.current()["tasks"]["1.1"], result.updates, {},
                                              run=handover.run_of(task_job.whoami)))
    assert json.loads(path.read_text())["window"]["until"] == "2026-11-25T00:00:00+00:00"
    recorder, store = with_token(remote, "record", clock)
    assert record(recorder, store, "1.1", path) == "Task 1.1 recorded: waiting"
    assert branch_state(remote)["tasks"]["1.1"]["window"]["evaluate"] == WATCHED

    clock.now = "2026-11-25T01:00:00+00:00"  # the first scheduled run after the window ended
    evaluator, _ = without_token(remote, "evaluate", clock)
    before = refs(remote)
    folder = evaluator.root / ".gitops" / "windows"
    assert [(e.task, e.status) for e in evaluate_due(evaluator, folder)] == [("1.1", "done")]
    assert refs(remote) == before  # the evaluation job wrote nothing to the repository
    recorder, store = with_token(remote, "record-windows", clock)
    assert [(r.completed, r.message) for r in record_windows(recorder, store, folder)] == [
        (True, "Task 1.1 evaluated: done")]
    after = branch_state(remote)["tasks"]["1.1"]
    assert (after["status"], after["window"]["evaluated_at"]) == ("done", clock.now)
    assert record_windows(recorder, store, folder) == []  # a second recording finds nothing waiting


def test_a_window_with_no_evaluation_handed_over_keeps_waiting(remote, tmp_path):
    clock = Clock()
    planner, _ = with_token(remote, "plan", clock)
    claim(planner, ["1.1"])
    task_job, _ = without_token(remote, "task", clock)
    result = task_job.execute("1.1", claimed=True)
    path = task_job.root / "handed.json"
    handover.write(path, handover.from_record("1.1", task_job.current()["tasks"]["1.1"], result.updates, {},
                                              run=handover.run_of(task_job.whoami)))
    recorder, store = with_token(remote, "record", clock)
    record(recorder, store, "1.1", path)
    assert [(r.completed, r.message) for r in record_windows(recorder, store, tmp_path / "nothing")] == [
        (False, "Task 1.1 still waits (until 2026-11-25T00:00:00+00:00): no evaluation was handed over.")]
    assert branch_state(remote)["tasks"]["1.1"]["status"] == "waiting"
