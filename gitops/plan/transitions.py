"""Transitions: how each event (a task started, finished or interrupted, an approval, a retry, a resume)
changes the state, and the derived keys recomputed after every change. Pure: no I/O.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from gitops.errors import PipelineStopped, UsageError
from gitops.model import CheckStatus, GateStatus, Task, TaskList, TaskStatus
from gitops.plan import summary, windows
from gitops.plan.drift import definition_hash, has_drifted
from gitops.plan.policy import checkpoint_reasons, deploy_gate
from gitops.plan.readiness import (
    APPROVED,
    DONE,
    FINAL,
    LOST,
    PENDING,
    gate_status,
    is_ready,
    phase_gate,
    status_of,
    unsigned_criteria,
    why_not_ready,
)
from gitops.state.document import derive, new_task_record, own_record
from gitops.state.records import changed_since, snapshot


# ---------------------------------------------------------------- events and actions
@dataclass(frozen=True)
class Started:
    task: str
    commit: str | None = None
    run_url: str | None = None
    runner: Mapping[str, Any] | None = None  # who runs it (gitops.run.identity): a gone runner is recognised
    # A workflow run claims the task for the job that will run it (gitops.run.claims): that job may
    # still wait for the production approval, which it checks before the task runs.
    claim: bool = False


@dataclass(frozen=True)
class Finished:
    task: str
    checks: list[dict[str, Any]]
    error: str | None = None
    updates: Mapping[str, Any] = field(default_factory=dict)
    mlflow_run_id: str | None = None  # logged before the result is written, so one write records both
    # The time window its action opened (gitops.plan.windows.opened): the task waits until it ends.
    # Finished on a waiting task is its window's evaluation, which completes it.
    window: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Interrupted:
    """The runner of a task's attempt stopped before recording a result: a signal, or it is gone."""

    task: str
    attempt: int  # the attempt it interrupts: a record that moved on since is left alone
    reason: str


@dataclass(frozen=True)
class Lost:
    """The result of a task's attempt never reached the state (on GitHub: its hand-over did not
    arrive): the task may have passed or failed, nobody knows. Not a failure of the task."""

    task: str
    attempt: int  # the attempt whose result was lost: a record that moved on since is left alone
    reason: str


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
class Rejected:
    """A reviewer said no at a phase gate: on GitHub, the previous phase's PR closed without merging."""

    gate: str


@dataclass(frozen=True)
class Reopened:
    """The rejected phase PR is open again: its gate waits for a decision once more."""

    gate: str


@dataclass(frozen=True)
class DeployRejected:
    """A reviewer rejected the production review of a claimed task's job: the job never started, so
    the task did not run. A person decided: no failure, no HotFix; `retry` asks for a review again."""

    task: str
    attempt: int  # the attempt its run claimed: a record that moved on since is left alone
    by: str
    comment: str = ""


@dataclass(frozen=True)
class EvaluationRejected:
    """A reviewer rejected the production review of the job that evaluates a waiting task's window
    (the windows workflow's `evaluate` job): nothing was evaluated. A person decided: the task keeps
    waiting, no failure, no HotFix; its window is no longer due (gitops.plan.windows.due) until
    `retry` asks for a review again."""

    task: str
    attempt: int  # the attempt whose window waits: a record that moved on since is left alone
    by: str
    comment: str = ""


Event = Union[Started, Finished, Interrupted, Lost, Approved, Retried, Resumed, Rejected, Reopened, DeployRejected,
              EvaluationRejected]


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


def apply(tasklist: TaskList, state: Mapping[str, Any], event: Event, now: str,
          *, derived: bool = True) -> tuple[dict[str, Any], list[Action]]:
    """Return the state after `event` and the actions to carry out. Raises on an impossible event.

    The new state shares the records the event leaves alone with `state` (document.derive); the
    event's handler edits only records it owns (document.own_record). `derived=False`: the
    summary keys are left as they were (`sync` is not run): for a preview that reads only the
    event's task record, never for a state that is written."""
    new = derive(state)
    _ensure_tasks(tasklist, new)
    handler = _HANDLERS[type(event)]
    actions = handler(tasklist, new, event, now)
    if derived:
        sync(tasklist, new, ensured=True)
    if _without_clock(new) != _without_clock(state):
        new["last_updated"] = now
    return new, actions


def _started(tasklist: TaskList, state: dict[str, Any], event: Started, now: str) -> list[Action]:
    reason = why_not_ready(tasklist, state, event.task, deploy_approval_later=event.claim)
    if reason:
        raise UsageError(f"Task {event.task} cannot start: {reason}. See `gitops status`.")
    record = own_record(state, event.task)
    record.update(
        status=TaskStatus.RUNNING.value,
        attempts=record["attempts"] + 1,
        started_at=now,
        finished_at=None,
        error=None,
        checks=[],
        commit=event.commit,
        run_url=event.run_url,
        runner=dict(event.runner) if event.runner is not None else None,
        mlflow_run_id=None,
        definition=definition_hash(tasklist.tasks[event.task]),  # what this attempt ran (drift.py)
    )
    record.pop("window", None)  # an earlier attempt's window (it was evaluated): this attempt opens its own
    record.pop(LOST, None)  # an earlier attempt's
    state["start_time"] = state.get("start_time") or now
    return []


def _finished(tasklist: TaskList, state: dict[str, Any], event: Finished, now: str) -> list[Action]:
    status = state["tasks"][event.task]["status"]
    if status not in (TaskStatus.RUNNING.value, WAITING):
        raise UsageError(f"Task {event.task} is {status}, not running: its result cannot be recorded.")
    if status == WAITING and event.window is not None:
        raise UsageError(f"Task {event.task} is waiting for its window already: an evaluation opens no other.")
    record = own_record(state, event.task)
    record.update(checks=list(event.checks), finished_at=now, error=event.error, mlflow_run_id=event.mlflow_run_id)
    if status == WAITING:  # the window's evaluation: the record keeps when it was opened and evaluated
        record["window"] = {**record["window"], "evaluated_at": now}
    _merge_updates(state, event.updates)
    failed = event.error is not None or any(c["status"] == CheckStatus.FAILED.value for c in event.checks)
    task = tasklist.tasks[event.task]
    if failed:
        return _fail(tasklist, state, task, now)
    if event.window is not None:  # nothing judged yet: the checks run when the window is evaluated
        record.update(status=WAITING, window=dict(event.window), finished_at=None)
        return [PostProgress(task.phase)]
    state["consecutive_failures"] = 0
    manual = any(c["status"] == CheckStatus.MANUAL.value for c in event.checks)
    # Nothing checked it and no command ran (a task whose criteria could not be read runs as
    # manual, issue 13): only a person can say it was done.
    unproven = not event.checks and task.run is None
    if checkpoint_reasons(tasklist, task) or manual or unproven:
        record["status"] = TaskStatus.AWAITING_APPROVAL.value
        state["gates"][task.id] = {"status": GateStatus.PENDING.value, "approved_by": None, "at": None}
    else:
        record["status"] = TaskStatus.DONE.value
    actions: list[Action] = [PostProgress(task.phase)]
    if any(h["task"] == task.id for h in state["hotfixes"]):
        actions.insert(0, CloseIssue(task.id, f"Task {task.id} passed on attempt {record['attempts']}."))
    return actions


def _interrupted(tasklist: TaskList, state: dict[str, Any], event: Interrupted, now: str) -> list[Action]:
    """A failure like any other (HotFix, pause, the halt count), with the reason as its error.

    Idempotent: the process that judged the runner gone and the runner's own Finished may race,
    so an attempt that is no longer running (or a later attempt) is left as it is.
    """
    record = state["tasks"][event.task]
    if record["status"] != TaskStatus.RUNNING.value or record["attempts"] != event.attempt:
        return []
    record = own_record(state, event.task)
    task = tasklist.tasks[event.task]
    record.update(
        checks=_unchecked(task, "not checked: the task was interrupted (see the error)"),
        finished_at=now,
        error=event.reason,
    )
    return _fail(tasklist, state, task, now)


def _unchecked(task: Task, why: str) -> list[dict[str, Any]]:
    """Every criterion of `task` skipped, with `why` as its evidence: an attempt that was not judged."""
    return [{"criterion": c.text, "status": CheckStatus.SKIPPED.value, "evidence": why, "metrics": {},
             **({"kind": c.kind} if c.kind != "done_when" else {})} for c in task.all_criteria]


def _lost(tasklist: TaskList, state: dict[str, Any], event: Lost, now: str) -> list[Action]:
    """`failed`, so that `retry` runs it again, and marked `interrupted`: no HotFix (nothing says the
    task broke), no pause, no count towards the halt; its dependents wait for the retry.

    Idempotent like `_interrupted`."""
    record = state["tasks"][event.task]
    if record["status"] != TaskStatus.RUNNING.value or record["attempts"] != event.attempt:
        return []
    record = own_record(state, event.task)
    task = tasklist.tasks[event.task]
    record.update(
        checks=_unchecked(task, "not known: the task's result never arrived (see the error)"),
        finished_at=now,
        error=event.reason,
        status=TaskStatus.FAILED.value,
    )
    record[LOST] = True
    return [PostProgress(task.phase)]


def _fail(tasklist: TaskList, state: dict[str, Any], task: Task, now: str) -> list[Action]:
    record = state["tasks"][task.id]  # owned: _finished and _interrupted took it
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
    record = own_record(state, event.gate) if event.gate in state["tasks"] else None
    if record is not None:
        unsigned = unsigned_criteria(state, event.gate)
        if unsigned and event.auto:
            raise UsageError(
                f"Task {event.gate} has {len(unsigned)} manual criteria; --auto-approve never signs them off. "
                f"A person checks them and runs `gitops approve {event.gate} --by NAME`."
            )
        task = tasklist.tasks.get(event.gate)
        if event.auto and not record["checks"] and task is not None and task.run is None:
            raise UsageError(
                f"Task {event.gate} has no criteria that were checked; --auto-approve never approves it. "
                f"A person confirms it was done and runs `gitops approve {event.gate} --by NAME`."
            )
        for check in record["checks"]:
            if check["status"] == CheckStatus.MANUAL.value and not check.get("approved_by"):
                check["approved_by"] = event.by
        record["status"] = TaskStatus.DONE.value
    gates[event.gate] = {"status": GateStatus.APPROVED.value, "approved_by": event.by, "at": now}
    return [PostProgress(state.get("current_phase"))]


def _not_waiting(tasklist: TaskList, state: Mapping[str, Any], gate: str) -> str:
    if gate in tasklist.tasks:
        status = status_of(state, gate)
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
    deploy = deploy_gate(event.task)
    if status_of(state, event.task) == PENDING and gate_status(state, deploy) == GateStatus.REJECTED.value:
        # Its production review was rejected and it never ran: asking again opens the gate, and
        # the task's job waits for a reviewer once more.
        state["gates"][deploy] = {"status": GateStatus.PENDING.value, "approved_by": None, "at": None}
        return [PostProgress(tasklist.tasks[event.task].phase)]
    if windows.rejection(state["tasks"][event.task]) is not None:
        # Its window's evaluation was rejected: asking again makes it due, and the next run of the
        # windows workflow asks a reviewer once more. The task keeps waiting: its action is not run again.
        record = own_record(state, event.task)
        record["window"] = {k: v for k, v in record["window"].items() if k != windows.REJECTED}
        return [PostProgress(tasklist.tasks[event.task].phase)]
    record = own_record(state, event.task)
    if has_drifted(tasklist.tasks[event.task], record):  # done, but its definition changed: run it again
        record["status"] = TaskStatus.PENDING.value
        _approve_again(tasklist, state, event.task)
        return []
    if record["status"] != TaskStatus.FAILED.value:
        raise UsageError(f"Task {event.task} is {record['status'].replace('_', ' ')}, not failed: there is nothing to retry.")
    for hotfix in state["hotfixes"]:
        if hotfix["task"] == event.task and hotfix["status"] == "open":
            hotfix.update(status="resolved", resolved_at=now)
            if state.get("paused_by") == hotfix["id"]:
                state["paused_by"] = None
    record["status"] = TaskStatus.PENDING.value
    record.pop(LOST, None)
    _approve_again(tasklist, state, event.task)
    return []


def _approve_again(tasklist: TaskList, state: dict[str, Any], task_id: str) -> None:
    """A production task that runs again is approved again: the reviewer approved the run that
    failed (or the definition that changed), not the fix. Its gate is removed; `sync` opens it
    again, pending, when the task is ready (as GitHub asks again for each job's environment)."""
    if task_id in tasklist.production_tasks:
        state["gates"].pop(deploy_gate(task_id), None)


def _resumed(tasklist: TaskList, state: dict[str, Any], event: Resumed, now: str) -> list[Action]:
    if not state.get("halted"):
        raise UsageError("The pipeline is not halted: there is nothing to resume. See `gitops status`.")
    if not event.reason.strip():
        raise UsageError('Say why the pipeline may go on: gitops resume --reason "..."')
    state["halted"] = None
    state["consecutive_failures"] = 0
    state.setdefault("resumes", []).append({"reason": event.reason, "at": now, "by": event.by})
    return []


def _rejected(tasklist: TaskList, state: dict[str, Any], event: Rejected, now: str) -> list[Action]:
    record = state["gates"].get(event.gate)
    if record is None or record["status"] != GateStatus.PENDING.value:
        status = record["status"] if record else "not open"
        raise UsageError(f"Gate {event.gate} is {status}, not waiting: it cannot be rejected.")
    state["gates"][event.gate] = {"status": GateStatus.REJECTED.value, "approved_by": None, "at": now}
    return [PostProgress(state.get("current_phase"))]


def _deploy_rejected(tasklist: TaskList, state: dict[str, Any], event: DeployRejected, now: str) -> list[Action]:
    """The claim is undone (the task is pending, its attempts as before it), and its production gate
    is rejected, by whom and why. Idempotent like `_lost`."""
    record = state["tasks"][event.task]
    if record["status"] != TaskStatus.RUNNING.value or record["attempts"] != event.attempt:
        return []
    record = own_record(state, event.task)
    record.update(status=PENDING, attempts=event.attempt - 1, started_at=None, commit=None, run_url=None,
                  runner=None, definition=None)
    state["gates"][deploy_gate(event.task)] = {"status": GateStatus.REJECTED.value, "approved_by": None, "at": now,
                                               "rejected_by": event.by, "comment": event.comment}
    return [PostProgress(tasklist.tasks[event.task].phase)]


def _evaluation_rejected(tasklist: TaskList, state: dict[str, Any], event: EvaluationRejected,
                         now: str) -> list[Action]:
    """The window records who rejected its evaluation, and why; the task keeps waiting. Idempotent:
    a task no longer waiting, another attempt's window, or one already rejected is left alone."""
    record = state["tasks"][event.task]
    if record["status"] != WAITING or record["attempts"] != event.attempt or windows.rejection(record) is not None:
        return []
    record = own_record(state, event.task)
    record["window"] = {**record["window"], windows.REJECTED: {"by": event.by, "comment": event.comment, "at": now}}
    return [PostProgress(tasklist.tasks[event.task].phase)]


def _reopened(tasklist: TaskList, state: dict[str, Any], event: Reopened, now: str) -> list[Action]:
    record = state["gates"].get(event.gate)
    if record is None or record["status"] != GateStatus.REJECTED.value:
        raise UsageError(f"Gate {event.gate} was not rejected: there is nothing to reopen.")
    state["gates"][event.gate] = {"status": GateStatus.PENDING.value, "approved_by": None, "at": None}
    return [PostProgress(state.get("current_phase"))]


_HANDLERS = {Rejected: _rejected, Reopened: _reopened, DeployRejected: _deploy_rejected, Started: _started,
             Finished: _finished, Interrupted: _interrupted, Lost: _lost, Approved: _approved, Retried: _retried,
             Resumed: _resumed, EvaluationRejected: _evaluation_rejected}


def sync(tasklist: TaskList, state: dict[str, Any], *, ensured: bool = False) -> None:
    """Recompute the derived keys (seed's summary keys, current phase/task) and open reached gates.

    Runs after every event: a few passes over the tasks' statuses, in C (gitops.plan.summary),
    none over the graph, so that a transition costs about the same on a list of 100 tasks or 10,000.
    `ensured`: every task already has a record (apply made sure before its event)."""
    if not ensured:
        _ensure_tasks(tasklist, state)
    found = summary.tally(tasklist, state["tasks"])
    statuses = found.statuses
    _open_gates(tasklist, state, statuses)
    state["total_tasks"] = len(statuses)
    state["completed_tasks"] = found.with_status(DONE) if found.present[DONE] else []
    state["completed_count"] = len(state["completed_tasks"])
    state["blocked_tasks"] = _blocked(tasklist, statuses) if found.present[FAILED] else []
    unfinished = found.first_not_in(FINAL)
    state["current_phase"] = None if unfinished is None else tasklist.tasks[unfinished].phase
    state["current_task"] = _current_task(tasklist, state, found)
    state["tasklist_sha256"] = tasklist.sha256
    state["test_results"] = {**state.get("test_results", {}), **{s.value: found.checks[s.value] for s in CheckStatus}}


def _ensure_tasks(tasklist: TaskList, state: dict[str, Any]) -> None:
    records = state["tasks"]
    last = _COMPLETE.get(id(tasklist))
    # Records derived from ones that had every task, with nothing removed since (gitops.state.records).
    if last is not None and last[0] is tasklist and changed_since(records, last[1], last[2]) is not None:
        return
    if not records.keys() >= tasklist.tasks.keys():  # else the usual case, answered in C
        for task_id in tasklist.tasks:
            if task_id not in records:  # not setdefault: that builds a record for every task, every time
                records[task_id] = new_task_record()
    if len(_COMPLETE) > 16:
        _COMPLETE.clear()
    _COMPLETE[id(tasklist)] = (tasklist, records, snapshot(records))


# Per task list (kept with it: its id is not reused meanwhile): records found to have every task,
# and how many assignments they had had then.
_COMPLETE: dict[int, tuple[TaskList, Mapping[str, Any], int | None]] = {}


def _open_gates(tasklist: TaskList, state: dict[str, Any], statuses: Mapping[str, str]) -> None:
    gates = state["gates"]
    pending = {"status": GateStatus.PENDING.value, "approved_by": None, "at": None}
    # Only up to the last phase whose gate is not open yet: the passes over the phases' tasks
    # before it are needed to know whether to open it, none once every gate is open.
    phases = tasklist.phases
    last = max((i for i in range(1, len(phases)) if phases[i].gate_id not in gates), default=0)
    earlier_final = True  # every task of the phases before this one is done or skipped
    for index, phase in enumerate(phases[:last + 1] if last else ()):
        if index and earlier_final and phase.gate_id not in gates:
            gates[phase.gate_id] = dict(pending)
        earlier_final = earlier_final and summary.all_in(statuses, phase.task_ids, FINAL)
    for task_id in tasklist.production_tasks:
        gate = deploy_gate(task_id)
        if gate in gates or statuses[task_id] != PENDING:
            continue
        task = tasklist.tasks[task_id]
        entry = phase_gate(tasklist, task)
        phase_open = entry is None or gate_status(state, entry) == APPROVED
        if phase_open and all(statuses.get(d) == DONE for d in task.dependencies):
            gates[gate] = dict(pending)


def _blocked(tasklist: TaskList, statuses: Mapping[str, str]) -> list[str]:
    """Pending tasks that cannot run because a task they depend on (transitively) failed.

    A walk from the failed tasks along their dependents, with a stack rather than recursion:
    a chain of thousands of tasks is a valid task list.
    """
    stack = summary.with_status(statuses, FAILED)
    if not stack:
        return []
    dependents: dict[str, list[str]] = {}
    for task in tasklist.tasks.values():
        for dep in task.dependencies:
            dependents.setdefault(dep, []).append(task.id)
    reached: set[str] = set()
    while stack:
        for dependent in dependents.get(stack.pop(), ()):
            if dependent not in reached:
                reached.add(dependent)
                stack.append(dependent)
    return [t for t, status in statuses.items() if status == PENDING and t in reached]


def _current_task(tasklist: TaskList, state: Mapping[str, Any], found: summary.Tally) -> str | None:
    """The first running task, else the first failed, else the first awaiting approval, else the
    first ready one, else the first waiting for its window: each found from where the last search
    left it (summary.Tally), then the pending tasks in order up to a ready one."""
    for wanted in _BEFORE_READY:
        if found.present[wanted]:  # `present` counts each status: no search for one no task has
            return found.first_with(wanted)
    pending = found.each_with(PENDING) if found.present[PENDING] else ()
    ready = next((t for t in pending if is_ready(tasklist, state, tasklist.tasks[t])), None)
    # A task waiting for its window is in focus only when no other task can be.
    return ready or (found.first_with(WAITING) if found.present[WAITING] else None)


RUNNING, FAILED, WAITING = TaskStatus.RUNNING.value, TaskStatus.FAILED.value, TaskStatus.WAITING.value
_BEFORE_READY = (RUNNING, FAILED, TaskStatus.AWAITING_APPROVAL.value)  # in the order they are preferred


def _merge_updates(state: dict[str, Any], updates: Mapping[str, Any]) -> None:
    for key, value in updates.items():
        if key == "performance_metrics" and isinstance(value, Mapping):
            state[key] = {**state.get(key, {}), **value}
        else:
            state[key] = copy.deepcopy(value)


def _without_clock(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "last_updated"}
