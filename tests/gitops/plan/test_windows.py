"""A task waiting for its time window: recorded, planned around, never recovered, then evaluated."""
from __future__ import annotations

import pytest

from gitops.errors import UsageError
from gitops.plan import planner, readiness, transitions, windows
from gitops.plan.planner import StepKind
from gitops.plan.stale import stale_tasks
from gitops.plan.transitions import Finished, Started
from gitops.state import document
from gitops.state.schema import find_problem
from tests.gitops.builders import task, tasklist

NOW = "2026-11-24T00:00:00+00:00"
DAY_LATER = "2026-11-25T00:00:00+00:00"
RUNNABLE = frozenset({"1.1", "1.2", "1.3"})
TL = tasklist(task("1.1", criteria=1), task("1.2", deps=("1.1",), criteria=1), task("1.3", criteria=1))


def checks(status: str = "passed") -> list[dict]:
    return [{"criterion": "criterion 1 of 1.1", "status": status, "evidence": "measured", "metrics": {}}]


def opened() -> dict:
    """Task 1.1 started by a runner now gone, and its action opened a window of a day."""
    state = document.new_state(TL, NOW)
    transitions.sync(TL, state)
    here = {"host": "h", "pid": 1}
    state, _ = transitions.apply(TL, state, Started("1.1", runner=here), NOW)
    window = windows.opened(NOW, 24 * 3600, "tests.gitops.run.window_handlers:WATCHED")
    state, actions = transitions.apply(TL, state, Finished("1.1", [], window=window), NOW)
    assert [type(a).__name__ for a in actions] == ["PostProgress"]
    return state


def test_a_window_makes_the_task_wait_until_it_ends():
    record = opened()["tasks"]["1.1"]
    assert record["status"] == "waiting"
    assert record["window"] == {"opened_at": NOW, "until": DAY_LATER,
                                "evaluate": "tests.gitops.run.window_handlers:WATCHED", "evaluated_at": None}
    assert (record["checks"], record["finished_at"]) == ([], None)


def test_the_planner_runs_what_can_run_then_says_the_window_and_the_command():
    state = opened()
    assert planner.next_step(TL, state, RUNNABLE).task == "1.3"  # an independent task runs meanwhile
    state, _ = transitions.apply(TL, state, Started("1.3"), NOW)
    state, _ = transitions.apply(TL, state, Finished("1.3", checks()), NOW)
    step = planner.next_step(TL, state, RUNNABLE)
    assert (step.kind, step.task, step.command) == (StepKind.WAITING, "1.1", "gitops evaluate-windows")
    assert step.message == (f"Task 1.1 waits for its window to end at {DAY_LATER}; then `gitops evaluate-windows` "
                            "evaluates it (on GitHub the scheduled windows workflow does) and its dependents can run.")
    assert state["current_task"] == "1.1"


def test_a_waiting_task_does_not_start_again_and_its_dependents_wait():
    state = opened()
    assert readiness.why_not_ready(TL, state, "1.2") == "its dependency Task 1.1 is waiting"
    with pytest.raises(UsageError) as caught:
        transitions.apply(TL, state, Started("1.1"), NOW)
    assert str(caught.value) == "Task 1.1 cannot start: Task 1.1 is waiting. See `gitops status`."


def test_a_waiting_task_is_not_taken_for_one_whose_runner_is_gone():
    state = opened()
    gone = lambda pid, process: "is not running"  # noqa: E731 - every local runner is gone
    in_workflow = {"host": "h", "pid": 2, "github_run_id": "9", "github_run_attempt": "1"}
    assert stale_tasks(state, {"host": "h", "pid": 2}, gone) == []
    assert stale_tasks(state, in_workflow, gone) == []
    assert transitions.apply(TL, state, transitions.Interrupted("1.1", 1, "gone"), NOW)[0]["tasks"]["1.1"]["status"] == "waiting"


def test_due_only_once_the_window_has_ended():
    state = opened()
    assert windows.due(TL, state, "2026-11-24T23:59:59+00:00") == []
    assert windows.due(TL, state, DAY_LATER) == ["1.1"]
    assert windows.due(TL, state, "2026-11-25T01:00:00+01:00") == ["1.1"]  # the same instant elsewhere


def test_the_evaluation_completes_the_task_and_its_dependents_run():
    state, _ = transitions.apply(TL, opened(), Finished("1.1", checks()), DAY_LATER)
    record = state["tasks"]["1.1"]
    assert (record["status"], record["window"]["evaluated_at"], record["finished_at"]) == ("done", DAY_LATER, DAY_LATER)
    assert planner.next_step(TL, state, RUNNABLE).task == "1.2"


def test_a_failed_evaluation_is_a_failure_with_a_hotfix():
    state, actions = transitions.apply(TL, opened(), Finished("1.1", checks("failed")), DAY_LATER)
    assert state["tasks"]["1.1"]["status"] == "failed"
    assert state["paused_by"] == "T-HotFix-1"
    assert [type(a).__name__ for a in actions] == ["OpenIssue", "PostProgress"]
    retried, _ = transitions.apply(TL, state, transitions.Retried("1.1"), DAY_LATER)
    started, _ = transitions.apply(TL, retried, Started("1.1"), DAY_LATER)
    assert "window" not in started["tasks"]["1.1"]  # the next attempt opens a window of its own


def test_an_evaluation_opens_no_second_window():
    window = windows.opened(DAY_LATER, 60, "x:Y")
    with pytest.raises(UsageError) as caught:
        transitions.apply(TL, opened(), Finished("1.1", checks(), window=window), DAY_LATER)
    assert str(caught.value) == "Task 1.1 is waiting for its window already: an evaluation opens no other."


def test_the_state_schema_takes_a_waiting_task_only_with_its_window():
    state = opened()
    assert find_problem(state) is None
    del state["tasks"]["1.1"]["window"]
    assert find_problem(state).describe() == 'key "tasks.1.1.window" is missing'
