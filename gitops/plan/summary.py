"""Passes over every task's status in C: what keeps a transition's cost flat on a long list.

`transitions.sync` recomputes the state's summary keys (completed, blocked, current task and
phase, check counts) after every event. As Python loops those passes cost about a microsecond
per task each, so on 1,000 tasks they were the largest part of a transition that grew with the
list (issue 12, item 3). `tally` reads only the records that changed since it was last asked
(the others are the same frozen objects); the passes over the statuses are built from map,
compress and Counter, a few tens of nanoseconds per task, and skipped for a status no task has.
Each function reads the statuses in task-list order.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import eq, is_not, itemgetter, methodcaller, ne
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping

from gitops.model import TaskList
from gitops.plan.readiness import PENDING
from gitops.state.frozen import is_frozen

_STATUS = methodcaller("get", "status", PENDING)
_CHECK_STATUS = itemgetter("status")


@dataclass(frozen=True)
class Tally:
    """What every task's record says, counted: read by transitions.sync after every event."""

    statuses: Mapping[str, str]  # task id -> status, in task-list order (read-only)
    present: Counter  # status -> how many tasks have it
    checks: Counter  # check status -> how many checks have it


def tally(tasklist: TaskList, records: Mapping[str, Mapping[str, Any]]) -> Tally:
    """Each task's status and the counts, every task must have a record.

    Kept per task list between calls: a record that is the very frozen object counted last time
    (gitops.state.frozen: it cannot have changed) is found in one C-level pass and not read
    again, so a transition reads the one or two records it changed. A plain record is always
    read again: it may have been edited in place since.
    """
    ids = _ids(tasklist)
    now = list(map(records.__getitem__, ids))
    kept = _KEPT.get(id(tasklist))
    if kept is None or kept.tasklist is not tasklist:
        kept = _count(tasklist, ids, now)
    else:
        changed = list(compress(range(len(ids)), map(is_not, now, kept.records)))
        if len(changed) > _RECOUNT_OVER:
            kept = _count(tasklist, ids, now)
        else:
            try:
                for index in changed:
                    kept.recount(ids[index], index, now[index])
            except BaseException:
                _KEPT.pop(id(tasklist), None)  # half-updated: never reused
                raise
    # A view of the kept statuses, not a copy: a copy per call cost what the tally saves.
    return Tally(MappingProxyType(kept.statuses), Counter(kept.present), Counter(kept.checks))


_RECOUNT_OVER = 64  # more changed records than this: counted afresh (a new state, a long retry)
_PLAIN = object()  # where a plain record was: never the same object again


@dataclass
class _Counted:
    tasklist: TaskList
    records: list[object]  # each task's record as counted, or _PLAIN
    contributions: list[tuple[str, ...]]  # each task's checks' statuses as counted
    statuses: dict[str, str]
    present: Counter
    checks: Counter

    def recount(self, task_id: str, index: int, record: Mapping[str, Any]) -> None:
        status = record.get("status", PENDING)
        self.present[self.statuses[task_id]] -= 1
        self.present[status] += 1
        self.statuses[task_id] = status
        self.checks.subtract(self.contributions[index])
        self.contributions[index] = tuple(map(_CHECK_STATUS, record["checks"]))
        self.checks.update(self.contributions[index])
        self.records[index] = record if is_frozen(record) else _PLAIN


def _count(tasklist: TaskList, ids: list[str], now: list) -> _Counted:
    _KEPT.pop(id(tasklist), None)
    statuses = dict(zip(ids, map(_STATUS, now)))
    contributions = [tuple(map(_CHECK_STATUS, record["checks"])) for record in now]
    counted = _Counted(tasklist, [record if is_frozen(record) else _PLAIN for record in now], contributions,
                       statuses, Counter(statuses.values()), Counter(chain.from_iterable(contributions)))
    if len(_KEPT) > 16:  # a process plans one task list, tests a few hundred
        _KEPT.clear()
    _KEPT[id(tasklist)] = counted  # it keeps the task list: its id is not reused meanwhile
    return counted


def _ids(tasklist: TaskList) -> list[str]:
    kept = _IDS.get(id(tasklist))
    if kept is None or kept[0] is not tasklist:
        if len(_IDS) > 16:
            _IDS.clear()
        kept = _IDS[id(tasklist)] = (tasklist, list(tasklist.tasks))
    return kept[1]


_KEPT: dict[int, _Counted] = {}
_IDS: dict[int, tuple[TaskList, list[str]]] = {}


def with_status(found: Mapping[str, str], status: str) -> list[str]:
    """The tasks whose status is `status`, in order."""
    return list(compress(found, map(eq, found.values(), repeat(status))))


def first_with(found: Mapping[str, str], status: str) -> str | None:
    return next(each_with(found, status), None)


def each_with(found: Mapping[str, str], status: str) -> Iterator[str]:
    """The tasks whose status is `status`, in order, found as they are asked for."""
    return compress(found, map(eq, found.values(), repeat(status)))


def first_not_in(found: Mapping[str, str], wanted: tuple[str, ...]) -> str | None:
    """The first task whose status is none of `wanted`."""
    outside = map(ne, map(wanted.__contains__, found.values()), repeat(True))
    return next(compress(found, outside), None)


def all_in(found: Mapping[str, str], ids: Iterable[str], wanted: tuple[str, ...]) -> bool:
    return all(map(wanted.__contains__, map(found.__getitem__, ids)))
