"""The pure planner on tiny graphs: every transition of DESIGN §4."""
from __future__ import annotations

import pytest

from gitops.errors import PipelineStopped, UsageError
from gitops.model import SafetyRules
from gitops.plan import planner, readiness, transitions
from gitops.plan.planner import StepKind
from gitops.plan.transitions import (
    Approved,
    Finished,
    Resumed,
    Retried,
    Started,
)
from gitops.state import document
from tests.gitops.builders import task, tasklist

NOW = "2026-11-24T00:00:00+00:00"
ALL = frozenset({"1.1", "1.2", "1.3", "2.1", "2.2", "3.1"})


def fresh(tl):
    state = document.new_state(tl, NOW)
    transitions.sync(tl, state)
    return state


def passed(tl, task_id):
    return [{"criterion": c.text, "status": "passed", "evidence": "measured", "metrics": {}} for c in tl.tasks[task_id].done_when]


def failed(tl, task_id):
    checks = passed(tl, task_id)
    checks[0] = {**checks[0], "status": "failed", "evidence": "exit 3"}
    return checks


def execute(tl, state, task_id, checks=None, error=None):
    state, _ = transitions.apply(tl, state, Started(task_id), NOW)
    return transitions.apply(tl, state, Finished(task_id, checks if checks is not None else passed(tl, task_id), error), NOW)


def test_ready_tasks_run_one_at_a_time_in_task_list_order():
    tl = tasklist(task("1.1"), task("1.2"), task("1.3", deps=("1.1",)))
    state = fresh(tl)
    assert [t for t in tl.tasks if readiness.is_ready(tl, state, tl.tasks[t])] == ["1.1", "1.2"]
    assert planner.next_step(tl, state, ALL).task == "1.1"
    state, _ = execute(tl, state, "1.1")
    assert planner.next_step(tl, state, ALL).task == "1.2"


def test_a_task_waits_for_dependencies_that_are_not_done():
    tl = tasklist(task("1.1"), task("1.2", deps=("1.1",)))
    state = fresh(tl)
    assert readiness.why_not_ready(tl, state, "1.2") == "its dependency Task 1.1 is pending"
    with pytest.raises(UsageError, match="Task 1.2 cannot start: its dependency Task 1.1 is pending"):
        transitions.apply(tl, state, Started("1.2"), NOW)


def test_start_marks_running_counts_the_attempt_and_sets_start_time():
    tl = tasklist(task("1.1"))
    state, _ = transitions.apply(tl, fresh(tl), Started("1.1", commit="abc", run_url="http://x"), NOW)
    record = state["tasks"]["1.1"]
    assert (record["status"], record["attempts"], record["commit"], record["run_url"]) == ("running", 1, "abc", "http://x")
    assert state["start_time"] == NOW and state["current_task"] == "1.1"


def test_success_without_checkpoint_is_done_and_updates_the_seed_keys():
    tl = tasklist(task("1.1"), task("1.2", deps=("1.1",)))
    state, actions = execute(tl, fresh(tl), "1.1")
    assert state["tasks"]["1.1"]["status"] == "done"
    assert state["completed_tasks"] == ["1.1"] and state["completed_count"] == 1 and state["total_tasks"] == 2
    assert state["test_results"]["passed"] == 2
    assert actions == [transitions.PostProgress(1)]


def test_checkpoint_waits_for_approval_and_dependents_wait_for_it():
    tl = tasklist(task("1.1", pause=True), task("1.2", deps=("1.1",)))
    state, _ = execute(tl, fresh(tl), "1.1")
    assert state["tasks"]["1.1"]["status"] == "awaiting_approval"
    step = planner.next_step(tl, state, ALL)
    assert (step.kind, step.gate, step.prompt) == (StepKind.GATE, "1.1", "1.1 complete. Proceed?")
    assert step.reasons == ("Pause After: yes", "Auto-Advance: no")
    assert readiness.why_not_ready(tl, state, "1.2") == "its dependency Task 1.1 is awaiting approval"
    state, _ = transitions.apply(tl, state, Approved("1.1", "ada"), NOW)
    assert state["tasks"]["1.1"]["status"] == "done"
    assert state["gates"]["1.1"] == {"status": "approved", "approved_by": "ada", "at": NOW}
    assert planner.next_step(tl, state, ALL).task == "1.2"


def test_approving_a_gate_that_is_not_waiting_says_why():
    tl = tasklist(task("1.1", pause=True), task("2.1"))
    state = fresh(tl)
    with pytest.raises(UsageError) as info:
        transitions.apply(tl, state, Approved("1.1", "ada"), NOW)
    assert str(info.value) == "Gate 1.1 is not waiting: Task 1.1 is pending. Run `gitops run` first."
    with pytest.raises(UsageError, match="Unknown gate 'nope'"):
        transitions.apply(tl, state, Approved("nope", "ada"), NOW)
    with pytest.raises(UsageError, match="Gate phase-2 is not waiting yet"):
        transitions.apply(tl, state, Approved("phase-2", "ada"), NOW)


def test_manual_task_needs_a_named_person_and_auto_approve_never_signs_it_off():
    tl = tasklist(task("1.1"), task("1.2", deps=("1.1",)))
    state = fresh(tl)
    step = planner.next_step(tl, state, frozenset())
    assert step.kind is StepKind.MANUAL and step.command == "gitops approve 1.1 --by NAME"
    manual = [{"criterion": c.text, "status": "manual", "evidence": "a person checks", "metrics": {}} for c in tl.tasks["1.1"].done_when]
    state, _ = execute(tl, state, "1.1", manual)
    step = planner.next_step(tl, state, frozenset())
    assert step.kind is StepKind.GATE and step.unsigned == ("criterion 1 of 1.1", "criterion 2 of 1.1")
    with pytest.raises(UsageError, match="--auto-approve never signs them off"):
        transitions.apply(tl, state, Approved("1.1", "bot", auto=True), NOW)
    state, _ = transitions.apply(tl, state, Approved("1.1", "grace"), NOW)
    assert [c["approved_by"] for c in state["tasks"]["1.1"]["checks"]] == ["grace", "grace"]
    assert state["tasks"]["1.1"]["status"] == "done"


def test_a_manual_task_without_criteria_waits_for_a_person_and_auto_approve_never_passes_it():
    # issue 13: a task whose criteria could not be read runs as manual; nothing checked it, so only
    # a named person may say it was done
    tl = tasklist(task("1.1", criteria=0), task("1.2", deps=("1.1",)))
    state = fresh(tl)
    state, _ = execute(tl, state, "1.1", [])
    assert state["tasks"]["1.1"]["status"] == "awaiting_approval"
    step = planner.next_step(tl, state, frozenset())
    assert (step.kind, step.unsigned, step.command) == (
        StepKind.GATE, ("Task 1.1 was done (nothing checked it)",), "gitops approve 1.1 --by NAME")
    with pytest.raises(UsageError, match="--auto-approve never approves it"):
        transitions.apply(tl, state, Approved("1.1", "bot", auto=True), NOW)
    state, _ = transitions.apply(tl, state, Approved("1.1", "grace"), NOW)
    assert state["tasks"]["1.1"]["status"] == "done"


def test_a_run_command_without_criteria_needs_no_person():
    tl = tasklist(task("1.1", criteria=0, run="true"))
    state, _ = execute(tl, fresh(tl), "1.1", [])
    assert state["tasks"]["1.1"]["status"] == "done"


def test_failure_opens_a_hotfix_and_pauses():
    tl = tasklist(task("1.1"), task("1.2"))
    state, actions = execute(tl, fresh(tl), "1.1", failed(tl, "1.1"))
    assert state["tasks"]["1.1"]["status"] == "failed"
    assert state["paused_by"] == "T-HotFix-1" and state["consecutive_failures"] == 1
    hotfix = state["hotfixes"][0]
    assert (hotfix["id"], hotfix["task"], hotfix["attempt"], hotfix["status"]) == ("T-HotFix-1", "1.1", 1, "open")
    assert hotfix["error"] == "- criterion 1 of 1.1: exit 3"
    assert actions == [transitions.OpenIssue("T-HotFix-1"), transitions.PostProgress(1)]
    step = planner.next_step(tl, state, ALL)
    assert step.kind is StepKind.PAUSED and step.command == "gitops retry 1.1"
    # Paused: the independent Task 1.2 does not start either.
    assert readiness.why_not_ready(tl, state, "1.2") == "the pipeline is paused by T-HotFix-1 (gitops retry ...)"


def test_an_exception_in_a_handler_is_a_failure_with_its_traceback():
    tl = tasklist(task("1.1"))
    state, _ = execute(tl, fresh(tl), "1.1", [], error="Traceback ...\nValueError: boom")
    assert state["tasks"]["1.1"]["error"].endswith("ValueError: boom")
    assert state["hotfixes"][0]["error"] == "Traceback ...\nValueError: boom"


def test_dependents_of_a_failed_task_are_blocked():
    tl = tasklist(task("1.1"), task("1.2", deps=("1.1",)), task("1.3", deps=("1.2",)))
    state, _ = execute(tl, fresh(tl), "1.1", failed(tl, "1.1"))
    assert state["blocked_tasks"] == ["1.2", "1.3"]


def test_retry_resolves_the_hotfix_and_a_pass_closes_the_issue():
    tl = tasklist(task("1.1"))
    state, _ = execute(tl, fresh(tl), "1.1", failed(tl, "1.1"))
    state, actions = transitions.apply(tl, state, Retried("1.1"), NOW)
    assert actions == []
    assert state["paused_by"] is None and state["hotfixes"][0]["status"] == "resolved"
    assert state["tasks"]["1.1"]["status"] == "pending"
    state, actions = execute(tl, state, "1.1")
    assert state["tasks"]["1.1"]["attempts"] == 2 and state["consecutive_failures"] == 0
    assert actions[0] == transitions.CloseIssue("1.1", "Task 1.1 passed on attempt 2.")
    assert planner.next_step(tl, state, ALL).kind is StepKind.FINISHED


def test_retry_of_a_task_that_did_not_fail_is_refused():
    tl = tasklist(task("1.1"))
    with pytest.raises(UsageError, match="Task 1.1 is pending, not failed: there is nothing to retry."):
        transitions.apply(tl, fresh(tl), Retried("1.1"), NOW)


def test_two_consecutive_failures_halt_until_resumed():
    tl = tasklist(task("1.1"))
    state, _ = execute(tl, fresh(tl), "1.1", failed(tl, "1.1"))
    state, _ = transitions.apply(tl, state, Retried("1.1"), NOW)
    state, _ = execute(tl, state, "1.1", failed(tl, "1.1"))
    assert state["consecutive_failures"] == 2
    assert state["halted"] == {"reason": "2 consecutive failures (safety rule: stop execution after 2)", "at": NOW}
    assert [h["id"] for h in state["hotfixes"]] == ["T-HotFix-1", "T-HotFix-2"]
    assert planner.next_step(tl, state, ALL).kind is StepKind.HALTED
    with pytest.raises(PipelineStopped, match="A person clears the halt first"):
        transitions.apply(tl, state, Retried("1.1"), NOW)
    state, _ = transitions.apply(tl, state, Resumed("fixed the flaky disk", "ada"), NOW)
    assert state["halted"] is None and state["consecutive_failures"] == 0
    assert state["resumes"] == [{"reason": "fixed the flaky disk", "at": NOW, "by": "ada"}]
    # Still paused by the open HotFix: resume clears the halt, retry the task.
    assert planner.next_step(tl, state, ALL).kind is StepKind.PAUSED
    state, _ = transitions.apply(tl, state, Retried("1.1"), NOW)
    state, _ = execute(tl, state, "1.1")
    assert state["tasks"]["1.1"]["status"] == "done"


def test_the_halt_limit_comes_from_the_safety_rules():
    tl = tasklist(task("1.1"), safety=SafetyRules(max_consecutive_failures=1))
    state, _ = execute(tl, fresh(tl), "1.1", failed(tl, "1.1"))
    assert state["halted"]["reason"] == "1 consecutive failures (safety rule: stop execution after 1)"


def test_a_success_between_failures_resets_the_count():
    tl = tasklist(task("1.1"), task("1.2"), task("1.3"))
    state, _ = execute(tl, fresh(tl), "1.1", failed(tl, "1.1"))
    state, _ = transitions.apply(tl, state, Retried("1.1"), NOW)
    state, _ = execute(tl, state, "1.1")
    state, _ = execute(tl, state, "1.2", failed(tl, "1.2"))
    assert state["consecutive_failures"] == 1 and state["halted"] is None


def test_resume_when_not_halted_is_refused():
    tl = tasklist(task("1.1"))
    with pytest.raises(UsageError, match="The pipeline is not halted"):
        transitions.apply(tl, fresh(tl), Resumed("why", "ada"), NOW)


def test_phase_boundary_is_a_gate_that_opens_when_the_phase_is_done():
    tl = tasklist(task("1.1"), task("2.1"))
    state = fresh(tl)
    assert "phase-2" not in state["gates"]
    state, _ = execute(tl, state, "1.1")
    step = planner.next_step(tl, state, ALL)
    assert (step.kind, step.gate) == (StepKind.GATE, "phase-2")
    assert state["current_phase"] == 2
    assert readiness.why_not_ready(tl, state, "2.1") == "gate phase-2 is not approved"
    state, _ = transitions.apply(tl, state, Approved("phase-2", "ada"), NOW)
    assert planner.next_step(tl, state, ALL).task == "2.1"


def test_production_tasks_need_approval_before_they_run():
    tl = tasklist(task("1.1"), task("2.1", deps=("1.1",)), phase_titles={2: "Production Deployment"})
    state, _ = execute(tl, fresh(tl), "1.1")
    state, _ = transitions.apply(tl, state, Approved("phase-2", "ada"), NOW)
    step = planner.next_step(tl, state, ALL)
    assert (step.kind, step.gate) == (StepKind.GATE, "deploy-2.1")
    assert readiness.why_not_ready(tl, state, "2.1") == "production gate deploy-2.1 is not approved"
    state, _ = transitions.apply(tl, state, Approved("deploy-2.1", "ops"), NOW)
    assert planner.next_step(tl, state, ALL).task == "2.1"


def test_safety_rules_force_checkpoints():
    rules = SafetyRules(pause_keywords=("database", "deploy"), critical_needs_person=True)
    tl = tasklist(
        task("1.1", title="Migrate the database schema"),
        task("1.2", do=("Run the deployment scripts",)),
        task("1.3", priority="Critical"),
        task("2.1"),
        safety=rules,
    )
    from gitops.plan.policy import checkpoint_reasons

    assert checkpoint_reasons(tl, tl.tasks["1.1"]) == ["safety rule: database work always pauses for human review"]
    assert checkpoint_reasons(tl, tl.tasks["1.2"]) == ["safety rule: deploy work always pauses for human review"]
    assert checkpoint_reasons(tl, tl.tasks["1.3"]) == ["safety rule: Critical priority tasks require human approval"]
    assert checkpoint_reasons(tl, tl.tasks["2.1"]) == []
    state, _ = execute(tl, fresh(tl), "1.1")
    assert state["tasks"]["1.1"]["status"] == "awaiting_approval"


def test_handler_updates_merge_into_the_shared_keys():
    tl = tasklist(task("1.1"), task("1.2"))
    state = fresh(tl)
    state, _ = transitions.apply(tl, state, Started("1.1"), NOW)
    updates = {"performance_metrics": {"a": 1.0}, "compatibility_issues": [{"x": 1}], "rollback_ready": True}
    state, _ = transitions.apply(tl, state, Finished("1.1", passed(tl, "1.1"), None, updates), NOW)
    state, _ = transitions.apply(tl, state, Started("1.2"), NOW)
    state, _ = transitions.apply(tl, state, Finished("1.2", passed(tl, "1.2"), None, {"performance_metrics": {"b": 2.0}}), NOW)
    assert state["performance_metrics"] == {"a": 1.0, "b": 2.0}
    assert state["compatibility_issues"] == [{"x": 1}] and state["rollback_ready"] is True


def test_finishing_a_task_that_is_not_running_is_refused():
    tl = tasklist(task("1.1"))
    with pytest.raises(UsageError, match="Task 1.1 is pending, not running"):
        transitions.apply(tl, fresh(tl), Finished("1.1", []), NOW)


def test_apply_is_pure_and_moves_last_updated():
    tl = tasklist(task("1.1"))
    state = fresh(tl)
    before = repr(state)
    later = "2026-11-25T00:00:00+00:00"
    moved, _ = transitions.apply(tl, state, Started("1.1"), later)
    assert repr(state) == before
    assert moved["last_updated"] == later


def test_every_step_serializes_to_stable_json():
    tl = tasklist(task("1.1", pause=True))
    state, _ = execute(tl, fresh(tl), "1.1")
    assert planner.next_step(tl, state, ALL).to_json() == {
        "kind": "gate",
        "message": "Task 1.1 passed its checks; its checkpoint waits for approval.",
        "task": "1.1",
        "gate": "1.1",
        "prompt": "1.1 complete. Proceed?",
        "reasons": ["Pause After: yes", "Auto-Advance: no"],
        "unsigned": [],
        "command": "gitops approve 1.1",
    }


def test_tasks_already_running_finish_after_a_failure_pauses_the_pipeline():
    tl = tasklist(task("1.1"), task("1.2"), task("1.3"))
    state = fresh(tl)
    state, _ = transitions.apply(tl, state, Started("1.1"), NOW)
    state, _ = transitions.apply(tl, state, Started("1.2"), NOW)
    state, _ = transitions.apply(tl, state, Finished("1.1", failed(tl, "1.1")), NOW)
    state, _ = transitions.apply(tl, state, Finished("1.2", passed(tl, "1.2")), NOW)
    assert state["tasks"]["1.2"]["status"] == "done"
    assert state["paused_by"] == "T-HotFix-1"
    with pytest.raises(UsageError, match="Task 1.3 cannot start: the pipeline is paused by T-HotFix-1"):
        transitions.apply(tl, state, Started("1.3"), NOW)


def test_a_failure_at_the_head_of_a_long_chain_blocks_every_task_after_it_without_recursion():
    n = 3000  # far past Python's recursion limit (1000)
    tl = tasklist(*(task(f"1.{i}", deps=(f"1.{i - 1}",) if i > 1 else ()) for i in range(1, n + 1)))
    state = fresh(tl)
    state, _ = transitions.apply(tl, state, Started("1.1"), NOW)
    state, _ = transitions.apply(tl, state, Finished("1.1", [], "boom"), NOW)
    assert state["blocked_tasks"] == [f"1.{i}" for i in range(2, n + 1)]
    assert planner.next_step(tl, state, frozenset()).kind is StepKind.PAUSED


def test_a_lost_result_is_an_interruption_to_retry_not_a_failure():
    # On GitHub the task job's hand-over never reached its recording job (gitops.run.recording).
    tl = tasklist(task("1.1"), task("1.2", deps=("1.1",)), task("1.3"))
    state, _ = transitions.apply(tl, fresh(tl), Started("1.1"), NOW)
    lost = transitions.Lost("1.1", 1, "the result handed over for Task 1.1 is missing")
    state, actions = transitions.apply(tl, state, lost, NOW)
    record = state["tasks"]["1.1"]
    assert (record["status"], record["interrupted"], record["error"]) == ("failed", True, lost.reason)
    assert (state["hotfixes"], state["paused_by"], state["consecutive_failures"]) == ([], None, 0)
    assert actions == [transitions.PostProgress(1)]  # no HotFix issue
    assert state["blocked_tasks"] == ["1.2"]
    step = planner.next_step(tl, state, ALL)
    assert (step.kind, step.task, step.command) == (StepKind.INTERRUPTED, "1.1", "gitops retry 1.1")
    assert step.message == (
        "Task 1.1 was interrupted on attempt 1: the result handed over for Task 1.1 is missing. Its outcome is "
        "unknown, so no HotFix was opened; the tasks that depend on it wait. Run it again: `gitops retry 1.1`.")
    assert transitions.apply(tl, state, lost, NOW)[0] == state  # recorded once: a second Lost changes nothing
    state, _ = transitions.apply(tl, state, Retried("1.1"), NOW)
    assert state["tasks"]["1.1"]["status"] == "pending" and "interrupted" not in state["tasks"]["1.1"]


def test_a_rejected_production_review_undoes_the_claim_and_waits_for_a_person_to_ask_again():
    # On GitHub a reviewer rejected the `production` review of Task 2.1's claimed job (gitops.run.recording).
    tl = tasklist(task("1.1"), task("2.1", deps=("1.1",)), task("2.2"), phase_titles={2: "Production Deployment"})
    state, _ = execute(tl, fresh(tl), "1.1")
    state, _ = transitions.apply(tl, state, Approved("phase-2", "ada"), NOW)
    state, _ = transitions.apply(tl, state, Started("2.1", claim=True), NOW)
    rejected = transitions.DeployRejected("2.1", 1, "bob", "not on a Friday")
    state, actions = transitions.apply(tl, state, rejected, NOW)
    assert state["gates"]["deploy-2.1"] == {"status": "rejected", "approved_by": None, "at": NOW,
                                            "rejected_by": "bob", "comment": "not on a Friday"}
    record = state["tasks"]["2.1"]
    assert (record["status"], record["attempts"], record["runner"], record["error"]) == ("pending", 0, None, None)
    assert (state["hotfixes"], state["paused_by"], state["consecutive_failures"]) == ([], None, 0)
    assert actions == [transitions.PostProgress(2)]  # no HotFix issue: a person decided
    assert transitions.apply(tl, state, rejected, NOW)[0] == state  # recorded once
    step = planner.next_step(tl, state, ALL)
    assert (step.kind, step.task, step.gate, step.command) == (
        StepKind.REJECTED, "2.1", "deploy-2.1", "gitops retry 2.1")
    assert step.message == ('Task 2.1 did not run: production gate deploy-2.1 was rejected by bob ("not on a '
                            'Friday"). To ask for its review again: `gitops retry 2.1`.')
    # Not claimed again by the next run: only a person asks again.
    assert readiness.why_not_ready(tl, state, "2.1", deploy_approval_later=True) == (
        "production gate deploy-2.1 was rejected (`gitops retry 2.1` asks again)")
    state, _ = transitions.apply(tl, state, Retried("2.1"), NOW)
    assert state["gates"]["deploy-2.1"] == {"status": "pending", "approved_by": None, "at": None}
    assert readiness.why_not_ready(tl, state, "2.1", deploy_approval_later=True) is None
    assert planner.next_step(tl, state, ALL).gate == "deploy-2.1"


def test_a_rejecting_reviewers_comment_is_one_short_line_of_the_next_step():
    gate = {"status": "rejected", "approved_by": None, "at": NOW, "rejected_by": "bob", "comment": "no\n\n" + "x" * 300}
    message = planner.deploy_rejected_step("2.1", gate).message
    assert message.startswith('Task 2.1 did not run: production gate deploy-2.1 was rejected by bob ("no xxx')
    assert "\n" not in message and f'{"x" * 197}…")' in message


def test_a_failed_production_task_that_is_retried_is_approved_again():
    """The reviewer approved the run that failed, not the fix: a retry asks for the release again."""
    tl = tasklist(task("1.1"), task("2.1", deps=("1.1",)), phase_titles={2: "Production Deployment"})
    state, _ = execute(tl, fresh(tl), "1.1")
    state, _ = transitions.apply(tl, state, Approved("phase-2", "ada"), NOW)
    state, _ = transitions.apply(tl, state, Approved("deploy-2.1", "ops"), NOW)
    state, _ = execute(tl, state, "2.1", checks=failed(tl, "2.1"), error="the canary failed its analysis")
    state, _ = transitions.apply(tl, state, Retried("2.1"), NOW)
    assert state["gates"]["deploy-2.1"] == {"status": "pending", "approved_by": None, "at": None}
    step = planner.next_step(tl, state, ALL)
    assert (step.kind, step.gate) == (StepKind.GATE, "deploy-2.1")
    assert readiness.why_not_ready(tl, state, "2.1") == "production gate deploy-2.1 is not approved"
