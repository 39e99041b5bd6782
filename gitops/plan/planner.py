"""The pure planner: what runs next (`next_step`). How each event changes the state is
`gitops.plan.transitions.apply`. Neither does I/O, so every transition is tested on tiny graphs.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from itertools import islice
from typing import Any, Mapping

from gitops.model import Gate, GateStatus, TaskList, TaskStatus
from gitops.plan import summary
from gitops.plan.policy import checkpoint_reasons, deploy_gate, needs_deploy_approval
from gitops.plan.readiness import (
    FINAL,
    PENDING,
    gate_status,
    is_ready,
    result_lost,
    status_of,
    unsigned_criteria,
)
from gitops.plan.windows import rejection, waiting


class StepKind(str, enum.Enum):
    RUN = "run"  # a task is ready and has a handler or Run command
    MANUAL = "manual"  # a task is ready and a person must do it
    GATE = "gate"  # a checkpoint, phase or production gate waits for approval
    WAITING = "waiting"  # a task waits for its time window to end (gitops.plan.windows)
    PAUSED = "paused"  # a HotFix is open
    INTERRUPTED = "interrupted"  # a task's result never arrived: retry it (no HotFix)
    HALTED = "halted"  # too many consecutive failures
    FINISHED = "finished"
    BLOCKED = "blocked"  # nothing can move (should not happen with a valid task list)
    REJECTED = "rejected"  # a reviewer said no at a phase gate (the phase PR closed unmerged) or a production review


@dataclass(frozen=True)
class Step:
    kind: StepKind
    message: str  # the next step, in words
    task: str | None = None
    gate: str | None = None
    prompt: str | None = None  # the When Ready Prompt shown at a gate
    reasons: tuple[str, ...] = ()
    unsigned: tuple[str, ...] = ()  # manual criteria a person must sign off at this gate
    command: str | None = None  # the command that moves the pipeline on

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "message": self.message,
            "task": self.task,
            "gate": self.gate,
            "prompt": self.prompt,
            "reasons": list(self.reasons),
            "unsigned": list(self.unsigned),
            "command": self.command,
        }


def next_step(tasklist: TaskList, state: Mapping[str, Any], runnable: frozenset[str]) -> Step:
    """The single next thing the local pipeline does, in task-list order."""
    if state.get("halted"):
        halted = state["halted"]
        return Step(
            StepKind.HALTED,
            f"The pipeline is halted: {halted['reason']}. Read the open HotFix issues, then clear the halt.",
            command='gitops resume --reason "..."',
        )
    if state.get("paused_by"):
        return _paused_step(state)
    records, gates = state["tasks"], state["gates"]
    for kind, name, gate in islice(_slots(tasklist), _first_open_slot(tasklist, records, gates), None):
        # Most slots are done tasks and settled gates: passed over without a call (a long list
        # is scanned on every transition).
        if gate is None:
            record = records.get(name)
            if record is not None and record.get("status", PENDING) != PENDING:
                if result_lost(record):
                    return lost_step(name, record)
                continue
        elif (gates.get(gate) or _NO_GATE).get("status") not in _UNDECIDED:
            continue
        step = slot_step(tasklist, state, (kind, name), runnable)
        if step is not None:
            return step
    if all(status_of(state, t) in FINAL for t in tasklist.tasks):
        return Step(StepKind.FINISHED, f"All {len(tasklist.tasks)} tasks are done.")
    windows = waiting(tasklist, state)
    rejected = next((t for t, _ in windows if rejection(records[t]) is not None), None)
    if rejected is not None:  # a person must ask again; a window that only waits needs nobody
        return window_rejected_step(rejected, rejection(records[rejected]) or {})
    if windows:  # after every task that can run: a window holds up only what depends on its task
        task_id, until = windows[0]
        return Step(
            StepKind.WAITING,
            f"Task {task_id} waits for its window to end at {until}; then `gitops evaluate-windows` evaluates "
            f"it (on GitHub the scheduled windows workflow does) and its dependents can run.",
            task=task_id,
            command="gitops evaluate-windows",
        )
    left = [t for t in tasklist.tasks if status_of(state, t) not in FINAL]
    return Step(
        StepKind.BLOCKED,
        "No task can run: " + ", ".join(f"Task {t} ({status_of(state, t)})" for t in left),
    )


_NO_GATE: Mapping[str, Any] = {}
_UNDECIDED = (GateStatus.PENDING.value, GateStatus.REJECTED.value)  # gates the pipeline stops at


def _slots(tasklist: TaskList) -> list[tuple[str, str, str | None]]:
    """(kind, name, the gate it waits on) in pipeline order: ("phase", gate, gate) /
    ("deploy", task, deploy gate) / ("task", task, None) / ("gate", task, task). Kept per task list."""
    kept = _SLOTS.get(id(tasklist))
    if kept is not None and kept[0] is tasklist:
        return kept[1]
    slots: list[tuple[str, str, str | None]] = []
    for index, phase in enumerate(tasklist.phases):
        if index:
            slots.append(("phase", phase.gate_id, phase.gate_id))
        for task_id in phase.task_ids:
            if needs_deploy_approval(tasklist, tasklist.tasks[task_id]):
                slots.append(("deploy", task_id, deploy_gate(task_id)))
            slots.append(("task", task_id, None))
            slots.append(("gate", task_id, task_id))
    if len(_SLOTS) > 16:  # a process plans one task list, tests a few hundred
        _SLOTS.clear()
    _SLOTS[id(tasklist)] = (tasklist, slots)  # the task list is kept: its id is not reused
    return slots


_SLOTS: dict[int, tuple[TaskList, list[tuple[str, str, str | None]]]] = {}


def _first_open_slot(tasklist: TaskList, records: Mapping[str, Any], gates: Mapping[str, Any]) -> int:
    """The place of the first slot `next_step` does not pass over: 0 (scan them all) for a state
    that lacks a task's record.

    Asked before every step: on a long list most slots are done tasks and settled gates, and a
    Python loop over them made each step's cost grow with the list (issue 12, item 3). The
    statuses are `summary.tally`'s, which the transition that wrote this state has just counted:
    the first pending task and the failed ones are found in C, the gates in the few that exist.
    """
    slots = _slots(tasklist)
    if not records.keys() >= tasklist.tasks.keys():
        return 0
    task_at, gate_at = _places(tasklist, slots)
    found = summary.tally(tasklist, records)
    first = len(slots)
    if found.present[PENDING]:
        first = task_at[found.first_with(PENDING)]
    if found.present[_FAILED]:  # a task whose result was lost stops the scan too (lost_step)
        lost = next((t for t in summary.with_status(found.statuses, _FAILED) if result_lost(records[t])), None)
        if lost is not None:
            first = min(first, task_at[lost])
    for name, gate in gates.items():
        if name in gate_at and (gate or _NO_GATE).get("status") in _UNDECIDED:
            first = min(first, gate_at[name])
    return first


def _places(tasklist: TaskList, slots: list[tuple[str, str, str | None]]) -> tuple[dict[str, int], dict[str, int]]:
    """Where each task's slot is, and each gate's first slot; kept per task list."""
    kept = _PLACES.get(id(tasklist))
    if kept is not None and kept[0] is tasklist:
        return kept[1]
    task_at = {name: i for i, (_, name, gate) in enumerate(slots) if gate is None}
    gate_at: dict[str, int] = {}
    for i, (_, _, gate) in enumerate(slots):
        if gate is not None:
            gate_at.setdefault(gate, i)
    if len(_PLACES) > 16:
        _PLACES.clear()
    _PLACES[id(tasklist)] = (tasklist, (task_at, gate_at))
    return task_at, gate_at


_PLACES: dict[int, tuple[TaskList, tuple[dict[str, int], dict[str, int]]]] = {}
_FAILED = TaskStatus.FAILED.value


def slot_step(tasklist: TaskList, state: Mapping[str, Any], slot: tuple[str, str], runnable: frozenset[str]) -> Step | None:
    kind, name = slot
    if kind == "phase" and gate_status(state, name) in _UNDECIDED:
        return _phase_step(name, gate_status(state, name) == GateStatus.REJECTED.value)
    if kind == "deploy" and gate_status(state, deploy_gate(name)) == GateStatus.REJECTED.value:
        return deploy_rejected_step(name, state["gates"][deploy_gate(name)])
    if kind == "deploy" and gate_status(state, deploy_gate(name)) == GateStatus.PENDING.value:
        gate = deploy_gate(name)
        return Step(
            StepKind.GATE,
            f"Task {name} deploys to production: approve {gate} before it runs.",
            task=name,
            gate=gate,
            prompt=f"Deploy Task {name}: {tasklist.tasks[name].title}?",
            reasons=("production environment: approval before the task runs",),
            command=f"gitops approve {gate}",
        )
    if kind == "task" and is_ready(tasklist, state, tasklist.tasks[name]):
        task = tasklist.tasks[name]
        if name in runnable:
            return Step(StepKind.RUN, f"Run Task {name}: {task.title}.", task=name, command="gitops run")
        return Step(
            StepKind.MANUAL,
            f"Task {name} ({task.title}) needs a person: it has no handler and no **Run** command. "
            + (f"Do its steps, then sign off its {len(task.done_when)} criteria at its checkpoint." if task.done_when
             else "Do its steps, then approve it at its checkpoint: it has no criteria to check."),
            task=name,
            command=f"gitops approve {name} --by NAME",
        )
    if kind == "gate" and gate_status(state, name) == GateStatus.PENDING.value:
        return _task_gate_step(tasklist, state, name)
    return None


def _phase_step(gate: str, rejected: bool) -> Step:
    number = Gate.parse(gate).phase_number
    if rejected:
        return Step(
            StepKind.REJECTED,
            f"Phase {number - 1}'s PR was closed without merging: Phase {number} is rejected and does not "
            f"start. Reopen the PR (after pushing any fix to its branch) to go on.",
            gate=gate,
            reasons=("a reviewer closed the phase PR without merging",),
        )
    return Step(
        StepKind.GATE,
        f"Phase {number - 1} is complete. Approve {gate} to start Phase {number} (on GitHub: merge the phase PR).",
        gate=gate,
        prompt=f"Phase {number - 1} complete. Start Phase {number}?",
        reasons=("phase boundary",),
        command=f"gitops approve {gate}",
    )


def _task_gate_step(tasklist: TaskList, state: Mapping[str, Any], task_id: str) -> Step:
    task = tasklist.tasks[task_id]
    unsigned = tuple(unsigned_criteria(state, task_id))
    reasons = tuple(checkpoint_reasons(tasklist, task))
    if unsigned:
        reasons += ("manual criteria need a person's sign-off",)
        message = (
            f"Task {task_id} needs a person to sign off {len(unsigned)} manual "
            f"criteri{'on' if len(unsigned) == 1 else 'a'} at its checkpoint."
        )
        command = f"gitops approve {task_id} --by NAME"
    elif not state["tasks"][task_id]["checks"] and task.run is None:
        # No criteria and no command (issue 13: a task whose criteria could not be read runs as
        # manual): only a person's word says it was done, so it is unsigned and --auto-approve stops.
        unsigned = (f"Task {task_id} was done (nothing checked it)",)
        reasons += ("nothing checked it: a person confirms it was done",)
        message = f"Task {task_id} has no criteria that were checked; a person confirms it was done at its checkpoint."
        command = f"gitops approve {task_id} --by NAME"
    else:
        message = f"Task {task_id} passed its checks; its checkpoint waits for approval."
        command = f"gitops approve {task_id}"
    prompt = task.when_ready_prompt or f"Task {task_id} complete. Proceed?"
    return Step(StepKind.GATE, message, task=task_id, gate=task_id, prompt=prompt, reasons=reasons, unsigned=unsigned, command=command)


def _reviewer_words(comment: object) -> str:
    """A reviewer's comment as the step quotes it: on one line and short (the step is a sentence in
    the progress comment); empty when there is none."""
    words = " ".join(str(comment or "").split())
    return f' ("{words[:200]}{"…" if len(words) > 200 else ""}")' if words else ""


def deploy_rejected_step(task_id: str, gate: Mapping[str, Any]) -> Step:
    """A reviewer rejected the task's production review (transitions.DeployRejected): it did not run."""
    return Step(
        StepKind.REJECTED,
        f"Task {task_id} did not run: production gate {deploy_gate(task_id)} was rejected by "
        f"{gate.get('rejected_by') or 'a reviewer'}{_reviewer_words(gate.get('comment'))}. To ask for its review "
        f"again: `gitops retry {task_id}`.",
        task=task_id,
        gate=deploy_gate(task_id),
        reasons=("a reviewer rejected the production review",),
        command=f"gitops retry {task_id}",
    )


EVALUATION_REJECTED = "a reviewer rejected the production review of its window's evaluation"


def window_rejected_step(task_id: str, rejected: Mapping[str, Any]) -> Step:
    """A reviewer rejected the evaluation of the task's window (transitions.EvaluationRejected): it
    was not evaluated, keeps waiting, and nobody is asked again until a person asks."""
    return Step(
        StepKind.REJECTED,
        f"Task {task_id} was not evaluated: the production review of its window's evaluation was rejected by "
        f"{rejected.get('by') or 'a reviewer'}{_reviewer_words(rejected.get('comment'))}. It keeps waiting and is "
        f"not evaluated until someone asks again: `gitops retry {task_id}`.",
        task=task_id,
        reasons=(EVALUATION_REJECTED,),
        command=f"gitops retry {task_id}",
    )


def lost_step(task_id: str, record: Mapping[str, Any]) -> Step:
    """A task whose result never arrived (transitions.Lost): nothing to fix, only to run again."""
    return Step(
        StepKind.INTERRUPTED,
        f"Task {task_id} was interrupted on attempt {record['attempts']}: {record['error']}. Its outcome is "
        f"unknown, so no HotFix was opened; the tasks that depend on it wait. Run it again: `gitops retry {task_id}`.",
        task=task_id,
        command=f"gitops retry {task_id}",
    )


def _paused_step(state: Mapping[str, Any]) -> Step:
    hotfix = next((h for h in state["hotfixes"] if h["id"] == state["paused_by"]), None)
    task = hotfix["task"] if hotfix else "?"
    where = f" ({hotfix['issue']})" if hotfix and hotfix.get("issue") else ""
    return Step(
        StepKind.PAUSED,
        f"Task {task} failed; the pipeline is paused by {state['paused_by']}{where}. "
        f"Fix the cause, then retry the task.",
        task=task,
        command=f"gitops retry {task}",
    )
