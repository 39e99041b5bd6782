"""The pure planner: what runs next, and how each event changes the state.

`next_step(tasklist, state, runnable)` reads; `apply(tasklist, state, event, now)` returns a
new state and the actions a runner carries out (open an issue, post progress). Neither does
I/O, so every transition is tested on tiny graphs.
"""
from __future__ import annotations

import copy
import enum
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Union

from gitops.errors import PipelineStopped, UsageError
from gitops.model import CheckStatus, GateStatus, Task, TaskList, TaskStatus
from gitops.policy import checkpoint_reasons, deploy_gate, needs_deploy_approval

FINAL = (TaskStatus.DONE.value, TaskStatus.SKIPPED.value)


# ---------------------------------------------------------------- events and actions
@dataclass(frozen=True)
class Started:
    task: str
    commit: str | None = None
    run_url: str | None = None


@dataclass(frozen=True)
class Finished:
    task: str
    checks: list[dict[str, Any]]
    error: str | None = None
    updates: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Approved:
    gate: str
    by: str
    auto: bool = False  # --auto-approve: never signs off a manual criterion


@dataclass(frozen=True)
class Retried:
    task: str


@dataclass(frozen=True)
class Resumed:
    reason: str
    by: str


@dataclass(frozen=True)
class Refresh:
    """No event: bring derived keys and gates up to date (a task list edit, a first run)."""


Event = Union[Started, Finished, Approved, Retried, Resumed, Refresh]


@dataclass(frozen=True)
class OpenIssue:
    hotfix: str  # "T-HotFix-1"


@dataclass(frozen=True)
class CloseIssue:
    task: str
    comment: str


@dataclass(frozen=True)
class PostProgress:
    phase: int | None


Action = Union[OpenIssue, CloseIssue, PostProgress]


# ---------------------------------------------------------------- what runs next
class StepKind(str, enum.Enum):
    RUN = "run"  # a task is ready and has a handler or Run command
    MANUAL = "manual"  # a task is ready and a person must do it
    GATE = "gate"  # a checkpoint, phase or production gate waits for approval
    PAUSED = "paused"  # a HotFix is open
    HALTED = "halted"  # too many consecutive failures
    FINISHED = "finished"
    BLOCKED = "blocked"  # nothing can move (should not happen with a valid task list)


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
    for slot in _slots(tasklist):
        step = slot_step(tasklist, state, slot, runnable)
        if step is not None:
            return step
    if all(_status(state, t) in FINAL for t in tasklist.tasks):
        return Step(StepKind.FINISHED, f"All {len(tasklist.tasks)} tasks are done.")
    waiting = [t for t in tasklist.tasks if _status(state, t) not in FINAL]
    return Step(
        StepKind.BLOCKED,
        "No task can run: " + ", ".join(f"Task {t} ({_status(state, t)})" for t in waiting),
    )


def ready_tasks(tasklist: TaskList, state: Mapping[str, Any]) -> list[str]:
    """Tasks whose dependencies, phase gate and production approval all allow them to run."""
    return [t for t in tasklist.tasks if _ready(tasklist, state, tasklist.tasks[t])]


def why_not_ready(tasklist: TaskList, state: Mapping[str, Any], task_id: str) -> str | None:
    """None when the task may run now; else the reason, in words."""
    if state.get("halted"):
        return "the pipeline is halted (gitops resume --reason ...)"
    if state.get("paused_by"):
        return f"the pipeline is paused by {state['paused_by']} (gitops retry ...)"
    task = tasklist.tasks[task_id]
    status = _status(state, task_id)
    if status != TaskStatus.PENDING.value:
        return f"Task {task_id} is {status.replace('_', ' ')}"
    for dep in task.dependencies:
        if _status(state, dep) != TaskStatus.DONE.value:
            return f"its dependency Task {dep} is {_status(state, dep).replace('_', ' ')}"
    gate = _phase_gate(tasklist, task)
    if gate and _gate_status(state, gate) != GateStatus.APPROVED.value:
        return f"gate {gate} is not approved"
    if needs_deploy_approval(tasklist, task) and _gate_status(state, deploy_gate(task_id)) != GateStatus.APPROVED.value:
        return f"production gate {deploy_gate(task_id)} is not approved"
    return None


def _ready(tasklist: TaskList, state: Mapping[str, Any], task: Task) -> bool:
    return why_not_ready(tasklist, state, task.id) is None


def _slots(tasklist: TaskList) -> Iterator[tuple[str, str]]:
    """("phase", gate) / ("deploy", task) / ("task", task) / ("gate", task) in pipeline order."""
    for index, phase in enumerate(tasklist.phases):
        if index:
            yield "phase", phase.gate_id
        for task_id in phase.task_ids:
            if needs_deploy_approval(tasklist, tasklist.tasks[task_id]):
                yield "deploy", task_id
            yield "task", task_id
            yield "gate", task_id


def slot_step(tasklist: TaskList, state: Mapping[str, Any], slot: tuple[str, str], runnable: frozenset[str]) -> Step | None:
    kind, name = slot
    if kind == "phase" and _gate_status(state, name) == GateStatus.PENDING.value:
        number = name.removeprefix("phase-")
        return Step(
            StepKind.GATE,
            f"Phase {int(number) - 1} is complete. Approve {name} to start Phase {number} "
            f"(on GitHub: merge the phase PR).",
            gate=name,
            prompt=f"Phase {int(number) - 1} complete. Start Phase {number}?",
            reasons=("phase boundary",),
            command=f"gitops approve {name}",
        )
    if kind == "deploy" and _gate_status(state, deploy_gate(name)) == GateStatus.PENDING.value:
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
    if kind == "task" and _ready(tasklist, state, tasklist.tasks[name]):
        task = tasklist.tasks[name]
        if name in runnable:
            return Step(StepKind.RUN, f"Run Task {name}: {task.title}.", task=name, command="gitops run")
        return Step(
            StepKind.MANUAL,
            f"Task {name} ({task.title}) needs a person: it has no handler and no **Run** command. "
            f"Do its steps, then sign off its {len(task.done_when)} criteria at its checkpoint.",
            task=name,
            command=f"gitops approve {name} --by NAME",
        )
    if kind == "gate" and _gate_status(state, name) == GateStatus.PENDING.value:
        return _task_gate_step(tasklist, state, name)
    return None


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
    else:
        message = f"Task {task_id} passed its checks; its checkpoint waits for approval."
        command = f"gitops approve {task_id}"
    prompt = task.when_ready_prompt or f"Task {task_id} complete. Proceed?"
    return Step(StepKind.GATE, message, task=task_id, gate=task_id, prompt=prompt, reasons=reasons, unsigned=unsigned, command=command)


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


def unsigned_criteria(state: Mapping[str, Any], task_id: str) -> list[str]:
    checks = state["tasks"].get(task_id, {}).get("checks", [])
    return [c["criterion"] for c in checks if c["status"] == CheckStatus.MANUAL.value and not c.get("approved_by")]


# ---------------------------------------------------------------- transitions
def apply(tasklist: TaskList, state: Mapping[str, Any], event: Event, now: str) -> tuple[dict[str, Any], list[Action]]:
    """Return the state after `event` and the actions to carry out. Raises on an impossible event."""
    new = copy.deepcopy(dict(state))
    _ensure_tasks(tasklist, new)
    handler = _HANDLERS[type(event)]
    actions = handler(tasklist, new, event, now)
    sync(tasklist, new)
    if _without_clock(new) != _without_clock(state):
        new["last_updated"] = now
    return new, actions


def _started(tasklist: TaskList, state: dict[str, Any], event: Started, now: str) -> list[Action]:
    reason = why_not_ready(tasklist, state, event.task)
    if reason:
        raise UsageError(f"Task {event.task} cannot start: {reason}. See `gitops status`.")
    record = state["tasks"][event.task]
    record.update(
        status=TaskStatus.RUNNING.value,
        attempts=record["attempts"] + 1,
        started_at=now,
        finished_at=None,
        error=None,
        checks=[],
        commit=event.commit,
        run_url=event.run_url,
        mlflow_run_id=None,
    )
    state["start_time"] = state.get("start_time") or now
    return []


def _finished(tasklist: TaskList, state: dict[str, Any], event: Finished, now: str) -> list[Action]:
    record = state["tasks"][event.task]
    if record["status"] != TaskStatus.RUNNING.value:
        raise UsageError(f"Task {event.task} is {record['status']}, not running: its result cannot be recorded.")
    record.update(checks=list(event.checks), finished_at=now, error=event.error)
    _merge_updates(state, event.updates)
    failed = event.error is not None or any(c["status"] == CheckStatus.FAILED.value for c in event.checks)
    task = tasklist.tasks[event.task]
    if failed:
        return _fail(tasklist, state, task, now)
    state["consecutive_failures"] = 0
    manual = any(c["status"] == CheckStatus.MANUAL.value for c in event.checks)
    if checkpoint_reasons(tasklist, task) or manual:
        record["status"] = TaskStatus.AWAITING_APPROVAL.value
        state["gates"][task.id] = {"status": GateStatus.PENDING.value, "approved_by": None, "at": None}
    else:
        record["status"] = TaskStatus.DONE.value
    actions: list[Action] = [PostProgress(task.phase)]
    if any(h["task"] == task.id for h in state["hotfixes"]):
        actions.insert(0, CloseIssue(task.id, f"Task {task.id} passed on attempt {record['attempts']}."))
    return actions


def _fail(tasklist: TaskList, state: dict[str, Any], task: Task, now: str) -> list[Action]:
    record = state["tasks"][task.id]
    record["status"] = TaskStatus.FAILED.value
    state["consecutive_failures"] += 1
    hotfix_id = f"T-HotFix-{len(state['hotfixes']) + 1}"
    state["hotfixes"].append(
        {
            "id": hotfix_id,
            "task": task.id,
            "attempt": record["attempts"],
            "status": "open",
            "issue": None,
            "error": record["error"] or failed_summary(record["checks"]),
            "opened_at": now,
            "resolved_at": None,
        }
    )
    state["paused_by"] = hotfix_id
    limit = tasklist.safety.max_consecutive_failures
    if state["consecutive_failures"] >= limit:
        state["halted"] = {
            "reason": f"{state['consecutive_failures']} consecutive failures "
            f"(safety rule: stop execution after {limit})",
            "at": now,
        }
    return [OpenIssue(hotfix_id), PostProgress(task.phase)]


def failed_summary(checks: list[dict[str, Any]]) -> str:
    failed = [c for c in checks if c["status"] == CheckStatus.FAILED.value]
    return "\n".join(f"- {c['criterion']}: {c['evidence']}" for c in failed) or "a check failed"


def _approved(tasklist: TaskList, state: dict[str, Any], event: Approved, now: str) -> list[Action]:
    gates = state["gates"]
    if event.gate not in gates:
        raise UsageError(_not_waiting(tasklist, state, event.gate))
    if gates[event.gate]["status"] != GateStatus.PENDING.value:
        raise UsageError(f"Gate {event.gate} is already {gates[event.gate]['status']} (by {gates[event.gate]['approved_by']}).")
    record = state["tasks"].get(event.gate)
    if record is not None:
        unsigned = unsigned_criteria(state, event.gate)
        if unsigned and event.auto:
            raise UsageError(
                f"Task {event.gate} has {len(unsigned)} manual criteria; --auto-approve never signs them off. "
                f"A person checks them and runs `gitops approve {event.gate} --by NAME`."
            )
        for check in record["checks"]:
            if check["status"] == CheckStatus.MANUAL.value and not check.get("approved_by"):
                check["approved_by"] = event.by
        record["status"] = TaskStatus.DONE.value
    gates[event.gate] = {"status": GateStatus.APPROVED.value, "approved_by": event.by, "at": now}
    return [PostProgress(state.get("current_phase"))]


def _not_waiting(tasklist: TaskList, state: Mapping[str, Any], gate: str) -> str:
    if gate in tasklist.tasks:
        status = _status(state, gate)
        if status != TaskStatus.DONE.value:
            return f"Gate {gate} is not waiting: Task {gate} is {status.replace('_', ' ')}. Run `gitops run` first."
        return f"Task {gate} has no checkpoint: it advances on its own."
    known = sorted(set(state["gates"]) | {p.gate_id for p in tasklist.phases[1:]})
    if gate in known:
        return f"Gate {gate} is not waiting yet: the tasks before it are not all done. See `gitops status`."
    return f"Unknown gate {gate!r}. Gates are task ids (e.g. 1.1), phase-N and deploy-<task>: {', '.join(known) or 'none open'}."


def _retried(tasklist: TaskList, state: dict[str, Any], event: Retried, now: str) -> list[Action]:
    if state.get("halted"):
        raise PipelineStopped(
            f"The pipeline is halted ({state['halted']['reason']}). "
            'A person clears the halt first: gitops resume --reason "..."'
        )
    record = state["tasks"][event.task]
    if record["status"] != TaskStatus.FAILED.value:
        raise UsageError(f"Task {event.task} is {record['status'].replace('_', ' ')}, not failed: there is nothing to retry.")
    for hotfix in state["hotfixes"]:
        if hotfix["task"] == event.task and hotfix["status"] == "open":
            hotfix.update(status="resolved", resolved_at=now)
            if state.get("paused_by") == hotfix["id"]:
                state["paused_by"] = None
    record["status"] = TaskStatus.PENDING.value
    return []


def _resumed(tasklist: TaskList, state: dict[str, Any], event: Resumed, now: str) -> list[Action]:
    if not state.get("halted"):
        raise UsageError("The pipeline is not halted: there is nothing to resume. See `gitops status`.")
    if not event.reason.strip():
        raise UsageError('Say why the pipeline may go on: gitops resume --reason "..."')
    state["halted"] = None
    state["consecutive_failures"] = 0
    state.setdefault("resumes", []).append({"reason": event.reason, "at": now, "by": event.by})
    return []


def _refresh(tasklist: TaskList, state: dict[str, Any], event: Refresh, now: str) -> list[Action]:
    return []


_HANDLERS = {Started: _started, Finished: _finished, Approved: _approved, Retried: _retried, Resumed: _resumed, Refresh: _refresh}


# ---------------------------------------------------------------- derived keys
def sync(tasklist: TaskList, state: dict[str, Any]) -> None:
    """Recompute the derived keys (seed's summary keys, current phase/task) and open reached gates."""
    _ensure_tasks(tasklist, state)
    _open_gates(tasklist, state)
    order = list(tasklist.tasks)
    statuses = {t: _status(state, t) for t in order}
    state["total_tasks"] = len(order)
    state["completed_tasks"] = [t for t in order if statuses[t] == TaskStatus.DONE.value]
    state["completed_count"] = len(state["completed_tasks"])
    state["blocked_tasks"] = _blocked(tasklist, statuses)
    state["current_phase"] = next((tasklist.tasks[t].phase for t in order if statuses[t] not in FINAL), None)
    state["current_task"] = _current_task(tasklist, state, statuses)
    state["tasklist_sha256"] = tasklist.sha256
    counts = {s.value: 0 for s in CheckStatus}
    for t in order:
        for check in state["tasks"][t]["checks"]:
            counts[check["status"]] += 1
    state["test_results"] = {**state.get("test_results", {}), **counts}


def _ensure_tasks(tasklist: TaskList, state: dict[str, Any]) -> None:
    for task_id in tasklist.tasks:
        state["tasks"].setdefault(task_id, new_task_record())


def new_task_record() -> dict[str, Any]:
    return {
        "status": TaskStatus.PENDING.value,
        "attempts": 0,
        "started_at": None,
        "finished_at": None,
        "commit": None,
        "run_url": None,
        "mlflow_run_id": None,
        "error": None,
        "checks": [],
    }


def _open_gates(tasklist: TaskList, state: dict[str, Any]) -> None:
    pending = {"status": GateStatus.PENDING.value, "approved_by": None, "at": None}
    for index, phase in enumerate(tasklist.phases[1:], start=1):
        earlier = [t for p in tasklist.phases[:index] for t in p.task_ids]
        if phase.gate_id not in state["gates"] and all(_status(state, t) in FINAL for t in earlier):
            state["gates"][phase.gate_id] = dict(pending)
    for task in tasklist.tasks.values():
        gate = deploy_gate(task.id)
        if not needs_deploy_approval(tasklist, task) or gate in state["gates"]:
            continue
        deps_done = all(_status(state, d) == TaskStatus.DONE.value for d in task.dependencies)
        phase_gate = _phase_gate(tasklist, task)
        phase_open = phase_gate is None or _gate_status(state, phase_gate) == GateStatus.APPROVED.value
        if _status(state, task.id) == TaskStatus.PENDING.value and deps_done and phase_open:
            state["gates"][gate] = dict(pending)


def _blocked(tasklist: TaskList, statuses: Mapping[str, str]) -> list[str]:
    """Pending tasks that cannot run because a task they depend on (transitively) failed."""
    blocked: list[str] = []
    for task_id in tasklist.tasks:
        if statuses[task_id] == TaskStatus.PENDING.value and _depends_on_failure(tasklist, statuses, task_id, set()):
            blocked.append(task_id)
    return blocked


def _depends_on_failure(tasklist: TaskList, statuses: Mapping[str, str], task_id: str, seen: set[str]) -> bool:
    for dep in tasklist.tasks[task_id].dependencies:
        if dep in seen or dep not in tasklist.tasks:
            continue
        seen.add(dep)
        if statuses[dep] == TaskStatus.FAILED.value or _depends_on_failure(tasklist, statuses, dep, seen):
            return True
    return False


def _current_task(tasklist: TaskList, state: Mapping[str, Any], statuses: Mapping[str, str]) -> str | None:
    for wanted in (TaskStatus.RUNNING, TaskStatus.FAILED, TaskStatus.AWAITING_APPROVAL):
        found = next((t for t in tasklist.tasks if statuses[t] == wanted.value), None)
        if found:
            return found
    ready = ready_tasks(tasklist, state)
    return ready[0] if ready else None


def _merge_updates(state: dict[str, Any], updates: Mapping[str, Any]) -> None:
    for key, value in updates.items():
        if key == "performance_metrics" and isinstance(value, Mapping):
            state[key] = {**state.get(key, {}), **value}
        else:
            state[key] = copy.deepcopy(value)


def _phase_gate(tasklist: TaskList, task: Task) -> str | None:
    if not tasklist.phases or tasklist.phases[0].number == task.phase:
        return None
    return f"phase-{task.phase}"


def _status(state: Mapping[str, Any], task_id: str) -> str:
    return state["tasks"].get(task_id, {}).get("status", TaskStatus.PENDING.value)


def _gate_status(state: Mapping[str, Any], gate: str) -> str | None:
    record = state["gates"].get(gate)
    return record["status"] if record else None


def _without_clock(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "last_updated"}
