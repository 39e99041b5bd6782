"""A workflow run claims a task; its task job, without a write token, hands the result over; its
recording job commits it.

Real git (a bare repository is the remote) and the engine's own Runner in every job: the task
job's store pushes nothing; the recording job's commit holds the result and the task's work; a
hand-over that never arrived (missing, damaged, another task's, run's or attempt's) is recorded
as an interruption to retry, without a HotFix; a forged one as a failure, never applied; a task
another run claimed is neither run nor recorded here.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gitops.errors import BadInput, UsageError
from gitops.forge.local import LocalForge
from gitops.handlers import Registry, TaskResult
from gitops.run import handover, history_commits
from gitops.run.claims import claim, not_ours
from gitops.run.recording import record
from gitops.run.history_commits import MAX_BYTES, MAX_COMMITS, MAX_TOTAL
from gitops.run.task_job import hand_over_result, ours_to_run
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


def runner(root: Path, store, hands_over: bool = False, run_id: str = "77") -> Runner:
    return Runner(tasklist=TASKS, state_path=root / "state.json", root=root, work_dir=root / ".gitops",
                  forge=LocalForge(root / ".gitops" / "forge"), registry=Registry({}), ui=NotesUI(),
                  environ={**ENV, "GITHUB_RUN_ID": run_id}, clock=lambda: "2026-12-04T00:00:00+00:00", store=store,
                  hands_over=hands_over)


def plan_job(remote: Path, *task_ids: str, run_id: str = "77") -> list[str]:
    """The plan job of run `run_id` claims the tasks (one checkout per call, as each job has its own)."""
    root = checkout(remote, f"plan-{run_id}-{'-'.join(task_ids)}-{len(list(remote.parent.iterdir()))}")
    return claim(runner(root, GitStateStore(root, "origin", BRANCH), run_id=run_id), list(task_ids))


def task_job(remote: Path, task_id: str, claimed: bool = True) -> tuple[Path, dict]:
    """Run the task as a workflow's task job does: nothing pushed; return the hand-over file and its document."""
    if claimed:
        assert plan_job(remote, task_id) == [task_id]
    root = checkout(remote, f"task-{task_id}-{len(list(remote.parent.iterdir()))}")
    source = GitStateStore(root, "origin", BRANCH)
    job = runner(root, HandOverStore(source, root / ".gitops" / "handover" / "state.json"), hands_over=True)
    assert not_ours(job.current(), task_id, job.whoami) is None
    result = job.execute(task_id, claimed=True)
    path = root / ".gitops" / "handover" / f"task-{task_id}.json"
    handover.write(path, handover.from_record(task_id, job.current()["tasks"][task_id], result.updates,
                                              source.work_files(), run=handover.run_of(job.whoami)))
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
    assert plan_job(remote, "1.1") == ["1.1"]
    claimed = branch_state(remote)["tasks"]["1.1"]
    assert (claimed["status"], claimed["runner"]["github_run_id"]) == ("running", "77")
    before = refs(remote)
    path, _ = task_job(remote, "1.1", claimed=False)
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


MISSING = ("the result handed over for Task 1.1 is missing: the task job ended before it handed one over "
           "(cancelled or timed out, or its runner was lost), its upload failed, or the artifact expired")


def lost_message(reason: str, attempt: int = 1) -> str:
    return (f"Task 1.1 recorded as interrupted. Task 1.1 was interrupted on attempt {attempt}: {reason}. Its outcome "
            "is unknown, so no HotFix was opened; the tasks that depend on it wait. Run it again: `gitops retry 1.1`.")


def test_no_hand_over_records_an_interruption_to_retry_not_a_failure(remote):
    plan_job(remote, "1.1")
    recorder, store = recording_job(remote)
    assert record(recorder, store, "1.1", remote.parent / "nothing.json") == lost_message(MISSING)
    state = branch_state(remote)
    record_ = state["tasks"]["1.1"]
    assert (record_["status"], record_["interrupted"], record_["attempts"], record_["error"]) == (
        "failed", True, 1, MISSING)
    assert {c["evidence"] for c in record_["checks"]} <= {"not known: the task's result never arrived (see the error)"}
    # Nothing says the task broke: no HotFix, no pause, no count towards the halt.
    assert (state["hotfixes"], state["paused_by"], state["consecutive_failures"]) == ([], None, 0)
    assert recorder.forge.issue_state("hotfix:1.1") is None
    step = recorder.next_step(recorder.current())
    assert (step.kind.value, step.command) == ("interrupted", "gitops retry 1.1")
    recorder.retry("1.1")  # what `gitops retry 1.1` does (the dispatch input retry=1.1 too, then its run runs it)
    retried = branch_state(remote)["tasks"]["1.1"]
    assert (retried["status"], retried["attempts"]) == ("done", 2) and "interrupted" not in retried


@pytest.mark.parametrize(("job_result", "why"), [
    ("cancelled", "the task job was cancelled before it handed one over"),
    ("skipped", "the task job was skipped (its production review was rejected or its needs failed)"),
    ("failure", "the task job failed before it handed one over (a step broke or its runner was lost), or both of "
                "its uploads failed"),
    ("success", "the task job handed it over, but both downloads failed or the artifact expired (it is kept one day)"),
])
def test_the_task_jobs_result_says_exactly_why_no_hand_over_arrived(remote, job_result, why):
    plan_job(remote, "1.1")
    recorder, store = recording_job(remote)
    reason = f"the result handed over for Task 1.1 is missing: {why}"
    assert record(recorder, store, "1.1", remote.parent / "nothing.json", job_result) == lost_message(reason)
    assert branch_state(remote)["tasks"]["1.1"]["error"] == reason


def damaged(path: Path, doc: dict) -> None:
    path.write_text(json.dumps(doc)[:-40])  # cut off: what a write killed half-way would leave


@pytest.mark.parametrize(("spoil", "reason"), [
    (lambda path, doc: path.unlink(), MISSING),
    (damaged, "the result handed over for Task 1.1 arrived damaged: it is not readable JSON (Unterminated string "
              "starting at"),
    (lambda path, doc: path.write_text("[]"), "the result handed over for Task 1.1 is not this task's: it is for "
                                              "Task 'None' (format None), not Task 1.1 (format 2)"),
    (lambda path, doc: path.write_text(json.dumps({**doc, "task": "1.2"})),
     "the result handed over for Task 1.1 is not this task's: it is for Task '1.2' (format 2), not Task 1.1 (format 2)"),
    (lambda path, doc: path.write_text(json.dumps({**doc, "run": {"id": "76", "attempt": "1"}})),
     "the result handed over for Task 1.1 is not this attempt's: it was handed over in workflow run 76 (attempt 1), "
     "and this is run 77 (attempt 1)"),
    (lambda path, doc: path.write_text(json.dumps({**doc, "run": {"id": "77", "attempt": "2"}})),
     "the result handed over for Task 1.1 is not this attempt's: it was handed over in workflow run 77 (attempt 2), "
     "and this is run 77 (attempt 1)"),
    (lambda path, doc: path.write_text(json.dumps({**doc, "after_attempt": 1})),
     "the result handed over for Task 1.1 is not this attempt's: it is attempt 2's, and attempt 1 runs"),
])
def test_a_task_that_passed_but_whose_result_did_not_arrive_is_interrupted_not_failed(remote, spoil, reason):
    path, doc = task_job(remote, "1.1")
    assert doc["checks"] == [] and doc["error"] is None  # the task passed in its job
    spoil(path, doc)
    recorder, store = recording_job(remote)
    said = record(recorder, store, "1.1", path)
    assert said.startswith(lost_message(reason).split(reason)[0] + reason), said
    state = branch_state(remote)
    assert (state["tasks"]["1.1"]["status"], state["tasks"]["1.1"]["interrupted"]) == ("failed", True)
    assert (state["hotfixes"], state["paused_by"]) == ([], None)
    assert "parts.txt" not in git(remote, "ls-tree", "-r", "--name-only", BRANCH)  # nothing of it applied


@pytest.mark.parametrize(("forge", "problem"), [
    (lambda doc: doc["updates"].update(gates={"1.1": {"status": "approved"}}),
     "updates may only hold compatibility_issues, performance_metrics, rollback_ready, test_results"),
    (lambda doc: doc["work"].append({"path": ".git/config", "mode": "100644", "content": "", "base": None}),
     "the work path '.git/config' is not a plain path inside the repository"),
    (lambda doc: doc["work"].append({"path": "a/../../x", "mode": "100644", "content": "", "base": None}),
     "the work path 'a/../../x' is not a plain path inside the repository"),
    (lambda doc: doc.update(command="rm -rf /"), "expected an object with exactly the keys after_attempt, checks, "
                                                 "error, format, history, mlflow_run_id, outcome, run, task, updates, "
                                                 "work"),
    (lambda doc: doc.update(run="77"), "run is not an object with exactly the keys attempt, id (text or null)"),
    (lambda doc: doc["history"].append(version("../outside.yaml")),
     "history commit 1: the path '../outside.yaml' is not a plain relative path inside the repository "
     "(outside .git, .gitops and .github)"),
    (lambda doc: doc["history"].append(version(".git/hooks/post-commit")),
     "history commit 1: the path '.git/hooks/post-commit' is not a plain relative path inside the repository "
     "(outside .git, .gitops and .github)"),
    (lambda doc: doc["history"].append(version(".github/workflows/gitops.yml")),
     "history commit 1: the path '.github/workflows/gitops.yml' is not a plain relative path inside the repository "
     "(outside .git, .gitops and .github)"),
    (lambda doc: doc["history"].append(version("state.json")),
     "history commit 1: the path 'state.json' is the engine's state file, never a task's history"),
    (lambda doc: doc["history"].extend([version("deploy/production.yaml")] * (MAX_COMMITS + 1)),
     f"history holds {MAX_COMMITS + 1} commits, more than {MAX_COMMITS}"),
    (lambda doc: doc["history"].append(version(content="x" * (MAX_BYTES + 1))),
     f"history commit 1: the content of 'deploy/production.yaml' is larger than {MAX_BYTES} bytes"),
    (lambda doc: doc["history"].extend([version(content="x" * MAX_BYTES)] * (MAX_TOTAL // MAX_BYTES + 1)),
     f"history holds {MAX_TOTAL + MAX_BYTES} bytes of content, more than {MAX_TOTAL}"),
    (lambda doc: doc["history"].append(version(content="bin\u0000ary")),
     "history commit 1: the content of 'deploy/production.yaml' is not text (UTF-8 without NUL characters)"),
    (lambda doc: doc["history"].append(version(content=["not", "text"])),
     "history commit 1: the content of 'deploy/production.yaml' is not text (UTF-8 without NUL characters)"),
    (lambda doc: doc["history"].append({**version(), "run": "sh"}),
     "history commit 1: not an object with exactly the keys content, message, path"),
    (lambda doc: doc["updates"].update(performance_metrics="fast"),
     'key "performance_metrics": expected an object, got "fast"'),
])
def test_a_forged_hand_over_is_refused_and_recorded_as_a_failure(remote, forge, problem):
    path, doc = task_job(remote, "1.1")
    forge(doc)
    path.write_text(json.dumps(doc))
    recorder, store = recording_job(remote)
    said = record(recorder, store, "1.1", path)
    state = branch_state(remote)
    assert said.startswith("Task 1.1 recorded as failed: ") and problem in said, said
    assert "deploy/production.yaml" not in git(remote, "ls-tree", "-r", "--name-only", BRANCH)
    assert state["tasks"]["1.1"]["status"] == "failed" and state["gates"].get("1.1") is None
    assert "parts.txt" not in git(remote, "ls-tree", "-r", "--name-only", BRANCH)


def version(path: str = "deploy/production.yaml", content: object = "weights: {stable: 90, canary: 10}\n",
            message: str = "rollout step 1/4: canary at 10%") -> dict:
    return {"path": path, "content": content, "message": message}


ROLLOUT = [("weights: {stable: 90, canary: 10}\n", "rehearsal: canary at 10% with a fault"),
           ("weights: {stable: 100, canary: 0}\n", "rollback: error_rate=0.5 past 0.02"),
           ("weights: {stable: 100, canary: 0}\n", "unchanged: makes no commit"),
           ("weights: {stable: 50, canary: 50}\n", "rollout step 3/4: canary at 50%"),
           ("weights: {canary: 100}\n", "rollout step 4/4: canary at 100%, stable retired")]


def test_history_commits_reach_the_phase_branch_one_by_one_before_the_state_commit(remote):
    path, _ = task_job(remote, "1.1", claimed=True)
    job_root = path.parents[2]
    workdir = job_root / ".gitops" / "work" / "1.1"
    for content, message in ROLLOUT:  # what a handler does during the task (the task job's side)
        history_commits.record(workdir, "deploy/production.yaml", content, message)
    job = runner(job_root, HandOverStore(GitStateStore(job_root, "origin", BRANCH), job_root / ".gitops" / "handover"
                                         / "state.json"), hands_over=True)
    hand_over_result(job, "1.1", TaskResult([]), path)
    assert [c.message for c in handover.read(path, "1.1").history] == [m for _, m in ROLLOUT]
    recorder, store = recording_job(remote)
    assert record(recorder, store, "1.1", path) == "Task 1.1 recorded: done"
    assert git(remote, "log", "--format=%s", BRANCH, "--", "deploy/production.yaml").splitlines() == [
        "rollout step 4/4: canary at 100%, stable retired", "rollout step 3/4: canary at 50%",
        "rollback: error_rate=0.5 past 0.02", "rehearsal: canary at 10% with a fault"]
    subjects = git(remote, "log", "--format=%s", "-6", BRANCH).splitlines()
    assert subjects[1] == "rollout step 4/4: canary at 100%, stable retired" and subjects[0] != subjects[1]
    assert git(remote, "show", f"{BRANCH}~1:deploy/production.yaml") == "weights: {canary: 100}"
    assert git(remote, "show", f"{BRANCH}~3:deploy/production.yaml") == "weights: {stable: 100, canary: 0}"
    assert git(remote, "log", "--format=%an <%ae>|%cn <%ce>", "-1", f"{BRANCH}~1") == (
        "gitops <gitops@users.noreply.github.com>|gitops <gitops@users.noreply.github.com>")
    assert git(remote, "show", f"{BRANCH}:out/parts.txt") == "built"  # the task's work came with the state commit
    assert branch_state(remote)["tasks"]["1.1"]["status"] == "done"


def test_a_malformed_history_in_the_task_job_is_recorded_as_the_tasks_failure(remote):
    path, _ = task_job(remote, "1.1", claimed=True)
    job_root = path.parents[2]
    history_file = job_root / ".gitops" / "work" / "1.1" / history_commits.FILE
    history_file.parent.mkdir(parents=True, exist_ok=True)
    history_file.write_text(json.dumps(version(".github/workflows/gitops.yml")) + "\n")
    job = runner(job_root, HandOverStore(GitStateStore(job_root, "origin", BRANCH), job_root / ".gitops" / "handover"
                                         / "state.json"), hands_over=True)
    hand_over_result(job, "1.1", TaskResult([]), path)
    recorder, store = recording_job(remote)
    assert record(recorder, store, "1.1", path) == "Task 1.1 recorded: failed"
    assert branch_state(remote)["tasks"]["1.1"]["error"] == (
        f"its history commits were not handed over: {history_file}: history commit 1: the path "
        "'.github/workflows/gitops.yml' is not a plain relative path inside the repository (outside .git, .gitops "
        "and .github)")
    assert "deploy/production.yaml" not in git(remote, "ls-tree", "-r", "--name-only", BRANCH)


def test_each_attempt_hands_over_its_own_history_only(remote):
    root = checkout(remote, "stale")
    workdir = root / ".gitops" / "work" / "1.1"
    history_commits.record(workdir, "deploy/production.yaml", "weights: {}\n", "an earlier attempt's step")
    runner(root, HandOverStore(GitStateStore(root, "origin", BRANCH), root / "copy.json"), True).execute("1.1")
    assert history_commits.recorded(workdir) == ()


def test_a_task_that_ran_is_recorded_though_a_sibling_failed_meanwhile(remote):
    # Both are claimed by the plan job and run at once; 1.2 fails and pauses the pipeline first.
    # 1.1 did run: its result is recorded, not refused as "paused".
    assert plan_job(remote, "1.1", "1.2") == ["1.1", "1.2"]
    path_1, _ = task_job(remote, "1.1", claimed=False)
    path_2, _ = task_job(remote, "1.2", claimed=False)
    recorder, store = recording_job(remote, "record-2")
    record(recorder, store, "1.2", path_2)
    recorder, store = recording_job(remote, "record-1")
    assert record(recorder, store, "1.1", path_1) == "Task 1.1 recorded: done"


def test_recording_twice_records_nothing_the_second_time(remote):
    path, _ = task_job(remote, "1.1")
    recorder, store = recording_job(remote)
    record(recorder, store, "1.1", path)
    before = refs(remote)
    assert record(recorder, store, "1.1", path) == "Nothing to record: Task 1.1 is done, not claimed by this run."
    assert refs(remote) == before


def test_a_task_is_claimed_by_one_run_only_and_the_other_runs_job_leaves_it_alone(remote):
    # Run 78 overlaps run 77 (no workflow-level concurrency): both plan Task 1.1 as pending.
    assert plan_job(remote, "1.1", run_id="77") == ["1.1"]
    assert plan_job(remote, "1.1", run_id="78") == []
    root = checkout(remote, "task-in-78")
    job = runner(root, HandOverStore(GitStateStore(root, "origin", BRANCH), root / "copy.json"), True, run_id="78")
    assert not_ours(job.current(), "1.1", job.whoami) == (
        "Task 1.1 runs in workflow run 77 (attempt 1), not in this one (78, attempt 1)")
    recorder = runner(root, GitStateStore(root, "origin", BRANCH), run_id="78")
    before = refs(remote)
    assert record(recorder, recorder.store, "1.1", root / "none.json") == (
        "Nothing to record: Task 1.1 runs in workflow run 77 (attempt 1), not in this one (78, attempt 1).")
    assert refs(remote) == before


def test_a_task_that_is_not_ready_is_not_claimed(remote):
    two = tasklist(task("1.1", criteria=0, run="true"), task("1.2", ("1.1",), criteria=0, run="true"))
    root = checkout(remote, "plan-deps")
    planner = runner(root, GitStateStore(root, "origin", BRANCH))
    planner.tasklist = two
    assert claim(planner, ["1.1", "1.2"]) == ["1.1"]  # 1.2 waits for 1.1: its claim comes with 1.1's record


def test_a_claim_outside_a_workflow_run_is_a_clear_error(remote):
    root = checkout(remote, "local")
    local = runner(root, GitStateStore(root, "origin", BRANCH))
    local.whoami = {**local.whoami, "github_run_id": None}
    with pytest.raises(BadInput) as error:
        claim(local, ["1.1"])
    assert str(error.value) == ("claim is for a workflow run (GITHUB_ACTIONS=true with GITHUB_RUN_ID): "
                                "locally `gitops run` starts each task itself.")


def test_the_task_jobs_copy_of_the_state_stays_local(remote):
    root = checkout(remote, "copy")
    copy_path = root / ".gitops" / "handover" / "state.json"
    store = HandOverStore(GitStateStore(root, "origin", BRANCH), copy_path)
    assert store.read() is None  # nothing on the remote yet, nothing copied
    runner(root, store, hands_over=True).execute("1.1")  # started in the copy, as a local run would
    assert state_io.load(copy_path)["tasks"]["1.1"]["status"] == "done"
    assert store.read()["tasks"]["1.1"]["status"] == "done"  # a later step of the job sees it


def test_a_claimed_production_task_runs_only_once_its_approval_is_recorded(remote):
    # Claimed before its job waits for the `production` reviewer; the job then checks the approval.
    prod = tasklist(task("1.1", criteria=0, run="echo deployed > deployed.txt"), phase_titles={1: "Production Deployment"})
    root = checkout(remote, "plan-prod")
    planner = runner(root, GitStateStore(root, "origin", BRANCH))
    planner.tasklist = prod
    assert claim(planner, ["1.1"]) == ["1.1"]
    approved = checkout(remote, "task-prod-approved")
    job = runner(approved, HandOverStore(GitStateStore(approved, "origin", BRANCH), approved / "copy.json"), True)
    job.tasklist = prod
    job.record_approval("deploy-1.1", "ada")  # what `approve deploy-1.1 --recorded --hand-over` does, in its copy
    assert ours_to_run(job, "1.1", approved / "result.json") is True
    root = checkout(remote, "task-prod")
    job = runner(root, HandOverStore(GitStateStore(root, "origin", BRANCH), root / "copy.json"), hands_over=True)
    job.tasklist = prod
    path = root / ".gitops" / "handover" / "task-1-1.json"
    with pytest.raises(UsageError) as error:
        ours_to_run(job, "1.1", path)
    assert str(error.value) == ("Task 1.1 did not run: production gate deploy-1.1 is not approved; its recording "
                                "job records the failure.")
    recorder, store = recording_job(remote)
    recorder.tasklist = prod
    assert record(recorder, store, "1.1", path) == (
        "Task 1.1 recorded as failed: the task did not run: production gate deploy-1.1 is not approved")
