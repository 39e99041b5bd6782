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
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from operator import eq, is_not, itemgetter, methodcaller
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping

from gitops.model import TaskList
from gitops.plan.readiness import PENDING
from gitops.state.frozen import FrozenList, is_frozen
from gitops.state.records import changed_since, snapshot

_STATUS = methodcaller("get", "status", PENDING)
_CHECK_STATUS = itemgetter("status")


@dataclass(frozen=True)
class Tally:
    """What every task's record says, counted: read by transitions.sync after every event.

    Valid until the next `tally` of the same task list: `statuses` is a view of what is kept, not
    a copy, and the queries below answer from what is kept (a copy per call cost what it saves).
    """

    statuses: Mapping[str, str]  # task id -> status, in task-list order (read-only)
    present: Counter  # status -> how many tasks have it
    checks: Counter  # check status -> how many checks have it
    _counted: "_Counted" = field(repr=False, compare=False)

    def first_with(self, status: str) -> str | None:
        """The first task whose status is `status`."""
        return self._counted.first(("with", status), lambda s: s == status)

    def first_not_in(self, wanted: tuple[str, ...]) -> str | None:
        """The first task whose status is none of `wanted`."""
        return self._counted.first(("not_in", wanted), lambda s: s not in wanted)

    def each_with(self, status: str) -> Iterator[str]:
        """The tasks whose status is `status`, in order, from the first one (found as asked for)."""
        if self.first_with(status) is None:
            return iter(())
        counted = self._counted
        start = counted.floors[("with", status)]
        return compress(counted.ids[start:], map(eq, counted.status_list[start:], repeat(status)))

    def with_status(self, status: str) -> list[str]:
        """The tasks whose status is `status`, in order: the same read-only list while none of them
        changed (so a state that stores it shares it, and its journal line leaves it out)."""
        counted = self._counted
        found = counted.lists.get(status)
        if found is None:
            found = counted.lists[status] = FrozenList(with_status(counted.statuses, status))
        return found


def tally(tasklist: TaskList, records: Mapping[str, Mapping[str, Any]]) -> Tally:
    """Each task's status and the counts, every task must have a record.

    Kept per task list between calls: a record that is the very frozen object counted last time
    (gitops.state.frozen: it cannot have changed) is found in one C-level pass and not read
    again, so a transition reads the one or two records it changed. A plain record is always
    read again: it may have been edited in place since.
    """
    ids = _ids(tasklist)
    kept = _KEPT.get(id(tasklist))
    if kept is None or kept.tasklist is not tasklist:
        kept = _count(tasklist, ids, list(map(records.__getitem__, ids)))
    else:
        named = None
        if kept.source is not None and kept.seen is not None:
            named = changed_since(records, kept.source, kept.seen)
        if named is not None:  # the records set since the last tally, and the plain ones
            places = kept.places
            candidates = sorted({*map(places.get, named), *kept.plain} - {None})
            changed = [i for i in candidates if records[ids[i]] is not kept.records[i]]
        else:  # compared all, in one C-level pass
            now = list(map(records.__getitem__, ids))
            changed = list(compress(range(len(ids)), map(is_not, now, kept.records)))
        if len(changed) > _RECOUNT_OVER:
            kept = _count(tasklist, ids, list(map(records.__getitem__, ids)))
        else:
            try:
                for index in changed:
                    kept.recount(ids[index], index, records[ids[index]])
            except BaseException:
                _KEPT.pop(id(tasklist), None)  # half-updated: never reused
                raise
    kept.source, kept.seen = records, snapshot(records)
    return Tally(MappingProxyType(kept.statuses), Counter(kept.present), Counter(kept.checks), kept)


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
    ids: list[str] = field(default_factory=list)  # the task ids in order
    status_list: list[str] = field(default_factory=list)  # each task's status, by index
    # A query's floor: no task before it answers the query (the search for the first resumes
    # there: a run that advances along the list finds its next task in a step or two).
    floors: dict[tuple, int] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)  # with_status's answers, kept
    places: dict[str, int] = field(default_factory=dict)  # task id -> index
    plain: set[int] = field(default_factory=set)  # where a plain record was: it may be edited in place
    source: Mapping[str, Any] | None = None  # the records last counted (gitops.state.records)
    seen: int | None = None  # how many assignments they had had when they were counted

    def recount(self, task_id: str, index: int, record: Mapping[str, Any]) -> None:
        status = record.get("status", PENDING)
        was = self.statuses[task_id]
        self.present[was] -= 1
        self.present[status] += 1
        self.statuses[task_id] = status
        self.status_list[index] = status
        if status != was:
            self.lists.pop(was, None)
            self.lists.pop(status, None)
            for key, floor in self.floors.items():
                if index < floor:
                    self.floors[key] = index
        self.checks.subtract(self.contributions[index])
        self.contributions[index] = tuple(map(_CHECK_STATUS, record["checks"]))
        self.checks.update(self.contributions[index])
        frozen = is_frozen(record)
        self.records[index] = record if frozen else _PLAIN
        if frozen:
            self.plain.discard(index)
        else:
            self.plain.add(index)

    def first(self, key: tuple, matches: Callable[[str], bool]) -> str | None:
        statuses, index = self.status_list, self.floors.get(key, 0)
        while index < len(statuses) and not matches(statuses[index]):
            index += 1
        self.floors[key] = index
        return self.ids[index] if index < len(statuses) else None


def _count(tasklist: TaskList, ids: list[str], now: list) -> _Counted:
    _KEPT.pop(id(tasklist), None)
    statuses = dict(zip(ids, map(_STATUS, now)))
    contributions = [tuple(map(_CHECK_STATUS, record["checks"])) for record in now]
    counted = _Counted(tasklist, [record if is_frozen(record) else _PLAIN for record in now], contributions,
                       statuses, Counter(statuses.values()), Counter(chain.from_iterable(contributions)),
                       ids, list(statuses.values()), places=dict(zip(ids, range(len(ids)))),
                       plain={i for i, record in enumerate(now) if not is_frozen(record)})
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


def all_in(found: Mapping[str, str], ids: Iterable[str], wanted: tuple[str, ...]) -> bool:
    return all(map(wanted.__contains__, map(found.__getitem__, ids)))
