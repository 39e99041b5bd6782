"""Readiness: whether a task may run now, and why not; read by the planner and the transitions."""
from __future__ import annotations

from typing import Any, Mapping

from gitops.model import CheckStatus, Gate, GateStatus, Task, TaskList, TaskStatus
from gitops.plan.policy import deploy_gate, needs_deploy_approval

FINAL = (TaskStatus.DONE.value, TaskStatus.SKIPPED.value)
# The values as plain strings: the planner compares them for every task on every transition,
# and an enum member's `.value` is a descriptor call each time.
PENDING, DONE = TaskStatus.PENDING.value, TaskStatus.DONE.value
APPROVED = GateStatus.APPROVED.value
# A task record's mark of an attempt whose result never arrived (transitions.Lost): it is failed
# only so that `retry` runs it again; its outcome is unknown and no HotFix was opened.
LOST = "interrupted"


def result_lost(record: Mapping[str, Any]) -> bool:
    """The task's latest attempt ended without its result reaching the state (transitions.Lost)."""
    return record.get("status") == TaskStatus.FAILED.value and record.get(LOST) is True


def why_not_ready(tasklist: TaskList, state: Mapping[str, Any], task_id: str,
                  deploy_approval_later: bool = False) -> str | None:
    """None when the task may run now; else the reason, in words. `deploy_approval_later`: a
    workflow run claims the task before its job waits for the production approval (gitops.run.claims)."""
    if state.get("halted"):
        return "the pipeline is halted (gitops resume --reason ...)"
    if state.get("paused_by"):
        return f"the pipeline is paused by {state['paused_by']} (gitops retry ...)"
    task = tasklist.tasks[task_id]
    status = status_of(state, task_id)
    if status != PENDING:
        return f"Task {task_id} is {status.replace('_', ' ')}"
    for dep in task.dependencies:
        if status_of(state, dep) != DONE:
            return f"its dependency Task {dep} is {status_of(state, dep).replace('_', ' ')}"
    gate = phase_gate(tasklist, task)
    if gate and gate_status(state, gate) != APPROVED:
        return f"gate {gate} is not approved"
    if needs_deploy_approval(tasklist, task):
        deploy = gate_status(state, deploy_gate(task_id))
        # Rejected, it is not claimed either: a reviewer said no, and only a person asks again (retry).
        if deploy == GateStatus.REJECTED.value:
            return f"production gate {deploy_gate(task_id)} was rejected (`gitops retry {task_id}` asks again)"
        if not deploy_approval_later and deploy != GateStatus.APPROVED.value:
            return f"production gate {deploy_gate(task_id)} is not approved"
    return None


def is_ready(tasklist: TaskList, state: Mapping[str, Any], task: Task) -> bool:
    # Most tasks asked about are done or waiting: those are answered without words.
    return status_of(state, task.id) == PENDING and why_not_ready(tasklist, state, task.id) is None


def unsigned_criteria(state: Mapping[str, Any], task_id: str) -> list[str]:
    checks = state["tasks"].get(task_id, {}).get("checks", [])
    return [c["criterion"] for c in checks if c["status"] == CheckStatus.MANUAL.value and not c.get("approved_by")]


def phase_gate(tasklist: TaskList, task: Task) -> str | None:
    if not tasklist.phases or tasklist.phases[0].number == task.phase:
        return None
    return Gate.phase(task.phase).id


def status_of(state: Mapping[str, Any], task_id: str) -> str:
    record = state["tasks"].get(task_id)
    return PENDING if record is None else record.get("status", PENDING)


def gate_status(state: Mapping[str, Any], gate: str) -> str | None:
    record = state["gates"].get(gate)
    return record["status"] if record else None


def phases_to_merge(tasklist: TaskList, state: Mapping[str, Any]) -> list[int]:
    """Finished phases whose PR is what a person acts on: each phase before a pending phase gate,
    and the last phase once every task is done (no gate follows it, but its PR still brings the
    final state.json to the base branch)."""
    finished = [
        previous.number
        for previous, phase in zip(tasklist.phases, tasklist.phases[1:])
        if gate_status(state, phase.gate_id) == GateStatus.PENDING.value
    ]
    if tasklist.phases and state.get("current_phase") is None:
        finished.append(tasklist.phases[-1].number)
    return finished

