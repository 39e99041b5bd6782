"""Definition drift: which edits of the task list make a done task stale (gitops.plan.drift)."""
from __future__ import annotations

from dataclasses import replace

from gitops.model import Criterion
from gitops.plan import transitions
from gitops.plan.drift import definition_hash, drifted_tasks, has_drifted
from gitops.plan.transitions import Finished, Retried, Started
from gitops.state import document
from tests.gitops.builders import task, tasklist

NOW = "2026-11-24T00:00:00+00:00"


def test_steps_criteria_and_the_run_command_make_the_definition_not_the_title_or_the_priority():
    base = task("1.1", do=("build",), run="make")
    assert definition_hash(base) == definition_hash(replace(base, title="Another title", priority="Low", line=99))
    assert definition_hash(base) != definition_hash(replace(base, do=("build", "sign")))
    assert definition_hash(base) != definition_hash(replace(base, done_when=(Criterion("signed", 3),)))
    assert definition_hash(base) != definition_hash(replace(base, run="make all"))


def done(tl):
    state = document.new_state(tl, NOW)
    transitions.sync(tl, state)
    for task_id in tl.tasks:
        state, _ = transitions.apply(tl, state, Started(task_id), NOW)
        checks = [{"criterion": c.text, "status": "passed", "evidence": "ok", "metrics": {}} for c in tl.tasks[task_id].done_when]
        state, _ = transitions.apply(tl, state, Finished(task_id, checks), NOW)
    return state


def test_a_done_task_is_stale_once_its_criteria_change_and_a_retry_sends_it_back_to_pending():
    before = tasklist(task("1.1"), task("1.2", deps=("1.1",)))
    state = done(before)
    assert state["tasks"]["1.1"]["definition"] == definition_hash(before.tasks["1.1"])
    after = replace(before, tasks={**before.tasks, "1.1": replace(before.tasks["1.1"], done_when=(Criterion("new", 1),))})
    assert drifted_tasks(before, state) == [] and drifted_tasks(after, state) == ["1.1"]
    state, _ = transitions.apply(after, state, Retried("1.1"), NOW)
    assert (state["tasks"]["1.1"]["status"], state["tasks"]["1.2"]["status"]) == ("pending", "done")


def test_a_record_from_before_definitions_were_kept_is_not_stale():
    tl = tasklist(task("1.1"))
    state = done(tl)
    del state["tasks"]["1.1"]["definition"]
    assert not has_drifted(replace(tl.tasks["1.1"], run="other"), state["tasks"]["1.1"])
