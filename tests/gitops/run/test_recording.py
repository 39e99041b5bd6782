"""A task job without a write token hands its result over; the recording job commits it.

Real git (a bare repository is the remote) and the engine's own Runner on both sides: the task
job's store pushes nothing; the recording job's commit holds the result and the task's work,
and a missing or forged hand-over is recorded as a failure, never applied.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gitops.errors import UsageError
from gitops.forge.local import LocalForge
from gitops.handlers import Registry
from gitops.run import handover
from gitops.run.recording import record
from gitops.run.runner import Runner
from gitops.state import file as state_io
from gitops.state.git_store import GitStateStore
from gitops.state.handover_store import HandOverStore
from tests.gitops.builders import task, tasklist
from tests.gitops.github.test_engine_github import NotesUI

BRANCH = "gitops/demo/phase-1"
TASKS = tasklist(task("1.1", criteria=0, run="mkdir -p out && echo built > out/parts.txt"),
                 task("1.2", criteria=0, run="echo jammed >&2; exit 3"))
ENV = {"PATH": "/usr/bin:/bin", "GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "77", "GITHUB_REPOSITORY": "octo/demo",
       "GITHUB_SERVER_URL": "https://github.example", "GITHUB_SHA": "abc123"}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare, seed = tmp_path / "remote.git", tmp_path / "seed"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    (seed / ".gitignore").write_text(".gitops/\n")
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "seed")
    git(seed, "push", "-q", "origin", "HEAD:main")
    return bare


def checkout(remote: Path, name: str) -> Path:
    target = remote.parent / name
    git(remote.parent, "clone", "-q", str(remote), str(target))
    return target


def runner(root: Path, store, hands_over: bool = False) -> Runner:
    return Runner(tasklist=TASKS, state_path=root / "state.json", root=root, work_dir=root / ".gitops",
                  forge=LocalForge(root / ".gitops" / "forge"), registry=Registry({}), ui=NotesUI(), environ=ENV,
                  clock=lambda: "2026-12-04T00:00:00+00:00", store=store, hands_over=hands_over)


def task_job(remote: Path, task_id: str) -> tuple[Path, dict]:
    """Run the task as a workflow's task job does: nothing pushed; return the hand-over file and the remote's refs."""
    root = checkout(remote, f"task-{task_id}")
    source = GitStateStore(root, "origin", BRANCH)
    job = runner(root, HandOverStore(source, root / ".gitops" / "handover" / "state.json"), hands_over=True)
    result = job.execute(task_id)
    path = root / ".gitops" / "handover" / f"task-{task_id}.json"
    handover.write(path, handover.from_record(task_id, job.current()["tasks"][task_id], result.updates,
                                              source.work_files()))
    return path, json.loads(path.read_text())


def recording_job(remote: Path, name: str = "record") -> tuple[Runner, GitStateStore]:
    root = checkout(remote, name)
    store = GitStateStore(root, "origin", BRANCH)
    return runner(root, store), store


def branch_state(remote: Path) -> dict:
    return json.loads(git(remote, "show", f"{BRANCH}:state.json"))


def refs(remote: Path) -> str:
    return git(remote, "for-each-ref")


def test_the_task_job_pushes_nothing_and_the_recording_job_commits_result_and_work(remote):
    before = refs(remote)
    path, _ = task_job(remote, "1.1")
    assert refs(remote) == before  # no write token needed: the task job only read
    recorder, store = recording_job(remote)
    assert record(recorder, store, "1.1", path) == "Task 1.1 recorded: done"
    state = branch_state(remote)
    assert (state["tasks"]["1.1"]["status"], state["tasks"]["1.1"]["attempts"]) == ("done", 1)
    assert state["tasks"]["1.1"]["runner"]["github_run_id"] == "77"
    assert git(remote, "show", f"{BRANCH}:out/parts.txt") == "built"
    # The recording job's checkout was never written: the work went into the commit only.
    assert not (recorder.root / "out").exists()


def test_a_failed_task_is_recorded_with_its_hotfix_by_the_recording_job(remote):
    path, _ = task_job(remote, "1.2")
    recorder, store = recording_job(remote)
    assert record(recorder, store, "1.2", path) == "Task 1.2 recorded: failed"
    state = branch_state(remote)
    assert state["paused_by"] == "T-HotFix-1" and "jammed" in state["tasks"]["1.2"]["error"]
    assert recorder.forge.issue_state("hotfix:1.2") == "open"


def test_no_hand_over_records_the_task_as_failed_with_the_reason(remote):
    recorder, store = recording_job(remote)
    said = record(recorder, store, "1.1", remote.parent / "nothing.json")
    reason = ("the result handed over for Task 1.1 is missing: the task job ended before it handed one over "
              "(cancelled, timed out, or its runner was lost)")
    assert said == f"Task 1.1 recorded as failed: {reason}"
    record_ = branch_state(remote)["tasks"]["1.1"]
    assert (record_["status"], record_["attempts"], record_["error"]) == ("failed", 1, reason)


@pytest.mark.parametrize(("forge", "problem"), [
    (lambda doc: doc["updates"].update(gates={"1.1": {"status": "approved"}}),
     "updates may only hold compatibility_issues, performance_metrics, rollback_ready, test_results"),
    (lambda doc: doc["work"].append({"path": ".git/config", "mode": "100644", "content": "", "base": None}),
     "the work path '.git/config' is not a plain path inside the repository"),
    (lambda doc: doc["work"].append({"path": "a/../../x", "mode": "100644", "content": "", "base": None}),
     "the work path 'a/../../x' is not a plain path inside the repository"),
    (lambda doc: doc.update(task="1.2"), "it is for Task '1.2' (format 1), not Task 1.1 (format 1)"),
    (lambda doc: doc.update(run="rm -rf /"), "expected an object with exactly the keys after_attempt, checks, error, "
                                             "format, mlflow_run_id, outcome, task, updates, work"),
    (lambda doc: doc["updates"].update(performance_metrics="fast"),
     "Task 1.1 cannot be recorded: performance_metrics: expected an object"),
])
def test_a_forged_hand_over_is_refused_and_recorded_as_a_failure(remote, forge, problem):
    path, doc = task_job(remote, "1.1")
    forge(doc)
    path.write_text(json.dumps(doc))
    recorder, store = recording_job(remote)
    said = record(recorder, store, "1.1", path)
    state = branch_state(remote)
    assert said.startswith("Task 1.1 recorded as failed: ") and problem.split(": ")[-1] in said, said
    assert state["tasks"]["1.1"]["status"] == "failed" and state["gates"].get("1.1") is None
    assert "parts.txt" not in git(remote, "ls-tree", "-r", "--name-only", BRANCH)


def test_a_task_that_ran_is_recorded_though_a_sibling_failed_meanwhile(remote):
    # Both task jobs start on the same state; 1.2 fails and pauses the pipeline first. 1.1 did run:
    # its result is recorded, not refused as "paused".
    path_1, _ = task_job(remote, "1.1")
    path_2, _ = task_job(remote, "1.2")
    recorder, store = recording_job(remote, "record-2")
    record(recorder, store, "1.2", path_2)
    recorder, store = recording_job(remote, "record-1")
    assert record(recorder, store, "1.1", path_1) == "Task 1.1 recorded: done"


def test_recording_twice_is_refused_and_changes_nothing(remote):
    path, _ = task_job(remote, "1.1")
    recorder, store = recording_job(remote)
    record(recorder, store, "1.1", path)
    before = refs(remote)
    with pytest.raises(UsageError) as error:
        record(recorder, store, "1.1", path)
    assert str(error.value).startswith("Task 1.1 is done, not pending: nothing to record (")
    assert refs(remote) == before


def test_the_task_jobs_copy_of_the_state_stays_local(remote):
    root = checkout(remote, "copy")
    copy_path = root / ".gitops" / "handover" / "state.json"
    store = HandOverStore(GitStateStore(root, "origin", BRANCH), copy_path)
    assert store.read() is None  # nothing on the remote yet, nothing copied
    runner(root, store, hands_over=True).execute("1.1")
    assert state_io.load(copy_path)["tasks"]["1.1"]["status"] == "done"
    assert store.read()["tasks"]["1.1"]["status"] == "done"  # a later step of the job sees it
