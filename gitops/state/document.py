"""The state document: what state.json holds before anything ran, and a task's first record.

Pure values; `gitops.state.file` reads and writes them, `gitops.state.schema` says what is valid.
"""
from __future__ import annotations

import json
from typing import Any, Iterator, Mapping, Sequence

from gitops.errors import TaskListError
from gitops.model import Diagnostic, Severity, Task, TaskList, TaskStatus
from gitops.state.records import Records
from gitops.state.schema import SCHEMA_VERSION, find_problem


def _seed_defaults(tasklist: TaskList) -> dict:
    """The seed's "Current State" keys, as an empty block would set them."""
    return {
        "project": tasklist.project,
        "current_task": None,
        "completed_tasks": [],
        "blocked_tasks": [],
        "total_tasks": 0,
        "completed_count": 0,
        "start_time": None,
        "last_updated": None,
        "test_results": {"passed": 0, "failed": 0},
        "performance_metrics": {},
        "compatibility_issues": [],
        "rollback_ready": False,
    }


def new_task_record() -> dict:
    """The record of a task that has not run yet."""
    return {
        "status": TaskStatus.PENDING.value,
        "attempts": 0,
        "started_at": None,
        "finished_at": None,
        "commit": None,
        "run_url": None,
        "runner": None,
        "mlflow_run_id": None,
        "error": None,
        "checks": [],
    }


def _first_record(task: Task) -> dict:
    """A task the list marks done (`**Status**: [x]`, `✅ COMPLETED` in its heading) starts done:
    a person did it before the pipeline existed. It has no checks: no evidence is claimed."""
    record = new_task_record()
    if task.status_mark == "x":
        record["status"] = TaskStatus.DONE.value
    return record


def _plain(value: Any) -> Any:
    """A fresh, mutable copy of a parsed JSON value (the task list may hold frozen mappings)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def copy_state(state: Mapping[str, Any]) -> dict:
    """A deep copy of a state, through the C JSON codec: ~10x faster than copy.deepcopy. A state is
    JSON by definition. O(size of the state): transitions use `derive` instead."""
    return json.loads(json.dumps(state))


# Structural sharing. A transition changes one or two task records of a state that may hold
# thousands; copying all of them (even through the C codec: 3 ms at 1,000 records) made the cost
# of each task grow with the task list. A derived state shares its values with the state it
# came from. Whoever changes it replaces a value (a new dict, a new list) or edits a record it
# took with `own_record`; nothing edits a shared value in place.
_LISTS_OF_RECORDS = ("hotfixes", "resumes")  # short, and a HotFix's entry is edited when it resolves


def derive(state: Mapping[str, Any]) -> dict:
    """A new state to change, sharing every task record and gate with `state` (see above)."""
    new = dict(state)
    for key in ("tasks", "gates"):
        if isinstance(new.get(key), dict):
            new[key] = Records(new[key])  # remembers what is set in it (gitops.state.records)
    for key in _LISTS_OF_RECORDS:
        if isinstance(new.get(key), list):
            new[key] = [dict(item) if isinstance(item, dict) else item for item in new[key]]
    return new


def read_only(value: Any) -> Any:
    """A view of a state (or any JSON value in it) that cannot be edited: what a handler is shown.
    A copy would cost the whole state per task; the view costs nothing until it is read."""
    if isinstance(value, dict):
        return _ReadOnlyMap(value)
    if isinstance(value, list):
        return _ReadOnlyList(value)
    return value


class _ReadOnly:
    """What both views share: the value they show, its length, equality and text."""

    __slots__ = ("_data",)

    def __init__(self, data: dict | list):
        self._data = data

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        return self._data == (other._data if isinstance(other, _ReadOnly) else other)

    __hash__ = None  # type: ignore[assignment] - as the dict or list it shows

    def __repr__(self) -> str:
        return f"read_only({self._data!r})"


class _ReadOnlyMap(_ReadOnly, Mapping):
    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        return read_only(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)


class _ReadOnlyList(_ReadOnly, Sequence):
    __slots__ = ()

    def __getitem__(self, index):  # type: ignore[override] - an int or a slice, as list's
        item = self._data[index]
        return [read_only(i) for i in item] if isinstance(index, slice) else read_only(item)


def own_record(state: dict, task_id: str) -> dict:
    """Task `task_id`'s record in a derived `state`, copied so that it may be edited."""
    record = copy_state(state["tasks"][task_id])
    state["tasks"][task_id] = record
    return record


def new_state(tasklist: TaskList, now: str) -> dict:
    """The state before anything ran: the task list's Current State block plus engine keys."""
    state = _unchecked_state(tasklist, now)
    if problem := _block_problem(state):
        raise TaskListError(f"{tasklist.path}:{tasklist.initial_state_line or 1}: {problem}")
    return state


def block_diagnostics(tasklist: TaskList) -> list[Diagnostic]:
    """What `new_state` would refuse in the Current State block, for `gitops lint` to report first."""
    if tasklist.initial_state is None:
        return []
    problem = _block_problem(_unchecked_state(tasklist, "1970-01-01T00:00:00+00:00"))
    line = tasklist.initial_state_line or 1
    return [Diagnostic(tasklist.path, line, Severity.ERROR, problem)] if problem else []


def _block_problem(state: dict) -> str | None:
    # The block cannot reach "tasks" (the engine's keys override it) and every record there is a
    # _first_record(): the same constant, pending or done, so one stands for all and a
    # 10,000-task list costs what a 1-task list does.
    tasks = state["tasks"]
    sample = {**state, "tasks": {key: tasks[key] for key in list(tasks)[:1]}}
    problem = find_problem(sample)
    return f"Current State block: {problem.describe()}. Fix the value in the task list." if problem else None


def _unchecked_state(tasklist: TaskList, now: str) -> dict:
    state = {**_seed_defaults(tasklist), **_plain(tasklist.initial_state or {})}
    state.update(
        schema_version=SCHEMA_VERSION,
        tasklist=tasklist.path,
        tasklist_sha256=tasklist.sha256,
        current_phase=tasklist.phases[0].number if tasklist.phases else None,
        total_tasks=len(tasklist.tasks),
        consecutive_failures=0,
        last_updated=now,
        halted=None,
        paused_by=None,
        tasks={task.id: _first_record(task) for task in tasklist.tasks.values()},
        gates={},
        hotfixes=[],
        resumes=[],
    )
    return state
