"""Running tasks whose runner is gone: the local and GitHub rules, the Interrupted transition, the
next step, and state files written before runners were recorded."""
from __future__ import annotations

from gitops.plan import transitions
from gitops.plan.planner import Step, StepKind
from gitops.plan.stale import Stale, stale_step, stale_tasks
from gitops.plan.transitions import Interrupted, Started
from gitops.state import document
from gitops.state.schema import find_problem
from tests.gitops.builders import task, tasklist

NOW = "2026-11-24T00:00:00+00:00"
HERE = {"host": "box", "pid": 10, "process": "boot/5", "github_run_id": None, "github_run_attempt": None}
IN_RUN_7 = {**HERE, "github_run_id": "7", "github_run_attempt": "2"}


def running(runner: dict | None, here: dict = HERE, fate=lambda pid, process: None) -> list[Stale]:
    tl = tasklist(task("1.1"))
    state = document.new_state(tl, NOW)
    state, _ = transitions.apply(tl, state, Started("1.1", runner=runner), NOW)
    if runner is None:
        del state["tasks"]["1.1"]["runner"]  # as gitops wrote it before recording runners
    return stale_tasks(state, here, fate)


def test_a_live_local_runner_is_not_stale():
    assert running({"host": "box", "pid": 4, "process": "boot/1"}) == []


def test_a_dead_or_reused_pid_on_this_host_is_gone_with_what_became_of_it():
    seen = []

    def fate(pid, process):
        seen.append((pid, process))
        return "is no longer running (killed or crashed while the task ran)"

    assert running({"host": "box", "pid": 4, "process": "boot/1"}, fate=fate) == [
        Stale("1.1", 1, True, "its runner is gone: pid 4 on box is no longer running (killed or crashed while the task ran)")
    ]
    assert seen == [(4, "boot/1")]


def test_another_host_is_not_decided_here():
    assert running({"host": "far", "pid": 4}) == [
        Stale("1.1", 1, False, "runs as pid 4 on far: gitops cannot tell from box whether it still runs; "
                               "a gitops command on far records it as failed if its runner is gone")
    ]


def test_on_github_a_task_of_another_run_or_attempt_is_gone_and_one_of_this_run_is_not():
    assert running({**IN_RUN_7, "pid": 3}, here=IN_RUN_7) == []
    assert running({**IN_RUN_7, "github_run_attempt": "1"}, here=IN_RUN_7) == [
        Stale("1.1", 1, True, "its runner is gone: workflow run 7 (attempt 1) ended while the task ran (cancelled, "
                              "timed out or its runner was lost); workflow runs never overlap, and run 7 (attempt 2) runs now")
    ]
    assert [s.gone for s in running({**IN_RUN_7, "github_run_id": "6"}, here=IN_RUN_7)] == [True]


def test_a_workflow_run_is_not_judged_outside_the_workflow():
    assert running(IN_RUN_7) == [
        Stale("1.1", 1, False, "runs in workflow run 7 (attempt 2): the workflow's next run records it as failed "
                               "if that run ended (gitops cannot tell from outside the workflow)")
    ]


def test_a_record_without_runner_is_gone_on_github_and_undecided_locally():
    assert running(None, here=IN_RUN_7) == [
        Stale("1.1", 1, True, "its runner is gone: an earlier workflow run started it and has ended")
    ]
    assert running(None) == [
        Stale("1.1", 1, False, "was started by an older gitops, which did not record its runner: gitops cannot "
                               "tell whether it still runs")
    ]


def test_interrupted_fails_the_attempt_with_a_hotfix_and_is_idempotent():
    tl = tasklist(task("1.1", criteria=1))
    state, _ = transitions.apply(tl, document.new_state(tl, NOW), Started("1.1", runner={"host": "box", "pid": 4}), NOW)
    assert state["tasks"]["1.1"]["runner"] == {"host": "box", "pid": 4}
    failed, actions = transitions.apply(tl, state, Interrupted("1.1", 1, "interrupted by SIGTERM"), NOW)
    record = failed["tasks"]["1.1"]
    assert (record["status"], record["error"], record["finished_at"]) == ("failed", "interrupted by SIGTERM", NOW)
    assert record["checks"] == [{"criterion": "criterion 1 of 1.1", "status": "skipped", "metrics": {},
                                 "evidence": "not checked: the task was interrupted (see the error)"}]
    assert failed["paused_by"] == "T-HotFix-1" and failed["hotfixes"][0]["error"] == "interrupted by SIGTERM"
    assert actions == [transitions.OpenIssue("T-HotFix-1"), transitions.PostProgress(1)]
    assert transitions.apply(tl, failed, Interrupted("1.1", 1, "again"), NOW) == (failed, [])  # already recorded
    assert transitions.apply(tl, state, Interrupted("1.1", 2, "late"), NOW)[0] == state  # another attempt


def test_a_gone_runner_is_the_next_step_and_an_undecided_one_explains_a_blocked_pipeline():
    runnable = Step(StepKind.RUN, "Run Task 1.2: Do 1.2.", task="1.2", command="gitops run")
    gone = Stale("1.1", 1, True, "its runner is gone: pid 4 on box is no longer running")
    step = stale_step([gone], runnable)
    assert (step.kind, step.message, step.task, step.command) == (
        StepKind.BLOCKED,
        ("Task 1.1 is marked running, but its runner is gone: pid 4 on box is no longer running. `gitops run` "
         "records it as failed and opens a HotFix; then fix the cause and `gitops retry 1.1`."),
        "1.1",
        "gitops run",
    )
    far = Stale("1.1", 1, False, "runs as pid 4 on far: gitops cannot tell from box whether it still runs")
    assert stale_step([far], runnable) is runnable
    blocked = stale_step([far], Step(StepKind.BLOCKED, "No task can run: Task 1.1 (running)"))
    assert blocked.message == ("Task 1.1 is marked running and runs as pid 4 on far: gitops cannot tell from box "
                               "whether it still runs.")


def test_the_schema_accepts_records_with_and_without_a_runner_and_names_a_bad_one():
    tl = tasklist(task("1.1"))
    state = document.new_state(tl, NOW)
    assert find_problem(state) is None
    del state["tasks"]["1.1"]["runner"]  # a state file from before
    assert find_problem(state) is None
    state["tasks"]["1.1"]["runner"] = {"host": "box", "pid": "4"}
    assert find_problem(state).describe() == 'key "tasks.1.1.runner.pid": expected an integer >= 1, got "4"'
