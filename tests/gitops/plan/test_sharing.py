"""Transitions share what they leave alone (issue 12: a task's cost must not grow with the list).

A new state shares every record an event does not change with the state it came from; the state
it came from is never edited. Both halves are checked on every kind of event."""
from __future__ import annotations

from gitops.model import SafetyRules
from gitops.plan import transitions
from gitops.plan.transitions import Approved, Finished, Interrupted, Resumed, Retried, Started
from gitops.state import document
from tests.gitops.builders import task, tasklist
from tests.gitops.plan.test_planner import NOW, failed, fresh, passed

TL = tasklist(
    task("1.1"), task("1.2", pause=True), task("1.3"), task("2.1", deps=("1.2",)), task("2.2"),
    safety=SafetyRules(max_consecutive_failures=2),
)


def events():
    """Every kind of event, in an order the engine accepts."""
    return [
        Started("1.1"), Finished("1.1", passed(TL, "1.1")),
        Started("1.2"), Finished("1.2", passed(TL, "1.2")), Approved("1.2", "ana"),
        Started("1.3"), Finished("1.3", failed(TL, "1.3")), Retried("1.3"),
        Started("1.3"), Interrupted("1.3", 2, "runner gone"),  # the second failure in a row: halted
        Resumed("fixed the runner", "ana"), Retried("1.3"),
        Started("1.3"), Finished("1.3", passed(TL, "1.3")),
    ]


def test_no_transition_edits_the_state_it_came_from():
    state = fresh(TL)
    for event in events():
        snapshot = document.copy_state(state)
        new, _ = transitions.apply(TL, state, event, NOW)
        assert state == snapshot, f"{event} edited the state it was applied to"
        state = new
    assert state["tasks"]["1.3"]["attempts"] == 3 and state["tasks"]["1.3"]["status"] == "done"  # the scenario ran to its end


def test_a_transition_shares_the_records_it_leaves_alone():
    state = fresh(TL)
    for event in events():
        new, _ = transitions.apply(TL, state, event, NOW)
        changed = {t for t in TL.tasks if new["tasks"][t] != state["tasks"][t]}
        for task_id in set(TL.tasks) - changed:
            assert new["tasks"][task_id] is state["tasks"][task_id], f"{event} copied Task {task_id}"
        state = new


def test_a_read_only_view_reads_like_the_state_and_refuses_edits():
    state = fresh(TL)
    view = document.read_only(state)
    assert view == state and view["tasks"]["1.1"]["checks"] == []
    assert dict(view["gates"]) == state["gates"] and list(view["completed_tasks"]) == state["completed_tasks"]
    for edit in (lambda: view.__setitem__("halted", None),
                 lambda: view["tasks"]["1.1"].__setitem__("status", "done"),
                 lambda: view["tasks"]["1.1"]["checks"].append({})):
        try:
            edit()
        except (TypeError, AttributeError):
            continue
        raise AssertionError("the view was edited")
    assert state == fresh(TL)
