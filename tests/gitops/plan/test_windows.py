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


def rejected(state: dict | None = None) -> dict:
    """Task 1.1's window ended, and a reviewer rejected the production review of its evaluation."""
    event = transitions.EvaluationRejected("1.1", 1, "bob", "not during the sale")
    state, actions = transitions.apply(TL, state or opened(), event, DAY_LATER)
    assert [type(a).__name__ for a in actions] == ["PostProgress"]
    return state


def test_a_rejected_evaluation_is_recorded_in_the_window_and_the_task_keeps_waiting():
    record = rejected()["tasks"]["1.1"]
    assert record["status"] == "waiting" and record["attempts"] == 1
    assert record["window"]["rejected"] == {"by": "bob", "comment": "not during the sale", "at": DAY_LATER}
    assert record["window"]["evaluated_at"] is None
    assert find_problem(rejected()) is None


def test_a_rejected_window_is_not_due_so_nobody_is_asked_again_every_hour():
    state = rejected()
    assert windows.waiting(TL, state) == [("1.1", DAY_LATER)]  # still waiting
    assert windows.due(TL, state, DAY_LATER) == []
    assert windows.due(TL, state, "2026-12-25T00:00:00+00:00") == []  # not a month later either


def independent_done(state: dict) -> dict:
    """Task 1.3, which does not depend on 1.1, run and passed: only 1.1 and its dependent are left."""
    state, _ = transitions.apply(TL, state, Started("1.3"), NOW)
    return transitions.apply(TL, state, Finished("1.3", checks()), NOW)[0]


def test_the_planner_says_who_rejected_it_and_how_to_ask_again():
    step = planner.next_step(TL, independent_done(rejected()), RUNNABLE)
    assert (step.kind, step.task, step.gate, step.command) == (StepKind.REJECTED, "1.1", None, "gitops retry 1.1")
    assert step.message == ('Task 1.1 was not evaluated: the production review of its window\'s evaluation was '
                            'rejected by bob ("not during the sale"). It keeps waiting and is not evaluated until '
                            "someone asks again: `gitops retry 1.1`.")
    assert step.reasons == (planner.EVALUATION_REJECTED,)


def test_a_rejected_window_holds_up_only_its_dependents():
    assert planner.next_step(TL, rejected(), RUNNABLE).task == "1.3"  # an independent task runs meanwhile


def test_retry_asks_again_the_window_is_due_and_the_task_still_waits():
    state, actions = transitions.apply(TL, rejected(), transitions.Retried("1.1"), DAY_LATER)
    record = state["tasks"]["1.1"]
    assert (record["status"], record["attempts"]) == ("waiting", 1)  # its action is not run again
    assert "rejected" not in record["window"]
    assert [type(a).__name__ for a in actions] == ["PostProgress"]
    assert windows.due(TL, state, DAY_LATER) == ["1.1"]
    assert planner.next_step(TL, independent_done(state), RUNNABLE).kind is StepKind.WAITING


def test_a_rejection_leaves_alone_a_task_that_moved_on_or_was_rejected_already():
    done, _ = transitions.apply(TL, opened(), Finished("1.1", checks()), DAY_LATER)
    event = transitions.EvaluationRejected("1.1", 1, "bob")
    assert transitions.apply(TL, done, event, DAY_LATER)[0]["tasks"]["1.1"] == done["tasks"]["1.1"]
    other = transitions.EvaluationRejected("1.1", 2, "bob")
    assert "rejected" not in transitions.apply(TL, opened(), other, DAY_LATER)[0]["tasks"]["1.1"]["window"]
    once = rejected()
    again, actions = transitions.apply(TL, once, transitions.EvaluationRejected("1.1", 1, "carol", "later"), NOW)
    assert again["tasks"]["1.1"]["window"]["rejected"]["by"] == "bob" and actions == []
